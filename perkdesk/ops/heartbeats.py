"""Heartbeats of the periodic processes: written by beat and by the sweep, read by /healthz, /desk/ and
/metrics. A missing or old heartbeat means the SLA alerts and the lost-message recovery have stopped."""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from perkdesk.ops.models import Heartbeat

BEAT = "beat"
SWEEP = "sweep"
# The sweep runs every 15 minutes: two missed runs and it is stale.
STALE_AFTER = {BEAT: dt.timedelta(minutes=5), SWEEP: dt.timedelta(minutes=30)}


def record(name: str, *, now=None, data=None) -> Heartbeat:
    now = now or timezone.now()
    with transaction.atomic():
        heartbeat, _ = Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": now, "data": data or {}})
    return heartbeat


@dataclass(frozen=True)
class Pulse:
    name: str
    last: dt.datetime | None
    age: dt.timedelta | None
    stale: bool
    data: dict


def pulse(name: str, *, now=None) -> Pulse:
    now = now or timezone.now()
    heartbeat = Heartbeat.objects.filter(name=name).first()
    if heartbeat is None:
        return Pulse(name, None, None, True, {})
    age = max(now - heartbeat.beat_at, dt.timedelta(0))
    return Pulse(name, heartbeat.beat_at, age, age > STALE_AFTER[name], heartbeat.data)
