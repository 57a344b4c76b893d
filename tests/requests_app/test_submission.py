"""The freelancer's services on real rows: check_eligibility, submit_request, withdraw_request.

Every SPEC §4 code is produced from database rows (not hand-made facts), through both check_eligibility
and submit_request, and a refusal stores nothing. Histories (earlier requests) are made by the services."""

import datetime as dt
import itertools
import re

import pytest
from django.utils import timezone

from requests_app import services
from requests_app.eligibility import CODES, NotEligible, add_months
from requests_app.formatting import format_date
from requests_app.models import RemovalRequest, RequestEvent
from requests_app.services import submission
from tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = f.TODAY
NOW = timezone.make_aware(dt.datetime(TODAY.year, TODAY.month, TODAY.day, 12, 0))


def days_ago(n):
    return TODAY - dt.timedelta(days=n)


def at(days):
    return NOW - dt.timedelta(days=days)


def top_rated(**kwargs):
    return f.FreelancerFactory(top_rated=True, **kwargs)


def job(freelancer, **kwargs):
    """An ended Upwork contract with good feedback (the factory defaults), unless told otherwise."""
    kwargs.setdefault("with_feedback", True)
    return f.ContractFactory(freelancer=freelancer, **kwargs)


def agency_job(*, role="owner", agency_top_rated=True, agency_status="active", requester=None):
    agency = f.AgencyFactory(top_rated=agency_top_rated, account_status=agency_status)
    requester = requester or top_rated()
    f.AgencyMembershipFactory(agency=agency, freelancer=requester, role=role)
    worker = f.FreelancerFactory()
    contract = job(worker, agency=agency)
    return requester, contract


def counted_request(freelancer, *, days, agency=None):
    """A previous request through the real services: submitted `days` ago, approved and applied."""
    contract = job(freelancer, agency=agency, ended_on=days_ago(days + 5), started_on=days_ago(days + 60))
    requester = freelancer.user
    r = services.submit_request(requester=requester, contract_number=contract.number, scope="jss_only", now=at(days))
    agent = f.UserFactory(agent=True)
    services.approve_request(r, agent=agent, now=at(days))
    services.apply_exclusion(r.pk, now=at(days))
    r.refresh_from_db()
    assert r.status == "applied"
    return r


def ended_since(freelancer, count, *, days):
    """`count` Upwork contracts of the freelancer that ended in the `days` before today (after a request)."""
    for i in range(count):
        job(freelancer, ended_on=days_ago(max(1, days - 1 - i)), started_on=days_ago(days + 30))


# --- one case per code, from rows ----------------------------------------------------------------


def case_account_inactive():
    fl = top_rated(suspended=True)
    return fl.user, job(fl).number, {}


def case_account_inactive_agency():
    requester, contract = agency_job(agency_status="suspended")
    return requester.user, contract.number, {}


def case_not_your_contract():
    someone = top_rated()
    return top_rated().user, job(someone).number, {}


def case_not_your_contract_unknown():
    return top_rated().user, "99999999", {}


def case_agency_role_required():
    requester, contract = agency_job(role="member")
    return requester.user, contract.number, {}


def case_agency_not_top_rated():
    requester, contract = agency_job(agency_top_rated=False)
    return requester.user, contract.number, {}


def case_contract_not_ended():
    fl = top_rated()
    return fl.user, job(fl, active=True).number, {}


def case_contract_not_ended_without_feedback():
    # The usual active contract: no feedback yet either.
    fl = top_rated()
    return fl.user, job(fl, active=True, with_feedback=False).number, {}


def case_elance_contract():
    fl = top_rated()
    return fl.user, job(fl, elance=True).number, {}


def case_no_feedback():
    fl = top_rated()
    return fl.user, job(fl, with_feedback=False).number, {}


def case_no_feedback_empty_row():
    fl = top_rated()
    contract = job(fl, with_feedback=False)
    f.FeedbackFactory(contract=contract, empty=True)
    return fl.user, contract.number, {}


def case_already_removed():
    # A Special Offer contract (no cooldown) whose earlier request was applied.
    fl = top_rated()
    contract = job(fl, special_offer=True)
    f.JssExclusionFactory(contract=contract)
    return fl.user, contract.number, {}


def case_request_open_subject():
    fl = top_rated()
    services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="jss_only", now=at(1))
    return fl.user, job(fl).number, {}


def case_request_open_contract():
    fl = top_rated()
    contract = job(fl, special_offer=True)
    services.submit_request(requester=fl.user, contract_number=contract.number, scope="jss_only", now=at(1))
    return fl.user, contract.number, {}


def case_not_top_rated():
    fl = f.FreelancerFactory()
    return fl.user, job(fl).number, {}


def case_status_lost_suspension():
    fl = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=fl, lost_suspension=True)
    return fl.user, job(fl).number, {}


