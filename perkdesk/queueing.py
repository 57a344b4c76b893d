"""Queueing work once a transaction commits, shared by every app (STYLE.md: shared plumbing lives once).

Services decide work inside their transaction and hand it to Celery only when it commits; if the broker is
down the state change still stands and a sweep picks the work up later."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

from django.db import InterfaceError, OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

# Errors a task retries with backoff: the database or the broker went away for a moment.
TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, BrokerError, ConnectionError)


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


# The ``held_back()`` block open in this context, if any: tasks queued inside it are kept, not sent.
_held: ContextVar[list[QueueFailure] | None] = ContextVar("queue_held", default=None)


@contextmanager
def held_back() -> Iterator[list[QueueFailure]]:
    """Keep every task that services inside the block queue, instead of sending it; the list says which.

    For building a history whose follow-up work happened (or was lost) long ago: the demo data, where an
    approved ticket must stay approved until the sweep applies it, and old emails must not go out now."""
    held: list[QueueFailure] = []
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


def queue_after_commit(task: Any, *args: Any) -> None:
    """Queue a Celery task once the transaction commits. If the broker is down the state change still
    stands: the sweep picks the work up later, so we log (and tell any ``queue_failures()`` block)
    instead of failing the request."""
    held = _held.get()
    if held is not None:
        held.append(QueueFailure(task.name, args))
        return
    collectors = _failure_collectors.get()  # the blocks open now, when the work is decided

    def send() -> None:
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
