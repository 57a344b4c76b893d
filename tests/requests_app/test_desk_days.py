"""/desk/'s rollup (``DeskDay``): after every service call it equals the figures the tickets give, a second sweep
changes nothing, and the desk's reports read from it are the reports computed from the tickets alone, late
sweep or not. The history is made by the real services at their own moments; the clock is pinned."""

import datetime as dt

import pytest
import time_machine

from requests_app import reports, services
from requests_app.models import DeskDay
from requests_app.reports import DESK_DAY_FIGURES
from requests_app.services import desk_days
from tests import factories as f
from tests.outcomes import judged_by_update
from tests.requests_app.test_decisions import NOW, submit_ticket

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def stored():
    return {row.day: {name: getattr(row, name) for name in DESK_DAY_FIGURES} for row in DeskDay.objects.all()}


def assert_rollup_matches_the_tickets():
    rows = stored()
    assert rows == reports.day_figures(rows)


def submitted(days_ago, **contract):
    at = NOW - days_ago * DAY
    ended_on = (at - 5 * DAY).date()
    return submit_ticket(now=at, ended_on=ended_on, started_on=ended_on - 60 * DAY, **contract)


def history(agent, *, check, sweep_at=()):
    """Tickets across 100 days in every state, one service call at a time, ``check()`` after each; the sweep
    runs at each of ``sweep_at`` (days ago) once the calls before that moment are made."""
    steps = []

    def at(days_ago, call):
        steps.append((days_ago, call))

    for index, days_ago in enumerate([95, 80, 61, 45, 31, 30, 29, 20, 12, 9, 8, 4, 1]):
        holder = {}

        def submit(days_ago=days_ago, holder=holder):
            holder["ticket"] = submitted(days_ago + 0.3)

        at(days_ago + 0.3, submit)
        moment = NOW - days_ago * DAY
        kind = index % 5
        if kind == 0:  # approved after 2 days, applied at once, judged by the update a week later
            at(
                days_ago - 2,
                lambda h=holder, m=moment: services.approve_request(h["ticket"], agent=agent, now=m + 2 * DAY),
            )
            at(days_ago - 2.01, lambda h=holder, m=moment: services.apply_exclusion(h["ticket"].pk, now=m + 2.01 * DAY))
            if days_ago > 8:
                at(
                    days_ago - 7,
                    lambda h=holder, m=moment, d=days_ago: judged_by_update(
                        h["ticket"],
                        "excluded" if d % 2 else "kept_no_harm",
                        as_of=(m + 7 * DAY).date(),
                        now=m + 7 * DAY,
                    ),
                )
        elif kind == 1:  # late: applied 9 days after submission
            at(
                days_ago - 9,
                lambda h=holder, m=moment: services.approve_request(h["ticket"], agent=agent, now=m + 9 * DAY),
            )
            at(days_ago - 9.01, lambda h=holder, m=moment: services.apply_exclusion(h["ticket"].pk, now=m + 9.01 * DAY))
        elif kind == 2:  # a question, answered two days later (the deadline moves on), then approved
            at(
                days_ago - 1,
                lambda h=holder, m=moment: services.request_info(
                    h["ticket"], agent=agent, message="Which?", now=m + DAY
                ),
            )
            at(
                days_ago - 3,
                lambda h=holder, m=moment: services.reply_to_request(
                    h["ticket"], requester=h["ticket"].requested_by, message="This.", now=m + 3 * DAY
                ),
            )
            at(
                days_ago - 4,
                lambda h=holder, m=moment: services.approve_request(h["ticket"], agent=agent, now=m + 4 * DAY),
            )
        elif kind == 3:  # rejected after its deadline had passed
            at(
                days_ago - 8,
                lambda h=holder, m=moment: services.reject_request(
                    h["ticket"], agent=agent, reason="duplicate", now=m + 8 * DAY
                ),
            )
        else:  # claimed and left open (breached when old enough), or withdrawn
            at(
                days_ago - 0.5,
                lambda h=holder, m=moment: services.claim_request(h["ticket"], agent=agent, now=m + 0.5 * DAY),
            )
            if days_ago > 20:
                at(
                    days_ago - 12,
                    lambda h=holder, m=moment: services.withdraw_request(
                        h["ticket"], requester=h["ticket"].requested_by, now=m + 12 * DAY
                    ),
                )
    for days_ago in sweep_at:
        at(days_ago, lambda d=days_ago: services.sweep(now=NOW - d * DAY))
    for _when, call in sorted((s for s in steps if s[0] > 0), key=lambda s: -s[0]):
        call()
        check()


