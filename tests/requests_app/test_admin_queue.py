"""The agents' queue in the admin: what the list shows, its filters and search, its query budget, the bulk
actions and the ticket page with its buttons. The clock is pinned so SLA badges read the same every run."""

import datetime as dt
import io
import re

import pytest
import time_machine
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from marketplace.models import Freelancer
from requests_app import selectors as queue_selectors
from requests_app import services
from requests_app.admin import queue as queue_admin
from requests_app.domain import REJECTION_REASONS
from requests_app.models import EventKind, RemovalRequest, RequestEvent
from tests import factories as f
from tests.requests_app.test_decisions import NOW, snapshot, submit_ticket

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:requests_app_removalrequest_changelist")
QUEUE_BUDGET = 10  # SPEC §8: session, user, permissions, the (capped) count and the page; a search a few more


def change_url(ticket):
    return reverse("admin:requests_app_removalrequest_change", args=[ticket.pk])


def action_url(ticket, name):
    return reverse(f"admin:requests_app_removalrequest_{name}", args=[ticket.pk])


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def avery():
    return f.UserFactory(agent=True, username="avery", first_name="Avery", last_name="Agent")


@pytest.fixture
def sam():
    return f.UserFactory(agent=True, username="sam", first_name="Sam", last_name="Rivera")


@pytest.fixture
def agent_client(client, avery):
    client.force_login(avery)
    return client


@pytest.fixture
def lead_client(client):
    client.force_login(f.UserFactory(lead=True, username="lee", first_name="Lee", last_name="Lead"))
    return client


def ago(**kwargs):
    return NOW - dt.timedelta(**kwargs)


@pytest.fixture
def queue(avery, sam):
    """A small queue in every state, each made by the services at its own moment."""
    fresh = submit_ticket(now=ago(hours=1))
    at_risk = submit_ticket(now=ago(days=5, hours=20), scope="hide_profile_and_jss")
    breached = submit_ticket(now=ago(days=8, hours=3))
    services.claim_request(breached, agent=avery, now=ago(days=8))
    claimed_by_sam = submit_ticket(now=ago(days=2))
    services.claim_request(claimed_by_sam, agent=sam, now=ago(days=1))
    approved = submit_ticket(now=ago(days=2, hours=4), is_special_offer=True)
    services.approve_request(approved, agent=sam, now=ago(days=2))
    applied = submit_ticket(now=ago(days=10))
    services.approve_request(applied, agent=avery, now=ago(days=9))
    services.apply_exclusion(applied.pk, now=ago(days=7))
    rejected = submit_ticket(now=ago(days=20))
    services.reject_request(rejected, agent=avery, reason="duplicate", now=ago(days=19))
    tickets = dict(
        fresh=fresh,
        at_risk=at_risk,
        breached=breached,
        claimed_by_sam=claimed_by_sam,
        approved=approved,
        applied=applied,
        rejected=rejected,
    )
    for ticket in tickets.values():
        ticket.refresh_from_db()
    return tickets


def listed(response):
    return re.findall(
        r'<th class="field-ticket"><a href="[^"]+"><span class="pd-mono">(\d{9})</span></a></th>',
        response.content.decode(),
    )


def headers(response):
    cells = re.findall(r'<th scope="col" class="(?!action-checkbox)[^"]*">(.*?)</th>', response.content.decode(), re.S)
    return [re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in cells]


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- what the list shows ------------------------------------------------------------------------------------


def test_default_view_is_the_open_queue_most_urgent_first(agent_client, queue):
    response = agent_client.get(CHANGELIST)
    assert response.status_code == 200
    assert listed(response) == [
        queue[name].ticket_number for name in ("breached", "at_risk", "approved", "claimed_by_sam", "fresh")
    ]
    assert headers(response) == [
        "Ticket",
        "Freelancer or agency",
        "Contract ID",
        "Scope",
        "Status",
        "SLA",
        "Assignee",
        "Age",
    ]


@pytest.mark.parametrize(
    "name, css, text",
    [
        ("fresh", "ok", "6d 23h left"),
        ("at_risk", "warn", "1d 4h left"),
        ("breached", "bad", "breached 1d 3h ago"),
        ("approved", "ok", "4d 20h left"),
        ("applied", "ok", "applied in 3d"),
    ],
)
def test_sla_badge_says_time_left_at_risk_or_breached(agent_client, queue, name, css, text):
    page = agent_client.get(CHANGELIST, {"status": "all"}).content.decode()
    row = re.search(rf"{queue[name].ticket_number}.*?</tr>", page, re.S).group(0)
    assert f'<span class="pd-badge {css}">{text}</span>' in row


