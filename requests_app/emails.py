"""The emails about a ticket: to the freelancer (text and HTML, from templates/emails/) and the SLA alerts to
the support leads. Each is rendered in the transaction that makes it owed and handed to the outbox
(``outbox.services``), which sends it after commit, once."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string

from outbox.models import About
from outbox.services import Email, owe_emails
from requests_app import domain
from requests_app.formatting import when
from requests_app.models import EventKind

SUBJECTS = {
    "submitted": "Your feedback removal request {ticket} has been submitted",
    "approved": "Your feedback removal request {ticket} was approved",
    "rejected": "Your feedback removal request {ticket} was not accepted",
    "info_requested": "A question about your feedback removal request {ticket}",
    "info_reminder": "Reminder: we are waiting for your answer about request {ticket}",
    "applied": "Feedback removed from your Job Success Score ({ticket})",
    "jss_outcome": "Your Job Success Score update and request {ticket}",
}
KINDS = tuple(SUBJECTS)

SLA_ALERT_SUBJECTS = {
    EventKind.SLA_AT_RISK: "[PerkDesk] SLA at risk: ticket {ticket} is due {due}",
    EventKind.SLA_BREACHED: "[PerkDesk] SLA breached: ticket {ticket} missed the {days}-day promise",
}


def request_email(removal_request, kind, *, agent_message: str = "") -> Email:
    """The freelancer's email of ``kind`` about this ticket, rendered."""
    context = {
        "r": removal_request,
        "contract": removal_request.contract,
        "scope_label": domain.SCOPE_LABELS[removal_request.scope],
        "site_url": settings.SITE_URL.rstrip("/"),
        "rejection_message": (
            domain.REJECTION_REASONS[removal_request.rejection_reason][1] if removal_request.rejection_reason else ""
        ),
        "agent_message": agent_message,
        "sla_days": settings.PERK_SLA_DAYS,
        "reply_days": settings.PERK_REPLY_DAYS,
        "reply_by": (
            removal_request.waiting_since + timedelta(days=settings.PERK_REPLY_DAYS)
            if removal_request.waiting_since
            else None
        ),
    }
    return Email(
        subject=SUBJECTS[kind].format(ticket=removal_request.ticket_number),
        text=render_to_string(f"emails/{kind}.txt", context),
        html=render_to_string(f"emails/{kind}.html", context),
    )


def owe_request_emails(owed, *, now) -> list:
    """In the caller's transaction: each (ticket, kind, event, agent_message) owes its requester one email,
    recorded in the outbox in one INSERT and sent after commit. The event is the occasion: one email per
    event, however often the sending is retried."""
    return owe_emails(
        [
            (
                About.REMOVAL_REQUEST,
                removal_request.pk,
                kind,
                event.pk,
                removal_request.requested_by.email,
                request_email(removal_request, kind, agent_message=agent_message),
            )
            for removal_request, kind, event, agent_message in owed
        ],
        now=now,
    )


def owe_request_email(removal_request, kind, *, event, now, agent_message: str = "") -> list:
    """The new deliveries (none when this email was already owed for this event)."""
    return owe_request_emails([(removal_request, kind, event, agent_message)], now=now)


# --- the leads' SLA alert ------------------------------------------------------------------------------------

LEADS_GROUP = "Support leads"


def lead_emails() -> list[str]:
    User = get_user_model()
    return sorted(
        set(
            User.objects.filter(groups__name=LEADS_GROUP, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def _staff_email_context(removal_request, *, now) -> dict:
    """What every email to support staff about a ticket shows (templates/emails/sla_base.*)."""
    site_url = settings.SITE_URL.rstrip("/")
    return {
        "r": removal_request,
        "contract": removal_request.contract,
        "subject": removal_request.subject,
        "scope_label": domain.SCOPE_LABELS[removal_request.scope],
        "status_label": domain.STATUS_LABELS[removal_request.status],
        "site_url": site_url,
        "admin_url": f"{site_url}/admin/requests_app/removalrequest/{removal_request.pk}/change/",
        "desk_url": f"{site_url}/desk/",
        "sla_days": settings.PERK_SLA_DAYS,
        "open_for": now - removal_request.submitted_at,  # how long it had been open when the email was owed
    }


def sla_alert_email(removal_request, kind, *, now) -> Email:
    context = _staff_email_context(removal_request, now=now)
    return Email(
        subject=SLA_ALERT_SUBJECTS[kind].format(
            ticket=removal_request.ticket_number,
            due=when(removal_request.sla_due_at, "j M, H:i T"),
            days=settings.PERK_SLA_DAYS,
        ),
        text=render_to_string(f"emails/{kind}.txt", context),
        html=render_to_string(f"emails/{kind}.html", context),
    )


def owe_sla_alert(removal_request, kind, *, event, now) -> int:
    """In the alert's transaction: one email to each support lead, and to the agent who holds the ticket (their
    own ticket turning at risk or breached is news to them; the alert event makes it once). Returns how many
    are owed."""
    recipients = lead_emails()
    holder = removal_request.assigned_to
    if holder is not None and holder.email and holder.email not in recipients:
        recipients = [*recipients, holder.email]
    email = sla_alert_email(removal_request, kind, now=now)
    owed = owe_emails(
        [(About.REMOVAL_REQUEST, removal_request.pk, str(kind), event.pk, to, email) for to in recipients], now=now
    )
    return len(owed)


def owe_assignment_email(removal_request, *, assignee, lead, event, now) -> int:
    """In the reassignment's transaction: tell the new assignee the ticket is theirs now (once per event)."""
    if assignee is None or not assignee.email:
        return 0
    context = {**_staff_email_context(removal_request, now=now), "who": lead.get_full_name() or lead.get_username()}
    email = Email(
        subject=f"[PerkDesk] Ticket {removal_request.ticket_number} is yours now",
        text=render_to_string("emails/assigned.txt", context),
        html=render_to_string("emails/assigned.html", context),
    )
    return len(
        owe_emails([(About.REMOVAL_REQUEST, removal_request.pk, "assigned", event.pk, assignee.email, email)], now=now)
    )
