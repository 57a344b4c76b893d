"""Every database constraint of the data model refuses what it should (SPEC §3)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from jss.models import ScoreSnapshot
from marketplace.models import Contract, Feedback, Freelancer, TopRatedPeriod
from requests_app.models import RemovalRequest, RequestEvent
from tests import factories as f

pytestmark = pytest.mark.django_db

D = dt.date(2026, 1, 10)


def refused(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_top_rated_period_needs_exactly_one_subject():
    freelancer, agency = f.FreelancerFactory(), f.AgencyFactory()
    refused(lambda: TopRatedPeriod.objects.create(started_on=D))
    refused(lambda: TopRatedPeriod.objects.create(freelancer=freelancer, agency=agency, started_on=D))
    TopRatedPeriod.objects.create(freelancer=freelancer, started_on=D)
    TopRatedPeriod.objects.create(agency=agency, started_on=D)
    assert TopRatedPeriod.objects.count() == 2


def test_top_rated_period_rules():
    freelancer = f.FreelancerFactory()
    refused(lambda: TopRatedPeriod.objects.create(freelancer=freelancer, started_on=D, ended_on=D))  # no reason
    refused(lambda: TopRatedPeriod.objects.create(freelancer=freelancer, started_on=D, loss_reason="jss_dip"))
    refused(
        lambda: TopRatedPeriod.objects.create(
            freelancer=freelancer, started_on=D, ended_on=D - dt.timedelta(days=1), loss_reason="jss_dip"
        )
    )
    refused(lambda: TopRatedPeriod.objects.create(freelancer=freelancer, started_on=D, ended_on=D, loss_reason="bored"))
    TopRatedPeriod.objects.create(freelancer=freelancer, started_on=D)
    refused(lambda: TopRatedPeriod.objects.create(freelancer=freelancer, started_on=D + dt.timedelta(days=3)))
    assert TopRatedPeriod.objects.count() == 1


@pytest.mark.parametrize(
    "rating, ok",
    [
        (Decimal("1.00"), True),
        (Decimal("5.00"), True),
        (Decimal("0.99"), False),
        (Decimal("5.01"), False),
        (None, True),
    ],
)
def test_feedback_public_rating_between_1_and_5(rating, ok):
    contract = f.ContractFactory()
    create = lambda: Feedback.objects.create(contract=contract, public_rating=rating, private_score=None)  # noqa: E731
    if ok:
        create()
    else:
        refused(create)
    assert Feedback.objects.count() == (1 if ok else 0)


@pytest.mark.parametrize("score, ok", [(0, True), (10, True), (11, False), (None, True)])
def test_feedback_private_score_between_0_and_10(score, ok):
    contract = f.ContractFactory()
    create = lambda: Feedback.objects.create(contract=contract, private_score=score)  # noqa: E731
    if ok:
        create()
    else:
        refused(create)
    assert Feedback.objects.count() == (1 if ok else 0)


def test_feedback_one_per_contract_and_hidden_needs_time():
    contract = f.ContractFactory()
    Feedback.objects.create(contract=contract, private_score=5)
    refused(lambda: Feedback.objects.create(contract=contract, private_score=6))
    other = f.ContractFactory()
    refused(lambda: Feedback.objects.create(contract=other, hidden_on_profile=True))


@pytest.mark.parametrize(
    "changes",
    [
        {"number": "12AB"},
        {"number": ""},
        {"total_charged": Decimal("-1")},
        {"platform": "fiverr"},
        {"ended_on": dt.date(2025, 1, 1), "started_on": dt.date(2025, 2, 1)},
    ],
    ids=["letters", "empty", "negative-charge", "platform", "ends-before-start"],
)
def test_contract_constraints(changes):
    freelancer, client = f.FreelancerFactory(), f.ClientFactory()
    values = dict(number="555", title="t", freelancer=freelancer, client=client, started_on=D, ended_on=None)
    values.update(changes)
    refused(lambda: Contract.objects.create(**values))
    assert not Contract.objects.exists()


def test_unique_numbers_and_public_ids():
    contract = f.ContractFactory(number="777")
    refused(lambda: f.ContractFactory(number="777"))
    refused(lambda: f.FreelancerFactory(public_id=contract.freelancer.public_id))
    agency = f.AgencyFactory()
    refused(lambda: f.AgencyFactory(public_id=agency.public_id))
    refused(lambda: f.ClientFactory(public_id=contract.client.public_id))
    f.AgencyMembershipFactory(agency=agency, freelancer=contract.freelancer)
    refused(lambda: f.AgencyMembershipFactory(agency=agency, freelancer=contract.freelancer, role="admin"))


@pytest.mark.parametrize("field, value", [("profile_completeness", 101), ("account_status", "banned")])
def test_freelancer_constraints(field, value):
    user = f.UserFactory()
    refused(lambda: Freelancer.objects.create(user=user, name="x", public_id="x", **{field: value}))


def test_score_snapshot_constraints():
    freelancer, agency = f.FreelancerFactory(), f.AgencyFactory()
    refused(lambda: ScoreSnapshot.objects.create(as_of=D, score=50))
    refused(lambda: ScoreSnapshot.objects.create(freelancer=freelancer, agency=agency, as_of=D, score=50))
    refused(lambda: ScoreSnapshot.objects.create(freelancer=freelancer, as_of=D, score=101))
    ScoreSnapshot.objects.create(freelancer=freelancer, as_of=D, score=90)
    refused(lambda: ScoreSnapshot.objects.create(freelancer=freelancer, as_of=D, score=91))
    ScoreSnapshot.objects.create(agency=agency, as_of=D, score=None)
    refused(lambda: ScoreSnapshot.objects.create(agency=agency, as_of=D, score=10))
    assert ScoreSnapshot.objects.count() == 2


def test_removal_request_constraints():
    request = f.RemovalRequestFactory()
    contract = request.contract
    # Second open request for the same contract (and subject).
    refused(lambda: f.RemovalRequestFactory(contract=contract))
    # Second open regular request of the same freelancer on another contract.
    other = f.ContractFactory(freelancer=contract.freelancer, with_feedback=True)
    refused(lambda: f.RemovalRequestFactory(contract=other))
    # ...but a Special Offer contract may have its own open request alongside.
    special = f.ContractFactory(freelancer=contract.freelancer, special_offer=True, with_feedback=True)
    f.RemovalRequestFactory(contract=special)
    refused(lambda: f.RemovalRequestFactory(ticket_number="12345678", contract=f.ContractFactory()))
    refused(lambda: f.RemovalRequestFactory(ticket_number=request.ticket_number, contract=f.ContractFactory()))
    refused(lambda: f.RemovalRequestFactory(status="rejected", rejection_reason=None, contract=f.ContractFactory()))
    refused(lambda: f.RemovalRequestFactory(status="applied", applied_at=None, contract=f.ContractFactory()))
    refused(lambda: f.RemovalRequestFactory(scope="everything", contract=f.ContractFactory()))
    assert RemovalRequest.objects.count() == 2


def test_agency_subject_one_open_regular_request():
    agency = f.AgencyFactory()
    first = f.ContractFactory(agency=agency, with_feedback=True)
    second = f.ContractFactory(agency=agency, with_feedback=True)
    f.RemovalRequestFactory(contract=first)
    refused(lambda: f.RemovalRequestFactory(contract=second))
    # The agency's request does not block the member's own (agency-less) contracts.
    own = f.ContractFactory(freelancer=first.freelancer, with_feedback=True)
    f.RemovalRequestFactory(contract=own)


def test_one_applied_request_per_contract():
    applied = f.RemovalRequestFactory(applied=True)
    refused(lambda: f.RemovalRequestFactory(contract=applied.contract, applied=True))


def test_event_kind_is_checked():
    request = f.RemovalRequestFactory()
    refused(lambda: RequestEvent.objects.create(request=request, kind="deleted", created_at=request.submitted_at))
