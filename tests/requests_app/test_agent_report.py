"""Per-agent figures over a chosen period (/desk/reports/ and its CSV), on a pinned clock: what a lead reads
for each agent (decisions, median time to decision, SLA kept), the default last 30 days, a validated period,
a query count that does not grow with the agents, and who may see it."""

import csv
import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.urls import reverse

from requests_app import reports, services
from requests_app.desk import AGENT_CSV_HEADER
from tests import factories as f
from tests.requests_app.test_decisions import NOW, submit_ticket

pytestmark = pytest.mark.django_db

# reports.agent_figures: two grouped queries on PostgreSQL (percentile_cont medians), three on SQLite (a histogram).
AGGREGATES = 2 if connection.vendor == "postgresql" else 3

PAGE = reverse("requests_app:agent_report")
CSV = reverse("requests_app:agent_report_csv")


def ago(**kwargs):
    return NOW - dt.timedelta(**kwargs)


@pytest.fixture
def decisions(time_machine):
    """Avery: an approval a day after submission and a rejection nine days after (past the 7-day deadline).
    Sam: a rejection three hours after submission, and an approval 35 days ago (outside the last 30 days)."""
    time_machine.move_to(NOW, tick=False)
    avery = f.UserFactory(agent=True, username="avery", first_name="Avery", last_name="Agent")
    sam = f.UserFactory(agent=True, username="sam", first_name="Sam", last_name="Rivera")
    services.approve_request(submit_ticket(now=ago(days=3)), agent=avery, now=ago(days=2))
    services.reject_request(submit_ticket(now=ago(days=10)), agent=avery, reason="duplicate", now=ago(days=1))
    services.reject_request(submit_ticket(now=ago(hours=5)), agent=sam, reason="duplicate", now=ago(hours=2))
    old = submit_ticket(now=ago(days=40), ended_on=f.TODAY - dt.timedelta(days=60))
    services.approve_request(old, agent=sam, now=ago(days=35))
    return avery, sam


@pytest.fixture
def lead_client(client):
    client.force_login(f.UserFactory(lead=True, username="lee"))
    return client


def table(response):
    """The page's per-agent rows and total as {name: [cells]}."""
    html = response.content.decode()
    rows = re.findall(r"<tr>(.*?)</tr>", html.split('<table class="list agents">')[1].split("</table>")[0], re.S)
    cells = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh]>(.*?)</t[dh]>", r, re.S)] for r in rows]
    return {row[0]: row[1:] for row in cells[1:]}


def test_the_last_30_days_by_default(lead_client, decisions):
    response = lead_client.get(PAGE)
    assert response.status_code == 200
    rows = table(response)
    assert rows["Avery Agent"] == ["2", "1", "1", "5d", "50% (1 of 2)"]
    assert rows["Sam Rivera"] == ["1", "0", "1", "3h", "100% (1 of 1)"]
    assert rows["All agents"] == ["3", "1", "2", "1d", "67% (2 of 3)"]
    assert "Decisions from 28 Oct 2026 to 26 Nov 2026" in response.content.decode()


def test_another_period(lead_client, decisions):
    rows = table(lead_client.get(PAGE, {"date_from": "2026-10-01", "date_to": "2026-10-31"}))
    assert rows == {
        "Sam Rivera": ["1", "1", "0", "5d", "100% (1 of 1)"],
        "All agents": ["1", "1", "0", "5d", "100% (1 of 1)"],
    }


@pytest.mark.parametrize(
    "query, error",
    [
        ({"date_from": "2026-11-20", "date_to": "2026-11-01"}, "must be on or before"),
        ({"date_from": "2024-01-01", "date_to": "2026-11-01"}, "at most 366 days"),
        ({"date_from": "yesterday"}, "Enter a valid date"),
    ],
)
def test_a_bad_period_is_refused_with_a_reason(lead_client, decisions, query, error):
    response = lead_client.get(PAGE, query)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert lead_client.get(CSV, query).status_code == 400


def test_the_csv_has_the_same_figures(lead_client, decisions):
    response = lead_client.get(CSV, {"date_from": "2026-10-28", "date_to": "2026-11-26"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="agents-20261028-20261126.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        list(AGENT_CSV_HEADER),
        ["Avery Agent", "2", "1", "1", "120.00", "1", "50.0"],
        ["Sam Rivera", "1", "0", "1", "3.00", "1", "100.0"],
        ["All agents", "3", "1", "2", "24.00", "2", "66.7"],
    ]


def test_the_page_links_the_csv_of_its_period(lead_client, decisions):
    html = lead_client.get(PAGE, {"date_from": "2026-10-01", "date_to": "2026-10-31"}).content.decode()
    assert 'href="/desk/reports/agents.csv?date_from=2026-10-01&amp;date_to=2026-10-31"' in html


def test_figures_are_two_sql_aggregates_however_many_agents(decisions, django_assert_num_queries):
    start, end = ago(days=30), NOW
    with django_assert_num_queries(AGGREGATES):
        agents, total = reports.agent_figures(start=start, end=end)
    assert len(agents) == 2
    for _ in range(5):
        services.reject_request(
            submit_ticket(now=ago(hours=6)), agent=f.UserFactory(agent=True), reason="duplicate", now=ago(hours=1)
        )
    with django_assert_num_queries(AGGREGATES):
        agents, total = reports.agent_figures(start=start, end=end)
    assert len(agents) == 7 and total.decisions == 8


def test_the_page_stays_within_its_query_budget(lead_client, decisions, django_assert_max_num_queries):
    with django_assert_max_num_queries(6 if connection.vendor == "postgresql" else 7):
        assert lead_client.get(PAGE).status_code == 200


@pytest.mark.parametrize("who, status", [("agent", 403), ("staff", 403), ("lead", 200), ("anon", 302)])
def test_only_leads_see_it(client, who, status, time_machine):
    time_machine.move_to(NOW, tick=False)
    users = {"agent": {"agent": True}, "staff": {"is_staff": True}, "lead": {"lead": True}}
    if who in users:
        client.force_login(f.UserFactory(**users[who]))
    for url in (PAGE, CSV):
        response = client.get(url)
        assert response.status_code == status
        if status == 302:
            assert response["Location"].startswith("/admin/login/?next=")