def test_a_final_ticket_shows_no_sla_clock(agent_client, queue):
    page = agent_client.get(CHANGELIST, {"status": "rejected"}).content.decode()
    row = re.search(rf"{queue['rejected'].ticket_number}.*?</tr>", page, re.S).group(0)
    assert '<td class="field-sla">—</td>' in row


def test_a_late_application_is_red(agent_client):
    ticket = submit_ticket(now=ago(days=30), ended_on=f.TODAY - dt.timedelta(days=45))
    services.approve_request(ticket, agent=f.UserFactory(agent=True), now=ago(days=29))
    services.apply_exclusion(ticket.pk, now=ago(days=20))  # nine days after the request
    page = agent_client.get(CHANGELIST, {"status": "applied"}).content.decode()
    assert '<span class="pd-badge bad">applied in 10d (late)</span>' in page


def test_row_shows_ticket_contract_who_scope_offer_assignee_and_age(agent_client, queue):
    page = agent_client.get(CHANGELIST).content.decode()
    approved = queue["approved"]
    row = re.search(rf"{approved.ticket_number}.*?</tr>", page, re.S).group(0)
    assert approved.contract.number in row
    assert approved.freelancer.name in row
    assert "JSS only" in row and "Special Offer" in row and "Sam Rivera" in row
    assert '<span class="pd-badge approved">Approved</span>' in row
    assert ">2d 4h<" in row  # age
    assert change_url(approved) in row


def test_agency_tickets_show_the_agency_first(agent_client):
    owner = f.FreelancerFactory(top_rated=True, name="Dana Owner")
    agency = f.AgencyFactory(top_rated=True, name="Brightline Studio")
    f.AgencyMembershipFactory(agency=agency, freelancer=owner, owner=True)
    contract = f.ContractFactory(freelancer=owner, agency=agency, with_feedback=True)
    services.submit_request(requester=owner.user, contract_number=contract.number, scope="jss_only", now=ago(hours=2))
    page = agent_client.get(CHANGELIST).content.decode()
    assert 'Brightline Studio <span class="pd-muted">· Dana Owner</span>' in page


# --- filters ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, {"fresh", "at_risk", "breached", "claimed_by_sam", "approved"}),
        ({"status": "submitted"}, {"fresh", "at_risk", "breached", "claimed_by_sam"}),
        ({"status": "approved"}, {"approved"}),
        ({"status": "applied"}, {"applied"}),
        ({"status": "rejected"}, {"rejected"}),
        ({"status": "all"}, {"fresh", "at_risk", "breached", "claimed_by_sam", "approved", "applied", "rejected"}),
        ({"assignee": "mine"}, {"breached"}),
        ({"assignee": "mine", "status": "all"}, {"breached", "applied", "rejected"}),
        ({"assignee": "unassigned"}, {"fresh", "at_risk"}),
        ({"sla": "at_risk"}, {"at_risk"}),
        ({"sla": "breached"}, {"breached"}),
        ({"scope__exact": "hide_profile_and_jss"}, {"at_risk"}),
        (
            {"scope__exact": "jss_only", "status": "all"},
            {"fresh", "breached", "claimed_by_sam", "approved", "applied", "rejected"},
        ),
        ({"is_special_offer__exact": "1"}, {"approved"}),
        ({"is_special_offer__exact": "0"}, {"fresh", "at_risk", "breached", "claimed_by_sam"}),
    ],
    ids=lambda value: "&".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None,
)
def test_filters(agent_client, queue, query, expected):
    response = agent_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert set(listed(response)) == {queue[name].ticket_number for name in expected}


# --- search ----------------------------------------------------------------------------------------------------


def test_search_by_ticket_number_finds_it_whatever_its_status(agent_client, queue):
    response = agent_client.get(CHANGELIST, {"q": queue["rejected"].ticket_number})
    assert listed(response) == [queue["rejected"].ticket_number]
    assert "Any (searching)" in response.content.decode()


