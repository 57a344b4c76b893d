"""The eligibility rules of SPEC §4 (requests_app.eligibility): pure, no database."""

import datetime
from dataclasses import replace
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from requests_app.eligibility import (
    CODES,
    EligibilityFacts,
    EligibilityReport,
    NotEligible,
    Policy,
    Reason,
    add_months,
    evaluate,
    format_date,
)

D = datetime.date
TODAY = D(2027, 6, 15)
# An agency contract asked about by the agency's owner; the agency is Top Rated.
AGENCY = {
    "agency_contract": True,
    "is_own_contract": False,
    "requester_agency_role": "owner",
    "agency_account_status": "active",
}


def facts(**changes):
    return EligibilityFacts(today=TODAY, contract_number="4410021", **changes)


def codes(changes=None, policy=None, **kw):
    return evaluate(facts(**(changes or {}), **kw), policy or Policy()).codes()


# --- the defaults -------------------------------------------------------------


def test_codes_are_the_spec_table_in_order():
    assert CODES == (
        "account_inactive",
        "not_your_contract",
        "agency_role_required",
        "agency_not_top_rated",
        "contract_not_ended",
        "elance_contract",
        "no_feedback",
        "already_removed",
        "request_open",
        "not_top_rated",
        "status_lost_suspension",
        "grace_expired",
        "screenshot_required",
        "cooldown_months",
        "cooldown_jobs",
        "perk_closed",
    )


def test_default_facts_describe_an_eligible_top_rated_freelancer():
    report = evaluate(facts(), Policy())
    assert report == EligibilityReport(reasons=(), cooldown_ends_on=None, jobs_needed=0, in_grace_window=False)
    assert report.eligible
    assert report.codes() == ()
    assert report.cooldown_summary == ""


def test_policy_defaults_match_the_settings_table():
    assert Policy() == Policy(cooldown_months=3, cooldown_jobs=10, grace_days=14, end_date=None)
    assert evaluate(facts()).eligible  # the policy argument defaults to Policy()


@pytest.mark.parametrize("role", ["owner", "business_manager", "admin"])
def test_agency_owner_business_manager_and_admin_may_ask(role):
    report = evaluate(facts(**AGENCY | {"requester_agency_role": role}))
    assert report.eligible


# --- one row per code: these facts trigger exactly that code ----------------------

