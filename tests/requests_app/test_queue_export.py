"""The queue's CSV export and its search by client name, as a lead would check them: the CSV lists exactly
the tickets the changelist shows for the same filters, search and sort; it streams; only agents and leads may
download it; its query count does not grow with the number of rows."""

import csv
import io
import re

import pytest
from django.contrib import admin
from django.urls import reverse

from marketplace.models import Client, Freelancer
from requests_app.models import RemovalRequest
from tests import factories as f
from tests.requests_app import test_admin_queue as queue_tests
from tests.requests_app.test_decisions import submit_ticket

pytestmark = pytest.mark.django_db

# The queue's fixtures (a pinned clock, agents, a small queue in every state, a big one) and its helpers.
pinned_clock = queue_tests.pinned_clock
avery, sam, agent_client = queue_tests.avery, queue_tests.sam, queue_tests.agent_client
queue, big_queue = queue_tests.queue, queue_tests.big_queue
CHANGELIST, FILTERS, listed = queue_tests.CHANGELIST, queue_tests.FILTERS, queue_tests.listed

EXPORT = reverse("admin:requests_app_removalrequest_export")


def download(client, query=None):
    response = client.get(EXPORT, query or {})
    assert response.status_code == 200, response.status_code
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="removal-requests-')
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def tickets_in(rows):
    assert rows[0][0] == "Ticket"
    return [row[0] for row in rows[1:]]


@pytest.fixture
def whole_pages(monkeypatch):
    """One changelist page holds every ticket, so the list and the CSV can be compared row for row."""
    monkeypatch.setattr(admin.site._registry[RemovalRequest], "list_per_page", 500)


SEARCHES = [
    {"q": "Northwind"},  # a client's name (see the fixture below)
    {"q": "northw", "status": "all"},
    {"q": "Northwind", "status": "all", "scope__exact": "jss_only"},
]


@pytest.fixture
def northwind(queue):
    """Two of the queue's tickets are on contracts with the client Northwind Traders."""
    client = f.ClientFactory(name="Northwind Traders")
    for name in ("fresh", "applied"):
        contract = queue[name].contract
        contract.client = client
        contract.save(update_fields=["client"])
    return client


@pytest.mark.parametrize(
    "query", FILTERS + SEARCHES, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "default"
)
def test_the_csv_lists_exactly_the_changelist_rows_in_its_order(agent_client, northwind, whole_pages, query):
    shown = listed(agent_client.get(CHANGELIST, query))
    assert tickets_in(download(agent_client, query)) == shown


def test_filters_that_leave_nothing_give_just_the_header(agent_client, queue):
    rows = download(agent_client, {"status": "withdrawn"})
    assert rows == [rows[0]] and len(rows[0]) == 15


def test_a_row_carries_what_the_lead_needs(agent_client, queue, northwind):
    rows = download(agent_client, {"status": "all"})
    header = rows[0]
    by_ticket = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    applied = by_ticket[queue["applied"].ticket_number]
    assert applied["Status"] == "Applied"
    assert applied["Client"] == "Northwind Traders"
    assert applied["Contract ID"] == queue["applied"].contract.number
    assert applied["Assignee"] == "Avery Agent"
    assert applied["Applied at (UTC)"] == queue["applied"].applied_at.strftime("%Y-%m-%d %H:%M:%S")
    approved = by_ticket[queue["approved"].ticket_number]
    assert (approved["Special Offer"], approved["Assignee"], approved["Scope"]) == ("yes", "Sam Rivera", "JSS only")
    rejected = by_ticket[queue["rejected"].ticket_number]
    assert rejected["Rejection reason"] == "duplicate"


def test_a_name_that_looks_like_a_formula_is_not_run_by_a_spreadsheet(agent_client, queue):
    Freelancer.objects.filter(pk=queue["fresh"].freelancer_id).update(name='=HYPERLINK("http://evil","x")')
    rows = download(agent_client)
    fresh = next(row for row in rows if row[0] == queue["fresh"].ticket_number)
    assert fresh[4] == '\'=HYPERLINK("http://evil","x")'


def test_the_changelist_links_to_the_export_of_what_it_shows(agent_client, queue):
    page = agent_client.get(CHANGELIST, {"status": "all", "scope__exact": "jss_only", "q": "x y", "o": "6", "p": "1"})
    link = re.search(r'<a href="([^"]+)" class="pd-export"', page.content.decode()).group(1).replace("&amp;", "&")
    path, _, query = link.partition("?")
    assert path == EXPORT
    assert sorted(query.split("&")) == ["o=6", "q=x+y", "scope__exact=jss_only", "status=all"]  # not the page


def test_the_export_query_count_does_not_grow_with_the_rows(agent_client, big_queue, django_assert_max_num_queries):
    counts = {}
    for query in ({"status": "approved"}, {"status": "all"}):
        # Session (sessions live in the database), user, permissions ×2, and the rows through one server-side cursor
        # in a transaction (savepoint, DECLARE, release): the same at 24 and 120 rows.
        with django_assert_max_num_queries(7) as captured:
            rows = download(agent_client, query)
        counts[len(rows) - 1] = len(captured)
    assert set(counts) == {24, 120}  # a small and a big export
    assert counts[24] == counts[120]


@pytest.mark.parametrize(
    "who, status",
    [("agent", 200), ("lead", 200), ("staff", 403), ("freelancer", 302), ("anon", 302)],
)
def test_only_agents_and_leads_download_it(client, queue, who, status):
    users = {
        "agent": lambda: f.UserFactory(agent=True),
        "lead": lambda: f.UserFactory(lead=True),
        "staff": lambda: f.UserFactory(is_staff=True),
        "freelancer": lambda: queue["fresh"].freelancer.user,
    }
    if who in users:
        client.force_login(users[who]())
    response = client.get(EXPORT, {"status": "all"})
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/admin/login/?next=")
    if status != 200:
        assert queue["fresh"].ticket_number.encode() not in response.content


# --- search by client name ----------------------------------------------------------------------------------


def test_search_finds_tickets_by_client_name(agent_client, queue, northwind):
    found = listed(agent_client.get(CHANGELIST, {"q": "northwind trad", "status": "all"}))
    assert sorted(found) == sorted([queue["fresh"].ticket_number, queue["applied"].ticket_number])


def test_client_search_stays_within_the_queue_budget(agent_client, big_queue, django_assert_max_num_queries):
    ticket = RemovalRequest.objects.select_related("contract__client").first()
    Client.objects.filter(pk=ticket.contract.client_id).update(name="Zyxwv Holdings")
    with django_assert_max_num_queries(12):
        assert listed(agent_client.get(CHANGELIST, {"q": "Zyxwv", "status": "all"})) == [ticket.ticket_number]


def test_a_client_name_matching_too_many_clients_asks_for_more(agent_client, monkeypatch):
    from requests_app import selectors

    monkeypatch.setattr(selectors, "MAX_NAME_MATCHES", 2)
    for index in range(3):
        submit_ticket(client=f.ClientFactory(name=f"Acme Branch {index}"))
    response = agent_client.get(CHANGELIST, {"q": "Acme Branch", "status": "all"})
    assert listed(response) == []
    assert "matches too many names" in response.content.decode()
