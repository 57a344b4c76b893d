"""Making an approved request take effect, the SLA sweep behind the 7-day promise, and what the JSS update
later decides about an applied request."""

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.template.loader import render_to_string
from django.utils import dateformat, timezone

from jss import services as jss_services
from jss.models import Outcome
from perkdesk.marketplace.models import Feedback
from requests_app import domain
from requests_app.eligibility import format_date
from requests_app.emails import KINDS
from requests_app.models import OPEN, EventKind, RemovalRequest, RequestEvent, Status
from requests_app.services.common import email_after_commit, now_or, queue_after_commit, record_event

logger = logging.getLogger(__name__)

LEADS_GROUP = "Support leads"


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
    locked.save(update_fields=["status", "applied_at", "exclusion"])
    hide = locked.scope == domain.HIDE_PROFILE_AND_JSS
    if hide:
        Feedback.objects.filter(contract_id=locked.contract_id, hidden_on_profile=False).update(
            hidden_on_profile=True, hidden_at=now
        )
    whose = "the agency's" if locked.agency_id else "your"
    message = f"The contract is now excluded from {whose} Job Success Score calculations"
    message += f"; its feedback is hidden on {whose} profile." if hide else "."
    record_event(locked, EventKind.APPLIED, now=now, message=message)
    email_after_commit(locked.pk, "applied")


# --- the sweep --------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What one sweep did, by ticket number."""

    applied: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    at_risk: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)  # "ticket:kind" of each email sent again
    notices: list[int] = field(default_factory=list)  # Top Rated evaluations whose status-loss notice is sent again
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
    _resend_owed_emails(report, now=now)
    _resend_owed_notices(report, now=now)
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


# An email is owed when a ticket has more events of an email's kind than ``email_sent`` records of it (see
# ``tasks.send_request_email``). The sweep looks at events old enough that their own task has had its chance
# (queued, retried), and young enough to still be news.
EMAIL_RESEND_AFTER = dt.timedelta(minutes=10)
EMAIL_RESEND_WITHIN = dt.timedelta(days=3)


def owed_emails(*, now) -> list[tuple[int, str, str]]:
    """(request id, ticket number, kind) of every email a recent event asked for and that was never sent:
    its message could not be queued (the broker was down), or every retry failed (the mail server was).
    Two queries whatever the number of tickets."""
    candidates = set(
        RequestEvent.objects.filter(
            kind__in=KINDS, created_at__gt=now - EMAIL_RESEND_WITHIN, created_at__lte=now - EMAIL_RESEND_AFTER
        )
        .values_list("request_id", "kind")
        .distinct()
    )
    if not candidates:
        return []
    asked: Counter = Counter()
    sent: Counter = Counter()
    tickets = {}
    rows = RequestEvent.objects.filter(
        request_id__in={request_id for request_id, _ in candidates}, kind__in=(*KINDS, EventKind.EMAIL_SENT)
    ).values_list("request_id", "request__ticket_number", "kind", "message")
    for request_id, ticket, kind, message in rows:
        tickets[request_id] = ticket
        if kind == EventKind.EMAIL_SENT:
            sent[(request_id, message.split(":", 1)[0])] += 1
        else:
            asked[(request_id, kind)] += 1
    return [
        (request_id, tickets[request_id], kind)
        for request_id, kind in sorted(candidates)
        if sent[(request_id, kind)] < asked[(request_id, kind)]
    ]


def _resend_owed_emails(report, *, now):
    for request_id, ticket, kind in owed_emails(now=now):
        email_after_commit(request_id, kind, resend=True)
        report.emails.append(f"{ticket}:{kind}")


def _resend_owed_notices(report, *, now):
    from jss import tasks as jss_tasks

    for evaluation_id in jss_services.owed_notices(now=now):
        queue_after_commit(jss_tasks.send_status_loss_notice, evaluation_id)
        report.notices.append(evaluation_id)


def _has_event(kind):
    return Exists(RequestEvent.objects.filter(request=OuterRef("pk"), kind=kind))


def _raise_sla_alerts(report, *, now):
    still_open = RemovalRequest.objects.filter(status__in=OPEN).order_by("pk")
    breached = still_open.filter(sla_due_at__lte=now).exclude(_has_event(EventKind.SLA_BREACHED))
    # Past the promise already: the breach alert says it all, no "at risk" first.
    at_risk = (
        still_open.filter(submitted_at__lte=now - dt.timedelta(days=settings.PERK_SLA_WARNING_DAYS))
        .filter(sla_due_at__gt=now)
        .exclude(_has_event(EventKind.SLA_AT_RISK))
    )
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
        locked = RemovalRequest.objects.select_for_update(skip_locked=True).filter(pk=pk, status__in=OPEN).first()
        # Locked elsewhere (another sweep, an agent deciding): the next sweep looks again.
        if locked is None:
            return None
        already = [EventKind.SLA_BREACHED] + ([EventKind.SLA_AT_RISK] if kind == EventKind.SLA_AT_RISK else [])
        if RequestEvent.objects.filter(request=locked, kind__in=already).exists():
            return None
        record_event(locked, kind, public=False, now=now, message=_alert_message(locked, kind, now=now))
        from requests_app.tasks import send_sla_alert

        queue_after_commit(send_sla_alert, locked.pk, kind.value)
    logger.warning(str(kind), extra={"ticket": locked.ticket_number})
    return locked.ticket_number