def case_status_lost_tos():
    fl = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=fl, ended_on=days_ago(3), loss_reason="tos_violation")
    return fl.user, job(fl).number, {}


def case_grace_expired():
    fl = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=fl, ended_on=days_ago(15), loss_reason="jss_dip")
    return fl.user, job(fl).number, {}


def case_screenshot_required():
    fl = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=fl, lost_jss_dip=True)
    return fl.user, job(fl).number, {}


def case_cooldown_months():
    fl = top_rated()
    counted_request(fl, days=40)
    ended_since(fl, 10, days=39)
    return fl.user, job(fl).number, {}


def case_cooldown_jobs():
    fl = top_rated()
    counted_request(fl, days=120)
    ended_since(fl, 2, days=100)
    # The contract asked about ended since too: 3 of the 10 jobs.
    return fl.user, job(fl, ended_on=days_ago(10)).number, {}


def case_perk_closed(settings):
    settings.PERK_END_DATE = days_ago(1)
    fl = top_rated()
    return fl.user, job(fl).number, {}


ONE_CODE = [
    (case_account_inactive, {"account_inactive"}),
    (case_account_inactive_agency, {"account_inactive"}),
    (case_not_your_contract, {"not_your_contract"}),
    (case_not_your_contract_unknown, {"not_your_contract"}),
    (case_agency_role_required, {"agency_role_required"}),
    (case_agency_not_top_rated, {"agency_not_top_rated"}),
    (case_contract_not_ended, {"contract_not_ended"}),
    (case_contract_not_ended_without_feedback, {"contract_not_ended", "no_feedback"}),
    (case_elance_contract, {"elance_contract"}),
    (case_no_feedback, {"no_feedback"}),
    (case_no_feedback_empty_row, {"no_feedback"}),
    (case_already_removed, {"already_removed"}),
    (case_request_open_subject, {"request_open"}),
    (case_request_open_contract, {"request_open"}),
    (case_not_top_rated, {"not_top_rated"}),
    (case_status_lost_suspension, {"status_lost_suspension"}),
    (case_status_lost_tos, {"status_lost_suspension"}),
    (case_grace_expired, {"grace_expired"}),
    (case_screenshot_required, {"screenshot_required"}),
    (case_cooldown_months, {"cooldown_months"}),
    (case_cooldown_jobs, {"cooldown_jobs"}),
    (case_perk_closed, {"perk_closed"}),
]


def build(case, settings):
    return case(settings) if case is case_perk_closed else case()


def stored():
    return RemovalRequest.objects.count(), RequestEvent.objects.count()


@pytest.mark.parametrize(("case", "expected"), ONE_CODE, ids=[c.__name__.removeprefix("case_") for c, _ in ONE_CODE])
def test_each_code_from_database_rows(case, expected, settings):
    requester, number, kwargs = build(case, settings)
    report = services.check_eligibility(requester=requester, contract_number=number, now=NOW, **kwargs)
    assert set(report.codes()) == expected
    assert not report.eligible
    assert all(reason.message for reason in report.reasons)

    before = stored()
    with pytest.raises(NotEligible) as refused:
        services.submit_request(requester=requester, contract_number=number, scope="jss_only", now=NOW, **kwargs)
    assert set(refused.value.codes()) == expected
    assert stored() == before


def test_every_code_is_covered_by_a_database_case():
    covered = set().union(*(codes for _, codes in ONE_CODE))
    assert covered == set(CODES)


def test_unknown_and_someone_elses_contract_get_the_same_answer():
    me = top_rated()
    other = job(top_rated())
    theirs = services.check_eligibility(requester=me.user, contract_number=other.number, now=NOW)
    nobody = services.check_eligibility(requester=me.user, contract_number="12345678", now=NOW)
    assert theirs.messages() == (f"We could not find a contract with ID {other.number} among your contracts.",)
    assert nobody.messages() == ("We could not find a contract with ID 12345678 among your contracts.",)


def test_screenshot_opens_the_grace_window():
    fl = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=fl, lost_jss_dip=True)
    contract = job(fl)
    number = contract.number
    report = services.check_eligibility(requester=fl.user, contract_number=number, has_screenshot=True, now=NOW)
    assert report.eligible and report.in_grace_window


def test_cooldown_report_says_when_the_next_request_is_possible():
    fl = top_rated()
    previous = counted_request(fl, days=40)
    ended_since(fl, 6, days=39)
    report = services.check_eligibility(requester=fl.user, contract_number=job(fl).number, now=NOW)
    # The contract asked about ended 20 days ago: 7 of the 10 jobs.
    assert report.codes() == ("cooldown_months", "cooldown_jobs")
    first_day = add_months(previous.submitted_at.date(), 3)
    assert report.cooldown_ends_on == first_day
    assert report.jobs_needed == 3
    assert report.cooldown_summary == (
        f"You can request another removal from {format_date(first_day)} and after 3 more completed Upwork contracts."
    )


