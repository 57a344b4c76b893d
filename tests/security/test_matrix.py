"""Who may do what, over every URL and admin action (SPEC §7), in one table.

Six people try every page, button and admin action: nobody signed in (``anon``); freelancer A acting on
freelancer B's tickets, screenshot and contract (``stranger``); B on their own (``owner``); a staff user
with no support group (``staff``); a Support agent (``agent``); a Support lead (``lead``). Each cell is what
that person gets: the status code (and where a redirect goes), and for the few calls that are theirs to
make, exactly which part of the data changes. Every other call must leave every row and every stored file
exactly as it was: the whole state (tickets, timeline, exclusions, feedback and its hidden flags, the
marketplace, accounts and permissions, screenshots) is compared before and after. Someone else's ticket is
a 404, never a 403, so ticket numbers cannot be probed; internal notes never reach a freelancer.

The world is made once for the module with the real services (submit, approve, apply, note), and each test
runs in a savepoint that is rolled back, so every cell starts from the same state.
"""

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import Resolver404, get_resolver, resolve

from jss.models import JssExclusion, ScoreSnapshot, ScoreUpdate, ScoreUpdateChunk, TopRatedEvaluation
from marketplace import models as m
from outbox.models import EmailDelivery
from requests_app import services
from requests_app.models import RemovalRequest, RequestEvent
from tests import factories as f
from tests.security import png_bytes, state

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
ACTORS = ("anon", "stranger", "owner", "staff", "agent", "lead")
SECRET_TITLE = "Rebrand under NDA for Bea"
INTERNAL_NOTE = "Internal: the client's account manager confirmed the dispute by phone."
NEW_NOTE = "Checked the contract."


SCREENSHOT = png_bytes()


# --- the world ----------------------------------------------------------------------------------------


@dataclass
class World:
    users: dict  # actor -> User (None for anon)
    open: RemovalRequest  # B's submitted ticket: a screenshot and an internal note
    applied: RemovalRequest  # B's applied ticket: an exclusion, the feedback hidden on the profile
    spare: m.Contract  # B's Special Offer contract with no request yet: B may ask about it now
    spare_agent: object  # an agent a lead can hand a ticket to
    pk: dict  # "app.model" -> the pk of one object of each admin model
    public: dict  # public_ids of B, B's agency, B's client
    media_root: Path
    freelancer_type: int  # content type id, for the admin's "view on site" link
    baseline: dict | None = None  # state() of the world as built