ONE_CODE = [
    # (id, changes, policy or None, the only code expected)
    ("account_inactive:requester-inactive", {"requester_account_status": "inactive"}, None, "account_inactive"),
    ("account_inactive:requester-suspended", {"requester_account_status": "suspended"}, None, "account_inactive"),
    ("account_inactive:agency-suspended", {**AGENCY, "agency_account_status": "suspended"}, None, "account_inactive"),
    (
        "account_inactive:both",
        {**AGENCY, "agency_account_status": "inactive", "requester_account_status": "inactive"},
        None,
        "account_inactive",
    ),
    ("not_your_contract:someone-elses", {"is_own_contract": False}, None, "not_your_contract"),
    ("not_your_contract:unknown", {"contract_found": False, "is_own_contract": False}, None, "not_your_contract"),
    (
        "not_your_contract:agency-without-membership",
        {**AGENCY, "requester_agency_role": None},
        None,
        "not_your_contract",
    ),
    (
        "not_your_contract:agency-contract-freelancer-left-agency",
        {**AGENCY, "requester_agency_role": None, "is_own_contract": True},
        None,
        "not_your_contract",
    ),
    ("agency_role_required:member", {**AGENCY, "requester_agency_role": "member"}, None, "agency_role_required"),
    ("agency_not_top_rated:never", {**AGENCY, "subject_top_rated_now": False}, None, "agency_not_top_rated"),
    (
        "agency_not_top_rated:lost-other",
        {**AGENCY, "subject_top_rated_now": False, "status_lost_on": D(2027, 6, 10), "status_loss_reason": "other"},
        None,
        "agency_not_top_rated",
    ),
    ("contract_not_ended", {"contract_ended": False}, None, "contract_not_ended"),
    ("elance_contract", {"platform": "elance"}, None, "elance_contract"),
    ("no_feedback", {"has_feedback": False}, None, "no_feedback"),
    ("already_removed", {"already_removed": True}, None, "already_removed"),
    ("request_open:subject", {"subject_open_regular_request": True}, None, "request_open"),
    ("request_open:contract", {"contract_open_request": True}, None, "request_open"),
    (
        "request_open:contract-special-offer",
        {"contract_open_request": True, "is_special_offer": True},
        None,
        "request_open",
    ),
    ("request_open:agency", {**AGENCY, "subject_open_regular_request": True}, None, "request_open"),
    ("not_top_rated:never", {"subject_top_rated_now": False}, None, "not_top_rated"),
    (
        "not_top_rated:lost-other",
        {"subject_top_rated_now": False, "status_lost_on": D(2027, 6, 10), "status_loss_reason": "other"},
        None,
        "not_top_rated",
    ),
    (
        "status_lost_suspension:suspension",
        {"subject_top_rated_now": False, "status_lost_on": D(2027, 6, 10), "status_loss_reason": "suspension"},
        None,
        "status_lost_suspension",
    ),
    (
        "status_lost_suspension:tos",
        {"subject_top_rated_now": False, "status_lost_on": D(2027, 6, 14), "status_loss_reason": "tos_violation"},
        None,
        "status_lost_suspension",
    ),
    (
        "status_lost_suspension:agency",
        {
            **AGENCY,
            "subject_top_rated_now": False,
            "status_lost_on": D(2027, 6, 10),
            "status_loss_reason": "suspension",
        },
        None,
        "status_lost_suspension",
    ),
    (
        "grace_expired",
        {"subject_top_rated_now": False, "status_lost_on": D(2027, 5, 1), "status_loss_reason": "jss_dip"},
        None,
        "grace_expired",
    ),
    (
        "grace_expired:agency",
        {**AGENCY, "subject_top_rated_now": False, "status_lost_on": D(2027, 5, 1), "status_loss_reason": "jss_dip"},
        None,
        "grace_expired",
    ),
    (
        "screenshot_required",
        {"subject_top_rated_now": False, "status_lost_on": D(2027, 6, 10), "status_loss_reason": "jss_dip"},
        None,
        "screenshot_required",
    ),
    (
        "cooldown_months",
        {"last_counted_request_submitted_on": D(2027, 5, 1), "upwork_jobs_ended_since": 12},
        None,
        "cooldown_months",
    ),
    (
        "cooldown_jobs",
        {"last_counted_request_submitted_on": D(2026, 12, 1), "upwork_jobs_ended_since": 3},
        None,
        "cooldown_jobs",
    ),
    ("perk_closed", {}, Policy(end_date=D(2027, 6, 14)), "perk_closed"),
]


@pytest.mark.parametrize(("changes", "policy", "code"), [row[1:] for row in ONE_CODE], ids=[row[0] for row in ONE_CODE])
def test_one_rule_one_code(changes, policy, code):
    report = evaluate(facts(**changes), policy or Policy())
    assert set(report.codes()) == {code}
    assert report.codes() == (code,)
    assert not report.eligible
    (reason,) = report.reasons
    assert reason.code == code
    assert reason.message.endswith(".")
    assert "_" not in reason.message  # plain English, never a code


def test_every_code_has_a_row():
    assert {row[3] for row in ONE_CODE} == set(CODES)


# --- not your contract: nothing about the contract leaks ------------------------


def test_unknown_contract_message():
    (reason,) = evaluate(facts(contract_found=False)).reasons
    assert reason == Reason("not_your_contract", "We could not find a contract with ID 4410021 among your contracts.")


def test_unknown_contract_message_without_a_number():
    report = evaluate(EligibilityFacts(today=TODAY, contract_found=False))
    assert report.reasons[0].message == "We could not find that contract among your contracts."


BAD_CONTRACT_FACTS = {
    "contract_ended": False,
    "platform": "elance",
    "has_feedback": False,
    "already_removed": True,
    "contract_open_request": True,
    "subject_open_regular_request": True,
    "subject_top_rated_now": False,
    "status_lost_on": D(2027, 1, 1),
    "status_loss_reason": "suspension",
    "last_counted_request_submitted_on": D(2027, 6, 1),
    "agency_account_status": "suspended",
}


