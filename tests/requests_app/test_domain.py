"""The status flow and the request vocabulary (requests_app.domain): no database."""

import datetime as dt
import itertools

import pytest

from requests_app import domain
from requests_app.domain import (
    ACTIONS,
    APPLIED,
    APPROVED,
    FINAL_STATUSES,
    OPEN_STATUSES,
    REJECTED,
    STATUSES,
    SUBMITTED,
    TRANSITIONS,
    WAITING_ON_FREELANCER,
    WITHDRAWN,
    InvalidTransition,
    allowed_actions,
    can_transition,
    next_status,
)

# SPEC §3: submitted -> approved -> applied; submitted -> rejected; submitted <-> waiting_on_freelancer (a question,
# the reply); waiting -> rejected (no_reply by the sweep, or an agent closing it); open -> withdrawn by the requester.
ALLOWED = {
    (SUBMITTED, "approve"): APPROVED,
    (SUBMITTED, "reject"): REJECTED,
    (SUBMITTED, "request_info"): WAITING_ON_FREELANCER,
    (SUBMITTED, "withdraw"): WITHDRAWN,
    (WAITING_ON_FREELANCER, "reply"): SUBMITTED,
    (WAITING_ON_FREELANCER, "reject"): REJECTED,
    (WAITING_ON_FREELANCER, "withdraw"): WITHDRAWN,
    (APPROVED, "apply"): APPLIED,
}

ALL_PAIRS = list(itertools.product(STATUSES, ACTIONS))
REFUSED = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def test_status_values_are_the_spec_strings():
    assert (SUBMITTED, WAITING_ON_FREELANCER, APPROVED, APPLIED, REJECTED, WITHDRAWN) == (
        "submitted",
        "waiting_on_freelancer",
        "approved",
        "applied",
        "rejected",
        "withdrawn",
    )
    assert set(STATUSES) == {SUBMITTED, WAITING_ON_FREELANCER, APPROVED, APPLIED, REJECTED, WITHDRAWN}
    assert ACTIONS == ("approve", "reject", "request_info", "reply", "withdraw", "apply")


def test_open_and_final_statuses_partition_the_statuses():
    assert OPEN_STATUSES == (SUBMITTED, WAITING_ON_FREELANCER, APPROVED)
    # The SLA clock is paused while a ticket waits on the freelancer.
    assert domain.SLA_RUNNING_STATUSES == (SUBMITTED, APPROVED)
    assert set(FINAL_STATUSES) == {APPLIED, REJECTED, WITHDRAWN}
    assert set(OPEN_STATUSES) | set(FINAL_STATUSES) == set(STATUSES)
    assert not set(OPEN_STATUSES) & set(FINAL_STATUSES)


def test_transition_table_is_exactly_the_spec_flow():
    assert TRANSITIONS == ALLOWED


def test_pairs_cover_every_status_and_action():
    assert len(ALL_PAIRS) == 36
    assert len(REFUSED) == 28


@pytest.mark.parametrize(("current", "action", "expected"), [(*k, v) for k, v in ALLOWED.items()])
def test_allowed_transition(current, action, expected):
    assert next_status(current, action) == expected
    assert can_transition(current, action)
    assert action in allowed_actions(current)


@pytest.mark.parametrize(("current", "action"), REFUSED)
def test_refused_transition(current, action):
    assert not can_transition(current, action)
    assert action not in allowed_actions(current)
    with pytest.raises(InvalidTransition) as caught:
        next_status(current, action)
    error = caught.value
    assert (error.current, error.action) == (current, action)
    message = str(error)
    assert message.startswith("This request ")
    assert message.endswith(".")


@pytest.mark.parametrize("status", FINAL_STATUSES)
def test_nothing_leaves_a_final_status(status):
    assert allowed_actions(status) == ()


def test_no_transition_leaves_a_final_status_and_only_a_reply_returns_to_submitted():
    for (current, action), target in TRANSITIONS.items():
        assert current not in FINAL_STATUSES
        assert target != SUBMITTED or (current, action) == (WAITING_ON_FREELANCER, "reply")


