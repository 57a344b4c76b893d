"""How dates and durations read on PerkDesk's pages, events and emails: one module, so they read the same
everywhere. ``format_date`` and ``duration_text`` are pure; ``when`` shows an aware moment in the site's
time zone."""

from __future__ import annotations

import datetime as dt

from django.utils import dateformat, timezone

_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_date(day: dt.date) -> str:
    """``14 March 2027``: no leading zero, English month names whatever the locale."""
    return f"{day.day} {_MONTH_NAMES[day.month - 1]} {day.year}"


def duration_text(delta: dt.timedelta) -> str:
    """``2d 4h``, ``5h 10m``, ``12m``: the two largest units, rounded down."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def when(moment: dt.datetime, fmt: str = "j M Y, H:i T") -> str:
    """An aware moment in the site's time zone: ``26 Nov 2026, 09:00 UTC``."""
    return dateformat.format(timezone.localtime(moment), fmt)


_WINDOW_WORDS = {"3m": "3-month", "6m": "6-month", "12m": "12-month", "24m": "24-month", "trending": "trending"}


def jss_window_text(window: str | None, *, live: bool = True) -> str:
    """How a JSS window code reads to people: ``live, 24-month window``; ``live, no window qualifies``.
    ``live``: computed now from the contracts (the ticket page's preview), not read from a published snapshot."""
    words = f"{_WINDOW_WORDS.get(window, window)} window" if window else "no window qualifies"
    return f"live, {words}" if live else words