@pytest.mark.parametrize("term", ["contract", "name", "surname", "email", "email_upper"])
def test_search_by_contract_number_name_or_email(agent_client, queue, term):
    ticket = queue["applied"]
    freelancer = ticket.freelancer
    Freelancer.objects.filter(pk=freelancer.pk).update(name="Zoltan Quist")
    value = {
        "contract": ticket.contract.number,
        "name": "zoltan",
        "surname": "Quist",
        "email": freelancer.user.email,
        "email_upper": freelancer.user.email.upper(),
    }[term]
    assert listed(agent_client.get(CHANGELIST, {"q": value})) == [ticket.ticket_number]


def test_search_by_agency_name(agent_client):
    owner = f.FreelancerFactory(top_rated=True)
    agency = f.AgencyFactory(top_rated=True, name="Brightline Studio")
    f.AgencyMembershipFactory(agency=agency, freelancer=owner, owner=True)
    contract = f.ContractFactory(freelancer=owner, agency=agency, with_feedback=True)
    ticket = services.submit_request(requester=owner.user, contract_number=contract.number, scope="jss_only", now=NOW)
    submit_ticket()
    assert listed(agent_client.get(CHANGELIST, {"q": "brightline"})) == [ticket.ticket_number]


def test_search_for_an_unknown_number_finds_nothing(agent_client, queue):
    response = agent_client.get(CHANGELIST, {"q": "123456789"})
    assert listed(response) == []


def test_a_too_broad_name_search_says_so(agent_client, queue, monkeypatch):
    monkeypatch.setattr(queue_selectors, "MAX_NAME_MATCHES", 2)
    response = agent_client.get(CHANGELIST, {"q": "e"}, follow=True)
    assert listed(response) == []
    assert any("matches too many names" in m for m in messages_of(response))


# --- the query budget: the same at 10 and 100 rows, for the default view and every filter ------------------------

FILTERS = [
    {},
    {"status": "submitted"},
    {"status": "approved"},
    {"status": "applied"},
    {"status": "rejected"},
    {"status": "withdrawn"},
    {"status": "all"},
    {"assignee": "mine"},
    {"assignee": "unassigned"},
    {"sla": "at_risk"},
    {"sla": "breached"},
    {"scope__exact": "jss_only"},
    {"scope__exact": "hide_profile_and_jss"},
    {"is_special_offer__exact": "1"},
    {"is_special_offer__exact": "0"},
    {"status": "all", "o": "6"},  # by SLA (the 6th column)
    {"o": "8"},  # by age
    {"sla": "breached", "status": "submitted"},
]


@pytest.fixture
def big_queue(avery):
    """More than a page of 10 behind every filter, so the page of 100 shows more rows."""
    sam = f.UserFactory(agent=True)
    for status, traits in [
        ("submitted", {}),
        ("approved", {"approved": True}),
        ("applied", {"applied": True}),
        ("rejected", {"rejected": True}),
        ("withdrawn", {"withdrawn": True}),
    ]:
        for index in range(24):
            f.RemovalRequestFactory(
                submitted_at=ago(days=6, hours=index * 3) if status == "submitted" else ago(days=3 + index % 4),
                assigned_to=(avery if index % 2 else sam) if status != "submitted" or index % 3 == 0 else None,
                scope="hide_profile_and_jss" if index % 2 else "jss_only",
                contract__is_special_offer=index % 2 == 0,
                **traits,
            )


@pytest.mark.parametrize("query", FILTERS, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "default")
def test_changelist_queries_do_not_grow_with_the_page(
    agent_client, big_queue, query, monkeypatch, django_assert_max_num_queries
):
    model_admin = admin.site._registry[RemovalRequest]
    counts, shown = {}, {}
    for per_page in (10, 100):
        monkeypatch.setattr(model_admin, "list_per_page", per_page)
        with django_assert_max_num_queries(QUEUE_BUDGET) as captured:
            response = agent_client.get(CHANGELIST, query)
        assert response.status_code == 200
        counts[per_page], shown[per_page] = len(captured), len(listed(response))
    assert counts[10] == counts[100], counts
    assert shown[10] == 10 or 0 < shown[10] == shown[100]  # the bigger page really showed more rows
    if query not in ({"status": "approved"}, {"sla": "at_risk"}, {"sla": "breached"}):
        assert shown[100] > 10