@pytest.mark.parametrize(
    "ownership",
    [
        {"contract_found": False},
        {"is_own_contract": False},
        {"agency_contract": True, "is_own_contract": False, "requester_agency_role": None},
        {"agency_contract": True, "is_own_contract": True, "requester_agency_role": None},
    ],
    ids=["unknown", "someone-elses", "other-agency", "former-agency"],
)
def test_someone_elses_contract_reveals_nothing_about_it(ownership):
    report = evaluate(facts(**BAD_CONTRACT_FACTS, **ownership))
    unknown = evaluate(facts(contract_found=False))
    assert report == unknown
    assert report.codes() == ("not_your_contract",)
    assert (report.cooldown_ends_on, report.jobs_needed, report.in_grace_window) == (None, 0, False)


def test_requester_level_reasons_are_still_given_for_an_unknown_contract():
    policy = Policy(end_date=D(2027, 1, 1))
    report = evaluate(facts(contract_found=False, requester_account_status="suspended"), policy)
    assert report.codes() == ("account_inactive", "not_your_contract", "perk_closed")
    assert report.reasons[0].message.startswith("Our records show your account is not active.")


def test_someone_elses_agency_being_inactive_is_not_reported():
    report = evaluate(facts(**AGENCY | {"requester_agency_role": None, "agency_account_status": "suspended"}))
    assert report.codes() == ("not_your_contract",)


# --- agencies ---------------------------------------------------------------------


def test_member_is_told_everything_else_too():
    report = evaluate(
        facts(**AGENCY | {"requester_agency_role": "member"}, subject_top_rated_now=False, contract_ended=False)
    )
    assert report.codes() == ("agency_role_required", "agency_not_top_rated", "contract_not_ended")
    assert "agency owner, business manager, or agency admin" in report.reasons[0].message


def test_agency_contract_never_reports_not_top_rated():
    report = evaluate(facts(**AGENCY, subject_top_rated_now=False))
    assert "not_top_rated" not in report.codes()
    assert "If you personally are Top Rated but your agency is not" in report.reasons[0].message


def test_agency_grace_window_needs_the_screenshot_too():
    changes = {
        **AGENCY,
        "subject_top_rated_now": False,
        "status_lost_on": D(2027, 6, 5),
        "status_loss_reason": "jss_dip",
    }
    assert codes(changes) == ("screenshot_required",)
    report = evaluate(facts(**changes, has_screenshot=True))
    assert report.eligible and report.in_grace_window


# --- Top Rated status and the grace window ---------------------------------------


def lost(days_ago, reason="jss_dip", **more):
    return facts(
        subject_top_rated_now=False,
        status_lost_on=TODAY - datetime.timedelta(days=days_ago),
        status_loss_reason=reason,
        **more,
    )


@pytest.mark.parametrize(
    ("days_ago", "screenshot", "expected", "in_grace"),
    [
        (0, False, ("screenshot_required",), True),
        (0, True, (), True),
        (13, True, (), True),
        (14, False, ("screenshot_required",), True),
        (14, True, (), True),  # exactly grace_days: still inside
        (15, True, ("grace_expired",), False),
        (15, False, ("grace_expired",), False),  # no screenshot asked once the window closed
        (400, True, ("grace_expired",), False),
    ],
)
def test_grace_window_edges(days_ago, screenshot, expected, in_grace):
    report = evaluate(lost(days_ago, has_screenshot=screenshot))
    assert report.codes() == expected
    assert report.in_grace_window is in_grace


def test_grace_days_come_from_the_policy():
    assert evaluate(lost(7, has_screenshot=True), Policy(grace_days=7)).eligible
    assert evaluate(lost(8, has_screenshot=True), Policy(grace_days=7)).codes() == ("grace_expired",)
    assert evaluate(lost(0, has_screenshot=True), Policy(grace_days=0)).eligible
    assert evaluate(lost(1, has_screenshot=True), Policy(grace_days=0)).codes() == ("grace_expired",)


