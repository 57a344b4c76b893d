"""What every transition shares: the clock, the policy, events, row locks and queueing after commit."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from requests_app.eligibility import Policy
from requests_app.models import RemovalRequest, RequestEvent

logger = logging.getLogger(__name__)


class PermissionDenied(Exception):
    """The acting user may not do this (a service-level check behind the admin's own)."""


def now_or(now):
    return now or timezone.now()


def policy() -> Policy:
    return Policy.from_settings(settings)


# --- queueing after commit ----------------------------------------------------------------------


def queue_after_commit(task, *args):
    """Queue a Celery task once the transaction commits. If the broker is down the state change still
    stands: the sweep picks the work up later, so we log instead of failing the request."""

    def send():
        try:
            task.apply_async(args=args)
        except Exception:  # noqa: BLE001 - kombu/redis raise many types; all mean "not queued now"
            logger.warning("queueing %s%r failed; the sweep will retry", task.name, args, exc_info=True)

    transaction.on_commit(send)


def email_after_commit(removal_request, kind):
    from requests_app.tasks import send_request_email

    queue_after_commit(send_request_email, removal_request.pk, kind)


def record_event(removal_request, kind, *, actor=None, message="", public=True, now):
    return RequestEvent.objects.create(
        request=removal_request, kind=kind, actor=actor, message=message, public=public, created_at=now
    )


def lock_request(removal_request) -> RemovalRequest:
    return RemovalRequest.objects.select_for_update().get(pk=removal_request.pk)


def require_perm(user, codename):
    if not user.has_perm(f"requests_app.{codename}"):
        raise PermissionDenied(f"{user} may not {codename.split('_')[0]} removal requests.")