def test_past_the_count_cap_the_list_says_more_than_and_still_pages(agent_client, big_queue, monkeypatch):
    monkeypatch.setattr(queue_admin.QueuePaginator, "cap", 30)
    model_admin = admin.site._registry[RemovalRequest]
    monkeypatch.setattr(model_admin, "list_per_page", 10)
    first = agent_client.get(CHANGELIST, {"status": "all"})
    html = first.content.decode()
    assert "More than 30 removal requests" in html and "120 removal requests" not in html
    second = agent_client.get(CHANGELIST, {"status": "all", "p": "2"})
    assert second.status_code == 200 and not set(listed(first)) & set(listed(second))
    below = agent_client.get(CHANGELIST, {"status": "rejected"}).content.decode()
    assert "24 removal requests" in below and "More than" not in below


def test_search_stays_within_the_budget(agent_client, big_queue, django_assert_max_num_queries):
    ticket = RemovalRequest.objects.select_related("freelancer__user").first()
    for term in (ticket.ticket_number, ticket.freelancer.name, ticket.freelancer.user.email):
        with django_assert_max_num_queries(QUEUE_BUDGET):
            assert ticket.ticket_number in listed(agent_client.get(CHANGELIST, {"q": term, "status": "all"}))


# --- bulk actions ----------------------------------------------------------------------------------------------