@pytest.mark.parametrize("reason", ["suspension", "tos_violation"])
@pytest.mark.parametrize("days_ago", [0, 14, 15, 300])
def test_suspension_loss_has_no_grace_even_with_a_screenshot(reason, days_ago):
    report = evaluate(lost(days_ago, reason, has_screenshot=True))
    assert report.codes() == ("status_lost_suspension",)
    assert not report.in_grace_window


@pytest.mark.parametrize("days_ago", [0, 14, 300])
def test_loss_for_another_reason_has_no_grace(days_ago):
    report = evaluate(lost(days_ago, "other", has_screenshot=True))
    assert report.codes() == ("not_top_rated",)


def test_screenshot_is_irrelevant_while_top_rated():
    assert evaluate(facts(has_screenshot=False)).eligible
    # A stale loss date from an earlier period does not matter while Top Rated again.
    assert evaluate(facts(status_lost_on=D(2026, 1, 1), status_loss_reason="suspension")).eligible


def test_grace_messages_name_the_dates():
    (required,) = evaluate(lost(4)).reasons  # lost 11 June 2027
    assert "11 June 2027" in required.message and "25 June 2027" in required.message
    assert "screenshot of the email you received confirming you have lost your Top Rated status" in required.message
    (expired,) = evaluate(lost(20)).reasons  # lost 26 May 2027, window to 9 June 2027
    assert "26 May 2027" in expired.message and "9 June 2027" in expired.message


def test_suspension_message_uses_the_policy_words():
    (reason,) = evaluate(lost(3, "tos_violation")).reasons
    assert "suspension or Terms of Service violation" in reason.message


# --- cooldown ---------------------------------------------------------------------


def after(submitted_on, today, jobs=10, **more):
    return EligibilityFacts(
        today=today, last_counted_request_submitted_on=submitted_on, upwork_jobs_ended_since=jobs, **more
    )


@pytest.mark.parametrize(
    ("submitted_on", "today", "expected", "ends_on"),
    [
        (D(2027, 3, 15), D(2027, 6, 15), (), None),  # exactly 3 months: allowed from that day
        (D(2027, 3, 15), D(2027, 6, 14), ("cooldown_months",), D(2027, 6, 15)),
        (D(2027, 3, 15), D(2027, 6, 16), (), None),
        (D(2026, 11, 30), D(2027, 2, 27), ("cooldown_months",), D(2027, 2, 28)),  # clamped to February's end
        (D(2026, 11, 30), D(2027, 2, 28), (), None),
        (D(2027, 11, 30), D(2028, 2, 28), ("cooldown_months",), D(2028, 2, 29)),  # leap year
        (D(2027, 11, 30), D(2028, 2, 29), (), None),
        (D(2027, 11, 29), D(2028, 2, 28), ("cooldown_months",), D(2028, 2, 29)),
        (D(2027, 10, 31), D(2028, 1, 30), ("cooldown_months",), D(2028, 1, 31)),  # across the year
        (D(2027, 10, 31), D(2028, 1, 31), (), None),
        (D(2027, 3, 31), D(2027, 6, 29), ("cooldown_months",), D(2027, 6, 30)),
        (D(2027, 3, 31), D(2027, 6, 30), (), None),
    ],
)
def test_cooldown_months_edges(submitted_on, today, expected, ends_on):
    report = evaluate(after(submitted_on, today))
    assert report.codes() == expected
    assert report.cooldown_ends_on == ends_on


@pytest.mark.parametrize(
    ("jobs", "expected", "needed"),
    [(0, ("cooldown_jobs",), 10), (9, ("cooldown_jobs",), 1), (10, (), 0), (11, (), 0), (250, (), 0)],
)
def test_cooldown_jobs_edges(jobs, expected, needed):
    report = evaluate(after(D(2026, 1, 1), TODAY, jobs=jobs))
    assert report.codes() == expected
    assert report.jobs_needed == needed


def test_cooldown_numbers_come_from_the_policy():
    policy = Policy(cooldown_months=1, cooldown_jobs=2)
    assert evaluate(after(D(2027, 5, 15), TODAY, jobs=2), policy).eligible
    report = evaluate(after(D(2027, 5, 16), TODAY, jobs=1), policy)
    assert report.codes() == ("cooldown_months", "cooldown_jobs")
    assert (report.cooldown_ends_on, report.jobs_needed) == (D(2027, 6, 16), 1)
    assert evaluate(after(TODAY, TODAY, jobs=0), Policy(cooldown_months=0, cooldown_jobs=0)).eligible