def _when(moment, fmt="j M Y, H:i T"):
    return dateformat.format(timezone.localtime(moment), fmt)


def _alert_message(removal_request, kind, *, now):
    due = _when(removal_request.sla_due_at)
    if kind == EventKind.SLA_BREACHED:
        return f"SLA breached: the {settings.PERK_SLA_DAYS}-day promise ran out on {due}. Support leads alerted."
    left = removal_request.sla_due_at - now
    hours = max(0, int(left.total_seconds() // 3600))
    return f"SLA at risk: {hours // 24} days {hours % 24} hours left (due {due}). Support leads alerted."


# --- the leads' alert email -----------------------------------------------------------------------

SLA_ALERT_SUBJECTS = {
    EventKind.SLA_AT_RISK: "[PerkDesk] SLA at risk: ticket {ticket} is due {due}",
    EventKind.SLA_BREACHED: "[PerkDesk] SLA breached: ticket {ticket} missed the {days}-day promise",
}


def lead_emails() -> list[str]:
    User = get_user_model()
    return sorted(
        set(
            User.objects.filter(groups__name=LEADS_GROUP, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def send_sla_alert(request_id, *, kind, now=None) -> bool:
    """Email the leads about one ticket's SLA, once: the ``email_sent`` event is the record that it went."""
    if kind not in SLA_ALERT_SUBJECTS:
        raise ValueError(f"unknown SLA alert {kind!r}")
    kind = EventKind(kind).value
    now = now_or(now)
    removal_request = (
        RemovalRequest.objects.select_related("contract", "contract__client", "freelancer", "agency", "assigned_to")
        .filter(pk=request_id)
        .first()
    )
    if removal_request is None or not removal_request.is_open:
        return False  # done (or gone) by the time the alert got out: no news for the leads
    marker = f"{kind}:"
    if RequestEvent.objects.filter(
        request_id=request_id, kind=EventKind.EMAIL_SENT, message__startswith=marker
    ).exists():
        return False
    recipients = lead_emails()
    if not recipients:
        logger.warning("no Support lead has an email address", extra={"ticket": removal_request.ticket_number})
        return False
    message = _sla_alert_email(removal_request, kind, recipients=recipients, now=now)
    message.send()
    with transaction.atomic():
        record_event(
            removal_request,
            EventKind.EMAIL_SENT,
            public=False,
            now=timezone.now(),
            message=f"{marker} “{message.subject}” sent to {', '.join(recipients)}.",
        )
    return True


def _raised_at(removal_request, kind, *, default):
    event = removal_request.events.filter(kind=kind).order_by("created_at").values_list("created_at", flat=True)
    return event.first() or default


def _sla_alert_email(removal_request, kind, *, recipients, now):
    site_url = settings.SITE_URL.rstrip("/")
    context = {
        "r": removal_request,
        "contract": removal_request.contract,
        "subject": removal_request.subject,
        "scope_label": domain.SCOPE_LABELS[removal_request.scope],
        "status_label": domain.STATUS_LABELS[removal_request.status],
        "site_url": site_url,
        "admin_url": f"{site_url}/admin/requests_app/removalrequest/{removal_request.pk}/change/",
        "desk_url": f"{site_url}/desk/",
        "sla_days": settings.PERK_SLA_DAYS,
        # How long it had been open when the alert was raised (the email may leave a little later).
        "open_for": _raised_at(removal_request, kind, default=now) - removal_request.submitted_at,
    }
    subject = SLA_ALERT_SUBJECTS[kind].format(
        ticket=removal_request.ticket_number,
        due=_when(removal_request.sla_due_at, "j M, H:i T"),
        days=settings.PERK_SLA_DAYS,
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{kind}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    )
    message.attach_alternative(render_to_string(f"emails/{kind}.html", context), "text/html")
    return message


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
            .values_list("pk", "contract_id", "jss_outcome")
        )
        changed: dict[str, list[int]] = {}
        events = []
        for request_id, contract_id, current in locked:
            outcome, as_of = decided[contract_id]
            if outcome == current or outcome not in OUTCOME_MESSAGES:
                continue
            changed.setdefault(outcome, []).append(request_id)
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
        RequestEvent.objects.bulk_create(events)
        for event in events:
            email_after_commit(event.request_id, "jss_outcome")
    return len(events)


def unrecorded_outcomes() -> list[tuple[int, str, dt.date]]:
    """Exclusions whose outcome their applied ticket does not show yet: an announcement that never arrived
    (the process stopped between the update's commit and the signal). One query."""
    return list(
        RemovalRequest.objects.filter(status=Status.APPLIED, exclusion__outcome_as_of__isnull=False)
        .exclude(exclusion__outcome=Outcome.PENDING)
        .exclude(jss_outcome=F("exclusion__outcome"))
        .values_list("contract_id", "exclusion__outcome", "exclusion__outcome_as_of")
    )
