"""Operations plumbing (issue 13): production checks, heartbeats, request ids, health and metrics."""