def test_no_counted_request_means_no_cooldown():
    report = evaluate(facts(last_counted_request_submitted_on=None, upwork_jobs_ended_since=0))
    assert report.eligible and report.jobs_needed == 0 and report.cooldown_ends_on is None


def test_cooldown_messages_and_summary():
    report = evaluate(after(D(2027, 1, 14), D(2027, 3, 1), jobs=6))
    months, jobs = report.reasons
    assert months.message.startswith("You can request another removal from 14 April 2027")
    assert "14 January 2027" in months.message
    assert jobs.message.startswith("You need 4 more completed Upwork contracts")
    assert report.cooldown_summary == (
        "You can request another removal from 14 April 2027 and after 4 more completed Upwork contracts."
    )
    one_job = evaluate(after(D(2026, 1, 1), TODAY, jobs=9))
    assert one_job.reasons[0].message.startswith("You need 1 more completed Upwork contract ")
    assert one_job.cooldown_summary == "You can request another removal after 1 more completed Upwork contract."
    only_date = evaluate(after(D(2027, 5, 1), TODAY, jobs=10))
    assert only_date.cooldown_summary == "You can request another removal from 1 August 2027."


def test_agency_cooldown_message_speaks_of_the_agency():
    report = evaluate(facts(**AGENCY, last_counted_request_submitted_on=D(2026, 1, 1), upwork_jobs_ended_since=2))
    assert report.reasons[0].message.startswith("Your agency needs 8 more completed Upwork contracts")


# --- Special Offer contracts ------------------------------------------------------

IN_COOLDOWN_WITH_OPEN_REQUEST = {
    "subject_open_regular_request": True,
    "last_counted_request_submitted_on": D(2027, 6, 1),
    "upwork_jobs_ended_since": 0,
}


def test_regular_contract_in_cooldown_with_an_open_request():
    report = evaluate(facts(**IN_COOLDOWN_WITH_OPEN_REQUEST))
    assert report.codes() == ("request_open", "cooldown_months", "cooldown_jobs")
    assert (report.cooldown_ends_on, report.jobs_needed) == (D(2027, 9, 1), 10)


def test_special_offer_skips_request_open_for_other_contracts_and_both_cooldowns():
    report = evaluate(facts(**IN_COOLDOWN_WITH_OPEN_REQUEST, is_special_offer=True))
    assert report.eligible
    assert (report.cooldown_ends_on, report.jobs_needed) == (None, 0)


def test_special_offer_is_still_refused_when_this_contract_has_an_open_request():
    report = evaluate(facts(**IN_COOLDOWN_WITH_OPEN_REQUEST, is_special_offer=True, contract_open_request=True))
    assert report.codes() == ("request_open",)
    assert "4410021" in report.reasons[0].message


def test_special_offer_skips_nothing_else():
    changes = {"is_special_offer": True, "subject_top_rated_now": False, "platform": "elance", "has_feedback": False}
    assert codes(changes) == ("elance_contract", "no_feedback", "not_top_rated")
    assert codes({"is_special_offer": True}, Policy(end_date=D(2027, 1, 1))) == ("perk_closed",)


def test_open_request_for_the_contract_and_the_subject_is_one_reason():
    report = evaluate(facts(contract_open_request=True, subject_open_regular_request=True))
    assert report.codes() == ("request_open",)


# --- end date -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end_date", "expected"),
    [
        (None, ()),
        (D(2027, 6, 16), ()),
        (TODAY, ()),
        (D(2027, 6, 14), ("perk_closed",)),
        (D(2020, 1, 1), ("perk_closed",)),
    ],
    ids=["none", "tomorrow", "today", "yesterday", "long-ago"],
)
def test_perk_end_date(end_date, expected):
    assert codes(policy=Policy(end_date=end_date)) == expected


def test_perk_closed_message_names_the_date():
    (reason,) = evaluate(facts(), Policy(end_date=D(2027, 6, 1))).reasons
    assert "1 June 2027" in reason.message