def act(client, name, tickets, **extra):
    data = {"action": name, "_selected_action": [t.pk for t in tickets], "index": 0, **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_claim_action_claims_and_reports_each_refusal(agent_client, queue, avery):
    response = act(agent_client, "claim_selected", [queue["fresh"], queue["at_risk"], queue["claimed_by_sam"]])
    said = messages_of(response)
    numbers = [queue["fresh"].ticket_number, queue["at_risk"].ticket_number]
    assert any(m.startswith("Claimed 2 tickets:") and all(n in m for n in numbers) for m in said)
    assert f"Ticket {queue['claimed_by_sam'].ticket_number} not claimed: " in " ".join(said)
    assert "already claimed by Sam Rivera" in " ".join(said)
    for name, who in [("fresh", avery), ("at_risk", avery)]:
        queue[name].refresh_from_db()
        assert queue[name].assigned_to == who
    queue["claimed_by_sam"].refresh_from_db()
    assert queue["claimed_by_sam"].assigned_to.username == "sam"


def test_approve_action_approves_and_reports_what_was_decided_meanwhile(
    agent_client, queue, avery, django_capture_on_commit_callbacks
):
    before = snapshot(queue["rejected"])
    # First the page that says what will happen to each ticket and that it cannot be undone; nothing changes.
    page = act(agent_client, "approve_selected", [queue["fresh"], queue["rejected"]])
    html = page.content.decode()
    assert page.status_code == 200 and "This cannot be undone" in html
    assert f"{queue['rejected'].ticket_number}</span> (contract" in html and "so it cannot be approved" in html
    assert RemovalRequest.objects.get(pk=queue["fresh"].pk).status == "submitted"
    with django_capture_on_commit_callbacks(execute=True):
        response = act(
            agent_client, "approve_selected", [queue["fresh"], queue["rejected"]], confirm="yes", canned="standard"
        )
    said = messages_of(response)
    assert f"Approved 1 ticket: {queue['fresh'].ticket_number}." in said
    refusal = next(m for m in said if m.startswith(f"Ticket {queue['rejected'].ticket_number} not approved"))
    assert "already decided: rejected (Duplicate request) by Avery Agent" in refusal
    queue["fresh"].refresh_from_db()
    assert queue["fresh"].status == "applied" and queue["fresh"].decided_by == avery
    assert snapshot(queue["rejected"]) == before


def test_a_bulk_action_over_the_limit_changes_nothing(agent_client, queue, monkeypatch):
    monkeypatch.setattr(queue_admin, "MAX_BULK", 2)
    tickets = [queue["fresh"], queue["at_risk"], queue["breached"]]
    before = [snapshot(t) for t in tickets]
    response = act(agent_client, "approve_selected", tickets, confirm="yes")
    assert "Select at most 2 tickets at a time; nothing was changed." in messages_of(response)
    assert [snapshot(t) for t in tickets] == before


def test_reject_action_asks_for_the_reason_then_rejects(agent_client, queue):
    tickets = [queue["fresh"], queue["at_risk"]]
    page = act(agent_client, "reject_selected", tickets)
    assert page.status_code == 200
    html = page.content.decode()
    for code, (label, canned) in REJECTION_REASONS.items():
        offered = code != "no_reply"  # the sweep's reason, after PERK_REPLY_DAYS without a reply
        assert (label in html and canned in html) is offered, code
    assert all(t.ticket_number in html for t in tickets)
    assert all(RemovalRequest.objects.get(pk=t.pk).status == "submitted" for t in tickets)

    response = act(
        agent_client,
        "reject_selected",
        tickets,
        confirm="yes",
        reason="screenshot_invalid",
        message="The image is of a different email.",
    )
    del response
    for ticket in tickets:
        ticket.refresh_from_db()
        assert (ticket.status, ticket.rejection_reason) == ("rejected", "screenshot_invalid")
        assert ticket.events.get(kind=EventKind.REJECTED).message.endswith("The image is of a different email.")


def test_reject_action_with_other_needs_a_message(agent_client, queue):
    before = snapshot(queue["fresh"])
    page = act(agent_client, "reject_selected", [queue["fresh"]], confirm="yes", reason="other", message="")
    assert page.status_code == 200
    assert "Tell the freelancer why" in page.content.decode()
    assert snapshot(queue["fresh"]) == before


def test_agents_are_not_offered_delete_or_reassign(agent_client, queue):
    html = agent_client.get(CHANGELIST).content.decode()
    choices = re.findall(r'<option value="([a-z_]+)">', html)
    assert set(choices) >= {"claim_selected", "approve_selected", "reject_selected"}
    assert "delete_selected" not in choices and "reassign_selected" not in choices
    before = snapshot(queue["fresh"])
    act(agent_client, "reassign_selected", [queue["fresh"]], confirm="yes", assignee="")
    assert snapshot(queue["fresh"]) == before


def test_a_lead_reassigns_in_bulk(lead_client, queue, sam):
    page = act(lead_client, "reassign_selected", [queue["fresh"], queue["breached"]])
    assert page.status_code == 200 and "Sam Rivera" in page.content.decode()
    response = act(
        lead_client, "reassign_selected", [queue["fresh"], queue["breached"]], confirm="yes", assignee=sam.pk
    )
    assert any(m.startswith("Reassigned 2 tickets to Sam Rivera: ") for m in messages_of(response))
    for name in ("fresh", "breached"):
        queue[name].refresh_from_db()
        assert queue[name].assigned_to == sam


# --- the ticket page -------------------------------------------------------------------------------------------


def test_ticket_page_shows_facts_eligibility_preview_and_timeline(agent_client, queue):
    ticket = queue["breached"]
    services.add_note(ticket, agent=ticket.assigned_to, message="Waiting for the client's reply.", now=ago(days=7))
    response = agent_client.get(change_url(ticket))
    assert response.status_code == 200
    html = response.content.decode()
    assert ticket.ticket_number in html and ticket.contract.number in html
    assert "breached 1d 3h ago" in html
    assert "Eligibility, checked now" in html and "Every rule passes today." in html
    assert '<span class="pd-badge bad pd-mono">request_open</span>' not in html
    assert "Job Success Score" in html and "Live now" in html and "Live without this contract" in html
    assert "Waiting for the client&#x27;s reply." in html
    assert html.count('<span class="pd-badge muted">Internal</span>') >= 2  # the claim and the note
    assert '<span class="pd-badge ok">Public</span>' in html  # the submission
    assert 'name="status"' not in html  # nothing editable


def test_ticket_page_lists_every_rule_that_now_fails(agent_client, queue):
    ticket = queue["fresh"]
    Freelancer.objects.filter(pk=ticket.freelancer_id).update(account_status="suspended")
    html = agent_client.get(change_url(ticket)).content.decode()
    assert '<span class="pd-badge bad pd-mono">account_inactive</span>' in html
    assert "Today the rules would refuse this request for 1 reason" in html
    assert "request_open</span>" not in html


# SPEC §8: session, user, permissions (one query: perkdesk.permissions), the ticket, its context box (the
# subject's tickets, its Top Rated periods, the Upwork jobs ended since its last counted request), the JSS preview
# (two) and the timeline.
TICKET_PAGE_BUDGET = 10


@pytest.fixture
def contexts(queue):
    """Submitted tickets whose context box reads the most: a freelancer's own after a counted (applied) request
    and nine more tickets, and an agency's asked by its owner on a worker's contract."""
    own = queue["fresh"]
    for index in range(10):
        f.RemovalRequestFactory(
            freelancer=own.freelancer,
            contract__freelancer=own.freelancer,
            submitted_at=ago(days=40 + index),
            **({"applied": True} if index == 0 else {"rejected": True} if index % 2 else {"withdrawn": True}),
        )
    agency = f.AgencyFactory(top_rated=True)
    owner = f.FreelancerFactory(top_rated=True)
    f.AgencyMembershipFactory(agency=agency, freelancer=owner, owner=True)
    contract = f.ContractFactory(agency=agency, freelancer=f.FreelancerFactory(), with_feedback=True)
    agency_ticket = services.submit_request(requester=owner.user, contract_number=contract.number, scope="jss_only")
    f.RemovalRequestFactory(contract__agency=agency, applied=True, submitted_at=ago(days=150))
    return {"own": own, "agency": agency_ticket, "applied": queue["applied"], "rejected": queue["rejected"]}


@pytest.mark.parametrize("name", ["own", "agency", "applied", "rejected"])
@pytest.mark.parametrize("who", ["agent", "lead"])
def test_ticket_page_stays_within_its_query_budget(client, avery, contexts, name, who, django_assert_max_num_queries):
    client.force_login(avery if who == "agent" else f.UserFactory(lead=True))
    ticket = contexts[name]
    client.get(change_url(ticket))  # process-wide caches (content types) filled: the steady state is measured
    with django_assert_max_num_queries(TICKET_PAGE_BUDGET):
        response = client.get(change_url(ticket))
    assert response.status_code == 200
    html = response.content.decode()
    assert ("Today the rules would" in html) == (ticket.status == "submitted")


def test_ticket_page_queries_do_not_grow_with_the_timeline(agent_client, queue, avery):
    ticket = queue["fresh"]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agent_client.get(change_url(ticket))  # process-wide caches (content types) filled: the steady state is measured
    with CaptureQueriesContext(connection) as short:
        agent_client.get(change_url(ticket))
    for index in range(25):
        services.add_note(ticket, agent=avery, message=f"note {index}", now=NOW)
    with CaptureQueriesContext(connection) as long:
        response = agent_client.get(change_url(ticket))
    assert response.content.decode().count("note ") >= 25
    assert len(long) == len(short) <= TICKET_PAGE_BUDGET


@pytest.mark.parametrize("name", ["own", "agency"])
def test_the_ticket_page_judges_the_same_facts_as_the_request_form(contexts, name):
    """The context box reads its facts from the ticket's own row and one query over the subject's tickets; they
    are the facts ``check_eligibility`` reads afresh for the same requester, contract and day."""
    ticket = queue_selectors.ticket_page(contexts[name].pk)
    context = queue_selectors.ticket_context(ticket, today=NOW.date(), with_facts=True)
    expected, _ = queue_selectors.eligibility_facts(
        requester=ticket.requested_by,
        contract_number=ticket.contract.number,
        agency=ticket.agency,
        has_screenshot=bool(ticket.screenshot),
        today=NOW.date(),
    )
    assert context.facts == expected
    assert context.facts.contract_found and context.facts.last_counted_request_submitted_on is not None


def test_the_ticket_page_judges_a_requester_who_left_the_agency_as_the_form_would(contexts):
    ticket = contexts["agency"]
    ticket.requested_by.freelancer.memberships.all().delete()
    ticket = queue_selectors.ticket_page(ticket.pk)
    facts = queue_selectors.ticket_context(ticket, today=NOW.date(), with_facts=True).facts
    expected, _ = queue_selectors.eligibility_facts(
        requester=ticket.requested_by, contract_number=ticket.contract.number, agency=ticket.agency, today=NOW.date()
    )
    assert facts == expected and not facts.contract_found


def test_the_context_box_lists_the_ten_newest_other_tickets_whatever_their_status(contexts):
    ticket = contexts["own"]
    context = queue_selectors.ticket_context(queue_selectors.ticket_page(ticket.pk), today=NOW.date(), with_facts=False)
    newest = (
        RemovalRequest.objects.filter(freelancer=ticket.freelancer, agency__isnull=True)
        .exclude(pk=ticket.pk)
        .order_by("-submitted_at", "-pk")[:10]
    )
    assert [t.ticket_number for t in context.other_tickets] == [t.ticket_number for t in newest]
    assert context.facts is None


def test_the_screenshot_is_linked_through_the_staff_view(agent_client):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format="PNG")
    freelancer = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=freelancer, lost_jss_dip=True)
    contract = f.ContractFactory(freelancer=freelancer, with_feedback=True)
    ticket = services.submit_request(
        requester=freelancer.user,
        contract_number=contract.number,
        scope="jss_only",
        screenshot=SimpleUploadedFile("loss.png", buffer.getvalue(), content_type="image/png"),
        now=NOW,
    )
    html = agent_client.get(change_url(ticket)).content.decode()
    assert f'href="/requests/{ticket.ticket_number}/screenshot/"' in html
    assert ticket.screenshot.name not in html  # the stored (random) name never reaches a page


