"""The public work histories (SPEC §6): every job listed and counted, hidden feedback replaced by "This
feedback has been removed." with nothing of it left in the page, "JSS only" invisible, the client's page
keeping what the client wrote, and a fixed number of queries whatever the history's length."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from requests_app import services
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(dt.datetime(2026, 11, 26, 9, 0))
REMOVED = "This feedback has been removed."
TOP_RATED_BADGE = '<span class="badge top-rated">Top Rated</span>'


def feedback_on(contract, *, rating="2.70", comment=None, response=None):
    return f.FeedbackFactory(
        contract=contract,
        public_rating=Decimal(rating),
        public_comment=comment or f"Comment on {contract.number}: missed the deadline.",
        freelancer_response=response or f"Response on {contract.number}: the brief changed twice.",
        private_score=3,
    )


def apply_request(contract, *, scope, requester, capture):
    request = services.submit_request(requester=requester, contract_number=contract.number, scope=scope, now=NOW)
    with capture(execute=True):
        services.approve_request(request, agent=f.UserFactory(agent=True), now=NOW)
    request.refresh_from_db()
    assert request.status == "applied"
    return request


def page(client, name, public_id):
    response = client.get(reverse(f"marketplace:{name}", args=[public_id]))
    assert response.status_code == 200
    return response.content.decode()


def visible_text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def alice():
    return f.FreelancerFactory(top_rated=True, name="Alice Nguyen", public_id="alice-nguyen")


# --- freelancer -----------------------------------------------------------------------------------


def test_a_freelancers_page_lists_and_counts_every_job_without_login(client, alice):
    acme = f.ClientFactory(name="Acme Robotics", public_id="acme")
    ended = f.ContractFactory(freelancer=alice, client=acme, title="Warehouse dashboard")
    feedback_on(ended, rating="4.80", comment="Superb dashboard work.", response="Thank you, Acme!")
    f.ContractFactory(freelancer=alice, title="Ongoing retainer", active=True)
    f.ContractFactory(freelancer=alice, title="Quiet little job")  # ended, no feedback at all
    private_only = f.ContractFactory(freelancer=alice, title="Private feedback only")
    f.FeedbackFactory(contract=private_only, private_only=True, private_score=2)
    f.ContractFactory(title="Someone else's job")

    html = page(client, "freelancer_profile", "alice-nguyen")
    text = visible_text(html)

    assert "Alice Nguyen" in text and "4 jobs" in text
    for title in ("Warehouse dashboard", "Ongoing retainer", "Quiet little job", "Private feedback only"):
        assert title in text
    assert "Someone else" not in text
    assert "Superb dashboard work." in text and "Thank you, Acme!" in text and "4.80" in text
    assert 'aria-label="Rated 4.80 out of 5"' in html
    assert f'href="{reverse("marketplace:client_profile", args=["acme"])}"' in html
    assert "Present" in text and "In progress" in text
    assert text.count("No feedback given.") == 2  # the quiet job, and the one with only a private score
    assert TOP_RATED_BADGE in html
    assert "No Job Success Score yet" in text


def test_the_current_jss_is_the_latest_snapshot_and_top_rated_only_while_current(client, alice):
    f.ScoreSnapshotFactory(freelancer=alice, as_of=dt.date(2026, 11, 8), score=81, window="6m")
    f.ScoreSnapshotFactory(freelancer=alice, as_of=dt.date(2026, 11, 22), score=93, window="12m")
    html = page(client, "freelancer_profile", alice.public_id)
    text = visible_text(html)
    assert TOP_RATED_BADGE in html
    assert "93% Job Success" in text and "81%" not in text
    assert "JSS as of 22 Nov 2026" in text

    bob = f.FreelancerFactory(public_id="bob")
    f.TopRatedPeriodFactory(freelancer=bob, lost_jss_dip=True)
    f.ScoreSnapshotFactory(freelancer=bob, score=None, window=None)
    html = page(client, "freelancer_profile", "bob")
    text = visible_text(html)
    assert TOP_RATED_BADGE not in html
    assert "No Job Success Score yet" in text


def test_hide_from_profile_removes_rating_comment_and_response_from_the_page(
    client, alice, django_capture_on_commit_callbacks
):
    hidden = f.ContractFactory(freelancer=alice, title="The rough one")
    feedback_on(hidden, rating="2.70", comment="Never answered messages.", response="I was in hospital.")
    kept = f.ContractFactory(freelancer=alice, title="The good one")
    feedback_on(kept, rating="4.90", comment="Lovely work.", response="Thanks!")

    apply_request(
        hidden, scope="hide_profile_and_jss", requester=alice.user, capture=django_capture_on_commit_callbacks
    )
    html = page(client, "freelancer_profile", alice.public_id)
    text = visible_text(html)

    assert text.count(REMOVED) == 1
    assert "The rough one" in text and "2 jobs" in text  # still listed and counted
    # Nothing of it anywhere in the HTML: not in text, attributes or comments.
    for secret in ("Never answered messages.", "I was in hospital.", "2.70", "2.7"):
        assert secret not in html
    assert "Lovely work." in text and "Thanks!" in text and "4.90" in text
    removed_item = html[html.index("The rough one") : html.index(REMOVED)]
    assert "★" not in removed_item


def test_jss_only_changes_nothing_visible(client, alice, django_capture_on_commit_callbacks):
    contract = f.ContractFactory(freelancer=alice, title="The rough one")
    feedback_on(contract, rating="2.70", comment="Never answered messages.")
    f.ContractFactory(freelancer=alice, with_feedback=True)
    before = page(client, "freelancer_profile", alice.public_id)
    apply_request(contract, scope="jss_only", requester=alice.user, capture=django_capture_on_commit_callbacks)
    after = page(client, "freelancer_profile", alice.public_id)
    assert after == before
    assert REMOVED not in after and "Never answered messages." in after


def test_private_scores_are_never_read_for_a_public_page(client, alice):
    contract = f.ContractFactory(freelancer=alice, agency=None)
    feedback_on(contract)
    agency = f.AgencyFactory(public_id="studio")
    f.ContractFactory(agency=agency, freelancer=alice, with_feedback=True)
    for name, public_id in (
        ("freelancer_profile", alice.public_id),
        ("agency_profile", "studio"),
        ("client_profile", contract.client.public_id),
    ):
        with CaptureQueriesContext(connection) as queries:
            page(client, name, public_id)
        assert queries.captured_queries
        assert not [q["sql"] for q in queries.captured_queries if "private_score" in q["sql"]], name
        assert not [q["sql"] for q in queries.captured_queries if '"detail"' in q["sql"]], name


# --- agency ---------------------------------------------------------------------------------------


@pytest.fixture
def studio(alice):
    agency = f.AgencyFactory(top_rated=True, name="Brightline Studio", public_id="brightline")
    f.AgencyMembershipFactory(agency=agency, freelancer=alice, owner=True)
    erin = f.FreelancerFactory(name="Erin Walsh", public_id="erin")
    f.AgencyMembershipFactory(agency=agency, freelancer=erin)
    return agency, erin


def test_an_agencys_page_lists_its_contracts_by_every_member(client, alice, studio):
    agency, erin = studio
    f.ContractFactory(agency=agency, freelancer=alice, title="Design system", with_feedback=True)
    f.ContractFactory(agency=agency, freelancer=erin, title="Mobile app v2", with_feedback=True)
    f.ContractFactory(freelancer=alice, title="Alice on her own", with_feedback=True)
    f.ScoreSnapshotFactory(freelancer=None, agency=agency, score=91, window="24m")

    html = page(client, "agency_profile", "brightline")
    text = visible_text(html)
    assert "Brightline Studio" in text and "2 jobs" in text
    assert "Design system" in text and "Mobile app v2" in text and "Alice on her own" not in text
    assert TOP_RATED_BADGE in html and "91% Job Success" in text
    assert f'href="{reverse("marketplace:freelancer_profile", args=["erin"])}"' in html  # by whom, and members
    assert "Owner" in text


def test_agency_hide_from_profile_shows_the_removal_on_the_agency_and_on_the_members_page(
    client, alice, studio, django_capture_on_commit_callbacks
):
    agency, _ = studio
    contract = f.ContractFactory(agency=agency, freelancer=alice, title="Data warehouse setup")
    feedback_on(contract, rating="3.10", comment="Communication was patchy.", response="We fixed it later.")
    apply_request(
        contract, scope="hide_profile_and_jss", requester=alice.user, capture=django_capture_on_commit_callbacks
    )

    for name, public_id in (("agency_profile", "brightline"), ("freelancer_profile", alice.public_id)):
        html = page(client, name, public_id)
        assert REMOVED in html, name
        assert "Data warehouse setup" in html
        for secret in ("Communication was patchy.", "We fixed it later.", "3.10"):
            assert secret not in html, (name, secret)

    # On alice's page it sits under her agency work, not in her own count.
    text = visible_text(page(client, "freelancer_profile", alice.public_id))
    assert "0 jobs" in text and "Work for agencies 1 job" in text and "Member of Brightline Studio" in text


def test_agency_jss_only_changes_nothing_visible(client, alice, studio, django_capture_on_commit_callbacks):
    agency, _ = studio
    contract = f.ContractFactory(agency=agency, freelancer=alice, title="Data warehouse setup")
    feedback_on(contract, comment="Communication was patchy.")
    before = page(client, "agency_profile", "brightline")
    apply_request(contract, scope="jss_only", requester=alice.user, capture=django_capture_on_commit_callbacks)
    assert page(client, "agency_profile", "brightline") == before


# --- client ---------------------------------------------------------------------------------------


def test_the_clients_page_keeps_the_feedback_they_gave_for_both_scopes(
    client, alice, studio, django_capture_on_commit_callbacks
):
    agency, _ = studio
    acme = f.ClientFactory(name="Acme Robotics", public_id="acme")
    own = f.ContractFactory(freelancer=alice, client=acme, title="Own job")
    feedback_on(own, rating="2.70", comment="Never answered messages.", response="I was in hospital.")
    for_agency = f.ContractFactory(agency=agency, freelancer=alice, client=acme, title="Agency job")
    feedback_on(for_agency, rating="3.10", comment="Communication was patchy.")
    f.ContractFactory(client=acme, active=True, title="Still running")
    capture = django_capture_on_commit_callbacks
    apply_request(own, scope="hide_profile_and_jss", requester=alice.user, capture=capture)
    # A different subject (the agency; alice owns it), so no cooldown stands in the way.
    apply_request(for_agency, scope="hide_profile_and_jss", requester=alice.user, capture=capture)

    html = page(client, "client_profile", "acme")
    text = visible_text(html)
    assert REMOVED not in html
    assert "Acme Robotics" in text and "3 jobs" in text
    for shown in ("Never answered messages.", "I was in hospital.", "2.70", "Communication was patchy.", "3.10"):
        assert shown in text
    assert "Brightline Studio" in text and "Still running" in text
    assert f'href="{reverse("marketplace:freelancer_profile", args=[alice.public_id])}"' in html
    # ... while both profiles hide them.
    assert REMOVED in page(client, "freelancer_profile", alice.public_id)
    assert REMOVED in page(client, "agency_profile", "brightline")


# --- 404, methods, query budget --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["freelancer_profile", "agency_profile", "client_profile"])
def test_an_unknown_public_id_is_a_404(client, name):
    assert client.get(reverse(f"marketplace:{name}", args=["nobody-here"])).status_code == 404


def test_the_pages_are_read_only(client, alice):
    url = reverse("marketplace:freelancer_profile", args=[alice.public_id])
    assert client.post(url).status_code == 405
    assert client.head(url).status_code == 200


def _queries_for(client, name, public_id):
    with CaptureQueriesContext(connection) as queries:
        page(client, name, public_id)
    return len(queries.captured_queries)


@pytest.mark.parametrize("name", ["freelancer_profile", "agency_profile", "client_profile"])
def test_the_query_count_does_not_grow_with_the_history(client, name, django_assert_max_num_queries):
    freelancer = f.FreelancerFactory(top_rated=True, public_id="busy")
    agency = f.AgencyFactory(top_rated=True, public_id="busy-agency")
    f.AgencyMembershipFactory(agency=agency, freelancer=freelancer, owner=True)
    buyer = f.ClientFactory(public_id="busy-client")
    f.ScoreSnapshotFactory(freelancer=freelancer)
    f.ScoreSnapshotFactory(freelancer=None, agency=agency)
    public_id = {"freelancer_profile": "busy", "agency_profile": "busy-agency", "client_profile": "busy-client"}[name]
    agency_for = agency if name == "agency_profile" else None

    def add(n):
        for i in range(n):
            contract = f.ContractFactory(freelancer=freelancer, agency=agency_for, client=buyer)
            fb = feedback_on(contract)
            if i % 3 == 0:
                fb.hidden_on_profile, fb.hidden_at = True, NOW
                fb.save()

    add(5)
    at_5 = _queries_for(client, name, public_id)
    add(45)
    at_50 = _queries_for(client, name, public_id)
    assert at_5 == at_50
    with django_assert_max_num_queries(6):
        html = page(client, name, public_id)
    assert "50 jobs" in html