def test_cooldown_ends_after_three_months_and_ten_jobs():
    fl = top_rated()
    counted_request(fl, days=100)
    ended_since(fl, 10, days=95)
    assert services.check_eligibility(requester=fl.user, contract_number=job(fl).number, now=NOW).eligible


def test_special_offer_skips_cooldown_and_other_open_requests():
    fl = top_rated()
    # Approved but not applied yet: open (one at a time) and counted (cooldown) at once.
    r = services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="jss_only", now=at(3))
    services.approve_request(r, agent=f.UserFactory(agent=True), now=at(2))
    regular = services.check_eligibility(requester=fl.user, contract_number=job(fl).number, now=NOW)
    assert regular.codes() == ("request_open", "cooldown_months", "cooldown_jobs")
    offer = job(fl, special_offer=True)
    r = services.submit_request(requester=fl.user, contract_number=offer.number, scope="hide_profile_and_jss", now=NOW)
    assert r.is_special_offer and r.status == "submitted"


def test_rejected_and_withdrawn_requests_do_not_start_a_cooldown():
    fl = top_rated()
    agent = f.UserFactory(agent=True)
    first = services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="jss_only", now=at(9))
    services.reject_request(first, agent=agent, reason="not_eligible", now=at(8))
    second = services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="jss_only", now=at(5))
    services.withdraw_request(second, requester=fl.user, now=at(4))
    assert services.check_eligibility(requester=fl.user, contract_number=job(fl).number, now=NOW).eligible


def test_agency_cooldown_is_the_agency_s_not_the_person_s():
    owner, contract = agency_job()
    counted_request(owner, days=30)  # the owner's own contract: their personal cooldown
    assert services.check_eligibility(requester=owner.user, contract_number=contract.number, now=NOW).eligible


# --- combinations: every failing rule reported together -------------------------------------------


def test_every_failing_rule_is_reported_together(settings):
    settings.PERK_END_DATE = days_ago(1)
    fl = f.FreelancerFactory(suspended=True)
    f.TopRatedPeriodFactory(freelancer=fl, lost_suspension=True)
    contract = job(fl, active=True, elance=True, with_feedback=False)
    report = services.check_eligibility(requester=fl.user, contract_number=contract.number, now=NOW)
    assert report.codes() == (
        "account_inactive",
        "contract_not_ended",
        "elance_contract",
        "no_feedback",
        "status_lost_suspension",
        "perk_closed",
    )
    with pytest.raises(NotEligible) as refused:
        services.submit_request(requester=fl.user, contract_number=contract.number, scope="jss_only", now=NOW)
    assert refused.value.codes() == report.codes()
    assert stored() == (0, 0)


def test_agency_member_hears_every_problem_at_once():
    member, contract = agency_job(role="member", agency_top_rated=False, agency_status="inactive")
    report = services.check_eligibility(requester=member.user, contract_number=contract.number, now=NOW)
    assert report.codes() == ("account_inactive", "agency_role_required", "agency_not_top_rated")
    assert "agency's account is not active" in report.reasons[0].message


def test_open_request_with_cooldown_and_grace_screenshot_together():
    fl = f.FreelancerFactory()
    # Lost Top Rated for a JSS dip 5 days ago, after a counted request 30 days ago, and one still open.
    f.TopRatedPeriodFactory(freelancer=fl, started_on=days_ago(400), ended_on=days_ago(5), loss_reason="jss_dip")
    contract = job(fl, ended_on=days_ago(60), started_on=days_ago(90))
    r = services.submit_request(requester=fl.user, contract_number=contract.number, scope="jss_only", now=at(30))
    # Approved 29 days ago and not applied yet: still open, and already counted.
    services.approve_request(r, agent=f.UserFactory(agent=True), now=at(29))
    report = services.check_eligibility(requester=fl.user, contract_number=job(fl).number, now=NOW)
    assert report.codes() == ("request_open", "screenshot_required", "cooldown_months", "cooldown_jobs")


# --- a stored request ---------------------------------------------------------------------------


def test_submit_stores_the_request_whole(settings):
    fl = top_rated()
    contract = job(fl)
    r = services.submit_request(requester=fl.user, contract_number=f" {contract.number} ", scope="jss_only", now=NOW)
    r.refresh_from_db()
    assert re.fullmatch(r"[1-9][0-9]{8}", r.ticket_number)
    assert (r.contract, r.freelancer, r.agency, r.requested_by) == (contract, fl, None, fl.user)
    assert r.status == "submitted" and r.scope == "jss_only" and not r.is_special_offer
    assert r.submitted_at == NOW
    assert r.sla_due_at == NOW + dt.timedelta(days=settings.PERK_SLA_DAYS)
    assert r.jss_outcome == "pending"
    assert not r.screenshot
    events = list(r.events.values_list("kind", "actor", "public"))
    assert events == [("submitted", fl.user.pk, True)]


