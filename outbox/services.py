"""The one way an email leaves PerkDesk: owe it in the transaction, send it after commit, mark it sent.

- ``owe_email``: inside the caller's transaction, one ``EmailDelivery`` per recipient (unique per occasion,
  so asking twice owes once), and its sending queued for when the transaction commits.
- ``send_delivery``: claim the row (a short transaction), send with no transaction open and no row locked,
  then mark it sent. If the database connection drops between sending and marking, the mark is made again
  on a fresh connection, so the email is not sent a second time.
- ``owed_deliveries``: what the sweep sends again (never sent, not given up on, old enough that its own
  task had its chance).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from outbox import signals
from outbox.models import EmailDelivery
from perkdesk.queueing import TRANSIENT, queue_after_commit

logger = logging.getLogger(__name__)

# A sender that claimed a row and vanished (a killed worker) holds it this long.
CLAIM_LEASE = dt.timedelta(minutes=5)
# The sweep sends again what is this old (its own task had its chance: queued, retried) and this young.
RESEND_AFTER = dt.timedelta(minutes=10)
RESEND_WITHIN = dt.timedelta(days=3)
MAX_ATTEMPTS = 20
MARK_ATTEMPTS = 5


@dataclass(frozen=True)
class Email:
    """A rendered message: what ``owe_email`` stores."""

    subject: str
    text: str
    html: str = ""


def owe_email(
    *, about_type: str, about_id: int, kind: str, occasion: int, recipients: Iterable[str], email: Email, now
) -> list[EmailDelivery]:
    """Record that ``email`` is owed to each recipient, and queue its sending after commit. Must run inside
    the transaction that makes it owed. Returns the new deliveries (none for a recipient already owed it)."""
    return owe_emails(
        [(about_type, about_id, kind, occasion, recipient, email) for recipient in dict.fromkeys(recipients)],
        now=now,
    )


def owe_emails(rows: Sequence[tuple[str, int, str, int, str, Email]], *, now) -> list[EmailDelivery]:
    """``owe_email`` for many at once, in one INSERT: rows of (about_type, about_id, kind, occasion,
    recipient, email)."""
    rows = [row for row in rows if row[4]]
    if not rows:
        return []
    already = _already_owed(rows)
    new = [
        EmailDelivery(
            about_type=about_type,
            about_id=about_id,
            kind=kind,
            occasion=occasion,
            recipient=recipient,
            subject=email.subject,
            body_text=email.text,
            body_html=email.html,
            created_at=now,
        )
        for about_type, about_id, kind, occasion, recipient, email in rows
        if (about_type, about_id, kind, occasion, recipient) not in already
    ]
    created = EmailDelivery.objects.bulk_create(new)
    from outbox import tasks

    for delivery in created:
        queue_after_commit(tasks.send_email, delivery.pk)
    return created


def _already_owed(rows) -> set[tuple]:
    wanted = Q(pk__in=[])
    for about_type, about_id, kind, occasion, recipient, _ in rows:
        wanted |= Q(about_type=about_type, about_id=about_id, kind=kind, occasion=occasion, recipient=recipient)
    return set(
        EmailDelivery.objects.filter(wanted).values_list("about_type", "about_id", "kind", "occasion", "recipient")
    )


class SendFailed(Exception):
    """The mail server refused or could not be reached; the delivery stays owed."""


def send_delivery(delivery_id: int, *, now=None) -> bool:
    """Send one owed email, once. True when it went now; False when there is nothing to do (sent already,
    gone, or another sender holds it). Raises ``SendFailed`` when the mail server fails (the row stays owed
    and records the error). Never called with a transaction open: no row is locked while SMTP talks."""
    now = now or timezone.now()
    delivery = _claim(delivery_id, now=now)
    if delivery is None:
        return False
    message = EmailMultiAlternatives(
        subject=delivery.subject,
        body=delivery.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.recipient],
    )
    if delivery.body_html:
        message.attach_alternative(delivery.body_html, "text/html")
    try:
        message.send()
    except Exception as exc:  # noqa: BLE001 - SMTP and socket errors alike leave the email owed
        error = f"{type(exc).__name__}: {exc}"
        _release(delivery.pk, error=error)
        raise SendFailed(error) from exc
    _mark_sent(delivery.pk, now=timezone.now())
    logger.info("email sent", extra={"kind": delivery.kind, "delivery": delivery.pk})
    return True


def _claim(delivery_id: int, *, now) -> EmailDelivery | None:
    with transaction.atomic():
        claimed = (
            EmailDelivery.objects.filter(pk=delivery_id, sent_at__isnull=True)
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE))
            .update(claimed_at=now, attempts=F("attempts") + 1)
        )
        if not claimed:
            return None
        return EmailDelivery.objects.get(pk=delivery_id)


def _release(delivery_id: int, *, error: str) -> None:
    EmailDelivery.objects.filter(pk=delivery_id, sent_at__isnull=True).update(claimed_at=None, last_error=error[:2000])


def _mark_sent(delivery_id: int, *, now) -> None:
    """Mark it sent; the email has left, so a dropped connection must not make it owed again: mark on a fresh
    connection (outside a transaction only; inside one the caller's transaction is lost anyway)."""
    for attempt in range(1, MARK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                delivery = EmailDelivery.objects.select_for_update().get(pk=delivery_id)
                if delivery.sent_at is None:
                    delivery.sent_at = now
                    delivery.claimed_at = None
                    delivery.last_error = ""
                    delivery.save(update_fields=["sent_at", "claimed_at", "last_error"])
                    signals.email_sent.send(sender=EmailDelivery, delivery=delivery)
            return
        except TRANSIENT:
            if connection.in_atomic_block or attempt == MARK_ATTEMPTS:
                logger.error("email %s was sent but could not be marked sent", delivery_id)
                raise
            logger.warning("marking email %s sent failed; again on a fresh connection", delivery_id)
            connection.close()


def record_as_sent(delivery_ids: Iterable[int]) -> int:
    """Mark owed deliveries sent, as of when they were owed, without sending them: for history loaded from
    elsewhere (the demo data), whose emails went long ago. Returns how many."""
    marked = 0
    for delivery_id, created_at in (
        EmailDelivery.objects.filter(pk__in=list(delivery_ids), sent_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "created_at")
    ):
        _mark_sent(delivery_id, now=created_at)
        marked += 1
    return marked


def owed_deliveries(*, now) -> list[int]:
    """Deliveries never sent, recent, not given up on and not held by a sender now: one query."""
    return list(
        EmailDelivery.objects.filter(
            sent_at__isnull=True,
            created_at__gt=now - RESEND_WITHIN,
            created_at__lte=now - RESEND_AFTER,
            attempts__lt=MAX_ATTEMPTS,
        )
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def resend_owed(*, now) -> list[str]:
    """Queue every owed delivery again (the sweep); returns what each is, "kind to recipient"."""
    from outbox import tasks

    owed = list(
        EmailDelivery.objects.filter(pk__in=owed_deliveries(now=now))
        .order_by("kind", "pk")
        .values_list("pk", "kind", "recipient")
    )
    with transaction.atomic():
        for delivery_id, _, _ in owed:
            queue_after_commit(tasks.send_email_once, delivery_id)
    return [f"{kind} to {recipient}" for _, kind, recipient in owed]


def deliveries_about(about_type: str, about_ids: Iterable[int]):
    return EmailDelivery.objects.filter(about_type=about_type, about_id__in=list(about_ids))
