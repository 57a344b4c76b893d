"""An agent's side: claim, reassign, note, approve, reject. Each one locks the row and leaves an event."""

from django.db import transaction

from requests_app import domain
from requests_app.domain import InvalidTransition
from requests_app.models import EventKind, RemovalRequest, RequestEvent
from requests_app.services.common import (
    PermissionDenied,
    email_after_commit,
    lock_request,
    now_or,
    queue_after_commit,
    record_event,
    require_perm,
)


def claim_request(removal_request, *, agent, now=None) -> RemovalRequest:
    now = now_or(now)
    require_perm(agent, "claim_removalrequest")
    with transaction.atomic():
        locked = lock_request(removal_request)
        if locked.is_final:
            raise InvalidTransition(locked.status, "claim")
        if locked.assigned_to_id == agent.pk:
            return locked
        locked.assigned_to = agent
        locked.save(update_fields=["assigned_to"])
        record_event(
            locked, EventKind.CLAIMED, actor=agent, public=False, now=now, message=f"Claimed by {agent.get_username()}."
        )
    return locked


def reassign_request(removal_request, *, lead, assignee, now=None) -> RemovalRequest:
    now = now_or(now)
    require_perm(lead, "reassign_removalrequest")
    if assignee is not None and not assignee.is_staff:
        raise PermissionDenied(f"{assignee} is not a support agent.")
    with transaction.atomic():
        locked = lock_request(removal_request)
        if locked.is_final:
            raise InvalidTransition(locked.status, "reassign")
        locked.assigned_to = assignee
        locked.save(update_fields=["assigned_to"])
        to = assignee.get_username() if assignee else "nobody"
        record_event(locked, EventKind.REASSIGNED, actor=lead, public=False, now=now, message=f"Reassigned to {to}.")
    return locked


def add_note(removal_request, *, agent, message, now=None) -> RequestEvent:
    now = now_or(now)
    require_perm(agent, "add_note_removalrequest")
    message = (message or "").strip()
    if not message:
        raise ValueError("A note needs some text.")
    with transaction.atomic():
        locked = lock_request(removal_request)
        return record_event(locked, EventKind.NOTE_ADDED, actor=agent, public=False, message=message, now=now)


def approve_request(removal_request, *, agent, now=None) -> RemovalRequest:
    now = now_or(now)
    require_perm(agent, "approve_removalrequest")
    with transaction.atomic():
        locked = lock_request(removal_request)
        locked.status = domain.next_status(locked.status, domain.APPROVE)
        locked.decided_by = agent
        locked.decided_at = now
        if locked.assigned_to_id is None:
            locked.assigned_to = agent
        locked.save(update_fields=["status", "decided_by", "decided_at", "assigned_to"])
        record_event(
            locked,
            EventKind.APPROVED,
            actor=agent,
            now=now,
            message="Approved. The feedback will be removed from your Job Success Score within 7 days of your request.",
        )
        from requests_app.tasks import apply_exclusion as apply_task

        queue_after_commit(apply_task, locked.pk)
        email_after_commit(locked, "approved")
    return locked


def reject_request(removal_request, *, agent, reason, message="", now=None) -> RemovalRequest:
    now = now_or(now)
    require_perm(agent, "reject_removalrequest")
    if reason not in domain.REJECTION_REASONS:
        raise ValueError(f"reason must be one of {', '.join(domain.REJECTION_REASONS)}")
    canned = domain.REJECTION_REASONS[reason][1]
    text = canned + (f"\n\n{message.strip()}" if message and message.strip() else "")
    with transaction.atomic():
        locked = lock_request(removal_request)
        locked.status = domain.next_status(locked.status, domain.REJECT)
        locked.rejection_reason = reason
        locked.decided_by = agent
        locked.decided_at = now
        if locked.assigned_to_id is None:
            locked.assigned_to = agent
        locked.save(update_fields=["status", "rejection_reason", "decided_by", "decided_at", "assigned_to"])
        record_event(locked, EventKind.REJECTED, actor=agent, now=now, message=text)
        email_after_commit(locked, "rejected")
    return locked
