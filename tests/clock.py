"""The one clock of the test suite.

Every test runs with the clock pinned at ``NOW`` (ticking from there), by the autouse fixture in
``conftest.py``; the factories date their world from the same clock, and the code reads it through
``timezone.now()``. So the suite passes on any date. A test that must see the real clock (it talks to a
process the pin cannot reach, such as a real Celery worker) is marked ``real_clock`` and dates everything
relative to the real now."""

import datetime as dt

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
