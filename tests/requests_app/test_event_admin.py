"""The timeline across tickets for leads (the RequestEvent admin): "what did this agent do today?". Read-only,
filtered by kind, actor and date, each row linked to its ticket; agents do not see it; its query count does not
grow with the page."""

import datetime as dt
import re

import pytest
from django.contrib import admin
from django.urls import reverse

from requests_app import services
from requests_app.models import RequestEvent
from tests import factories as f
from tests.requests_app.test_decisions import NOW, submit_ticket

pytestmark = pytest.mark.django_db

EVENTS = reverse("admin:requests_app_requestevent_changelist")


def ago(**kwargs):
    return NOW - dt.timedelta(**kwargs)


@pytest.fixture
def history(time_machine):
    time_machine.move_to(NOW, tick=False)
    avery = f.UserFactory(agent=True, username="avery", first_name="Avery", last_name="Agent")
    sam = f.UserFactory(agent=True, username="sam", first_name="Sam", last_name="Rivera")
    today = submit_ticket(now=ago(hours=3))
    services.claim_request(today, agent=avery, now=ago(hours=2))
    services.approve_request(today, agent=avery, now=ago(hours=1))
    earlier = submit_ticket(now=ago(days=3))
    services.reject_request(earlier, agent=sam, reason="duplicate", now=ago(days=2))
    return {"avery": avery, "sam": sam, "today": today, "earlier": earlier}


@pytest.fixture
def lead_client(client):
    client.force_login(f.UserFactory(lead=True, username="lee"))
    return client


def rows(response):
    html = response.content.decode()
    return re.findall(r'<a href="(/admin/requests_app/removalrequest/\d+/change/)" class="pd-mono">(\d{9})</a>', html)


def kinds(response):
    return re.findall(r'<td class="field-kind">([^<]*)</td>', response.content.decode())


def test_what_did_avery_do_today(lead_client, history):
    avery = history["avery"]
    today = {"created_at__gte": "2026-11-26", "created_at__lt": "2026-11-27"}
    response = lead_client.get(EVENTS, {"actor": avery.pk, **today})
    assert response.status_code == 200
    assert kinds(response) == ["Approved", "Claimed"]  # newest first
    ticket = history["today"]
    link = reverse("admin:requests_app_removalrequest_change", args=[ticket.pk])
    assert rows(response) == [(link, ticket.ticket_number)] * 2


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"kind__exact": "rejected"}, ["Rejected"]),
        ({"actor": "system", "kind__exact": "email_sent"}, None),
        ({"created_at__year": "2026", "created_at__month": "11", "created_at__day": "24"}, ["Rejected"]),
    ],
)
def test_filters_by_kind_actor_and_date(lead_client, history, query, expected):
    response = lead_client.get(EVENTS, query)
    assert response.status_code == 200
    shown = kinds(response)
    if expected is None:
        assert set(shown) <= {"Email sent"}
    else:
        assert shown == expected


def test_the_list_has_a_date_hierarchy_and_no_add_change_or_delete(lead_client, history):
    html = lead_client.get(EVENTS).content.decode()
    # One month of events: the hierarchy opens on its days, each a link.
    assert re.search(r'<a href="\?[^"]*created_at__day=24[^"]*">24 November</a>', html), html
    model_admin = admin.site._registry[RequestEvent]
    request = lead_client.get(EVENTS).wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.get_actions(request) == {}
    assert model_admin.show_full_result_count is False


@pytest.mark.parametrize("who, status", [("agent", 403), ("staff", 403), ("lead", 200)])
def test_only_leads_read_it(client, history, who, status):
    users = {"agent": {"agent": True}, "staff": {"is_staff": True}, "lead": {"lead": True}}
    client.force_login(f.UserFactory(**users[who]))
    response = client.get(EVENTS)
    assert response.status_code == status
    index = client.get(reverse("admin:index")).content.decode()
    assert (EVENTS in index) == (status == 200)


def test_queries_do_not_grow_with_the_page(lead_client, history, monkeypatch, django_assert_max_num_queries):
    model_admin = admin.site._registry[RequestEvent]
    counts = {}
    for per_page in (2, 100):
        monkeypatch.setattr(model_admin, "list_per_page", per_page)
        with django_assert_max_num_queries(12) as captured:
            response = lead_client.get(EVENTS)
        counts[per_page] = (len(captured), len(kinds(response)))
    assert counts[2][1] == 2 and counts[100][1] > 2
    assert counts[2][0] == counts[100][0]


def test_the_date_hierarchy_offers_each_month_of_the_span(lead_client, history):
    submit_ticket(now=ago(days=40), ended_on=f.TODAY - dt.timedelta(days=60))  # an event in October
    html = lead_client.get(EVENTS).content.decode()
    months = re.findall(r'<a href="\?created_at__month=(\d+)&amp;created_at__year=2026">', html)
    assert months == ["10", "11"]
    days = lead_client.get(EVENTS, {"created_at__year": "2026", "created_at__month": "11"}).content.decode()
    assert re.findall(r"created_at__day=(\d+)&amp;created_at__month=11", days) == ["23", "24", "25", "26"]