def test_agency_request_belongs_to_the_agency():
    owner, contract = agency_job(role="business_manager")
    r = services.submit_request(
        requester=owner.user, contract_number=contract.number, scope="jss_only", agency=contract.agency, now=NOW
    )
    assert r.agency == contract.agency and r.freelancer == contract.freelancer and r.requested_by == owner.user


def test_choosing_another_agency_than_the_contract_s_is_refused():
    owner, contract = agency_job()
    other = f.AgencyFactory(top_rated=True)
    f.AgencyMembershipFactory(agency=other, freelancer=owner, owner=True)
    with pytest.raises(NotEligible) as refused:
        services.submit_request(
            requester=owner.user, contract_number=contract.number, scope="jss_only", agency=other, now=NOW
        )
    assert refused.value.codes() == ("not_your_contract",)


def test_unknown_scope_is_a_programming_error():
    fl = top_rated()
    with pytest.raises(ValueError, match="scope"):
        services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="everything", now=NOW)
    assert stored() == (0, 0)


def test_ticket_number_collision_is_retried(monkeypatch):
    fl = top_rated()
    taken = f.RemovalRequestFactory(ticket_number="555555555")
    numbers = iter(["555555555", "555555555", "777777777"])
    monkeypatch.setattr(submission, "_new_ticket_number", lambda: next(numbers))
    r = services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="jss_only", now=NOW)
    assert r.ticket_number == "777777777"
    assert RemovalRequest.objects.filter(pk=taken.pk, ticket_number="555555555").exists()


def test_ticket_numbers_are_random_not_sequential():
    numbers = []
    for _ in range(5):
        fl = top_rated()
        r = services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="jss_only")
        numbers.append(int(r.ticket_number))
    assert len(set(numbers)) == 5
    assert not all(b - a == 1 for a, b in itertools.pairwise(numbers))


def unsaved_request(contract, **kwargs):
    return RemovalRequest(
        contract=contract,
        freelancer=contract.freelancer,
        agency=contract.agency,
        requested_by=contract.freelancer.user,
        scope=kwargs.pop("scope", "jss_only"),
        submitted_at=NOW,
        sla_due_at=NOW,
        **kwargs,
    )


def test_the_database_s_one_open_request_rule_becomes_request_open():
    """What the losing side of a race meets, on either database: the insert itself violates the partial
    unique constraint (the threads of test_submission_race do it for real on PostgreSQL)."""
    fl = top_rated()
    contract = job(fl)
    services.submit_request(requester=fl.user, contract_number=contract.number, scope="jss_only", now=NOW)
    for duplicate in (unsaved_request(contract), unsaved_request(job(fl))):
        with pytest.raises(NotEligible) as refused:
            submission._insert_with_ticket_number(duplicate)
        assert refused.value.codes() == ("request_open",)
    assert RemovalRequest.objects.count() == 1


def test_any_other_integrity_error_is_not_disguised_as_a_refusal():
    from django.db import IntegrityError

    fl = top_rated()
    with pytest.raises(IntegrityError):
        submission._insert_with_ticket_number(unsaved_request(job(fl), scope="everything"))


# --- withdrawing ---------------------------------------------------------------------------------


def test_requester_withdraws_a_submitted_request():
    fl = top_rated()
    r = services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="jss_only", now=at(1))
    services.withdraw_request(r, requester=fl.user, now=NOW)
    r.refresh_from_db()
    assert r.status == "withdrawn"
    assert list(r.events.values_list("kind", "actor")) == [("submitted", fl.user.pk), ("withdrawn", fl.user.pk)]
    # The contract and the subject are free again.
    assert services.check_eligibility(requester=fl.user, contract_number=r.contract.number, now=NOW).eligible


def test_someone_else_cannot_withdraw():
    fl = top_rated()
    r = services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="jss_only", now=at(1))
    with pytest.raises(services.NotPermitted):
        services.withdraw_request(r, requester=top_rated().user, now=NOW)
    r.refresh_from_db()
    assert r.status == "submitted" and r.events.count() == 1


def test_an_approved_request_can_no_longer_be_withdrawn():
    fl = top_rated()
    r = services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="jss_only", now=at(2))
    services.approve_request(r, agent=f.UserFactory(agent=True), now=at(1))
    with pytest.raises(services.InvalidTransition, match="can no longer be withdrawn"):
        services.withdraw_request(r, requester=fl.user, now=NOW)
    r.refresh_from_db()
    assert r.status == "approved"