# --- several rules at once: every one reported, in CODES order -----------------------


COMBINATIONS = [
    (
        {"contract_ended": False, "platform": "elance", "has_feedback": False},
        None,
        ("contract_not_ended", "elance_contract", "no_feedback"),
    ),
    (
        {
            "requester_account_status": "suspended",
            "subject_top_rated_now": False,
            "status_lost_on": D(2027, 6, 1),
            "status_loss_reason": "suspension",
            "already_removed": True,
        },
        None,
        ("account_inactive", "already_removed", "status_lost_suspension"),
    ),
    (
        {
            "subject_top_rated_now": False,
            "status_lost_on": D(2027, 6, 5),
            "status_loss_reason": "jss_dip",
            "last_counted_request_submitted_on": D(2027, 4, 1),
            "upwork_jobs_ended_since": 4,
        },
        Policy(end_date=D(2027, 6, 1)),
        ("screenshot_required", "cooldown_months", "cooldown_jobs", "perk_closed"),
    ),
    (
        {
            **AGENCY,
            "requester_agency_role": "member",
            "agency_account_status": "inactive",
            "subject_top_rated_now": False,
            "contract_open_request": True,
            "last_counted_request_submitted_on": D(2027, 1, 1),
        },
        None,
        ("account_inactive", "agency_role_required", "agency_not_top_rated", "request_open", "cooldown_jobs"),
    ),
    (
        {
            **AGENCY,
            "requester_account_status": "inactive",
            "agency_account_status": "suspended",
            "requester_agency_role": "member",
            "contract_ended": False,
            "platform": "elance",
            "has_feedback": False,
            "already_removed": True,
            "subject_open_regular_request": True,
            "subject_top_rated_now": False,
            "status_lost_on": D(2027, 3, 1),
            "status_loss_reason": "jss_dip",
            "last_counted_request_submitted_on": D(2027, 5, 1),
            "upwork_jobs_ended_since": 0,
        },
        Policy(end_date=D(2027, 1, 1)),
        (
            "account_inactive",
            "agency_role_required",
            "contract_not_ended",
            "elance_contract",
            "no_feedback",
            "already_removed",
            "request_open",
            "grace_expired",
            "cooldown_months",
            "cooldown_jobs",
            "perk_closed",
        ),
    ),
    (
        {
            "requester_account_status": "inactive",
            "contract_ended": False,
            "platform": "elance",
            "has_feedback": False,
            "already_removed": True,
            "subject_open_regular_request": True,
            "subject_top_rated_now": False,
            "last_counted_request_submitted_on": D(2027, 5, 1),
        },
        Policy(end_date=D(2027, 1, 1)),
        (
            "account_inactive",
            "contract_not_ended",
            "elance_contract",
            "no_feedback",
            "already_removed",
            "request_open",
            "not_top_rated",
            "cooldown_months",
            "cooldown_jobs",
            "perk_closed",
        ),
    ),
]


@pytest.mark.parametrize(("changes", "policy", "expected"), COMBINATIONS)
def test_every_failing_rule_is_reported_in_code_order(changes, policy, expected):
    report = evaluate(facts(**changes), policy or Policy())
    assert report.codes() == expected
    assert list(report.codes()) == sorted(report.codes(), key=CODES.index)


# --- messages ------------------------------------------------------------------------


ACCOUNT_DETAIL = (
    "This might be due to no account activity (earnings, payments, contracts, etc.) or because we had to "
    "suspend it. When we suspend an account we send an email explaining the reason and whether or not you "
    "can take steps to reverse the suspension. Please review that email for more details."
)


@pytest.mark.parametrize(
    ("changes", "opening"),
    [
        ({"requester_account_status": "inactive"}, "Our records show your account is not active."),
        ({"requester_account_status": "suspended"}, "Our records show your account is not active."),
        ({**AGENCY, "agency_account_status": "suspended"}, "Our records show your agency's account is not active."),
        (
            {**AGENCY, "agency_account_status": "inactive", "requester_account_status": "suspended"},
            "Our records show your account and your agency's account are not active.",
        ),
    ],
)
def test_account_inactive_uses_the_policy_words(changes, opening):
    (reason,) = evaluate(facts(**changes)).reasons
    assert reason.code == "account_inactive"
    assert reason.message == f"{opening} {ACCOUNT_DETAIL}"


