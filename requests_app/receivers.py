"""What requests_app does when a lower app announces something (connected in ``RequestsAppConfig.ready``)."""

from requests_app import services


def record_jss_outcomes(sender, *, changes, **kwargs):
    """``jss.signals.outcomes_changed``: put each new outcome on its ticket (event and email, once)."""
    services.record_jss_outcomes(changes)


def note_email_sent(sender, *, delivery, **kwargs):
    """``outbox.signals.email_sent``, inside the transaction that marks it sent: the ticket's timeline says
    which email went to whom (internal), with the facts in ``data``."""
    from outbox.models import About
    from requests_app.models import EventKind, RequestEvent

    if delivery.about_type != About.REMOVAL_REQUEST:
        return
    RequestEvent.objects.create(
        request_id=delivery.about_id,
        kind=EventKind.EMAIL_SENT,
        created_at=delivery.sent_at,
        public=False,
        message=f"“{delivery.subject}” sent to {delivery.recipient}.",
        data={"email": delivery.kind, "to": delivery.recipient, "delivery": delivery.pk},
    )
