"""Making an approved request take effect, the SLA sweep behind the 7-day promise, and what the JSS update
later decides about an applied request."""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef

from jss import services as jss_services
from jss.models import Outcome
from marketplace.models import Feedback
from outbox import services as outbox_services
from requests_app import domain, selectors
from requests_app.emails import owe_request_email, owe_request_emails, owe_sla_alert
from requests_app.formatting import format_date, when
from requests_app.models import SLA_RUNNING, EventKind, RemovalRequest, RequestEvent, Status
from requests_app.services import desk_days
from requests_app.services.common import now_or, record_event, save_transition

logger = logging.getLogger(__name__)


# --- applying one request -------------------------------------------------------------------------


def apply_exclusion(request_id, *, now=None) -> bool:
    """Create the exclusion, hide the feedback when asked, mark the request applied. Runs any number of
    times: returns False when there is nothing (left) to do."""
    now = now_or(now)
    with transaction.atomic():
        locked = RemovalRequest.objects.select_for_update().filter(pk=request_id).first()
        if locked is None or locked.status != Status.APPROVED:
            return False
        _apply_locked(locked, now=now)
    logger.info("exclusion applied", extra={"ticket": locked.ticket_number})
    return True


def _apply_locked(locked, *, now):
    """The apply transition on a row this transaction has locked."""
    locked.status = domain.next_status(locked.status, domain.APPLY)
    locked.applied_at = now
    locked.exclusion = jss_services.create_exclusion(contract_id=locked.contract_id, now=now)
    save_transition(locked, ["status", "applied_at", "exclusion"])
    hide = locked.scope == domain.HIDE_PROFILE_AND_JSS
    if hide:
        Feedback.objects.filter(contract_id=locked.contract_id, hidden_on_profile=False).update(
            hidden_on_profile=True, hidden_at=now
        )
    whose = "the agency's" if locked.agency_id else "your"
    message = f"The contract is now excluded from {whose} Job Success Score calculations"
    message += f"; its feedback is hidden on {whose} profile." if hide else "."
    event = record_event(
        locked, EventKind.APPLIED, now=now, message=message, data={"scope": locked.scope, "hidden": hide}
    )
    owe_request_email(locked, "applied", event=event, now=now)


# --- the sweep --------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What one sweep did, by ticket number."""

    applied: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    at_risk: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)  # waiting on the freelancer: reminded halfway
    no_reply: list[str] = field(default_factory=list)  # waiting on the freelancer: closed at the end
    emails: list[str] = field(default_factory=list)  # "kind to recipient" of each owed email sent again
    outcomes: int = 0  # JSS outcomes recorded on tickets whose announcement never arrived

    def counts(self) -> dict[str, int]:
        return {name: value if isinstance(value, int) else len(value) for name, value in vars(self).items()}


def sweep(*, now=None) -> SweepReport:
    """Apply every approved request that is still waiting (a lost or failed message), alert the leads about
    open requests nearing or past the promise, and queue again every ticket email and status-loss notice that
    never went. Safe to run at any time and concurrently: rows are taken with SKIP LOCKED, one transaction
    each, every alert is recorded once as an event, and an email task sends only what is still owed."""
    now = now_or(now)
    report = SweepReport()
    _apply_waiting(report, now=now)
    report.outcomes = record_jss_outcomes(unrecorded_outcomes(), now=now)
    _raise_sla_alerts(report, now=now)
    _remind_or_close_waiting(report, now=now)
    _resend_owed_emails(report, now=now)
    desk_days.rebuild_closed_days(now=now)  # /desk/'s rollup: the closed days, rebuilt from the tickets
    if any(report.counts().values()):
        logger.info("sweep", extra=report.counts())
    return report


def _apply_waiting(report, *, now):
    after = 0
    while True:
        candidate = None
        try:
            with transaction.atomic():
                candidate = (
                    RemovalRequest.objects.select_for_update(skip_locked=True)
                    .filter(status=Status.APPROVED, pk__gt=after)
                    .order_by("pk")
                    .first()
                )
                if candidate is None:
                    return
                _apply_locked(candidate, now=now)
        except Exception:  # noqa: BLE001 - one broken request must not hold up the others
            if candidate is None:
                raise  # the queue itself cannot be read: let the task fail (and retry)
            logger.exception("sweep could not apply", extra={"ticket": candidate.ticket_number})
            report.failed.append(candidate.ticket_number)
        else:
            report.applied.append(candidate.ticket_number)
        after = candidate.pk