def test_contract_specific_messages_name_the_contract():
    report = evaluate(facts(contract_ended=False, platform="elance", has_feedback=False, already_removed=True))
    for reason in report.reasons:
        assert "4410021" in reason.message, reason.code
    assert "Jobs performed on Elance are not eligible." in report.reasons[1].message


def test_messages_without_a_contract_number_still_read_well():
    report = evaluate(EligibilityFacts(today=TODAY, contract_ended=False))
    assert report.reasons[0].message.startswith("This contract is still active.")


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (D(2027, 3, 14), "14 March 2027"),
        (D(2027, 3, 4), "4 March 2027"),
        (D(2028, 2, 29), "29 February 2028"),
        (D(2026, 12, 1), "1 December 2026"),
    ],
)
def test_format_date(day, text):
    assert format_date(day) == text


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2027, 1, 31), 1, D(2027, 2, 28)),
        (D(2028, 1, 31), 1, D(2028, 2, 29)),
        (D(2027, 8, 31), 1, D(2027, 9, 30)),
        (D(2027, 12, 15), 3, D(2028, 3, 15)),
        (D(2026, 11, 30), 3, D(2027, 2, 28)),
        (D(2027, 5, 31), 0, D(2027, 5, 31)),
        (D(2027, 5, 31), -3, D(2027, 2, 28)),
        (D(2027, 5, 10), 24, D(2029, 5, 10)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


# --- NotEligible, Policy, validation -------------------------------------------------


def test_not_eligible_carries_every_reason():
    report = evaluate(facts(contract_ended=False, has_feedback=False))
    error = NotEligible.from_report(report)
    assert error.reasons == report.reasons
    assert error.report is report
    assert error.codes() == ("contract_not_ended", "no_feedback")
    text = str(error)
    assert text.startswith("Not eligible: [contract_not_ended] Contract 4410021 is still active.")
    assert "[no_feedback]" in text
    assert str(NotEligible([Reason("perk_closed", "Closed.")])) == "Not eligible: [perk_closed] Closed."
    assert isinstance(NotEligible(iter(report.reasons)).reasons, tuple)


def test_not_eligible_can_be_raised_and_caught():
    with pytest.raises(NotEligible) as caught:
        raise NotEligible(evaluate(facts(platform="elance")).reasons)
    assert caught.value.reasons[0].code == "elance_contract"


def test_policy_from_settings():
    settings = SimpleNamespace(
        PERK_COOLDOWN_MONTHS=6, PERK_COOLDOWN_JOBS=5, PERK_GRACE_DAYS=7, PERK_END_DATE=D(2028, 1, 1)
    )
    assert Policy.from_settings(settings) == Policy(6, 5, 7, D(2028, 1, 1))
    assert Policy.from_settings(SimpleNamespace()) == Policy()
    assert Policy.from_settings(SimpleNamespace(PERK_END_DATE="2028-01-31")).end_date == D(2028, 1, 31)
    assert Policy.from_settings(SimpleNamespace(PERK_END_DATE="")).end_date is None
    end = datetime.datetime(2028, 1, 31, 12, 0)
    assert Policy.from_settings(SimpleNamespace(PERK_END_DATE=end)).end_date == D(2028, 1, 31)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cooldown_months": -1},
        {"grace_days": "14"},
        {"cooldown_jobs": True},
        {"end_date": "2027-01-01"},
        {"end_date": datetime.datetime(2027, 1, 1)},
    ],
)
def test_policy_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        Policy(**kwargs)


@pytest.mark.parametrize(
    "changes",
    [
        {"requester_agency_role": "boss"},
        {"platform": "fiverr"},
        {"status_loss_reason": "dip"},
        {"upwork_jobs_ended_since": -1},
    ],
)
def test_facts_reject_unknown_values(changes):
    with pytest.raises(ValueError):
        facts(**changes)


def test_facts_and_report_are_frozen():
    with pytest.raises(AttributeError):
        facts().today = TODAY  # type: ignore[misc]
    with pytest.raises(AttributeError):
        evaluate(facts()).jobs_needed = 3  # type: ignore[misc]