def test_claim_approve_buttons_call_the_services(agent_client, queue, avery, django_capture_on_commit_callbacks):
    ticket = queue["fresh"]
    response = agent_client.post(action_url(ticket, "claim"), follow=True)
    assert f"Ticket {ticket.ticket_number} claimed." in messages_of(response)
    ticket.refresh_from_db()
    assert ticket.assigned_to == avery
    page = agent_client.get(action_url(ticket, "approve"))
    assert page.status_code == 200 and "This cannot be undone" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(
            action_url(ticket, "approve"),
            {"confirm": "yes", "canned": "thanks_screenshot", "message": "Welcome back to Top Rated soon."},
            follow=True,
        )
    assert response.redirect_chain[-1][0] == change_url(ticket)
    assert f"Ticket {ticket.ticket_number} approved." in messages_of(response)
    ticket.refresh_from_db()
    assert ticket.status == "applied"
    approved = ticket.events.get(kind=EventKind.APPROVED)
    assert approved.data["note"].startswith("Thank you for the screenshot") and approved.data["note"].endswith(
        "Welcome back to Top Rated soon."
    )
    response = agent_client.post(action_url(ticket, "approve"), {"confirm": "yes"}, follow=True)
    assert any("already decided" in m for m in messages_of(response))


def test_reject_button_goes_through_the_reason_page(agent_client, queue):
    ticket = queue["at_risk"]
    page = agent_client.get(action_url(ticket, "reject"))
    assert page.status_code == 200 and "Reject ticket" in page.content.decode()
    response = agent_client.post(action_url(ticket, "reject"), {"reason": "not_eligible", "message": ""}, follow=True)
    assert f"Ticket {ticket.ticket_number} rejected." in messages_of(response)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.rejection_reason) == ("rejected", "not_eligible")


