"""An agent's side: claim, reassign, note, approve, reject. Each one locks the row and leaves an event.

Rules beyond the status table (docs/decisions.md):

- A claim is a signal ("I am on it"), not a lock: anyone allowed to decide may still decide a ticket that
  someone else claimed, and the decision records who did. Claiming a ticket someone else holds is refused
  (taking work over is a lead's reassignment), claiming your own again changes nothing.
- Claims and reassignments are allowed while the ticket is open (submitted or approved); a final ticket
  has nobody left to work on it.
- Nobody decides, claims or is assigned a ticket they asked for themselves or that is about their own
  contract.
- A rejection for the reason ``other`` must say why: its canned message tells the freelancer to read the note.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from marketplace.models import Freelancer
from requests_app import domain
from requests_app.domain import InvalidInput, InvalidTransition, NotPermitted
from requests_app.emails import owe_assignment_email, owe_request_email
from requests_app.formatting import format_date
from requests_app.models import EventKind, RemovalRequest, RequestEvent, Status
from requests_app.services.common import (
    lock_request,
    now_or,
    queue_after_commit,
    record_event,
    save_transition,
)

NOTE_MAX_CHARS = 5000
MESSAGE_MAX_CHARS = 5000

# codename -> what the refusal says the user may not do
_PERMISSION_WORDS = {
    "claim_removalrequest": "claim removal requests",
    "add_note_removalrequest": "add notes to removal requests",
    "approve_removalrequest": "approve removal requests",
    "reject_removalrequest": "reject removal requests",
    "reassign_removalrequest": "reassign removal requests",
}


class RequestRefused(InvalidTransition):
    """A claim, reassignment or decision the ticket's current state does not allow, with a message an agent
    can act on. A subclass of ``InvalidTransition`` so callers catch one exception for every refusal."""

    def __init__(self, locked, action, message):
        self.current = locked.status
        self.action = action
        self.ticket_number = locked.ticket_number
        Exception.__init__(self, message)


class AlreadyDecided(RequestRefused):
    """A decision on a ticket that is no longer ``submitted``: somebody (or the requester) got there first."""


class AlreadyClaimed(RequestRefused):
    """A claim on a ticket another agent holds."""


def display_name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "nobody"


def _require_perm(user, codename):
    if not user.has_perm(f"requests_app.{codename}"):
        raise NotPermitted(f"{display_name(user)} may not {_PERMISSION_WORDS[codename]}.")


def _refuse_own_ticket(locked, user, doing):
    own_contract = Freelancer.objects.filter(pk=locked.freelancer_id, user_id=user.pk).exists()
    if user.pk == locked.requested_by_id or own_contract:
        raise NotPermitted(f"{display_name(user)} cannot {doing} ticket {locked.ticket_number}: it is their own.")


def _refuse_if_final(locked, verb):
    if locked.status in domain.FINAL_STATUSES:
        raise RequestRefused(
            locked, verb, f"Ticket {locked.ticket_number} is already {locked.status}; it can no longer be {verb}."
        )


def _when(moment) -> str:
    return f"{format_date(moment.date())} at {moment:%H:%M}" if moment else "earlier"


def _already_decided(locked, action) -> AlreadyDecided:
    """Who got there first and what they did, so the slower agent knows without reloading."""
    done = {domain.APPROVE: "approved", domain.REJECT: "rejected"}[action]
    if locked.status == Status.WITHDRAWN:
        return AlreadyDecided(
            locked,
            action,
            f"Ticket {locked.ticket_number} was withdrawn by the requester; it can no longer be {done}.",
        )
    if locked.status == Status.WAITING_ON_FREELANCER:
        return AlreadyDecided(
            locked,
            action,
            f"Ticket {locked.ticket_number} is waiting on the freelancer's reply to a question; it cannot be {done} "
            "until they answer (or the reply time runs out).",
        )
    by = display_name(locked.decided_by)
    if locked.status == Status.REJECTED:
        reason = domain.REJECTION_REASONS[locked.rejection_reason][0] if locked.rejection_reason else ""
        what = f"rejected ({reason}) by {by} on {_when(locked.decided_at)}"
    elif locked.status == Status.APPLIED:
        what = f"approved by {by} on {_when(locked.decided_at)} and applied on {_when(locked.applied_at)}"
    else:
        what = f"approved by {by} on {_when(locked.decided_at)}"
    return AlreadyDecided(
        locked,
        action,
        f"Ticket {locked.ticket_number} was already decided: {what}. It can no longer be {done}.",
    )


def _decide(locked, action):
    """The status ``action`` leads to, checked against the table in ``domain``."""
    try:
        return domain.next_status(locked.status, action)
    except InvalidTransition:
        raise _already_decided(locked, action) from None


def claim_request(removal_request, *, agent, now=None) -> RemovalRequest:
    """Take an unassigned open ticket. Claiming your own claim again is a no-op (no event)."""
    now = now_or(now)
    _require_perm(agent, "claim_removalrequest")
    with transaction.atomic():
        locked = lock_request(removal_request)
        _refuse_if_final(locked, "claimed")
        _refuse_own_ticket(locked, agent, "claim")
        if locked.assigned_to_id == agent.pk:
            return locked
        if locked.assigned_to_id is not None:
            raise AlreadyClaimed(
                locked,
                "claim",
                f"Ticket {locked.ticket_number} is already claimed by {display_name(locked.assigned_to)}; "
                "a support lead can reassign it.",
            )
        locked.assigned_to = agent
        locked.save(update_fields=["assigned_to"])
        record_event(
            locked,
            EventKind.CLAIMED,
            actor=agent,
            public=False,
            now=now,
            message=f"Claimed by {display_name(agent)}.",
            data={"assignee": agent.pk},
        )
    return locked


def can_work_the_queue(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("requests_app.claim_removalrequest"))


def reassign_request(removal_request, *, lead, assignee, now=None) -> RemovalRequest:
    """Give an open ticket to another agent (or to nobody: ``assignee=None``). Leads only."""
    now = now_or(now)
    _require_perm(lead, "reassign_removalrequest")
    if assignee is not None and not can_work_the_queue(assignee):
        raise NotPermitted(f"{display_name(assignee)} is not a support agent who can work the queue.")
    with transaction.atomic():
        locked = lock_request(removal_request)
        _refuse_if_final(locked, "reassigned")
        if assignee is not None:
            _refuse_own_ticket(locked, assignee, "be assigned")
        if locked.assigned_to_id == (assignee.pk if assignee else None):
            return locked
        previous, previous_id = display_name(locked.assigned_to), locked.assigned_to_id
        locked.assigned_to = assignee
        locked.save(update_fields=["assigned_to"])
        event = record_event(
            locked,
            EventKind.REASSIGNED,
            actor=lead,
            public=False,
            now=now,
            message=f"Reassigned from {previous} to {display_name(assignee)}.",
            data={"from": previous_id, "to": assignee.pk if assignee else None},
        )
        # The new assignee hears of it (once, after commit), unless they gave it to themselves.
        if assignee is not None and assignee.pk != lead.pk:
            owe_assignment_email(locked, assignee=assignee, lead=lead, event=event, now=now)
    return locked


def add_note(removal_request, *, agent, message, now=None) -> RequestEvent:
    """An internal note (never shown to the freelancer); allowed on final tickets too, for the record."""
    now = now_or(now)
    _require_perm(agent, "add_note_removalrequest")
    message = (message or "").strip()
    if not message:
        raise InvalidInput("A note needs some text.")
    if len(message) > NOTE_MAX_CHARS:
        raise InvalidInput(f"A note can be at most {NOTE_MAX_CHARS} characters.")
    with transaction.atomic():
        locked = lock_request(removal_request)
        return record_event(locked, EventKind.NOTE_ADDED, actor=agent, public=False, message=message, now=now)


def approve_request(removal_request, *, agent, message="", now=None) -> RemovalRequest:
    """Approve a submitted ticket, optionally with a public message to the freelancer; the exclusion is applied
    by a task queued on commit (and by the sweep)."""
    now = now_or(now)
    _require_perm(agent, "approve_removalrequest")
    message = _public_message(message)
    with transaction.atomic():
        locked = lock_request(removal_request)
        locked.status = _decide(locked, domain.APPROVE)
        _refuse_own_ticket(locked, agent, "decide")
        locked.decided_by = agent
        locked.decided_at = now
        if locked.assigned_to_id is None:
            locked.assigned_to = agent
        save_transition(locked, ["status", "decided_by", "decided_at", "assigned_to"])
        event = record_event(
            locked,
            EventKind.APPROVED,
            actor=agent,
            now=now,
            message=(
                "Approved. The feedback will be removed from your Job Success Score within "
                f"{settings.PERK_SLA_DAYS} days of your request, by {format_date(locked.sla_due_at.date())}."
            )
            + (f"\n\n{message}" if message else ""),
            data={"note": message},
        )
        # The approval email is owed (and its sending queued) before the apply task is queued, so the
        # freelancer reads "approved" before "removed" even when both run at once (eager tasks, a fast worker).
        owe_request_email(locked, "approved", event=event, now=now, agent_message=message)
        from requests_app.tasks import apply_exclusion as apply_task

        queue_after_commit(apply_task, locked.pk)
    return locked


def _public_message(message) -> str:
    message = (message or "").strip()
    if len(message) > MESSAGE_MAX_CHARS:
        raise InvalidInput(f"The message can be at most {MESSAGE_MAX_CHARS} characters.")
    return message


def request_info(removal_request, *, agent, message, now=None) -> RemovalRequest:
    """Ask the freelancer a public question (an email with a link to the ticket). The ticket waits on them and
    its SLA clock is paused until they reply; the sweep reminds them halfway through PERK_REPLY_DAYS and
    rejects it with ``no_reply`` at the end."""
    now = now_or(now)
    _require_perm(agent, "reject_removalrequest")
    message = _public_message(message)
    if not message:
        raise InvalidInput("A question to the freelancer needs some text.")
    with transaction.atomic():
        locked = lock_request(removal_request)
        try:
            locked.status = domain.next_status(locked.status, domain.REQUEST_INFO)
        except InvalidTransition:
            raise RequestRefused(
                locked,
                domain.REQUEST_INFO,
                f"Ticket {locked.ticket_number} is {domain.STATUS_LABELS.get(locked.status, locked.status).lower()}; "
                "only a submitted ticket can get a question.",
            ) from None
        _refuse_own_ticket(locked, agent, "ask about")
        locked.waiting_since = now
        if locked.assigned_to_id is None:
            locked.assigned_to = agent
        save_transition(locked, ["status", "waiting_since", "assigned_to"])
        reply_by = now + timedelta(days=settings.PERK_REPLY_DAYS)
        event = record_event(
            locked,
            EventKind.INFO_REQUESTED,
            actor=agent,
            now=now,
            message=message,
            data={"question": message, "reply_by": reply_by.isoformat()},
        )
        owe_request_email(locked, "info_requested", event=event, now=now, agent_message=message)
    return locked


def reject_request(removal_request, *, agent, reason, message="", now=None) -> RemovalRequest:
    """Reject a submitted ticket with one of the canned reasons, and optionally a message to the freelancer."""
    now = now_or(now)
    _require_perm(agent, "reject_removalrequest")
    if reason not in domain.REJECTION_REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(domain.REJECTION_REASONS)}")
    message = _public_message(message)
    if reason == domain.OTHER and not message:
        raise InvalidInput("A rejection for “Other” needs a message telling the freelancer why.")
    canned = domain.REJECTION_REASONS[reason][1]
    text = canned + (f"\n\n{message}" if message else "")
    with transaction.atomic():
        locked = lock_request(removal_request)
        locked.status = _decide(locked, domain.REJECT)
        _refuse_own_ticket(locked, agent, "decide")
        locked.rejection_reason = reason
        locked.decided_by = agent
        locked.decided_at = now
        locked.waiting_since = None
        if locked.assigned_to_id is None:
            locked.assigned_to = agent
        save_transition(
            locked, ["status", "rejection_reason", "decided_by", "decided_at", "assigned_to", "waiting_since"]
        )
        event = record_event(
            locked, EventKind.REJECTED, actor=agent, now=now, message=text, data={"reason": reason, "note": message}
        )
        owe_request_email(locked, "rejected", event=event, now=now, agent_message=message)
    return locked