EVERY_OTHER_DAY = tuple(range(50, 0, -2))  # stored days then change under later transitions (a rejection after
# the deadline, a withdrawal, a JSS outcome a week after applying)


@pytest.mark.parametrize("sweeps", [EVERY_OTHER_DAY, (50,)], ids=["every other day", "late since 50 days"])
def test_the_rollup_equals_the_tickets_after_every_service_call(sweeps):
    history(f.UserFactory(agent=True), check=assert_rollup_matches_the_tickets, sweep_at=sweeps)
    assert DeskDay.objects.exists()
    assert_rollup_matches_the_tickets()


def test_a_second_sweep_changes_nothing():
    history(f.UserFactory(agent=True), check=lambda: None, sweep_at=(30, 5))
    services.sweep(now=NOW)
    first = stored()
    assert len(first) == desk_days.KEPT_DAYS and any(row["due"] for row in first.values())
    services.sweep(now=NOW)
    assert stored() == first
    assert_rollup_matches_the_tickets()


@pytest.mark.parametrize("sweeps", [(*EVERY_OTHER_DAY, 0.01), (50,), ()], ids=["swept", "sweep late", "never swept"])
@pytest.mark.parametrize("hours", [0, 5, 23])
def test_the_desk_reports_are_the_ones_the_tickets_give(sweeps, hours):
    """Whatever the rollup holds (recent, old, nothing), the reports equal the ones computed from the tickets
    alone, at several times of day (the windows' first days are partial)."""
    history(f.UserFactory(agent=True), check=lambda: None, sweep_at=sweeps)
    now = NOW + dt.timedelta(hours=hours)
    with time_machine.travel(now, tick=False):
        from_rollup = reports.desk_report(now=now)
        from_tickets = reports.desk_report(now=now, rollup=False)
    assert from_rollup == from_tickets
    assert sum(week.due for week in from_rollup.weeks) > 0 and sum(c.due for c in from_rollup.compliance) > 0
    assert sum(o.excluded + o.kept_no_harm for o in from_rollup.outcomes) > 0


def test_paused_time_is_still_left_out_of_the_sla():
    """Asked a question on its first day and answered five days later: its deadline moved five days on, so
    applying it on day 10 is on time, in the rollup as from the tickets."""
    agent = f.UserFactory(agent=True)
    ticket = submitted(40)
    start = NOW - 40 * DAY
    services.request_info(ticket, agent=agent, message="Which?", now=start + DAY)
    services.sweep(now=start + 3 * DAY)
    services.reply_to_request(ticket, requester=ticket.requested_by, message="This.", now=start + 6 * DAY)
    services.sweep(now=start + 8 * DAY)  # the first deadline's day is stored: nothing is due on it any more
    assert DeskDay.objects.get(day=(start + 7 * DAY).date()).due == 0
    services.approve_request(ticket, agent=agent, now=start + 10 * DAY)
    services.apply_exclusion(ticket.pk, now=start + 10 * DAY)
    services.sweep(now=NOW)
    ticket.refresh_from_db()
    assert ticket.sla_due_at == start + 12 * DAY
    assert (
        DeskDay.objects.get(day=(start + 12 * DAY).date()).due,
        DeskDay.objects.get(day=(start + 12 * DAY).date()).on_time,
    ) == (1, 1)
    assert_rollup_matches_the_tickets()
    compliance = {c.days: (c.on_time, c.due) for c in reports.desk_report(now=NOW).compliance}
    assert compliance[30] == (1, 1)
