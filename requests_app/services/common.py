"""What every transition shares: the clock, the policy, events, row locks and queueing after commit."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

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


class QueueFailure(NamedTuple):
    """A task that could not be handed to the broker when its transaction committed."""

    task_name: str
    args: tuple


# The lists of the ``queue_failures()`` blocks open in this thread (or asyncio task): a ContextVar, so
# concurrent requests never see each other's failures.
_failure_collectors: ContextVar[tuple[list[QueueFailure], ...]] = ContextVar("queue_failure_collectors", default=())


@contextmanager
def queue_failures() -> Iterator[list[QueueFailure]]:
    """Collect the tasks that services inside the block could not queue, so the caller can warn the person:

        with queue_failures() as failed:
            approve_request(ticket, agent=request.user)
        if failed:
            self.message_user(request, QUEUE_DOWN_WARNING, level=messages.WARNING)

    The list is filled when the transaction commits: before the service returns when no transaction is
    open around the call (admin actions and custom admin views), else when the outer one commits."""
    failed: list[QueueFailure] = []
    token = _failure_collectors.set((*_failure_collectors.get(), failed))
    try:
        yield failed
    finally:
        _failure_collectors.reset(token)


QUEUE_DOWN_WARNING = (
    "The decision is saved, but the task queue could not be reached, so its follow-up work was not queued: "
    "the sweep applies approved requests once the queue is back (or run manage.py apply_due_exclusions), "
    "and the email to the freelancer was not sent."
)


def queue_after_commit(task, *args):
    """Queue a Celery task once the transaction commits. If the broker is down the state change still
    stands: the sweep picks the work up later, so we log (and tell any ``queue_failures()`` block)
    instead of failing the request."""
    collectors = _failure_collectors.get()  # the blocks open now, when the work is decided

    def send():
        # A broker that hangs costs its timeout on every publish: once one failed in this block (a bulk
        # action, an approval's two tasks), the rest are not tried; the sweep does them all the same.
        if collectors and any(collectors[-1]):
            logger.warning("queueing %s%r skipped: the broker just failed; the sweep will retry", task.name, args)
            for failed in collectors:
                failed.append(QueueFailure(task.name, args))
            return
        try:
            task.apply_async(args=args)
        except Exception:  # noqa: BLE001 - kombu/redis raise many types; all mean "not queued now"
            logger.warning("queueing %s%r failed; the sweep will retry", task.name, args, exc_info=True)
            for failed in collectors:
                failed.append(QueueFailure(task.name, args))

    transaction.on_commit(send)


def email_after_commit(request_id, kind, *, resend=False):
    """Queue one of a ticket's emails once the transaction commits (``resend``: the sweep's single attempt)."""
    from requests_app.tasks import send_request_email

    if resend:
        queue_after_commit(send_request_email, request_id, kind, True)
    else:
        queue_after_commit(send_request_email, request_id, kind)


def record_event(removal_request, kind, *, actor=None, message="", public=True, now):
    return RequestEvent.objects.create(
        request=removal_request, kind=kind, actor=actor, message=message, public=public, created_at=now
    )


def lock_request(removal_request) -> RemovalRequest:
    return RemovalRequest.objects.select_for_update().get(pk=removal_request.pk)


def require_perm(user, codename):
    if not user.has_perm(f"requests_app.{codename}"):
        raise PermissionDenied(f"{user} may not {codename.split('_')[0]} removal requests.")
