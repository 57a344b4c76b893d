"""Every POST of the site refuses a request without this browser's CSRF token (SPEC §7).

Each endpoint is posted three times by someone who is allowed to make the call, through a client that
enforces CSRF checks as a browser session would: without a token, and with the token of another session (an
attacker's own valid token), both refused with 403 and nothing changed; then with the token the page gave,
which succeeds, so the refusals are the token's doing and the test can fail.
"""

import datetime as dt
import logging
from dataclasses import dataclass

import pytest
from django.test import Client

from requests_app import services
from requests_app.models import RemovalRequest, RequestEvent
from tests import factories as f
from tests.security import state

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
NEW_PASSWORD = "Quiet-harbour-2026"


@dataclass
class World:
    owner: object  # a freelancer with a submitted ticket and another eligible contract
    agent: object
    lead: object
    ticket: RemovalRequest
    spare_number: str
    other_agent: object

    def user(self, who):
        return {"anon": None, "owner": self.owner, "agent": self.agent, "lead": self.lead}[who]


@pytest.fixture
def w(time_machine):
    time_machine.move_to(NOW, tick=False)
    bea = f.FreelancerFactory(top_rated=True, user__username="bea")
    contract = f.ContractFactory(freelancer=bea, with_feedback=True)
    ticket = services.submit_request(
        requester=bea.user, contract_number=contract.number, scope="jss_only", now=NOW - dt.timedelta(hours=1)
    )
    spare = f.ContractFactory(freelancer=bea, special_offer=True, with_feedback=True)
    return World(
        owner=bea.user,
        agent=f.UserFactory(username="agent", agent=True),
        lead=f.UserFactory(username="lead", lead=True),
        ticket=ticket,
        spare_number=spare.number,
        other_agent=f.UserFactory(username="other-agent", agent=True),
    )


def ticket(w):
    return RemovalRequest.objects.get(pk=w.ticket.pk)


def timeline(w, kind, user):
    return RequestEvent.objects.filter(request=w.ticket, kind=kind, actor=user).exists()


def waiting_ticket_page(w):
    """The reply form is on the ticket page of a ticket waiting on the freelancer: an agent asks first."""
    services.request_info(w.ticket, agent=w.agent, message="Which email told you?", now=NOW)
    return f"/requests/{w.ticket.ticket_number}/"


def signed_in(client):
    return "_auth_user_id" in client.session


def admin_url(w, name=""):
    return f"/admin/requests_app/removalrequest/{w.ticket.pk}/{name}"


QUEUE = "/admin/requests_app/removalrequest/"


def bulk(w, action, **extra):
    return {"action": action, "_selected_action": [str(w.ticket.pk)], "index": "0", **extra}


@dataclass(frozen=True)
class Endpoint:
    who: str  # who posts: someone allowed to
    page: object  # (w) -> the page that shows the form, and so gives this browser its token
    url: object  # (w) -> where the form posts
    data: object  # (w) -> the form's fields
    done: object  # (w, client) -> the post did its work


