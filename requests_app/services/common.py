"""What every transition shares: the clock, the policy, events, row locks and queueing after commit."""

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from perkdesk.queueing import QUEUE_DOWN_WARNING, QueueFailure, queue_after_commit, queue_failures
from requests_app.eligibility import Policy
from requests_app.models import RemovalRequest, RequestEvent
from requests_app.services import desk_days

logger = logging.getLogger(__name__)


def now_or(now):
    return now or timezone.now()


def policy() -> Policy:
    return Policy.from_settings(settings)


# Queueing after commit is shared plumbing (perkdesk.queueing); re-exported for the app's callers.
__all__ = ["QUEUE_DOWN_WARNING", "QueueFailure", "queue_after_commit", "queue_failures"]


def record_event(removal_request, kind, *, actor=None, message="", public=True, data=None, now):
    """One timeline entry: ``data`` holds the facts code reads, ``message`` the words people read."""
    return RequestEvent.objects.create(
        request=removal_request,
        kind=kind,
        actor=actor,
        message=message,
        data=data or {},
        public=public,
        created_at=now,
    )


def save_transition(locked, fields, *, moved_from=None) -> None:
    """Save a transition's fields and, in the same transaction, rebuild the /desk/ rollup's stored days the ticket
    counts in (``moved_from``: the deadline it had before, when the transition moved it)."""
    locked.save(update_fields=fields)
    days = desk_days.days_of(locked)
    if moved_from is not None:
        days.add(moved_from.astimezone(dt.UTC).date())
    desk_days.rebuild_days(days)


def lock_request(removal_request) -> RemovalRequest:
    return RemovalRequest.objects.select_for_update().get(pk=removal_request.pk)
