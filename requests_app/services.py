"""Every write of a removal request goes through here (STYLE.md: a transition, written once).

Each transition: lock the row, check the table in ``domain``, save, write the ``RequestEvent`` in the
same transaction, and queue the task and the email with ``on_commit``.
"""

import datetime as dt
import logging
import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from jss.models import JssExclusion
from perkdesk.marketplace.models import Feedback
from requests_app import domain, selectors
from requests_app.domain import InvalidTransition
from requests_app.eligibility import EligibilityReport, NotEligible, Policy, Reason, evaluate
from requests_app.models import EventKind, RemovalRequest, RequestEvent, Status
from requests_app.screenshots import check_screenshot

__all__ = [
    "InvalidTransition",
    "NotEligible",
    "PermissionDenied",
    "add_note",
    "apply_exclusion",
    "approve_request",
    "check_eligibility",
    "claim_request",
    "reassign_request",
    "reject_request",
    "submit_request",
    "withdraw_request",
]

logger = logging.getLogger(__name__)
TICKET_ATTEMPTS = 8


class PermissionDenied(Exception):
    """The acting user may not do this (a service-level check behind the admin's own)."""


def _now(now):
    return now or timezone.now()


def policy() -> Policy:
    return Policy.from_settings(settings)


# --- queueing after commit ----------------------------------------------------------------------


def _queue_after_commit(task, *args):
    """Queue a Celery task once the transaction commits. If the broker is down the state change still
    stands: the sweep picks the work up later, so we log instead of failing the request."""

    def send():
        try:
            task.apply_async(args=args)
        except Exception:  # noqa: BLE001 - kombu/redis raise many types; all mean "not queued now"
            logger.warning("queueing %s%r failed; the sweep will retry", task.name, args, exc_info=True)

    transaction.on_commit(send)


def _email_after_commit(removal_request, kind):
    from requests_app.tasks import send_request_email

    _queue_after_commit(send_request_email, removal_request.pk, kind)


def _event(removal_request, kind, *, actor=None, message="", public=True, now):
    return RequestEvent.objects.create(
        request=removal_request, kind=kind, actor=actor, message=message, public=public, created_at=now
    )


def _locked(removal_request) -> RemovalRequest:
    return RemovalRequest.objects.select_for_update().get(pk=removal_request.pk)


def _require_perm(user, codename):
    if not user.has_perm(f"requests_app.{codename}"):
        raise PermissionDenied(f"{user} may not {codename.split('_')[0]} removal requests.")


# --- eligibility and submission ----------------------------------------------------------------


def check_eligibility(*, requester, contract_number, agency=None, has_screenshot=False, now=None) -> EligibilityReport:
    today = timezone.localdate(_now(now))
    facts, _ = selectors.eligibility_facts(
        requester=requester, contract_number=contract_number, agency=agency, has_screenshot=has_screenshot, today=today
    )
    return evaluate(facts, policy())


def _new_ticket_number() -> str:
    # Random, not sequential: a ticket number reveals nothing about volume or other tickets.
    return f"{secrets.randbelow(900_000_000) + 100_000_000:09d}"


REQUEST_OPEN = Reason(
    "request_open",
    "You already have a feedback removal request in progress. Only one job can be removed at a time; "
    "you can ask again once that request is finished.",
)


def submit_request(*, requester, contract_number, scope, agency=None, screenshot=None, now=None) -> RemovalRequest:
    """Store a request whole with its ticket number, or refuse it with every reason and store nothing."""
    now = _now(now)
    if scope not in domain.SCOPES:
        raise ValueError(f"scope must be one of {', '.join(domain.SCOPES)}")
    checked = check_screenshot(screenshot) if screenshot else None
    stored_name = None
    try:
        with transaction.atomic():
            facts, contract = selectors.eligibility_facts(
                requester=requester,
                contract_number=contract_number,
                agency=agency,
                has_screenshot=checked is not None,
                today=timezone.localdate(now),
            )
            report = evaluate(facts, policy())
            if not report.eligible:
                raise NotEligible.from_report(report)
            removal_request = RemovalRequest(
                contract=contract,
                freelancer=contract.freelancer,
                agency=contract.agency,
                requested_by=requester,
                scope=scope,
                is_special_offer=contract.is_special_offer,
                status=Status.SUBMITTED,
                submitted_at=now,
                sla_due_at=now + dt.timedelta(days=settings.PERK_SLA_DAYS),
            )
            if checked is not None:
                stored_name = removal_request.screenshot.storage.save(
                    f"screenshots/{checked.random_name()}", ContentFile(checked.content)
                )
                removal_request.screenshot.name = stored_name
                removal_request.screenshot_content_type = checked.content_type
            _insert_with_ticket_number(removal_request)
            _event(
                removal_request,
                EventKind.SUBMITTED,
                actor=requester,
                now=now,
                message=_submitted_message(removal_request),
            )
            _email_after_commit(removal_request, "submitted")
    except BaseException:
        if stored_name:
            RemovalRequest._meta.get_field("screenshot").storage.delete(stored_name)
        raise
    logger.info(
        "removal request submitted", extra={"ticket": removal_request.ticket_number, "contract": contract.number}
    )
    return removal_request


