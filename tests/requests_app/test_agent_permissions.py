"""Who may do what on the agent side (SPEC §7): anonymous, a freelancer, staff without a support group, a
Support agent and a Support lead against every admin page, action and button of the queue, and /desk/.
A refusal answers with the expected status code and changes nothing; an allowed call does its one thing."""

import pytest
from django.urls import reverse

from jss.models import JssExclusion
from marketplace.models import Feedback
from requests_app.models import EventKind, RemovalRequest
from tests import factories as f
from tests.requests_app.test_decisions import NOW, snapshot, submit_ticket

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "freelancer", "staff_without_group", "agent", "lead"]
CHANGELIST = reverse("admin:requests_app_removalrequest_changelist")


def make_user(role):
    return {
        "anonymous": lambda: None,
        "freelancer": lambda: f.FreelancerFactory().user,
        "staff_without_group": lambda: f.UserFactory(is_staff=True),
        "agent": lambda: f.UserFactory(agent=True),
        "lead": lambda: f.UserFactory(lead=True),
    }[role]()


def view(name, ticket):
    return reverse(f"admin:requests_app_removalrequest_{name}", args=[ticket.pk])


def bulk(action, ticket, **extra):
    return {"action": action, "_selected_action": [ticket.pk], "index": 0, **extra}


# name: (method, url, data, roles allowed, what an allowed call changes)
ENDPOINTS = {
    "queue": ("get", lambda t: CHANGELIST, None, {"agent", "lead"}, None),
    "ticket page": ("get", lambda t: view("change", t), None, {"agent", "lead"}, None),
    "reject page": ("get", lambda t: view("reject", t), None, {"agent", "lead"}, None),
    "reassign page": ("get", lambda t: view("reassign", t), None, {"lead"}, None),
    "desk": ("get", lambda t: reverse("requests_app:desk"), None, {"agent", "lead"}, None),
    "claim button": ("post", lambda t: view("claim", t), {}, {"agent", "lead"}, lambda t, u: t.assigned_to == u),
    "approve page": ("get", lambda t: view("approve", t), None, {"agent", "lead"}, None),
    "approve button": (
        "post",
        lambda t: view("approve", t),
        {"confirm": "yes", "canned": "standard", "message": ""},
        {"agent", "lead"},
        lambda t, u: t.status == "approved",
    ),
    "reject button": (
        "post",
        lambda t: view("reject", t),
        {"reason": "duplicate", "message": ""},
        {"agent", "lead"},
        lambda t, u: t.status == "rejected",
    ),
    "note button": (
        "post",
        lambda t: view("note", t),
        {"message": "checked"},
        {"agent", "lead"},
        lambda t, u: t.events.filter(kind=EventKind.NOTE_ADDED, actor=u).exists(),
    ),
    "reassign button": (
        "post",
        lambda t: view("reassign", t),
        lambda t: {"assignee": f.UserFactory(agent=True).pk},
        {"lead"},
        lambda t, u: t.assigned_to is not None and t.events.filter(kind=EventKind.REASSIGNED, actor=u).exists(),
    ),
    "claim action": (
        "post",
        lambda t: CHANGELIST,
        lambda t: bulk("claim_selected", t),
        {"agent", "lead"},
        lambda t, u: t.assigned_to == u,
    ),
    "approve action": (
        "post",
        lambda t: CHANGELIST,
        lambda t: bulk("approve_selected", t, confirm="yes"),
        {"agent", "lead"},
        lambda t, u: t.status == "approved",
    ),
    "reject action": (
        "post",
        lambda t: CHANGELIST,
        lambda t: bulk("reject_selected", t, confirm="yes", reason="duplicate", message=""),
        {"agent", "lead"},
        lambda t, u: t.status == "rejected",
    ),
    "reassign action": (
        "post",
        lambda t: CHANGELIST,
        lambda t: bulk("reassign_selected", t, confirm="yes", assignee=f.UserFactory(agent=True).pk),
        {"lead"},
        lambda t, u: t.assigned_to is not None and t.events.filter(kind=EventKind.REASSIGNED, actor=u).exists(),
    ),
    "edit through the change form": (
        "post",
        lambda t: view("change", t),
        {"status": "withdrawn", "assigned_to": ""},
        set(),
        None,
    ),
    "delete page": ("post", lambda t: view("delete", t), {"post": "yes"}, set(), None),
    "delete action": ("post", lambda t: CHANGELIST, lambda t: bulk("delete_selected", t, post="yes"), set(), None),
    "add page": ("post", lambda t: reverse("admin:requests_app_removalrequest_add"), {}, set(), None),
}