# --- properties over arbitrary facts -------------------------------------------------

dates = st.dates(min_value=D(2020, 1, 1), max_value=D(2030, 12, 31))
any_facts = st.builds(
    EligibilityFacts,
    today=dates,
    contract_found=st.booleans(),
    contract_number=st.sampled_from(["", "4410021", "17"]),
    is_own_contract=st.booleans(),
    agency_contract=st.booleans(),
    requester_agency_role=st.sampled_from([None, "owner", "business_manager", "admin", "member"]),
    requester_account_status=st.sampled_from(["active", "inactive", "suspended"]),
    agency_account_status=st.sampled_from([None, "active", "inactive", "suspended"]),
    contract_ended=st.booleans(),
    platform=st.sampled_from(["upwork", "elance"]),
    has_feedback=st.booleans(),
    already_removed=st.booleans(),
    is_special_offer=st.booleans(),
    subject_open_regular_request=st.booleans(),
    contract_open_request=st.booleans(),
    subject_top_rated_now=st.booleans(),
    status_lost_on=st.none() | dates,
    status_loss_reason=st.sampled_from([None, "jss_dip", "suspension", "tos_violation", "other"]),
    has_screenshot=st.booleans(),
    last_counted_request_submitted_on=st.none() | dates,
    upwork_jobs_ended_since=st.integers(min_value=0, max_value=30),
)
policies = st.builds(
    Policy,
    cooldown_months=st.integers(0, 12),
    cooldown_jobs=st.integers(0, 20),
    grace_days=st.integers(0, 30),
    end_date=st.none() | dates,
)

STATUS_CODES = {
    "not_top_rated",
    "agency_not_top_rated",
    "status_lost_suspension",
    "grace_expired",
    "screenshot_required",
}


@given(any_facts, policies)
def test_report_is_well_formed(f, policy):
    report = evaluate(f, policy)
    found = report.codes()
    assert list(found) == sorted(set(found), key=CODES.index)  # CODES order, no duplicates
    assert report.eligible == (found == ())
    assert (report.cooldown_ends_on is not None) == ("cooldown_months" in found)
    assert (report.jobs_needed > 0) == ("cooldown_jobs" in found)
    assert len(STATUS_CODES & set(found)) <= 1
    assert not {"not_top_rated", "agency_not_top_rated"} <= set(found)
    if report.in_grace_window:
        assert not STATUS_CODES - {"screenshot_required"} & set(found)
    for reason in report.reasons:
        assert reason.message and reason.message.endswith("."), reason.code
    if report.cooldown_ends_on is not None:
        assert report.cooldown_ends_on > f.today


@given(any_facts, policies)
def test_special_offer_never_meets_a_cooldown_or_another_contracts_request(f, policy):
    report = evaluate(replace(f, is_special_offer=True, contract_open_request=False), policy)
    assert not {"cooldown_months", "cooldown_jobs", "request_open"} & set(report.codes())


@given(any_facts, policies)
def test_unknown_and_someone_elses_contract_look_the_same(f, policy):
    unknown = evaluate(replace(f, contract_found=False), policy)
    not_theirs = evaluate(replace(f, contract_found=True, agency_contract=False, is_own_contract=False), policy)
    agency_not_theirs = evaluate(
        replace(f, contract_found=True, agency_contract=True, requester_agency_role=None), policy
    )
    assert unknown == not_theirs == agency_not_theirs
    assert "not_your_contract" in unknown.codes()
    assert set(unknown.codes()) <= {"account_inactive", "not_your_contract", "perk_closed"}


@given(any_facts, policies)
def test_only_the_requesters_own_problems_make_an_eligible_report_ineligible(f, policy):
    report = evaluate(f, policy)
    if report.eligible:
        assert f.contract_found and f.requester_account_status == "active"
        assert f.contract_ended and f.platform == "upwork" and f.has_feedback and not f.already_removed


@given(dates, st.integers(-36, 36))
def test_add_months_lands_in_the_right_month_and_never_overshoots(day, months):
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day <= day.day
    assert result.day == day.day or (result + datetime.timedelta(days=1)).day == 1