def build_world(media_root) -> World:
    """B's history through the real services; the marketplace rows and score history from factories."""
    bea = f.FreelancerFactory(top_rated=True, user__username="bea", name="Bea Owner")
    abe = f.FreelancerFactory(top_rated=True, user__username="abe", name="Abe Stranger")
    agency = f.AgencyFactory(top_rated=True, name="Bea's Studio")
    f.AgencyMembershipFactory(agency=agency, freelancer=bea, owner=True)
    client = f.ClientFactory(name="Northwind")
    agent = f.UserFactory(username="agent", agent=True)
    lead = f.UserFactory(username="lead", lead=True)
    staff = f.UserFactory(username="staff", is_staff=True)
    spare_agent = f.UserFactory(username="spare-agent", agent=True)

    # Applied earlier, on a Special Offer contract (which starts no cooldown): excluded and hidden.
    done = f.ContractFactory(freelancer=bea, client=client, special_offer=True, with_feedback=True)
    applied = services.submit_request(
        requester=bea.user, contract_number=done.number, scope="hide_profile_and_jss", now=NOW - dt.timedelta(days=9)
    )
    services.approve_request(applied, agent=agent, now=NOW - dt.timedelta(days=8))
    assert services.apply_exclusion(applied.pk, now=NOW - dt.timedelta(days=8, minutes=-5))

    # Open now, with the screenshot of the status-loss email and an agent's internal note.
    contract = f.ContractFactory(freelancer=bea, client=client, with_feedback=True, title=SECRET_TITLE)
    with override_settings(PRIVATE_MEDIA_ROOT=media_root):
        open_ticket = services.submit_request(
            requester=bea.user,
            contract_number=contract.number,
            scope="jss_only",
            screenshot=SimpleUploadedFile("mail.png", SCREENSHOT, content_type="image/png"),
            now=NOW - dt.timedelta(hours=2),
        )
    services.add_note(open_ticket, agent=agent, message=INTERNAL_NOTE, now=NOW - dt.timedelta(hours=1))

    spare = f.ContractFactory(freelancer=bea, client=client, special_offer=True, with_feedback=True)
    f.ContractFactory(freelancer=bea, agency=agency, client=client, with_feedback=True)
    own = f.ContractFactory(freelancer=abe, with_feedback=True)
    services.submit_request(
        requester=abe.user, contract_number=own.number, scope="jss_only", now=NOW - dt.timedelta(hours=3)
    )
    f.ScoreSnapshotFactory(freelancer=bea)
    f.ScoreUpdateChunkFactory()  # and its ScoreUpdate
    f.TopRatedEvaluationFactory(freelancer=bea)
    # The login-attempt records django-axes keeps: a wrong password for B, a good one for A.
    login = Client()
    login.post("/accounts/login/", {"username": "bea", "password": "wrong"})
    login.post("/accounts/login/", {"username": "abe", "password": "perkdesk"})
    # Kept only with AXES_ENABLE_ACCESS_FAILURE_LOG (off here): made as the setting would make it.
    AccessFailureLog.objects.create(
        username="bea", ip_address="10.0.0.9", user_agent="pytest", path_info="/accounts/login/", locked_out=False
    )

    open_ticket.refresh_from_db()
    applied.refresh_from_db()
    User = get_user_model()
    return World(
        users={
            "anon": None,
            "stranger": abe.user,
            "owner": bea.user,
            "staff": staff,
            "agent": agent,
            "lead": lead,
        },
        open=open_ticket,
        applied=applied,
        spare=spare,
        spare_agent=spare_agent,
        pk={
            "marketplace.freelancer": bea.pk,
            "marketplace.agency": agency.pk,
            "marketplace.agencymembership": m.AgencyMembership.objects.get(freelancer=bea).pk,
            "marketplace.client": client.pk,
            "marketplace.contract": contract.pk,
            "marketplace.feedback": applied.contract.feedback.pk,
            "marketplace.topratedperiod": m.TopRatedPeriod.objects.filter(freelancer=bea).get().pk,
            "jss.jssexclusion": JssExclusion.objects.get(removal_request=applied).pk,
            "jss.scoresnapshot": ScoreSnapshot.objects.get().pk,
            "jss.scoreupdate": ScoreUpdate.objects.get().pk,
            "jss.scoreupdatechunk": ScoreUpdateChunk.objects.get().pk,
            "jss.topratedevaluation": TopRatedEvaluation.objects.get().pk,
            "requests_app.requestevent": RequestEvent.objects.filter(request=open_ticket).first().pk,
            "auth.user": User.objects.get(username="lead").pk,
            "auth.group": Group.objects.get(name="Support agents").pk,
            "any.permission": Permission.objects.get(codename="delete_jssexclusion").pk,
            "outbox.emaildelivery": EmailDelivery.objects.order_by("pk").first().pk,
            "axes.accessattempt": AccessAttempt.objects.get(username="bea").pk,
            "axes.accesslog": AccessLog.objects.get(username="abe").pk,
            "axes.accessfailurelog": AccessFailureLog.objects.get(username="bea").pk,
        },
        public={"freelancer": bea.public_id, "agency": agency.public_id, "client": client.public_id},
        media_root=media_root,
        freelancer_type=ContentType.objects.get_for_model(m.Freelancer).pk,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Made once, inside a transaction that is rolled back when the module is done; every test runs in a
    savepoint of it (pytest-django's ``django_db``), so changes made by one cell never reach the next."""
    media_root = tmp_path_factory.mktemp("matrix-private")
    fast_hasher = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), time_machine.travel(NOW, tick=False), fast_hasher:
        with transaction.atomic():
            world = build_world(media_root)
            # Every cell starts from this state (its changes are rolled back), so it is read once.
            world.baseline = state(media_root)
            yield world
            transaction.set_rollback(True)


@pytest.fixture
def w(world, settings, time_machine):
    settings.PRIVATE_MEDIA_ROOT = world.media_root
    time_machine.move_to(NOW, tick=False)
    return world


# --- what each cell expects ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    status: int
    to: str = ""  # a redirect's target, formatted with the world as ``w``
    changes: frozenset = frozenset()  # the areas of ``state()`` the call changes; empty: nothing at all
    check: Callable | None = None  # (world, user) -> bool: the change is the right one
    label: str = ""
    prefix: bool = False  # the target only starts so (a login's ?next=, a new ticket's number)

    def __repr__(self):
        return self.label or str(self.status)


OK = Expect(200, label="200")
LOGIN = Expect(302, "/accounts/login/?next=", prefix=True, label="login")
ADMIN_LOGIN = Expect(302, "/admin/login/?next=", prefix=True, label="admin-login")
E403 = Expect(403, label="403")
E404 = Expect(404, label="404")
E405 = Expect(405, label="405")


def to(url, label="302"):
    return Expect(302, url, label=label)


def ticket(world, which="open"):
    return RemovalRequest.objects.get(pk=getattr(world, which).pk)


def events(world, kind, user):
    return RequestEvent.objects.filter(request=world.open, kind=kind, actor=user).count() == 1


TICKET_PAGE = "/admin/requests_app/removalrequest/{w.open.pk}/change/"
APPLIED_PAGE = "/admin/requests_app/removalrequest/{w.applied.pk}/change/"
QUEUE = "/admin/requests_app/removalrequest/"
TICKET_AREAS = frozenset({"tickets", "timeline"})

# The calls that are someone's to make, and what they must change.
CLAIMED = Expect(
    302, TICKET_PAGE, TICKET_AREAS, lambda w, u: ticket(w).assigned_to == u and events(w, "claimed", u), "claimed"
)
CLAIMED_ALL = Expect(302, QUEUE, CLAIMED.changes, CLAIMED.check, "claimed")
APPROVED = Expect(
    302,
    TICKET_PAGE,
    TICKET_AREAS,
    lambda w, u: (ticket(w).status, ticket(w).decided_by) == ("approved", u) and events(w, "approved", u),
    "approved",
)
APPROVED_ALL = Expect(302, QUEUE, APPROVED.changes, APPROVED.check, "approved")
REJECTED = Expect(
    302,
    TICKET_PAGE,
    TICKET_AREAS,
    lambda w, u: (
        (ticket(w).status, ticket(w).rejection_reason) == ("rejected", "duplicate") and events(w, "rejected", u)
    ),
    "rejected",
)
REJECTED_ALL = Expect(302, QUEUE, REJECTED.changes, REJECTED.check, "rejected")
NOTED = Expect(
    302,
    TICKET_PAGE,
    frozenset({"timeline"}),
    lambda w, u: (
        RequestEvent.objects.filter(request=w.open, kind="note_added", actor=u, public=False, message=NEW_NOTE).count()
        == 1
    ),
    "noted",
)
REASSIGNED = Expect(
    302,
    TICKET_PAGE,
    TICKET_AREAS,
    lambda w, u: ticket(w).assigned_to == w.spare_agent and events(w, "reassigned", u),
    "reassigned",
)
REASSIGNED_ALL = Expect(302, QUEUE, REASSIGNED.changes, REASSIGNED.check, "reassigned")
WITHDRAWN = Expect(
    302,
    "/requests/{w.open.ticket_number}/",
    TICKET_AREAS,
    lambda w, u: ticket(w).status == "withdrawn" and events(w, "withdrawn", u),
    "withdrawn",
)
SUBMITTED = Expect(
    302,
    "/requests/",
    prefix=True,
    changes=TICKET_AREAS,
    check=lambda w, u: RemovalRequest.objects.filter(contract=w.spare, requested_by=u, status="submitted").count() == 1,
    label="submitted",
)
ASKED = Expect(
    302,
    TICKET_PAGE,
    TICKET_AREAS,
    lambda w, u: ticket(w).status == "waiting_on_freelancer" and events(w, "info_requested", u),
    "asked",
)
TO_OWN_TICKET = to("/requests/{w.open.ticket_number}/", "refused")
# Refused by the service and said on the page the person is sent back to; nothing changes.
REFUSED = to(APPLIED_PAGE, "refused")
STAYS_APPLIED = to("/requests/{w.applied.ticket_number}/", "refused")
TO_QUEUE = to(QUEUE, "queue")
TO_ALL = to(QUEUE + "?status=all", "queue")
TO_TICKET = to(TICKET_PAGE, "ticket-page")
TO_ADMIN = to("/admin/", "admin-index")
DESK = to("/desk/", "desk")
MINE = to("/requests/", "my-requests")
HOME = to("/", "home")
LOGIN_PAGE = to("/accounts/login/", "login-page")
# Signing out is recorded by django-axes with the login it ends.
LOGGED_OUT = Expect(302, "/accounts/login/", frozenset({"login-records"}), label="logged-out")


# --- the table ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    method: str
    url: str  # formatted with the world as ``w``
    data: dict | None
    cells: dict  # actor -> Expect


def row(id, method, url, data, *cells):
    assert len(cells) == len(ACTORS), id
    return Row(id, method, url, data, dict(zip(ACTORS, cells, strict=True)))


GET, POST = "get", "post"
T = "{w.open.ticket_number}"
ADMIN_T = QUEUE + "{w.open.pk}/"
ADMIN_A = QUEUE + "{w.applied.pk}/"
NOT_A_TICKET = "100000001"  # nine digits, nobody's ticket


def bulk(action, which="open", **extra):
    return {"action": action, "_selected_action": [f"{{w.{which}.pk}}"], "index": "0", **extra}


# fmt: off
ROWS = [
    # id, method, url, data
    #   anon          stranger      owner         staff         agent         lead
    # --- the site ---
    row("home", GET, "/", None,
        LOGIN,        MINE,         MINE,         DESK,         DESK,         DESK),
    row("healthz", GET, "/healthz", None,
        OK,           OK,           OK,           OK,           OK,           OK),
    row("healthz-post", POST, "/healthz", {},
        E405,         E405,         E405,         E405,         E405,         E405),
    # Prometheus metrics: staff and the monitoring token only (counts, no personal data).
    row("metrics", GET, "/metrics", None,
        E403,         E403,         E403,         OK,           OK,           OK),
    row("metrics-post", POST, "/metrics", {},
        E405,         E405,         E405,         E405,         E405,         E405),
    row("login-page", GET, "/accounts/login/", None,
        OK,           HOME,         HOME,         HOME,         HOME,         HOME),
    # A GET shows the sign-out button (signed-out visitors go to the sign-in page); only the POST signs out.
    row("logout-get", GET, "/accounts/logout/", None,
        LOGIN_PAGE,   OK,           OK,           OK,           OK,           OK),
    row("logout", POST, "/accounts/logout/", {},
        LOGIN_PAGE,   LOGGED_OUT,   LOGGED_OUT,   LOGGED_OUT,   LOGGED_OUT,   LOGGED_OUT),
    # --- a freelancer's pages ---
    row("my-contracts", GET, "/contracts/", None,
        LOGIN,        OK,           OK,           OK,           OK,           OK),
    row("my-requests", GET, "/requests/", None,
        LOGIN,        OK,           OK,           OK,           OK,           OK),
    row("new-request-form", GET, "/requests/new/?contract={w.spare.number}", None,
        LOGIN,        OK,           OK,           OK,           OK,           OK),
    # Someone else's contract is refused on the form like an unknown one (200, reasons shown).
    row("new-request-for-B's-contract", POST, "/requests/new/", {"contract": "{w.spare.number}", "scope": "jss_only"},
        LOGIN,        OK,           SUBMITTED,    OK,           OK,           OK),
    # Support staff read any ticket page and its screenshot; staff outside the support groups do not (SPEC §7).
    row("ticket-page", GET, f"/requests/{T}/", None,
        LOGIN,        E404,         OK,           E404,         OK,           OK),
    row("ticket-page-no-such-ticket", GET, f"/requests/{NOT_A_TICKET}/", None,
        LOGIN,        E404,         E404,         E404,         E404,         E404),
    row("ticket-page-not-a-number", GET, "/requests/12345/", None,
        E404,         E404,         E404,         E404,         E404,         E404),
    row("screenshot", GET, f"/requests/{T}/screenshot/", None,
        LOGIN,        E404,         OK,           E404,         OK,           OK),
    row("screenshot-of-ticket-without", GET, "/requests/{w.applied.ticket_number}/screenshot/", None,
        LOGIN,        E404,         E404,         E404,         E404,         E404),
    # Only the requester side withdraws; staff are not owners.
    row("withdraw", POST, f"/requests/{T}/withdraw/", {},
        LOGIN,        E404,         WITHDRAWN,    E404,         E404,         E404),
    row("withdraw-get", GET, f"/requests/{T}/withdraw/", None,
        LOGIN,        E405,         E405,         E405,         E405,         E405),
    row("withdraw-applied", POST, "/requests/{w.applied.ticket_number}/withdraw/", {},
        LOGIN,        E404,         STAYS_APPLIED, E404,        E404,         E404),
    row("withdraw-no-such-ticket", POST, f"/requests/{NOT_A_TICKET}/withdraw/", {},
        LOGIN,        E404,         E404,         E404,         E404,         E404),
    # The reply follows the person's current role; the open ticket is not waiting, so the owner's reply is refused
    # and said on the ticket page; nothing changes.
    row("reply", POST, f"/requests/{T}/reply/", {"message": "Here it is."},
        LOGIN,        E404,         TO_OWN_TICKET, E404,        E404,         E404),
    row("reply-get", GET, f"/requests/{T}/reply/", None,
        LOGIN,        E405,         E405,         E405,         E405,         E405),
    row("reply-no-such-ticket", POST, f"/requests/{NOT_A_TICKET}/reply/", {"message": "Hi"},
        LOGIN,        E404,         E404,         E404,         E404,         E404),
    # --- public work histories ---
    row("freelancer-profile", GET, "/freelancers/{w.public[freelancer]}/", None,
        OK,           OK,           OK,           OK,           OK,           OK),
    row("agency-profile", GET, "/agencies/{w.public[agency]}/", None,
        OK,           OK,           OK,           OK,           OK,           OK),
    row("client-profile", GET, "/clients/{w.public[client]}/", None,
        OK,           OK,           OK,           OK,           OK,           OK),
    row("profile-post", POST, "/freelancers/{w.public[freelancer]}/", {},
        E405,         E405,         E405,         E405,         E405,         E405),
    row("profile-unknown", GET, "/freelancers/nobody-here/", None,
        E404,         E404,         E404,         E404,         E404,         E404),
    # --- the desk ---
    row("desk", GET, "/desk/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    # Per-agent figures over a period, and their CSV: leads only.
    row("agent-report", GET, "/desk/reports/?date_from=2026-11-01&date_to=2026-11-26", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E403,         OK),
    row("agent-report-csv", GET, "/desk/reports/agents.csv", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E403,         OK),
    # --- the admin site's own pages ---
    row("admin-index", GET, "/admin/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  OK,           OK,           OK),
    row("admin-app-requests", GET, "/admin/requests_app/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E404,         OK,           OK),
    row("admin-app-marketplace", GET, "/admin/marketplace/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E404,         OK,           OK),
    row("admin-app-auth", GET, "/admin/auth/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E404,         E404,         E404),
    row("admin-jsi18n", GET, "/admin/jsi18n/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  OK,           OK,           OK),
    # Contract search for a ticket's contract field: readable by those who may read contracts anyway.
    row("admin-autocomplete", GET, "/admin/autocomplete/?app_label=requests_app&model_name=removalrequest"
                                   "&field_name=contract&term=4", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("admin-view-on-site", GET, "/admin/r/{w.freelancer_type}/{w.pk[marketplace.freelancer]}/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E404,         E404,         E404),
    row("admin-password-change-page", GET, "/admin/password_change/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  OK,           OK,           OK),
    row("admin-password-changed-page", GET, "/admin/password_change/done/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  OK,           OK,           OK),
    row("admin-login-page", GET, "/admin/login/", None,
        OK,           OK,           OK,           TO_ADMIN,     TO_ADMIN,     TO_ADMIN),
    row("admin-logout", POST, "/admin/logout/", {},
        TO_ADMIN,     TO_ADMIN,     TO_ADMIN,     LOGGED_OUT,   LOGGED_OUT,   LOGGED_OUT),
    row("admin-unknown-page", GET, "/admin/no-such-page/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E404,         E404,         E404),
    # --- the agents' queue: pages ---
    row("queue", GET, QUEUE, None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("queue-search", GET, QUEUE + "?q={w.open.ticket_number}", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    # The filtered queue as CSV: whoever may read the queue (agents, leads).
    row("queue-export", GET, QUEUE + "export/?status=all", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("ticket-admin-page", GET, ADMIN_T + "change/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("ticket-admin-short-url", GET, ADMIN_T, None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  TO_TICKET,    TO_TICKET,    TO_TICKET),
    row("ticket-history", GET, ADMIN_T + "history/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("ticket-add-page", GET, QUEUE + "add/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E403,         E403),
    row("ticket-add", POST, QUEUE + "add/", {"contract": "{w.spare.pk}", "scope": "jss_only"},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E403,         E403),
    row("ticket-edit-form", POST, ADMIN_T + "change/", {"status": "withdrawn", "assigned_to": ""},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E403,         E403),
    row("ticket-delete-page", GET, ADMIN_T + "delete/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E403,         E403),
    row("ticket-delete", POST, ADMIN_T + "delete/", {"post": "yes"},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E403,         E403),
    # --- the ticket page's buttons ---
    row("claim", POST, ADMIN_T + "claim/", {},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         CLAIMED,      CLAIMED),
    row("claim-get", GET, ADMIN_T + "claim/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E405,         E405,         E405),
    # Approve goes through a confirmation page: a GET (or a POST without "confirm") shows it, changing nothing.
    row("approve-page", GET, ADMIN_T + "approve/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("approve-unconfirmed", POST, ADMIN_T + "approve/", {},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("approve", POST, ADMIN_T + "approve/", {"confirm": "yes", "canned": "standard", "message": ""},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         APPROVED,     APPROVED),
    # No undo: a decision on an applied ticket is refused by the service and said on its page.
    row("approve-applied", POST, ADMIN_A + "approve/", {"confirm": "yes"},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         REFUSED,      REFUSED),
    row("approve-applied-page", GET, ADMIN_A + "approve/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         REFUSED,      REFUSED),
    row("approve-no-such-ticket", POST, QUEUE + "999999/approve/", {"confirm": "yes"},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E404,         E404),
    # Ask the freelancer: a page, then the question (agents and leads, like rejecting).
    row("ask-page", GET, ADMIN_T + "ask/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("ask", POST, ADMIN_T + "ask/", {"message": "Which email told you?"},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         ASKED,        ASKED),
    row("ask-applied", POST, ADMIN_A + "ask/", {"message": "Too late?"},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         REFUSED,      REFUSED),
    row("reject-page", GET, ADMIN_T + "reject/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("reject", POST, ADMIN_T + "reject/", {"reason": "duplicate", "message": ""},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         REJECTED,     REJECTED),
    row("reject-applied", POST, ADMIN_A + "reject/", {"reason": "other", "message": "undo it"},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         REFUSED,      REFUSED),
    row("note", POST, ADMIN_T + "note/", {"message": NEW_NOTE},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         NOTED,        NOTED),
    row("note-get", GET, ADMIN_T + "note/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E405,         E405,         E405),
    row("reassign-page", GET, ADMIN_T + "reassign/", None,
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E403,         OK),
    row("reassign", POST, ADMIN_T + "reassign/", {"assignee": "{w.spare_agent.pk}"},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E403,         REASSIGNED),
    # --- the queue's actions (an action a user is not offered: "No action selected", nothing done) ---
    row("action-claim", POST, QUEUE, bulk("claim_selected"),
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         CLAIMED_ALL,  CLAIMED_ALL),
    row("action-approve-page", POST, QUEUE, bulk("approve_selected"),
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("action-approve", POST, QUEUE, bulk("approve_selected", confirm="yes"),
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         APPROVED_ALL, APPROVED_ALL),
    row("action-approve-applied", POST, QUEUE + "?status=all", bulk("approve_selected", "applied", confirm="yes"),
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         TO_ALL,       TO_ALL),
    row("action-reject-page", POST, QUEUE, bulk("reject_selected"),
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         OK,           OK),
    row("action-reject", POST, QUEUE, bulk("reject_selected", confirm="yes", reason="duplicate"),
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         REJECTED_ALL, REJECTED_ALL),
    row("action-reassign-page", POST, QUEUE, bulk("reassign_selected"),
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         TO_QUEUE,     OK),
    row("action-reassign", POST, QUEUE, bulk("reassign_selected", confirm="yes", assignee="{w.spare_agent.pk}"),
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         TO_QUEUE,     REASSIGNED_ALL),
    row("action-delete", POST, QUEUE, bulk("delete_selected", post="yes"),
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         TO_QUEUE,     TO_QUEUE),
    # --- accounts: nobody here may set anyone's password (the generic rows below try the rest) ---
    row("user-set-password", POST, "/admin/auth/user/{w.pk[auth.user]}/password/",
        {"password1": "Takeover-2026!", "password2": "Takeover-2026!", "usable_password": "true"},
        ADMIN_LOGIN,  ADMIN_LOGIN,  ADMIN_LOGIN,  E403,         E403,         E403),
]
# fmt: on

# Every other admin model, row by row the same: who may read it, and that nobody writes it here. The
# marketplace and the JSS records are read by agents and leads and written by nobody (superusers included);
# accounts, groups and the login-attempt records are for superusers only.
ADMIN_MODELS = {
    "marketplace.freelancer": "read",
    "marketplace.agency": "read",
    "marketplace.agencymembership": "read",
    "marketplace.client": "read",
    "marketplace.contract": "read",
    "marketplace.feedback": "read",
    "marketplace.topratedperiod": "read",
    "jss.jssexclusion": "read",
    "jss.scoresnapshot": "read",
    "jss.scoreupdate": "read",
    "jss.scoreupdatechunk": "read",
    "jss.topratedevaluation": "read",
    "requests_app.requestevent": "leads",
    "auth.user": "none",
    "auth.group": "none",
    "outbox.emaildelivery": "none",
    "axes.accessattempt": "none",
    "axes.accesslog": "none",
    "axes.accessfailurelog": "none",
}
READ = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, E403, OK, OK)
LEADS = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, E403, E403, OK)  # the timeline across tickets
NONE = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, E403, E403, E403)
# What an edit or an add would try to write.
EDITS = {
    "marketplace.feedback": {"public_comment": "edited", "public_rating": "1.00", "hidden_on_profile": ""},
    "jss.jssexclusion": {"contract": "", "removal_request": ""},
    "auth.user": {
        "username": "lead",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "password1": "Takeover-2026!",
        "password2": "Takeover-2026!",
        "usable_password": "true",
    },
    "auth.group": {"name": "Support agents", "permissions": ["{w.pk[any.permission]}"]},
}


def admin_model_rows(label, access):
    app, model = label.split(".")
    base = f"/admin/{app}/{model}/"
    pk = f"{{w.pk[{label}]}}"
    obj = f"{base}{pk}/"
    edit = EDITS.get(label, {"name": "edited"})
    read = {"read": READ, "leads": LEADS}.get(access, NONE)
    short = to(obj + "change/", "302")
    return [
        row(f"{model}-list", GET, base, None, *read),
        row(f"{model}-search", GET, base + "?q=a", None, *read),
        row(f"{model}-page", GET, obj + "change/", None, *read),
        row(f"{model}-short-url", GET, obj, None, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, short, short, short),
        row(f"{model}-history", GET, obj + "history/", None, *read),
        row(f"{model}-add-page", GET, base + "add/", None, *NONE),
        row(f"{model}-add", POST, base + "add/", edit, *NONE),
        row(f"{model}-edit", POST, obj + "change/", edit, *NONE),
        row(f"{model}-delete-page", GET, obj + "delete/", None, *NONE),
        row(f"{model}-delete", POST, obj + "delete/", {"post": "yes"}, *NONE),
        # No delete action is offered: where the list is readable it is shown again, nothing deleted.
        row(
            f"{model}-delete-action",
            POST,
            base,
            {"action": "delete_selected", "_selected_action": [pk], "index": "0", "post": "yes"},
            *read,
        ),
    ]


ALL_ROWS = ROWS + [r for label, access in ADMIN_MODELS.items() for r in admin_model_rows(label, access)]
CASES = [pytest.param(r, actor, id=f"{r.id}-{actor}") for r in ALL_ROWS for actor in ACTORS]


# --- running a cell -----------------------------------------------------------------------------------


def fill(value, world):
    if isinstance(value, str):
        return value.format(w=world)
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    return value


def body(response) -> bytes:
    # The test client closes a streamed response once it is read, keeping the database connection open (a
    # response.close() of our own would end the module's transaction).
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("r, actor", CASES)
def test_matrix(w, r, actor, django_capture_on_commit_callbacks):
    expect = r.cells[actor]
    user = w.users[actor]
    client = Client()
    if user is not None:
        client.force_login(user)
    url, data = fill(r.url, w), fill(r.data, w)
    # The world as built; signing in adds to django-axes's log of sign-ins, which is read again.
    before = {**w.baseline, **state(w.media_root, areas={"login-records"})}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.get(url) if r.method == GET else client.post(url, data)
    after = state(w.media_root)
    content = body(response)

    assert response.status_code == expect.status, f"{r.id} as {actor}: {response.status_code}, expected {expect!r}"
    if expect.status == 302:
        target, location = fill(expect.to, w), response["Location"]
        assert location.startswith(target) if expect.prefix else location == target, location
    changed = {area for area in before if before[area] != after[area]}
    assert changed == set(expect.changes), f"{r.id} as {actor} changed {sorted(changed)}"
    if expect.check is not None:
        assert expect.check(w, user), f"{r.id} as {actor} did not make the change it should"

    # What must never show: an internal note to a freelancer; B's ticket and screenshot to anyone else who
    # is not staff; anything of the ticket on a refusal.
    if actor in ("anon", "stranger", "owner"):
        assert INTERNAL_NOTE.encode() not in content
    if actor in ("anon", "stranger") or expect.status >= 300:
        assert w.open.ticket_number.encode() not in content
        assert SCREENSHOT not in content
    if expect.status >= 300 and not expect.changes:
        assert SECRET_TITLE.encode() not in content


def test_the_screenshot_is_the_stored_file_for_those_allowed(w):
    for actor in ("owner", "agent", "lead"):
        client = Client()
        client.force_login(w.users[actor])
        response = client.get(f"/requests/{w.open.ticket_number}/screenshot/")
        assert body(response) == SCREENSHOT
        assert response["Content-Type"] == "image/png"
        assert response["Cache-Control"] == "private, no-store"


def test_someone_elses_ticket_looks_exactly_like_a_missing_one(w):
    """The 404 for B's real ticket and for a number nobody has are the same page: nothing to probe."""
    client = Client()
    client.force_login(w.users["stranger"])
    pages = [client.get(f"/requests/{number}/") for number in (w.open.ticket_number, NOT_A_TICKET)]
    assert [p.status_code for p in pages] == [404, 404]
    # The sign-out form's CSRF token is masked afresh on every page; everything else is the same.
    same = [re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", p.content) for p in pages]
    assert same[0] == same[1]
    assert b"We could not find that page" in pages[0].content


def test_the_table_covers_every_url_of_the_site(w):
    """A new page or admin view without a row in the table fails here: add its row (and decide its policy)."""
    covered = set()
    for r in ALL_ROWS:
        try:
            covered.add(resolve(fill(r.url, w).split("?")[0]).route)
        except Resolver404:
            pass
    assert sorted(set(routes()) - covered) == []


def routes(resolver=None, prefix=""):
    """Every route of the urlconf, spelt as ``ResolverMatch.route`` spells it."""
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern).lstrip("^")
        if hasattr(entry, "url_patterns"):
            yield from routes(entry, route)
        else:
            yield route