@pytest.mark.parametrize(
    ("current", "action", "message"),
    [
        (APPROVED, "reject", "This request was already approved; it can no longer be rejected."),
        (APPROVED, "withdraw", "This request was already approved; it can no longer be withdrawn."),
        (APPROVED, "approve", "This request was already approved; it cannot be approved again."),
        (REJECTED, "approve", "This request was already rejected; it can no longer be approved."),
        (WITHDRAWN, "reject", "This request was already withdrawn; it can no longer be rejected."),
        (APPLIED, "apply", "This request was already applied; it cannot be applied again."),
        (APPLIED, "withdraw", "This request was already applied; it can no longer be withdrawn."),
        (SUBMITTED, "apply", "This request has not been approved yet; it cannot be applied."),
        (SUBMITTED, "reply", "This request is not waiting for your reply; there is nothing to answer."),
        (APPLIED, "reply", "This request is not waiting for your reply; there is nothing to answer."),
        (
            WAITING_ON_FREELANCER,
            "approve",
            "This request is waiting on the freelancer's reply; it cannot be approved until they answer.",
        ),
        (REJECTED, "request_info", "This request was already rejected; it can no longer be asked a question."),
    ],
)
def test_refusal_messages_read_as_plain_english(current, action, message):
    with pytest.raises(InvalidTransition, match="^" + message.replace(".", r"\.") + "$"):
        next_status(current, action)


@pytest.mark.parametrize(("current", "action"), [("lost", "approve"), (SUBMITTED, "undo"), (None, None)])
def test_unknown_status_or_action_is_refused(current, action):
    with pytest.raises(InvalidTransition) as caught:
        next_status(current, action)
    assert "not a" in str(caught.value)


def test_rejection_reasons_have_label_and_freelancer_message():
    assert set(domain.REJECTION_REASONS) == {"not_eligible", "screenshot_invalid", "duplicate", "no_reply", "other"}
    assert "no_reply" not in domain.AGENT_REJECTION_REASONS  # the sweep's, not an agent's
    for code, (label, message) in domain.REJECTION_REASONS.items():
        assert label and label[0].isupper(), code
        assert len(message) > 40 and message.endswith("."), code
    assert dict(domain.REJECTION_REASON_CHOICES) == {
        code: label for code, (label, _) in domain.REJECTION_REASONS.items()
    }


def test_screenshot_rejection_message_mentions_the_status_loss_email():
    _label, message = domain.REJECTION_REASONS[domain.SCREENSHOT_INVALID]
    assert "screenshot" in message
    assert "lost your Top Rated status" in message


def test_scopes_and_their_labels():
    assert domain.JSS_ONLY == "jss_only"
    assert domain.HIDE_PROFILE_AND_JSS == "hide_profile_and_jss"
    assert domain.SCOPE_LABELS == {
        "jss_only": "JSS only",
        "hide_profile_and_jss": "Hide from profile and JSS",
    }
    assert domain.SCOPE_CHOICES == (
        ("jss_only", "JSS only"),
        ("hide_profile_and_jss", "Hide from profile and JSS"),
    )


def test_the_models_take_their_choices_from_the_domain():
    from requests_app.models import OPEN, RejectionReason, Scope, Status

    assert [(value, label) for value, label in Status.choices] == [(s, domain.STATUS_LABELS[s]) for s in STATUSES]
    assert Scope.choices == list(domain.SCOPE_CHOICES)
    assert RejectionReason.choices == list(domain.REJECTION_REASON_CHOICES)
    assert OPEN == list(domain.OPEN_STATUSES)


NOON = dt.datetime(2026, 11, 26, 12, 0)
HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("due_in", "at_risk", "breached"),
    [
        (dt.timedelta(days=3), False, False),
        (dt.timedelta(days=2) + dt.timedelta(minutes=1), False, False),
        (dt.timedelta(days=2), True, False),  # the sweep's alert: PERK_SLA_WARNING_DAYS (5) after submission
        (HOUR, True, False),
        (dt.timedelta(0), False, True),  # the deadline itself is a breach
        (-HOUR, False, True),
    ],
)
def test_at_risk_and_breached_are_defined_once(due_in, at_risk, breached):
    window = domain.at_risk_window(sla_days=7, warning_days=5)
    assert window == dt.timedelta(days=2)
    due = NOON + due_in
    assert domain.is_at_risk(sla_due_at=due, now=NOON, window=window) is at_risk
    assert domain.is_breached(sla_due_at=due, now=NOON) is breached


def test_every_business_refusal_is_one_kind_of_exception():
    from requests_app.eligibility import NotEligible

    for refusal in (domain.InvalidTransition, domain.NotPermitted, domain.InvalidInput, NotEligible):
        assert issubclass(refusal, domain.Refused) and not issubclass(refusal, ValueError)
