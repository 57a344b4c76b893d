"""What every transition shares: the clock, the policy, events, row locks and queueing after commit."""

import logging

from django.conf import settings
from django.utils import timezone

from perkdesk.queueing import QUEUE_DOWN_WARNING, QueueFailure, queue_after_commit, queue_failures
from requests_app.eligibility import Policy
from requests_app.models import RemovalRequest, RequestEvent

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


def lock_request(removal_request) -> RemovalRequest:
    return RemovalRequest.objects.select_for_update().get(pk=removal_request.pk)
