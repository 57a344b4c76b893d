"""/desk/: the queue counts, the breached and at-risk tickets, and for leads the reports — each figure
checked against a history made through the services, and the page's queries independent of the queue size."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from requests_app import reports, services
from tests import factories as f
from tests.outcomes import judged_by_update
from tests.requests_app.test_decisions import NOW, submit_ticket

pytestmark = pytest.mark.django_db

DESK = reverse("requests_app:desk")


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def ago(**kwargs):
    return NOW - dt.timedelta(**kwargs)


@pytest.fixture
def avery():
    return f.UserFactory(agent=True, username="avery", first_name="Avery", last_name="Agent")


@pytest.fixture
def lee():
    return f.UserFactory(lead=True, username="lee", first_name="Lee", last_name="Lead")


def decided(*, submitted, after, approve=True, applied_after=None, by=None, outcome=None, **contract):
    """A ticket submitted `submitted` ago and decided `after` it; applied `applied_after` the decision."""
    by = by or f.UserFactory(agent=True)
    submitted_at = NOW - submitted
    ended_on = (submitted_at - dt.timedelta(days=5)).date()
    ticket = submit_ticket(now=submitted_at, ended_on=ended_on, started_on=ended_on - dt.timedelta(days=60), **contract)
    if approve:
        services.approve_request(ticket, agent=by, now=submitted_at + after)
        if applied_after is not None:
            applied_at = submitted_at + after + applied_after
            services.apply_exclusion(ticket.pk, now=applied_at)
            if outcome:
                judged_by_update(ticket, outcome, as_of=applied_at.date(), now=applied_at)
    else:
        services.reject_request(ticket, agent=by, reason="duplicate", now=submitted_at + after)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def queue(avery):
    fresh = submit_ticket(now=ago(hours=2))
    unclaimed_old = submit_ticket(now=ago(days=3))
    mine = submit_ticket(now=ago(days=4))
    services.claim_request(mine, agent=avery, now=ago(days=3))
    at_risk = submit_ticket(now=ago(days=6))  # 24 h left
    breached = submit_ticket(now=ago(days=9))  # 2 days over
    services.claim_request(
        breached, agent=f.UserFactory(agent=True, first_name="Sam", last_name="Rivera"), now=ago(days=8)
    )
    approved = decided(submitted=dt.timedelta(days=1), after=dt.timedelta(hours=2))
    return dict(
        fresh=fresh, unclaimed_old=unclaimed_old, mine=mine, at_risk=at_risk, breached=breached, approved=approved
    )


def test_queue_counts_and_the_urgent_tickets(client, avery, queue):
    client.force_login(avery)
    response = client.get(DESK)
    assert response.status_code == 200
    counts = response.context["counts"]
    assert (counts.submitted_unassigned, counts.mine, counts.approved_waiting, counts.at_risk, counts.breached) == (
        3,
        1,
        1,
        1,
        1,
    )
    html = response.content.decode()
    change = reverse("admin:requests_app_removalrequest_change", args=[queue["breached"].pk])
    assert f'href="{change}">{queue["breached"].ticket_number}</a>' in html
    assert '<span class="badge bad">2d</span>' in html and "Sam Rivera" in html
    at_risk_change = reverse("admin:requests_app_removalrequest_change", args=[queue["at_risk"].pk])
    assert f'href="{at_risk_change}">{queue["at_risk"].ticket_number}</a>' in html
    assert '<span class="badge warn">1d left</span>' in html
    for name in ("fresh", "unclaimed_old", "mine", "approved"):
        assert queue[name].ticket_number not in html  # only the urgent ones are listed


def test_each_queue_links_to_its_filter(client, avery, queue):
    client.force_login(avery)
    html = client.get(DESK).content.decode()
    changelist = reverse("admin:requests_app_removalrequest_changelist")
    for query in (
        "status=submitted&amp;assignee=unassigned",
        "assignee=mine",
        "status=approved",
        "sla=at_risk",
        "sla=breached",
    ):
        assert f'href="{changelist}?{query}"' in html


def test_an_empty_queue_says_so(client, avery):
    client.force_login(avery)
    html = client.get(DESK).content.decode()
    assert "Nothing is past its deadline." in html
    assert "No open ticket is within 48 hours of its deadline." in html


# --- the reports (leads) -------------------------------------------------------------------------------------


def test_sla_compliance_over_30_and_90_days(client, lee):
    day = dt.timedelta(days=1)
    # Due in the last 30 days: applied on time twice, applied late once, still approved past its deadline.
    decided(submitted=10 * day, after=day, applied_after=dt.timedelta(hours=1))
    decided(submitted=20 * day, after=2 * day, applied_after=day)
    decided(submitted=25 * day, after=2 * day, applied_after=6 * day)  # applied 8 days after the request
    late_open = decided(submitted=12 * day, after=day)  # approved, never applied
    assert late_open.status == "approved"
    # Rejected: never owed an exclusion, not counted.
    decided(submitted=15 * day, after=day, approve=False)
    # Due 31–90 days ago: one on time.
    decided(submitted=60 * day, after=day, applied_after=dt.timedelta(hours=2))
    # Due more than 90 days ago: outside both windows.
    decided(submitted=120 * day, after=day, applied_after=6 * day + dt.timedelta(hours=1))

    figures = {c.days: (c.on_time, c.due) for c in reports.sla_compliance(now=NOW)}
    assert figures == {30: (2, 4), 90: (3, 5)}
    client.force_login(lee)
    html = client.get(DESK).content.decode()
    assert "2 of 4 applied within 7 days" in html and "3 of 5 applied within 7 days" in html
    assert ">50%<" in html and ">60%<" in html


def test_median_time_to_decision_over_30_and_90_days(client, lee):
    hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
    for submitted, after in [(5 * day, 1 * hour), (6 * day, 3 * hour), (7 * day, 10 * hour), (60 * day, 20 * hour)]:
        decided(submitted=submitted, after=after)
    decided(submitted=70 * day, after=30 * hour, approve=False)
    decided(submitted=200 * day, after=99 * hour)  # decided long ago: outside
    figures = {d.days: (d.decided, d.median) for d in reports.decision_times(now=NOW)}
    assert figures == {30: (3, 3 * hour), 90: (5, 10 * hour)}
    client.force_login(lee)
    html = client.get(DESK).content.decode()
    assert "<strong>3h</strong>" in html and "<strong>10h</strong>" in html
    assert "over 3 decisions" in html and "over 5 decisions" in html


def test_median_of_an_even_number_of_decisions_is_the_middle_pair_average():
    hour, day = dt.timedelta(hours=1), dt.timedelta(days=1)
    for after in (1 * hour, 2 * hour, 4 * hour, 9 * hour):
        decided(submitted=3 * day, after=after)
    [thirty, _] = reports.decision_times(now=NOW)
    assert thirty.median == 3 * hour


@pytest.mark.parametrize(
    "histogram, total, median",
    [
        ([], 0, None),
        ([(5, 1)], 1, 5),
        ([(1, 1), (3, 1)], 2, 2),
        ([(1, 2), (7, 1)], 3, 1),
        ([(1, 1), (2, 1), (10, 2)], 4, 6),
        ([(0, 3), (60, 3)], 6, 30),
    ],
)
def test_median_from_grouped_durations(histogram, total, median):
    assert reports.median_of_histogram(histogram, total) == median


def test_outcomes_of_the_requests_applied_in_each_window(client, lee):
    day = dt.timedelta(days=1)
    decided(submitted=10 * day, after=day, applied_after=day, outcome="excluded")
    decided(submitted=12 * day, after=day, applied_after=day, outcome="excluded")
    decided(submitted=14 * day, after=day, applied_after=day, outcome="kept_no_harm")
    decided(submitted=5 * day, after=day, applied_after=day)  # awaiting the JSS update
    decided(submitted=70 * day, after=day, applied_after=day, outcome="kept_no_harm")
    figures = {o.days: (o.applied, o.excluded, o.kept_no_harm, o.pending) for o in reports.outcomes(now=NOW)}
    assert figures == {30: (4, 2, 1, 1), 90: (5, 2, 2, 1)}
    client.force_login(lee)
    html = client.get(DESK).content.decode()
    assert "Last 30 days · 4 applied" in html and "Last 90 days · 5 applied" in html
    assert 'class="segment excluded" style="width: 50.00%"' in html


def test_weekly_throughput_and_charts(client, lee):
    day = dt.timedelta(days=1)
    # NOW is Thursday 26 November 2026: this week began Monday 23 November.
    decided(submitted=2 * day, after=dt.timedelta(hours=1), applied_after=dt.timedelta(hours=1))
    submit_ticket(now=ago(days=1))
    decided(submitted=9 * day, after=day, applied_after=day)  # week of 16 November
    weeks = reports.weekly(now=NOW)
    assert len(weeks) == 12
    assert weeks[0].starts_on == dt.date(2026, 9, 7) and weeks[-1].starts_on == dt.date(2026, 11, 23)
    this, last = weeks[-1], weeks[-2]
    assert (this.submitted, this.applied) == (2, 1)
    assert (last.submitted, last.applied) == (1, 1)
    assert sum(w.submitted for w in weeks) == 3
    client.force_login(lee)
    html = client.get(DESK).content.decode()
    assert html.count("<svg") >= 2
    assert "Week of 23 Nov: 2 submitted" in html and "Week of 16 Nov: 1 applied" in html


# Session, user, permissions (one query), the queue counts, the breached and the at-risk lists, the sweep's
# heartbeat; for leads also the rollup's stored days, by deadline week, by applied week, submitted per week and the
# medians.
DESK_BUDGET = {"agent": 7, "lead": 12}


@pytest.mark.parametrize("swept", [False, True], ids=["no rollup yet", "rollup stored"])
@pytest.mark.parametrize("who", ["agent", "lead"])
def test_desk_queries_do_not_grow_with_the_queue(client, lee, avery, who, swept, django_assert_max_num_queries):
    client.force_login(lee if who == "lead" else avery)
    decided(submitted=dt.timedelta(days=10), after=dt.timedelta(days=1), applied_after=dt.timedelta(hours=1))
    submit_ticket(now=ago(days=8))
    if swept:
        services.sweep(now=NOW)
    client.get(DESK)  # process-wide caches filled: the steady state is measured
    with django_assert_max_num_queries(DESK_BUDGET[who]) as small:
        assert client.get(DESK).status_code == 200
    for index in range(12):
        ticket = submit_ticket(now=ago(days=index % 9, hours=index))
        if index % 3 == 0:
            services.approve_request(ticket, agent=avery if who == "lead" else lee, now=ago(hours=index))
        if index % 3 == 1:
            services.claim_request(ticket, agent=avery, now=ago(hours=index))
    if swept:
        services.sweep(now=NOW)  # applies the approved ones
    with CaptureQueriesContext(connection) as large:
        response = client.get(DESK)
    assert response.context["counts"].open >= (9 if swept else 13)
    assert len(large) == len(small)


def test_waiting_on_the_freelancer_is_counted_apart_and_its_pause_is_not_held_against_the_sla(client, lee):
    # Submitted 10 days ago (due 3 days ago); asked a day later, answered two days after that: due a day ago.
    # Applied 2 days ago: late without the pause, on time with it.
    submitted_at = ago(days=10)
    ended_on = (submitted_at - dt.timedelta(days=5)).date()
    paused = submit_ticket(now=submitted_at, ended_on=ended_on, started_on=ended_on - dt.timedelta(days=60))
    services.request_info(paused, agent=lee, message="Which email?", now=submitted_at + dt.timedelta(days=1))
    services.reply_to_request(
        paused, requester=paused.requested_by, message="This one.", now=submitted_at + dt.timedelta(days=3)
    )
    services.approve_request(paused, agent=lee, now=ago(days=3))
    services.apply_exclusion(paused.pk, now=ago(days=2))
    paused.refresh_from_db()
    assert paused.sla_due_at == submitted_at + dt.timedelta(days=9)
    # One waiting now, for a week already: paused, so neither at risk nor breached.
    waiting = submit_ticket(now=ago(days=8))
    services.request_info(waiting, agent=lee, message="Which email?", now=ago(days=7, hours=12))
    counts = reports.queue_counts(user=lee, now=NOW)
    assert (counts.waiting_on_freelancer, counts.at_risk, counts.breached) == (1, 0, 0)
    compliance = {c.days: (c.on_time, c.due) for c in reports.sla_compliance(now=NOW)}
    assert compliance[30] == (1, 1)
    client.force_login(lee)
    page = client.get(DESK).content.decode()
    assert "Waiting on freelancer (SLA paused)" in page and "?status=waiting_on_freelancer" in page
