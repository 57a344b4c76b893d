"""JSS Celery tasks: thin wrappers over ``jss.services``; each is safe to run twice."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from jss import services
from perkdesk.queueing import TRANSIENT

RETRY = dict(autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=600, max_retries=8)


def _day(value) -> dt.date | None:
    """as_of arrives as a date (in-process), an ISO string (JSON messages) or None (beat)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@shared_task(name="jss.run_scheduled_update", acks_late=True, **RETRY)
def run_scheduled_update(as_of=None, force=False, full=False):
    """Nightly from beat: starts the update when JSS_UPDATE_EVERY_DAYS have passed (or ``force``) and fans
    the chunks out to the workers; otherwise resumes an unfinished one, or does nothing. Incremental when it
    can be (``services.incremental_base``), unless ``full``."""
    start = services.start_scheduled_update(as_of=_day(as_of), force=bool(force), full=bool(full))
    return {"outcome": start.outcome, "chunks": len(start.chunk_ids), "subjects": start.subjects}


@shared_task(name="jss.score_update_chunk", acks_late=True, **RETRY)
def score_update_chunk(chunk_id):
    return services.score_chunk(chunk_id)


@shared_task(name="jss.finish_update", acks_late=True, **RETRY)
def finish_update(update_id):
    return services.finish_update(update_id)


@shared_task(name="jss.evaluate_top_rated", acks_late=True, **RETRY)
def evaluate_top_rated(as_of=None):
    """Weekly from beat: opens and closes Top Rated periods; idempotent per ``as_of``."""
    result = services.evaluate_top_rated(as_of=_day(as_of))
    return {"outcome": result.outcome, "opened": result.opened, "closed": result.closed}
