"""The published JSS on pages that belong to lower apps (the public work histories of ``marketplace``).

marketplace sits below jss and never imports it (SPEC §3 "Dependencies"): its pages ask for the score in the
template, ``{% load jss_scores %}{% published_score history as score %}``, one query."""

from django import template

from jss.selectors import latest_scores

register = template.Library()


@register.simple_tag
def published_score(history):
    """The subject's latest snapshot with a score, or None (never scored, or no qualifying window)."""
    if history.kind not in ("freelancer", "agency"):
        return None
    key = (history.kind, history.subject.pk)
    ids = {"freelancer_ids" if history.kind == "freelancer" else "agency_ids": [history.subject.pk]}
    snapshot = latest_scores(**ids).get(key)
    return snapshot if snapshot is not None and snapshot.score is not None else None
