"""Celery tasks: thin, take ids, call a service; each is safe to run twice."""

import datetime as dt
import logging
import smtplib

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from kombu.exceptions import OperationalError as BrokerError

from perkdesk.ops import heartbeats
from requests_app import services
from requests_app.emails import KINDS, build_request_email
from requests_app.models import EventKind, RemovalRequest, RequestEvent
from requests_app.services import applying

logger = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError, BrokerError, ConnectionError)
# Emails: the mail server's failures are retried too, more times, with a longer backoff cap.
MAIL_RETRY = dict(
    autoretry_for=TRANSIENT + (smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=900,
    max_retries=10,
)


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
    **MAIL_RETRY,
)
def send_request_email(request_id, kind, resend=False):
    """Send one of a ticket's emails once per event of its kind (a JSS outcome can change at a later update,
    and each change is news): the ``email_sent`` events are the record of what went. The ticket is locked
    while its email is checked, sent and recorded, so a redelivered task and the sweep's resend (which may
    run at the same moment) send it once between them.

    ``resend`` (the sweep's): one attempt; if the mail server fails it is logged and the next sweep tries
    again, so a long mail outage does not pile up retrying tasks."""
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    try:
        return _send_request_email(request_id, kind)
    except (smtplib.SMTPException, OSError):
        if not resend:
            raise  # retried with backoff (autoretry_for)
        logger.warning("resending %s email of request %s failed; the next sweep tries again", kind, request_id)
        return False


def _send_request_email(request_id, kind):
    marker = f"{kind}:"
    with transaction.atomic():
        removal_request = (
            RemovalRequest.objects.select_for_update(of=("self",))
            .select_related("contract", "requested_by")
            .filter(pk=request_id)
            .first()
        )
        if removal_request is None:
            return False
        events = RequestEvent.objects.filter(request_id=request_id)
        sent = events.filter(kind=EventKind.EMAIL_SENT, message__startswith=marker).count()
        if sent >= max(1, events.filter(kind=kind).count()):
            return False
        message = build_request_email(removal_request, kind)
        message.send()
        RequestEvent.objects.create(
            request=removal_request,
            kind=EventKind.EMAIL_SENT,
            created_at=timezone.now(),
            message=f"{marker} “{message.subject}” sent to {', '.join(message.to)}.",
            public=False,
        )
    return True


@shared_task(
    name="requests_app.send_sla_alert",
    acks_late=True,
    **MAIL_RETRY,
)
def send_sla_alert(request_id, kind):
    """Tell the support leads that a ticket is at risk of, or past, the 7-day promise; once per ticket."""
    return applying.send_sla_alert(request_id, kind=kind)


@shared_task(
    name="requests_app.sweep",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=3,
)
def sweep(now=None):
    """Every 15 minutes (beat): apply what a lost message left approved, raise the SLA alerts. ``now`` may
    come as an ISO string (JSON from beat or a manual call); returns what it did as counts."""
    counts = applying.sweep(now=_moment(now)).counts()
    heartbeats.record(heartbeats.SWEEP, data=counts)  # /desk/, /healthz and /metrics show when it last ran
    return counts


def _moment(value):
    if value is None or isinstance(value, dt.datetime):
        moment = value
    else:
        moment = parse_datetime(str(value))
        if moment is None:
            raise ValueError(f"now must be an ISO 8601 date and time, not {value!r}")
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