def _submitted_message(removal_request):
    scope = domain.SCOPE_LABELS[removal_request.scope]
    return f"Request received for contract {removal_request.contract.number} ({scope})."


def _insert_with_ticket_number(removal_request):
    """Insert, retrying on a ticket number collision. Losing a race for "one open request" (the partial
    unique constraints) becomes the ``request_open`` refusal, never a 500."""
    for _ in range(TICKET_ATTEMPTS):
        removal_request.ticket_number = _new_ticket_number()
        try:
            with transaction.atomic():
                removal_request.save(force_insert=True)
            return
        except IntegrityError as exc:
            removal_request.pk = None
            if "ticket_number" in str(exc):
                continue
            raise NotEligible([REQUEST_OPEN]) from exc
    raise RuntimeError("could not find a free ticket number")


# --- agent decisions ----------------------------------------------------------------------------


def claim_request(removal_request, *, agent, now=None) -> RemovalRequest:
    now = _now(now)
    _require_perm(agent, "claim_removalrequest")
    with transaction.atomic():
        locked = _locked(removal_request)
        if locked.is_final:
            raise InvalidTransition(locked.status, "claim")
        if locked.assigned_to_id == agent.pk:
            return locked
        locked.assigned_to = agent
        locked.save(update_fields=["assigned_to"])
        _event(
            locked, EventKind.CLAIMED, actor=agent, public=False, now=now, message=f"Claimed by {agent.get_username()}."
        )
    return locked


def reassign_request(removal_request, *, lead, assignee, now=None) -> RemovalRequest:
    now = _now(now)
    _require_perm(lead, "reassign_removalrequest")
    if assignee is not None and not assignee.is_staff:
        raise PermissionDenied(f"{assignee} is not a support agent.")
    with transaction.atomic():
        locked = _locked(removal_request)
        if locked.is_final:
            raise InvalidTransition(locked.status, "reassign")
        locked.assigned_to = assignee
        locked.save(update_fields=["assigned_to"])
        to = assignee.get_username() if assignee else "nobody"
        _event(locked, EventKind.REASSIGNED, actor=lead, public=False, now=now, message=f"Reassigned to {to}.")
    return locked


def add_note(removal_request, *, agent, message, now=None) -> RequestEvent:
    now = _now(now)
    _require_perm(agent, "add_note_removalrequest")
    message = (message or "").strip()
    if not message:
        raise ValueError("A note needs some text.")
    with transaction.atomic():
        locked = _locked(removal_request)
        return _event(locked, EventKind.NOTE_ADDED, actor=agent, public=False, message=message, now=now)


def approve_request(removal_request, *, agent, now=None) -> RemovalRequest:
    now = _now(now)
    _require_perm(agent, "approve_removalrequest")
    with transaction.atomic():
        locked = _locked(removal_request)
        locked.status = domain.next_status(locked.status, domain.APPROVE)
        locked.decided_by = agent
        locked.decided_at = now
        if locked.assigned_to_id is None:
            locked.assigned_to = agent
        locked.save(update_fields=["status", "decided_by", "decided_at", "assigned_to"])
        _event(
            locked,
            EventKind.APPROVED,
            actor=agent,
            now=now,
            message="Approved. The feedback will be removed from your Job Success Score within 7 days of your request.",
        )
        from requests_app.tasks import apply_exclusion as apply_task

        _queue_after_commit(apply_task, locked.pk)
        _email_after_commit(locked, "approved")
    return locked


