"""Sign-in attempt limiting on top of django-axes.

- **The client address** (``client_ip``, axes' ``AXES_CLIENT_IP_CALLABLE``) is ``REMOTE_ADDR`` unless
  ``TRUSTED_PROXY_COUNT`` reverse proxies stand in front of the site. Each of them appends the address it
  was connected from to ``X-Forwarded-For``, so the client is the entry that many places from the right of
  ``X-Forwarded-For, REMOTE_ADDR``; whatever a client writes into the header itself sits further left and is
  never read.
- **Two limits.** axes counts failures per (username, address) pair (``AXES_FAILURE_LIMIT``), so someone
  guessing at an account from one address never locks its owner out at another. ``LoginLimitHandler`` adds
  a limit per address across every username (``AXES_ADDRESS_FAILURE_LIMIT``), so one address cannot try a
  few passwords on each of many accounts. Both pauses last ``AXES_COOLOFF_TIME``.
- **The lockout page** says how long in minutes (``lockout_response``).
"""

import ipaddress
import math

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render
from django.utils import timezone


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The address of the client, as the trusted proxies (``TRUSTED_PROXY_COUNT``) saw it."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return _address(remote) or remote or None
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    chain = [*forwarded, remote]
    if len(chain) <= proxies:
        # Fewer hops than proxies: the request did not come through all of them (a direct connection to the
        # app server), so there is no forwarded address to trust; the connection's own address stands.
        return _address(remote) or remote or None
    # An entry a trusted proxy wrote is an address; anything else means the chain cannot be trusted.
    return _address(chain[-(proxies + 1)]) or _address(remote) or remote or None


def address_failures(ip_address) -> int:
    """Failed sign-ins from this address within the cool-off, across every username."""
    if not ip_address:
        return 0
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    total = AccessAttempt.objects.filter(ip_address=ip_address, attempt_time__gte=since).aggregate(
        n=Sum("failures_since_start")
    )["n"]
    return total or 0


def _address_locked(request) -> bool:
    locked = address_failures(getattr(request, "axes_ip_address", None)) >= settings.AXES_ADDRESS_FAILURE_LIMIT
    if locked:
        request.perkdesk_address_locked = True
    return locked


class LoginLimitHandler(AxesDatabaseHandler):
    """axes' database handler (the username + address pair), plus the limit per address."""

    def is_locked(self, request, credentials=None) -> bool:
        return super().is_locked(request, credentials) or _address_locked(request)

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is not None and not getattr(request, "axes_locked_out", False) and _address_locked(request):
            request.axes_locked_out = True
            request.axes_credentials = credentials


def lockout_response(request, original_response=None, credentials=None):
    """The lockout page (429), saying how many minutes to wait and whether the account or the address is
    paused."""
    cool_off = get_cool_off(request)
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else None
    return render(
        request,
        settings.AXES_LOCKOUT_TEMPLATE,
        {"minutes": minutes, "address_locked": getattr(request, "perkdesk_address_locked", False)},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
