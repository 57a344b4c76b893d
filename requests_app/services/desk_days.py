"""The /desk/ rollup (``DeskDay``): each closed UTC day's report figures, rebuilt from the tickets.

Who keeps it: the sweep rebuilds the last ``KEPT_DAYS`` closed days on every run (what the reports can read),
and a transition rebuilds, in its own transaction, the days already stored that the ticket's change touches
(its submission, application and deadline days, before and after). Today and any day the sweep has not built
yet are never stored: the reports read those from the tickets. Rebuilding a day takes its row lock first, so
two transactions rebuilding one day do it one after the other, each from what the other committed.
"""

import datetime as dt

from django.db import transaction

from requests_app.models import DeskDay
from requests_app.reports import DESK_DAY_FIGURES, day_figures

KEPT_DAYS = 100  # the reports reach 90 days back (and 12 weeks), with room for a late sweep


def days_of(ticket) -> set[dt.date]:
    """The UTC days whose figures this ticket counts in: submitted, applied, deadline."""
    moments = (ticket.submitted_at, ticket.applied_at, ticket.sla_due_at)
    return {moment.astimezone(dt.UTC).date() for moment in moments if moment is not None}


def rebuild_days(days) -> int:
    """Inside a transition's transaction: rebuild those of ``days`` the rollup holds (none: one query)."""
    stored = list(
        DeskDay.objects.select_for_update().filter(day__in=set(days)).order_by("day").values_list("day", flat=True)
    )
    if stored:
        _write(stored)
    return len(stored)


def rebuild_closed_days(*, now) -> int:
    """The sweep's part: every closed day of the last ``KEPT_DAYS``, rebuilt from the tickets (a rerun writes
    the same figures); older rows are dropped, the reports no longer read them."""
    today = now.astimezone(dt.UTC).date()
    days = [today - dt.timedelta(days=back) for back in range(KEPT_DAYS, 0, -1)]
    with transaction.atomic():
        DeskDay.objects.bulk_create([DeskDay(day=day) for day in days], ignore_conflicts=True)
        list(DeskDay.objects.select_for_update().filter(day__in=days).order_by("day").values_list("day", flat=True))
        _write(days)
        DeskDay.objects.filter(day__lt=days[0]).delete()
    return len(days)


def _write(days) -> None:
    figures = day_figures(days)
    DeskDay.objects.bulk_update([DeskDay(day=day, **figures[day]) for day in days], DESK_DAY_FIGURES)