def reject_request(removal_request, *, agent, reason, message="", now=None) -> RemovalRequest:
    now = _now(now)
    _require_perm(agent, "reject_removalrequest")
    if reason not in domain.REJECTION_REASONS:
        raise ValueError(f"reason must be one of {', '.join(domain.REJECTION_REASONS)}")
    canned = domain.REJECTION_REASONS[reason][1]
    text = canned + (f"\n\n{message.strip()}" if message and message.strip() else "")
    with transaction.atomic():
        locked = _locked(removal_request)
        locked.status = domain.next_status(locked.status, domain.REJECT)
        locked.rejection_reason = reason
        locked.decided_by = agent
        locked.decided_at = now
        if locked.assigned_to_id is None:
            locked.assigned_to = agent
        locked.save(update_fields=["status", "rejection_reason", "decided_by", "decided_at", "assigned_to"])
        _event(locked, EventKind.REJECTED, actor=agent, now=now, message=text)
        _email_after_commit(locked, "rejected")
    return locked


def withdraw_request(removal_request, *, requester, now=None) -> RemovalRequest:
    now = _now(now)
    if not selectors.requests_of(requester).filter(pk=removal_request.pk).exists():
        raise PermissionDenied("Only the person who asked, or the contract's owner, can withdraw this request.")
    with transaction.atomic():
        locked = _locked(removal_request)
        locked.status = domain.next_status(locked.status, domain.WITHDRAW)
        locked.save(update_fields=["status"])
        _event(locked, EventKind.WITHDRAWN, actor=requester, now=now, message="You withdrew this request.")
    return locked


# --- applying -----------------------------------------------------------------------------------


def apply_exclusion(request_id, *, now=None) -> bool:
    """Create the exclusion, hide the feedback when asked, mark the request applied. Runs any number of
    times: returns False when there is nothing (left) to do."""
    now = _now(now)
    with transaction.atomic():
        locked = RemovalRequest.objects.select_for_update().filter(pk=request_id).first()
        if locked is None or locked.status != Status.APPROVED:
            return False
        locked.status = domain.next_status(locked.status, domain.APPLY)
        locked.applied_at = now
        locked.save(update_fields=["status", "applied_at"])
        JssExclusion.objects.get_or_create(
            contract_id=locked.contract_id, defaults={"removal_request": locked, "created_at": now}
        )
        hidden = False
        if locked.scope == domain.HIDE_PROFILE_AND_JSS:
            hidden = bool(
                Feedback.objects.filter(contract_id=locked.contract_id, hidden_on_profile=False).update(
                    hidden_on_profile=True, hidden_at=now
                )
            )
        message = "The contract is now excluded from your Job Success Score calculations"
        message += (
            "; its feedback is hidden on your profile."
            if hidden or locked.scope == domain.HIDE_PROFILE_AND_JSS
            else "."
        )
        _event(locked, EventKind.APPLIED, now=now, message=message)
        _email_after_commit(locked, "applied")
    logger.info("exclusion applied", extra={"ticket": locked.ticket_number})
    return True


OUTCOME_MESSAGES = {
    "excluded": "At the JSS update of {as_of} the contract was excluded from your score.",
    "kept_no_harm": (
        "At the JSS update of {as_of} the contract stayed in your score, because removing it would have lowered "
        "it (the perk never harms your JSS)."
    ),
}


def record_jss_outcome(request_id, *, outcome, as_of, now=None) -> bool:
    """What the scheduled JSS update decided for an applied request; recorded and emailed once per change."""
    now = _now(now)
    if outcome not in OUTCOME_MESSAGES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOME_MESSAGES)}")
    with transaction.atomic():
        locked = RemovalRequest.objects.select_for_update().filter(pk=request_id, status=Status.APPLIED).first()
        if locked is None or locked.jss_outcome == outcome:
            return False
        locked.jss_outcome = outcome
        locked.save(update_fields=["jss_outcome"])
        _event(locked, EventKind.JSS_OUTCOME, now=now, message=OUTCOME_MESSAGES[outcome].format(as_of=as_of))
        _email_after_commit(locked, "jss_outcome")
    return True
