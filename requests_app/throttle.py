"""A per-user limit on request submissions (``PERK_SUBMISSIONS_PER_HOUR``), counted in the Django cache.

Every submission that reaches the service counts, refusals too, so the form cannot be used to probe
contract after contract. The count lives in one cache key per user and clock hour, incremented atomically
(Redis ``INCR`` in production), so concurrent posts cannot slip past the limit.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

KEY = "perk-submissions:{user_id}:{hour}"


@dataclass(frozen=True)
class Allowance:
    allowed: bool
    used: int
    limit: int
    retry_at: dt.datetime

    @property
    def retry_after_seconds(self) -> int:
        return max(1, int((self.retry_at - timezone.now()).total_seconds()))


def _window(now):
    start = now.replace(minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(hours=1)


def _key(user, start):
    return KEY.format(user_id=user.pk, hour=start.strftime("%Y%m%d%H"))


def peek(user, *, now=None) -> Allowance:
    """How many submissions this hour, without counting one."""
    now = now or timezone.now()
    start, end = _window(now)
    limit = settings.PERK_SUBMISSIONS_PER_HOUR
    try:
        used = cache.get(_key(user, start), 0)
    except Exception:  # noqa: BLE001 - see record(): the cache away never stops a submission
        used = 0
    return Allowance(allowed=used < limit, used=used, limit=limit, retry_at=end)


def record(user, *, now=None) -> Allowance:
    """Count one submission; ``allowed`` is False when it goes over the limit (it must then not proceed)."""
    now = now or timezone.now()
    start, end = _window(now)
    limit = settings.PERK_SUBMISSIONS_PER_HOUR
    key = _key(user, start)
    # Kept a little past the hour so a clock skew between web processes cannot reset a count early.
    timeout = int((end - now).total_seconds()) + 60
    try:
        if cache.add(key, 1, timeout=timeout):
            used = 1
        else:
            try:
                used = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=timeout)
                used = 1
    except Exception:  # noqa: BLE001 - Redis away: let the request through uncounted rather than lose it
        logger.warning("the submission limit could not be counted (cache unavailable)", exc_info=True)
        used = 0
    return Allowance(allowed=used <= limit, used=used, limit=limit, retry_at=end)