def _remind_or_close_waiting(report, *, now):
    """Tickets waiting on the freelancer: a reminder once halfway through PERK_REPLY_DAYS (one per question: the
    outbox owes it once per question event), and a ``no_reply`` rejection, with its email, at the end."""
    reply_days = dt.timedelta(days=settings.PERK_REPLY_DAYS)
    waiting = RemovalRequest.objects.filter(status=Status.WAITING_ON_FREELANCER).order_by("pk")
    for pk in list(waiting.filter(waiting_since__lte=now - reply_days).values_list("pk", flat=True)):
        ticket = _close_unanswered(pk, now=now)
        if ticket:
            report.no_reply.append(ticket)
    halfway = waiting.filter(waiting_since__lte=now - reply_days / 2, waiting_since__gt=now - reply_days)
    for pk in list(halfway.values_list("pk", flat=True)):
        with transaction.atomic():
            locked = (
                RemovalRequest.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=Status.WAITING_ON_FREELANCER)
                .first()
            )
            if locked is None:
                continue
            questions = RequestEvent.objects.filter(request=locked, kind=EventKind.INFO_REQUESTED)
            question = questions.order_by("-created_at").first()
            if question is None:
                continue
            if owe_request_email(locked, "info_reminder", event=question, now=now, agent_message=question.message):
                report.reminded.append(locked.ticket_number)


def _close_unanswered(pk, *, now):
    with transaction.atomic():
        locked = (
            RemovalRequest.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, status=Status.WAITING_ON_FREELANCER)
            .first()
        )
        if locked is None:
            return None  # replied, withdrawn or decided meanwhile, or locked by someone acting on it now
        waited_since = locked.waiting_since
        locked.status = domain.next_status(locked.status, domain.REJECT)
        locked.rejection_reason = domain.NO_REPLY
        locked.decided_at = now
        locked.waiting_since = None
        save_transition(locked, ["status", "rejection_reason", "decided_at", "waiting_since"])
        event = record_event(
            locked,
            EventKind.REJECTED,
            now=now,
            message=domain.REJECTION_REASONS[domain.NO_REPLY][1],
            data={
                "reason": domain.NO_REPLY,
                "note": "",
                "waiting_since": waited_since.isoformat() if waited_since else None,
            },
        )
        owe_request_email(locked, "rejected", event=event, now=now)
    logger.info("closed without a reply", extra={"ticket": locked.ticket_number})
    return locked.ticket_number


def _resend_owed_emails(report, *, now):
    """Every email the outbox says is still owed (ticket emails, SLA alerts, status-loss notices alike)."""
    report.emails.extend(outbox_services.resend_owed(now=now))


def _has_event(kind):
    return Exists(RequestEvent.objects.filter(request=OuterRef("pk"), kind=kind))


def _raise_sla_alerts(report, *, now):
    tickets = RemovalRequest.objects.order_by("pk")
    breached = tickets.filter(selectors.breached_q(now)).exclude(_has_event(EventKind.SLA_BREACHED))
    # Past the promise already: the breach alert says it all, no "at risk" first.
    at_risk = tickets.filter(selectors.at_risk_q(now)).exclude(_has_event(EventKind.SLA_AT_RISK))
    for kind, candidates, tickets in (
        (EventKind.SLA_BREACHED, breached, report.breached),
        (EventKind.SLA_AT_RISK, at_risk, report.at_risk),
    ):
        for pk in list(candidates.values_list("pk", flat=True)):
            ticket = _raise_sla_alert(pk, kind=kind, now=now)
            if ticket:
                tickets.append(ticket)


def _raise_sla_alert(pk, *, kind, now):
    with transaction.atomic():
        locked = (
            RemovalRequest.objects.select_for_update(skip_locked=True).filter(pk=pk, status__in=SLA_RUNNING).first()
        )
        # Locked elsewhere (another sweep, an agent deciding): the next sweep looks again.
        if locked is None:
            return None
        already = [EventKind.SLA_BREACHED] + ([EventKind.SLA_AT_RISK] if kind == EventKind.SLA_AT_RISK else [])
        if RequestEvent.objects.filter(request=locked, kind__in=already).exists():
            return None
        event = record_event(
            locked,
            kind,
            public=False,
            now=now,
            message=_alert_message(locked, kind, now=now),
            data={"sla_due_at": locked.sla_due_at.isoformat()},
        )
        if not owe_sla_alert(locked, kind, event=event, now=now):
            logger.warning("no Support lead has an email address", extra={"ticket": locked.ticket_number})
    logger.warning(str(kind), extra={"ticket": locked.ticket_number})
    return locked.ticket_number


