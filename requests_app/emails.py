"""The emails a freelancer gets about a ticket: text and HTML, from templates/emails/."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from requests_app import domain

SUBJECTS = {
    "submitted": "Your feedback removal request {ticket} has been submitted",
    "approved": "Your feedback removal request {ticket} was approved",
    "rejected": "Your feedback removal request {ticket} was not accepted",
    "applied": "Feedback removed from your Job Success Score ({ticket})",
    "jss_outcome": "Your Job Success Score update and request {ticket}",
}
KINDS = tuple(SUBJECTS)


def build_request_email(removal_request, kind) -> EmailMultiAlternatives:
    context = {
        "r": removal_request,
        "contract": removal_request.contract,
        "scope_label": domain.SCOPE_LABELS[removal_request.scope],
        "site_url": settings.SITE_URL.rstrip("/"),
        "rejection_message": (
            domain.REJECTION_REASONS[removal_request.rejection_reason][1] if removal_request.rejection_reason else ""
        ),
        "agent_message": _agent_message(removal_request) if kind == "rejected" else "",
        "sla_days": settings.PERK_SLA_DAYS,
    }
    text = render_to_string(f"emails/{kind}.txt", context)
    html = render_to_string(f"emails/{kind}.html", context)
    recipient = removal_request.requested_by.email
    message = EmailMultiAlternatives(
        subject=SUBJECTS[kind].format(ticket=removal_request.ticket_number),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
    )
    message.attach_alternative(html, "text/html")
    return message


def _agent_message(removal_request):
    event = removal_request.events.filter(kind="rejected").order_by("-created_at").first()
    if event is None:
        return ""
    canned = domain.REJECTION_REASONS[removal_request.rejection_reason][1]
    return event.message.removeprefix(canned).strip()