def expected_refusal(role, method, url):
    """How a refusal looks: the admin sends strangers to its login page; staff without the permission
    get 403, except an action they are not offered, which the changelist ignores ("No action selected")."""
    if role in ("anonymous", "freelancer"):
        return 302, "/login/"
    if url == CHANGELIST and method == "post" and role in ("agent", "lead"):
        return 302, CHANGELIST
    return 403, None


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_permission_matrix(client, role, endpoint, django_capture_on_commit_callbacks):
    method, url_of, data, allowed, changed = ENDPOINTS[endpoint]
    ticket = submit_ticket(now=NOW)
    user = make_user(role)
    if user is not None:
        client.force_login(user)
    url = url_of(ticket)
    payload = data(ticket) if callable(data) else data
    before = snapshot(ticket)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.get(url) if method == "get" else client.post(url, payload)

    if role in allowed:
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 302:
            assert "/login/" not in response["Location"]
        ticket.refresh_from_db()
        if changed is not None:
            assert changed(ticket, user), f"{role} could not use {endpoint}"
        else:
            assert snapshot(ticket) == before
        return
    status, location = expected_refusal(role, method, url)
    assert response.status_code == status
    if location:
        assert location in response["Location"]
    assert snapshot(ticket) == before


def test_the_desk_reports_are_for_leads(client):
    f.RemovalRequestFactory()
    client.force_login(f.UserFactory(agent=True))
    agent_page = client.get(reverse("requests_app:desk")).content.decode()
    client.force_login(f.UserFactory(lead=True))
    lead_page = client.get(reverse("requests_app:desk")).content.decode()
    for page in (agent_page, lead_page):
        assert "Submitted, unassigned" in page and "Breached" in page
    assert "SLA compliance, last 30 days" not in agent_page
    assert "Reports (SLA compliance, time to decision, outcomes and throughput) are for support leads." in agent_page
    assert "SLA compliance, last 30 days" in lead_page and "Throughput per week" in lead_page


def test_agents_and_leads_see_only_their_buttons(client):
    ticket = submit_ticket(now=NOW)
    client.force_login(f.UserFactory(agent=True))
    agent_page = client.get(view("change", ticket)).content.decode()
    client.force_login(f.UserFactory(lead=True))
    lead_page = client.get(view("change", ticket)).content.decode()
    for page in (agent_page, lead_page):
        assert view("claim", ticket) in page and view("approve", ticket) in page and view("reject", ticket) in page
    assert view("reassign", ticket) not in agent_page
    assert view("reassign", ticket) in lead_page


@pytest.mark.parametrize("who", ["lead", "superuser"])
def test_nobody_can_revert_an_applied_request_delete_an_exclusion_or_edit_feedback(client, who):
    exclusion = f.JssExclusionFactory()
    applied = exclusion.removal_request
    feedback = f.FeedbackFactory(contract=f.ContractFactory())
    user = f.UserFactory(lead=True) if who == "lead" else f.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    ticket_before = snapshot(applied)
    feedback_before = Feedback.objects.filter(pk=feedback.pk).values().get()

    attempts = [
        client.post(view("change", applied), {"status": "approved", "applied_at": ""}),
        client.post(reverse("admin:jss_jssexclusion_delete", args=[exclusion.pk]), {"post": "yes"}),
        client.post(reverse("admin:jss_jssexclusion_change", args=[exclusion.pk]), {"contract": ""}),
        client.post(
            reverse("admin:jss_jssexclusion_changelist"),
            {"action": "delete_selected", "_selected_action": [exclusion.pk], "post": "yes", "index": 0},
        ),
        client.post(reverse("admin:marketplace_feedback_change", args=[feedback.pk]), {"public_comment": "edited"}),
        client.post(view("approve", applied)),
        client.post(view("reject", applied), {"reason": "other", "message": "undo"}),
    ]
    assert [r.status_code for r in attempts[:3]] == [403, 403, 403]
    assert snapshot(applied) == ticket_before
    assert RemovalRequest.objects.get(pk=applied.pk).status == "applied"
    assert JssExclusion.objects.filter(pk=exclusion.pk).exists()
    assert Feedback.objects.filter(pk=feedback.pk).values().get() == feedback_before