def _alert_message(removal_request, kind, *, now):
    due = when(removal_request.sla_due_at)
    if kind == EventKind.SLA_BREACHED:
        return f"SLA breached: the {settings.PERK_SLA_DAYS}-day promise ran out on {due}. Support leads alerted."
    left = removal_request.sla_due_at - now
    hours = max(0, int(left.total_seconds() // 3600))
    return f"SLA at risk: {hours // 24} days {hours % 24} hours left (due {due}). Support leads alerted."


# --- the JSS update's verdict ---------------------------------------------------------------------

OUTCOME_MESSAGES = {
    Outcome.EXCLUDED: "At the JSS update of {as_of} the contract was excluded from your score.",
    Outcome.KEPT_NO_HARM: (
        "At the JSS update of {as_of} the contract stayed in your score, because removing it would have lowered "
        "it (the perk never harms your JSS)."
    ),
}


def record_jss_outcomes(changes, *, now=None) -> int:
    """What scheduled JSS updates decided for applied requests' exclusions (``(contract_id, outcome, as_of)``,
    as ``jss.signals.outcomes_changed`` announces them), onto their tickets: ``jss_outcome``, one
    ``jss_outcome`` event and one email per change. Idempotent: a ticket already showing that outcome is left
    alone, so a redelivered announcement or a forced rerun records nothing twice. A fixed number of queries
    whatever the number of tickets. Returns how many tickets changed."""
    now = now_or(now)
    decided = {contract_id: (outcome, as_of) for contract_id, outcome, as_of in changes}
    if not decided:
        return 0
    with transaction.atomic():
        locked = (
            RemovalRequest.objects.select_for_update()
            .filter(contract_id__in=list(decided), status=Status.APPLIED)
            .order_by("pk")
            .values_list("pk", "contract_id", "jss_outcome", "applied_at")
        )
        changed: dict[str, list[int]] = {}
        events = []
        applied_days = set()
        for request_id, contract_id, current, applied_at in locked:
            outcome, as_of = decided[contract_id]
            if outcome == current or outcome not in OUTCOME_MESSAGES:
                continue
            changed.setdefault(outcome, []).append(request_id)
            if applied_at is not None:  # always, for an applied ticket (request_applied_has_time)
                applied_days.add(applied_at.astimezone(dt.UTC).date())
            events.append(
                RequestEvent(
                    request_id=request_id,
                    kind=EventKind.JSS_OUTCOME,
                    message=OUTCOME_MESSAGES[outcome].format(as_of=format_date(as_of)),
                    data={"outcome": str(outcome), "as_of": as_of.isoformat()},
                    public=True,
                    created_at=now,
                )
            )
        for outcome, request_ids in changed.items():
            RemovalRequest.objects.filter(pk__in=request_ids).update(jss_outcome=outcome)
        desk_days.rebuild_days(applied_days)  # the outcomes counted on the days they were applied
        RequestEvent.objects.bulk_create(events)
        tickets = RemovalRequest.objects.select_related("contract", "requested_by").in_bulk(
            [event.request_id for event in events]
        )
        owe_request_emails([(tickets[event.request_id], "jss_outcome", event, "") for event in events], now=now)
    return len(events)


def unrecorded_outcomes() -> list[tuple[int, str, dt.date | None]]:
    """Exclusions whose outcome their applied ticket does not show yet: an announcement that never arrived
    (the process stopped between the update's commit and the signal). One query."""
    return list(
        RemovalRequest.objects.filter(status=Status.APPLIED, exclusion__outcome_as_of__isnull=False)
        .exclude(exclusion__outcome=Outcome.PENDING)
        .exclude(jss_outcome=F("exclusion__outcome"))
        .values_list("contract_id", "exclusion__outcome", "exclusion__outcome_as_of")
    )