def test_the_reject_page_of_a_decided_ticket_sends_you_back(agent_client, queue):
    response = agent_client.get(action_url(queue["approved"], "reject"), follow=True)
    assert response.redirect_chain[-1][0] == change_url(queue["approved"])
    assert any("only a submitted ticket can be rejected" in m for m in messages_of(response))


def test_an_internal_note_from_the_ticket_page(agent_client, queue, avery):
    ticket = queue["applied"]
    response = agent_client.post(action_url(ticket, "note"), {"message": "Client confirmed by phone."}, follow=True)
    assert f"Ticket {ticket.ticket_number} has a new internal note." in messages_of(response)
    note = ticket.events.get(kind=EventKind.NOTE_ADDED)
    assert (note.actor, note.public, note.message) == (avery, False, "Client confirmed by phone.")
    before = RequestEvent.objects.count()
    response = agent_client.post(action_url(ticket, "note"), {"message": "   "}, follow=True)
    assert any("The note was not added" in m for m in messages_of(response))
    assert RequestEvent.objects.count() == before


@pytest.mark.parametrize("name", ["claim", "note"])
def test_buttons_never_act_on_a_get(agent_client, queue, name):
    before = snapshot(queue["fresh"])
    assert agent_client.get(action_url(queue["fresh"], name)).status_code == 405
    assert snapshot(queue["fresh"]) == before