ENDPOINTS = {
    "login": Endpoint(
        "anon",
        lambda w: "/accounts/login/",
        lambda w: "/accounts/login/",
        lambda w: {"username": "bea", "password": "perkdesk"},
        lambda w, client: signed_in(client),
    ),
    "logout": Endpoint(
        "owner",
        lambda w: "/requests/",
        lambda w: "/accounts/logout/",
        lambda w: {},
        lambda w, client: not signed_in(client),
    ),
    "new request": Endpoint(
        "owner",
        lambda w: "/requests/new/",
        lambda w: "/requests/new/",
        lambda w: {"contract": w.spare_number, "scope": "jss_only"},
        lambda w, client: RemovalRequest.objects.filter(contract__number=w.spare_number).exists(),
    ),
    "withdraw": Endpoint(
        "owner",
        lambda w: f"/requests/{w.ticket.ticket_number}/",
        lambda w: f"/requests/{w.ticket.ticket_number}/withdraw/",
        lambda w: {},
        lambda w, client: ticket(w).status == "withdrawn",
    ),
    "reply": Endpoint(
        "owner",
        lambda w: waiting_ticket_page(w),
        lambda w: f"/requests/{w.ticket.ticket_number}/reply/",
        lambda w: {"message": "Here is the screenshot you asked for."},
        lambda w, client: ticket(w).status == "submitted" and ticket(w).events.filter(kind="replied").exists(),
    ),
    "admin login": Endpoint(
        "anon",
        lambda w: "/admin/login/",
        lambda w: "/admin/login/?next=/admin/",
        lambda w: {"username": "agent", "password": "perkdesk", "next": "/admin/"},
        lambda w, client: signed_in(client),
    ),
    "admin logout": Endpoint(
        "agent",
        lambda w: "/admin/",
        lambda w: "/admin/logout/",
        lambda w: {},
        lambda w, client: not signed_in(client),
    ),
    "admin password change": Endpoint(
        "agent",
        lambda w: "/admin/password_change/",
        lambda w: "/admin/password_change/",
        lambda w: {"old_password": "perkdesk", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        lambda w, client: type(w.agent).objects.get(pk=w.agent.pk).check_password(NEW_PASSWORD),
    ),
    "claim button": Endpoint(
        "agent",
        lambda w: admin_url(w, "change/"),
        lambda w: admin_url(w, "claim/"),
        lambda w: {},
        lambda w, client: ticket(w).assigned_to == w.agent,
    ),
    "approve button": Endpoint(
        "agent",
        lambda w: admin_url(w, "approve/"),
        lambda w: admin_url(w, "approve/"),
        lambda w: {"confirm": "yes", "canned": "standard", "message": ""},
        lambda w, client: ticket(w).status == "approved",
    ),
    "ask button": Endpoint(
        "agent",
        lambda w: admin_url(w, "ask/"),
        lambda w: admin_url(w, "ask/"),
        lambda w: {"message": "Which email told you about the status loss?"},
        lambda w, client: ticket(w).status == "waiting_on_freelancer",
    ),
    "reject button": Endpoint(
        "agent",
        lambda w: admin_url(w, "reject/"),
        lambda w: admin_url(w, "reject/"),
        lambda w: {"reason": "duplicate", "message": ""},
        lambda w, client: ticket(w).status == "rejected",
    ),
    "note button": Endpoint(
        "agent",
        lambda w: admin_url(w, "change/"),
        lambda w: admin_url(w, "note/"),
        lambda w: {"message": "Called the client."},
        lambda w, client: timeline(w, "note_added", w.agent),
    ),
    "reassign button": Endpoint(
        "lead",
        lambda w: admin_url(w, "reassign/"),
        lambda w: admin_url(w, "reassign/"),
        lambda w: {"assignee": str(w.other_agent.pk)},
        lambda w, client: ticket(w).assigned_to == w.other_agent,
    ),
    "claim action": Endpoint(
        "agent",
        lambda w: QUEUE,
        lambda w: QUEUE,
        lambda w: bulk(w, "claim_selected"),
        lambda w, client: ticket(w).assigned_to == w.agent,
    ),
    "approve action": Endpoint(
        "agent",
        lambda w: QUEUE,
        lambda w: QUEUE,
        lambda w: bulk(w, "approve_selected", confirm="yes"),
        lambda w, client: ticket(w).status == "approved",
    ),
    "reject action": Endpoint(
        "agent",
        lambda w: QUEUE,
        lambda w: QUEUE,
        lambda w: bulk(w, "reject_selected", confirm="yes", reason="duplicate", message=""),
        lambda w, client: ticket(w).status == "rejected",
    ),
    "reassign action": Endpoint(
        "lead",
        lambda w: QUEUE,
        lambda w: QUEUE,
        lambda w: bulk(w, "reassign_selected", confirm="yes", assignee=str(w.other_agent.pk)),
        lambda w, client: ticket(w).assigned_to == w.other_agent,
    ),
}


def browser(w, who):
    """A client that checks CSRF like a browser session, signed in as ``who``."""
    client = Client(enforce_csrf_checks=True)
    user = w.user(who)
    if user is not None:
        client.force_login(user)
    return client


def token_from(client, page) -> str:
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    assert b'name="csrfmiddlewaretoken"' in response.content, f"{page} shows no form with a token"
    return client.cookies["csrftoken"].value


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_a_post_without_this_browsers_token_is_refused_and_changes_nothing(
    w, settings, name, django_capture_on_commit_callbacks, caplog
):
    endpoint = ENDPOINTS[name]
    client = browser(w, endpoint.who)
    page, url, data = endpoint.page(w), endpoint.url(w), endpoint.data(w)
    own_token = token_from(client, page)
    attacker = browser(w, "anon")
    someone_elses = token_from(attacker, "/accounts/login/")
    assert someone_elses != own_token

    for forged in ({}, {"csrfmiddlewaretoken": someone_elses}):
        before = state(settings.PRIVATE_MEDIA_ROOT)
        caplog.clear()
        with django_capture_on_commit_callbacks(execute=False):
            response = client.post(url, {**data, **forged})
        assert response.status_code == 403, (name, forged, response.status_code)
        assert "Nothing was changed" in response.content.decode()  # the site's page says so and how to retry
        # Refused by the CSRF check itself (which logs it), not by a permission.
        assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == ["django.security.csrf"]
        assert state(settings.PRIVATE_MEDIA_ROOT) == before
        assert not endpoint.done(w, client)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url, {**data, "csrfmiddlewaretoken": own_token})
    assert response.status_code == 302, (name, response.status_code)
    assert endpoint.done(w, client)
