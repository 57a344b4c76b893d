"""Celery tasks: thin, take ids, call a service; each is safe to run twice."""

import logging
import smtplib

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from requests_app import services
from requests_app.emails import KINDS, build_request_email
from requests_app.models import EventKind, RemovalRequest, RequestEvent

logger = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError, BrokerError, ConnectionError)


@shared_task(
    name="requests_app.apply_exclusion",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def apply_exclusion(request_id):
    """Apply an approved request; a second run (or a redelivery) finds it applied and does nothing."""
    return services.apply_exclusion(request_id)


@shared_task(
    name="requests_app.send_request_email",
    acks_late=True,
    autoretry_for=TRANSIENT + (smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=900,
    max_retries=10,
)
def send_request_email(request_id, kind):
    """Send one of a ticket's emails once: the ``email_sent`` event is the record that it went."""
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    removal_request = RemovalRequest.objects.select_related("contract", "requested_by").filter(pk=request_id).first()
    if removal_request is None:
        return False
    marker = f"{kind}:"
    if RequestEvent.objects.filter(
        request_id=request_id, kind=EventKind.EMAIL_SENT, message__startswith=marker
    ).exists():
        return False
    message = build_request_email(removal_request, kind)
    message.send()
    with transaction.atomic():
        RequestEvent.objects.create(
            request=removal_request,
            kind=EventKind.EMAIL_SENT,
            created_at=timezone.now(),
            message=f"{marker} “{message.subject}” sent to {', '.join(message.to)}.",
            public=False,
        )
    return True