@pytest.mark.parametrize("name", ["approve", "ask"])
def test_decisions_open_a_page_and_act_only_when_confirmed(agent_client, queue, name):
    before = snapshot(queue["fresh"])
    assert agent_client.get(action_url(queue["fresh"], name)).status_code == 200
    assert agent_client.post(action_url(queue["fresh"], name), {}).status_code == 200
    assert snapshot(queue["fresh"]) == before


def test_the_ticket_page_keeps_every_button_in_its_place(agent_client, queue):
    """After Claim, Approve must not slide into Claim's spot: the same buttons, in the same order, disabled
    when they do not apply."""

    def buttons(ticket):
        html = agent_client.get(change_url(ticket)).content.decode()
        actions = html[html.index('class="pd-actions"') : html.index("</section>", html.index('class="pd-actions"'))]
        return re.findall(r">(Claim|Approve…|Ask the freelancer…|Reject…|Reassign…)<", actions)

    ticket = queue["fresh"]
    before = buttons(ticket)
    agent_client.post(action_url(ticket, "claim"))
    assert buttons(ticket) == before == ["Claim", "Approve…", "Ask the freelancer…", "Reject…"]
    html = agent_client.get(change_url(ticket)).content.decode()
    assert re.search(r'<button type="submit" class="pd-button" disabled>Claim</button>', html)


def test_a_lead_reassigns_from_the_ticket_page(lead_client, queue, sam):
    ticket = queue["fresh"]
    page = lead_client.get(action_url(ticket, "reassign"))
    assert page.status_code == 200 and "Sam Rivera" in page.content.decode()
    response = lead_client.post(action_url(ticket, "reassign"), {"assignee": sam.pk}, follow=True)
    assert f"Ticket {ticket.ticket_number} reassigned to Sam Rivera." in messages_of(response)
    ticket.refresh_from_db()
    assert ticket.assigned_to == sam


def test_no_one_edits_a_ticket_through_the_change_form_not_even_a_superuser(admin_client, queue):
    ticket = queue["applied"]
    before = snapshot(ticket)
    html = admin_client.get(change_url(ticket)).content.decode()
    for field in ("status", "applied_at", "decided_by", "assigned_to", "jss_outcome", "rejection_reason"):
        assert f'name="{field}"' not in html
    response = admin_client.post(
        change_url(ticket), {"status": "submitted", "applied_at": "", "jss_outcome": "pending"}
    )
    assert response.status_code == 403
    assert admin_client.get(reverse("admin:requests_app_removalrequest_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:requests_app_removalrequest_delete", args=[ticket.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert snapshot(ticket) == before


def test_the_ticket_page_shows_the_feedback_the_requester_s_other_tickets_and_who_asked(agent_client, queue):
    ticket = queue["fresh"]
    feedback = ticket.contract.feedback
    feedback.public_rating, feedback.public_comment = "2.50", "Slow and unresponsive."
    feedback.freelancer_response, feedback.private_score = "I was on leave, as agreed.", 4
    feedback.save()
    earlier = f.RemovalRequestFactory(
        freelancer=ticket.freelancer,
        contract__freelancer=ticket.freelancer,
        rejected=True,
        rejection_reason="duplicate",
    )
    html = agent_client.get(change_url(ticket)).content.decode()
    assert "The feedback this would remove" in html
    assert "<strong>2.50</strong> of 5" in html and "Slow and unresponsive." in html
    assert "I was on leave, as agreed." in html and "4 of 10" in html and "staff only" in html
    assert earlier.ticket_number in html and "Duplicate request" in html


def test_an_agency_ticket_names_who_asked_on_the_agency_s_behalf(agent_client):
    agency = f.AgencyFactory(top_rated=True, name="Brightline Studio")
    dave = f.FreelancerFactory(top_rated=True, name="Dave Kowalski")
    f.AgencyMembershipFactory(agency=agency, freelancer=dave, owner=True)
    erin = f.FreelancerFactory(name="Erin Walsh")
    contract = f.ContractFactory(freelancer=erin, agency=agency, with_feedback=True)
    ticket = services.submit_request(requester=dave.user, contract_number=contract.number, scope="jss_only")
    html = agent_client.get(change_url(ticket)).content.decode()
    requester = dave.user.get_full_name() or dave.user.username
    assert f"{requester} <span class=\"pd-muted\">(on the agency's behalf; the contract's worker is Erin Walsh)" in html
