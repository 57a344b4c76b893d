"""A client's private feedback stays private: nothing a freelancer (or agency owner) can open is computed from one
contract's private score. Change only that score and every page they can see must come out byte for byte the same
(the CSRF token aside, which changes on every render)."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from requests_app import services
from tests import factories as f
from tests.clock import TODAY

pytestmark = pytest.mark.django_db

CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def ended(subject, *, days_ago, agency=None, private_score=10, rating="5.00"):
    contract = f.ContractFactory(
        freelancer=subject,
        agency=agency,
        started_on=TODAY - dt.timedelta(days=days_ago + 60),
        ended_on=TODAY - dt.timedelta(days=days_ago),
        total_charged=Decimal("900.00"),
        with_feedback=True,
    )
    contract.feedback.private_score = private_score
    contract.feedback.public_rating = Decimal(rating)
    contract.feedback.save()
    return contract


@pytest.fixture
def world():
    """alice, Top Rated, with her own contracts; dave owns the Top Rated agency Brightline, with its contracts.
    Each has a published score, an applied ticket and an open one."""
    alice = f.FreelancerFactory(top_rated=True, user__username="alice")
    dave = f.FreelancerFactory(top_rated=True, user__username="dave")
    agency = f.AgencyFactory(top_rated=True, name="Brightline Studio")
    f.AgencyMembershipFactory(agency=agency, freelancer=dave, owner=True)
    own = [ended(alice, days_ago=10 + 15 * i, private_score=9 if i % 2 else 10) for i in range(5)]
    agency_jobs = [ended(dave, agency=agency, days_ago=12 + 15 * i) for i in range(5)]
    agent = f.UserFactory(agent=True)
    for requester, contract in ((alice.user, own[0]), (dave.user, agency_jobs[0])):
        applied = services.submit_request(requester=requester, contract_number=contract.number, scope="jss_only")
        services.approve_request(applied, agent=agent)
        services.apply_exclusion(applied.pk)
    # A Special Offer contract may be asked for during the cooldown the applied ticket started.
    own[4].is_special_offer = True
    own[4].save(update_fields=["is_special_offer"])
    services.submit_request(requester=alice.user, contract_number=own[4].number, scope="hide_profile_and_jss")
    f.ScoreUpdateFactory(as_of=TODAY - dt.timedelta(days=5))
    f.ScoreSnapshotFactory(freelancer=alice, as_of=TODAY - dt.timedelta(days=5), score=96)
    f.ScoreSnapshotFactory(freelancer=None, agency=agency, as_of=TODAY - dt.timedelta(days=5), score=93)
    return {"alice": alice, "dave": dave, "agency": agency, "own": own, "agency_jobs": agency_jobs}


def pages(client, world, who):
    person = world[who]
    contracts = world["own"] if who == "alice" else world["agency_jobs"]
    client.force_login(person.user)
    urls = ["/contracts/", "/contracts/?page=1", "/requests/", "/requests/new/"]
    urls += [f"/requests/new/?contract={c.number}" for c in contracts]
    urls += [f"/requests/{t.ticket_number}/" for t in person.user.removal_requests_made.all()]
    urls += [f"/freelancers/{person.public_id}/", f"/agencies/{world['agency'].public_id}/"]
    urls += [f"/clients/{c.client.public_id}/" for c in contracts]
    seen = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        seen[url] = CSRF.sub(b"", response.content)
    client.logout()
    return seen


@pytest.mark.parametrize("who", ["alice", "dave"])
@pytest.mark.parametrize("which", [0, 1, 4])
@pytest.mark.parametrize("private_score", [0, 2, 9, None])
def test_one_contract_s_private_score_changes_nothing_a_freelancer_sees(client, world, who, which, private_score):
    before = pages(client, world, who)
    contract = (world["own"] if who == "alice" else world["agency_jobs"])[which]
    contract.feedback.private_score = private_score
    contract.feedback.save(update_fields=["private_score"])
    after = pages(client, world, who)
    assert len(before) >= 12
    for url in before:
        assert after[url] == before[url], f"{url} changed with one contract's private score"
