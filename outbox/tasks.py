"""Email tasks: thin; each sends one owed delivery, and does nothing for one already sent."""

from celery import shared_task

from outbox import services
from perkdesk.queueing import TRANSIENT


@shared_task(
    name="outbox.send_email",
    acks_late=True,
    autoretry_for=TRANSIENT + (services.SendFailed,),
    retry_backoff=True,
    retry_backoff_max=900,
    max_retries=10,
)
def send_email(delivery_id):
    """Send one owed email; the mail server's failures are retried with backoff."""
    return services.send_delivery(delivery_id)


@shared_task(name="outbox.send_email_once", acks_late=True, autoretry_for=TRANSIENT, max_retries=3)
def send_email_once(delivery_id):
    """The sweep's resend: one attempt; if the mail server fails the next sweep tries again, so a long mail
    outage does not pile up retrying tasks."""
    try:
        return services.send_delivery(delivery_id)
    except services.SendFailed:
        return False
