"""Celery tasks: thin, take ids, call a service; each is safe to run twice."""

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from perkdesk.ops import heartbeats
from perkdesk.queueing import TRANSIENT
from requests_app import services
from requests_app.services import applying

logger = logging.getLogger(__name__)
# Emails are sent by the outbox's tasks (outbox.tasks.send_email), whatever they are about.


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
