"""SPEC §5, rule by rule: the pure JSS engine, no database.

Every expected value is worked out by hand in the row (weights in the comments are the
contract weights: 1 for <= $250, 1.25 for <= $1,000, 1.5 above, +1 per full 91 days paid).
"""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from jss.engine import (
    ALGORITHM_VERSION,
    ContractFacts,
    JssResult,
    compute,
    is_long_term,
    left_out_reason,
    outcome,
    reference_date,
    round_half_up,
    score_windows,
    weight,
    window_start,
)

AS_OF = date(2026, 3, 31)
# Window starts for AS_OF (exclusive): 3m 2025-12-31, 6m 2025-09-30, 12m 2025-03-31, 24m 2024-03-31.
IN_3M = date(2026, 3, 1)  # in every window
IN_6M = date(2025, 11, 1)  # 6m, 12m, 24m
IN_12M = date(2025, 6, 1)  # 12m, 24m
IN_24M = date(2024, 10, 1)  # 24m only
TOO_OLD = date(2024, 1, 1)  # no window
START = date(2025, 1, 1)


def facts(**overrides) -> ContractFacts:
    """An ended, short, $100 contract with a private 10: positive, weight 1, counted."""
    values = {
        "contract_id": 1,
        "client_id": 1,
        "started_on": date(2026, 2, 1),
        "ended_on": date(2026, 3, 1),
        "last_payment_on": date(2026, 2, 20),
        "total_charged": Decimal("100"),
        "private_score": 10,
    }
    values.update(overrides)
    return ContractFacts(**values)


def job(contract_id, client_id, kind, ended_on, *, total="100", paid_days=0, **overrides) -> ContractFacts:
    """An ended contract with the given outcome; paid_days from start to last payment (= end).

    A neutral job must stay under 90 paid days, or long-term would make it positive."""
    values = {
        "contract_id": contract_id,
        "client_id": client_id,
        "started_on": ended_on - timedelta(days=paid_days),
        "ended_on": ended_on,
        "last_payment_on": ended_on,
        "total_charged": Decimal(total),
        "private_score": {"positive": 10, "negative": 2, "neutral": 8}[kind],
    }
    values.update(overrides)
    return ContractFacts(**values)


# --- reference date, long-term -------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({}, date(2026, 3, 1), id="ended-uses-ended_on"),
        pytest.param({"last_payment_on": None}, date(2026, 3, 1), id="ended-never-paid-uses-ended_on"),
        pytest.param({"ended_on": None}, date(2026, 2, 20), id="active-uses-last_payment_on"),
        pytest.param({"ended_on": None, "last_payment_on": None}, None, id="active-never-paid-none"),
    ],
)
def test_reference_date(overrides, expected):
    assert reference_date(facts(**overrides)) == expected


@pytest.mark.parametrize(
    ("started_on", "last_payment_on", "expected"),
    [
        pytest.param(START, START + timedelta(days=90), True, id="exactly-90-days"),
        pytest.param(START, START + timedelta(days=89), False, id="89-days"),
        pytest.param(START, START + timedelta(days=400), True, id="400-days"),
        pytest.param(START, START, False, id="paid-on-start"),
        pytest.param(START, None, False, id="never-paid"),
    ],
)
def test_is_long_term(started_on, last_payment_on, expected):
    c = facts(started_on=started_on, last_payment_on=last_payment_on, ended_on=date(2026, 3, 1))
    assert is_long_term(c) is expected


# --- outcome, first match wins ---------------------------------------------------------

LONG_TERM = {"started_on": date(2025, 11, 1), "last_payment_on": date(2025, 11, 1) + timedelta(days=90)}
ALMOST_LONG_TERM = {"started_on": date(2025, 11, 1), "last_payment_on": date(2025, 11, 1) + timedelta(days=89)}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"disputed": True, "private_score": 10, "public_rating": Decimal("5")}, "negative", id="disputed"),
        pytest.param({"private_score": 6}, "negative", id="private-6"),
        pytest.param({"private_score": 0}, "negative", id="private-0"),
        pytest.param({"private_score": 7}, "neutral", id="private-7"),
        pytest.param({"private_score": 8, "public_rating": Decimal("5.00")}, "neutral", id="private-8-public-5"),
        pytest.param({"private_score": None, "public_rating": Decimal("3.99")}, "negative", id="public-3.99"),
        pytest.param({"private_score": None, "public_rating": Decimal("4.0")}, "neutral", id="public-4.0"),
        pytest.param({"private_score": 10, "public_rating": Decimal("3.5")}, "negative", id="private-10-public-3.5"),
        pytest.param({"private_score": 9}, "positive", id="private-9"),
        pytest.param({"private_score": 9, "public_rating": Decimal("4.0")}, "positive", id="private-9-public-4.0"),
        pytest.param({"private_score": None, "public_rating": Decimal("4.5")}, "positive", id="public-4.5"),
        pytest.param({"private_score": None, "public_rating": Decimal("4.49")}, "neutral", id="public-4.49"),
        pytest.param({"private_score": 7, **LONG_TERM}, "positive", id="long-term-private-7"),
        pytest.param(
            {"private_score": None, "public_rating": Decimal("4.0"), **LONG_TERM}, "positive", id="long-term-public-4.0"
        ),
        pytest.param({"private_score": 7, **ALMOST_LONG_TERM}, "neutral", id="89-days-private-7"),
        pytest.param({"private_score": 5, **LONG_TERM}, "negative", id="long-term-private-5"),
        pytest.param(
            {"ended_on": None, "started_on": date(2025, 9, 1), "last_payment_on": AS_OF - timedelta(days=180)},
            "negative",
            id="active-unpaid-180-days",
        ),
        pytest.param(
            {"ended_on": None, "started_on": date(2025, 9, 1), "last_payment_on": AS_OF - timedelta(days=179)},
            "positive",
            id="active-unpaid-179-days-private-10",
        ),
        pytest.param(
            {
                "ended_on": None,
                "started_on": date(2025, 9, 1),
                "last_payment_on": AS_OF - timedelta(days=179),
                "private_score": None,
            },
            "neutral",
            id="active-unpaid-179-days-no-feedback",
        ),
        pytest.param(
            {"started_on": date(2025, 5, 1), "last_payment_on": date(2025, 6, 1), "ended_on": date(2025, 6, 1)},
            "positive",
            id="ended-unpaid-300-days-is-not-the-active-rule",
        ),
        pytest.param(
            {
                "ended_on": None,
                "started_on": date(2025, 11, 1),
                "last_payment_on": date(2026, 3, 1),
                "private_score": None,
            },
            "positive",
            id="active-long-term-no-feedback",
        ),
        pytest.param({"private_score": None}, "neutral", id="nothing-at-all"),
    ],
)
def test_outcome(overrides, expected):
    assert outcome(facts(**overrides), AS_OF) == expected


# --- left out ------------------------------------------------------------------------

NO_FEEDBACK = {"private_score": None, "public_rating": None}
ACTIVE_180 = {"ended_on": None, "started_on": date(2025, 9, 1), "last_payment_on": AS_OF - timedelta(days=180)}
ACTIVE_179 = {"ended_on": None, "started_on": date(2025, 9, 1), "last_payment_on": AS_OF - timedelta(days=179)}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"ended_on": None, "last_payment_on": None}, "active_never_paid", id="active-never-paid"),
        pytest.param(
            {"ended_on": None, "last_payment_on": None, "client_flagged": True, "private_score": 2},
            "active_never_paid",
            id="active-never-paid-before-flagged",
        ),
        pytest.param(NO_FEEDBACK, "no_feedback", id="ended-no-feedback"),
        pytest.param({**NO_FEEDBACK, "last_payment_on": None}, "no_feedback", id="ended-no-feedback-never-paid"),
        pytest.param({**NO_FEEDBACK, **LONG_TERM}, None, id="ended-no-feedback-long-term-90-days"),
        pytest.param({**NO_FEEDBACK, **ALMOST_LONG_TERM}, "no_feedback", id="ended-no-feedback-89-days"),
        pytest.param({**NO_FEEDBACK, "disputed": True}, "no_feedback", id="ended-no-feedback-disputed"),
        pytest.param({**NO_FEEDBACK, "client_flagged": True}, "no_feedback", id="no-feedback-before-flagged"),
        pytest.param({**NO_FEEDBACK, "ended_on": None}, None, id="active-paid-no-feedback-counts"),
        pytest.param({"private_score": 8}, None, id="private-only"),
        pytest.param({"private_score": None, "public_rating": Decimal("4.2")}, None, id="public-only"),
        pytest.param({"total_charged": Decimal("0")}, "zero_charged_positive", id="positive-$0"),
        pytest.param({"total_charged": Decimal("0.01")}, None, id="positive-$0.01"),
        pytest.param({"total_charged": Decimal("0"), "private_score": 2}, None, id="negative-$0-counts"),
        pytest.param({"total_charged": Decimal("0"), "private_score": 8}, None, id="neutral-$0-counts"),
        pytest.param({"private_score": 2, "client_flagged": True}, "flagged_client", id="negative-flagged"),
        pytest.param({"private_score": 8, "client_flagged": True}, "flagged_client", id="neutral-flagged"),
        pytest.param({"private_score": 8, "client_suspended_for_tos": True}, "flagged_client", id="neutral-suspended"),
        pytest.param({"disputed": True, "client_suspended_for_tos": True}, "flagged_client", id="negative-suspended"),
        pytest.param({"client_flagged": True}, None, id="positive-flagged-counts"),
        pytest.param(
            {"client_flagged": True, "total_charged": Decimal("0")}, "zero_charged_positive", id="positive-flagged-$0"
        ),
        pytest.param({**ACTIVE_180, "client_flagged": True}, "flagged_client", id="active-180-days-flagged"),
        pytest.param({**ACTIVE_179, "client_flagged": True}, None, id="active-179-days-positive-flagged"),
    ],
)
def test_left_out_reason(overrides, expected):
    assert left_out_reason(facts(**overrides), AS_OF) == expected


# --- weight --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "paid_days", "expected"),
    [
        pytest.param("0", None, "1", id="$0-no-payment"),
        pytest.param("250", None, "1", id="$250"),
        pytest.param("250.01", None, "1.25", id="$250.01"),
        pytest.param("1000", None, "1.25", id="$1000"),
        pytest.param("1000.01", None, "1.5", id="$1000.01"),
        pytest.param("100", 0, "1", id="paid-on-start"),
        pytest.param("100", 90, "1", id="90-days"),
        pytest.param("100", 91, "2", id="91-days"),
        pytest.param("100", 181, "2", id="181-days"),
        pytest.param("100", 182, "3", id="182-days"),
        pytest.param("5000", 182, "3.5", id="$5000-182-days"),
        pytest.param("500", 273, "4.25", id="$500-273-days"),
        pytest.param("100", 637, "8", id="7-periods-exactly-8"),
        pytest.param("5000", 546, "7.5", id="$5000-6-periods"),
        pytest.param("5000", 637, "8", id="8.5-capped"),
        pytest.param("500", 637, "8", id="8.25-capped"),
        pytest.param("100", 2000, "8", id="21-periods-capped"),
        pytest.param("5000", None, "1.5", id="long-contract-never-paid"),
    ],
)
def test_weight(total, paid_days, expected):
    paid = None if paid_days is None else START + timedelta(days=paid_days)
    c = facts(started_on=START, ended_on=date(2026, 3, 1), last_payment_on=paid, total_charged=Decimal(total))
    assert weight(c) == Decimal(expected)


# --- windows -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "months", "expected"),
    [
        pytest.param(date(2026, 3, 31), 1, date(2026, 2, 28), id="31-mar-minus-1"),
        pytest.param(date(2026, 3, 31), 3, date(2025, 12, 31), id="31-mar-minus-3"),
        pytest.param(date(2026, 3, 31), 6, date(2025, 9, 30), id="31-mar-minus-6"),
        pytest.param(date(2026, 3, 31), 12, date(2025, 3, 31), id="31-mar-minus-12"),
        pytest.param(date(2026, 3, 31), 24, date(2024, 3, 31), id="31-mar-minus-24"),
        pytest.param(date(2025, 8, 31), 3, date(2025, 5, 31), id="31-aug-minus-3"),
        pytest.param(date(2025, 8, 31), 6, date(2025, 2, 28), id="31-aug-minus-6"),
        pytest.param(date(2024, 5, 31), 3, date(2024, 2, 29), id="leap-feb"),
        pytest.param(date(2024, 2, 29), 12, date(2023, 2, 28), id="29-feb-minus-12"),
        pytest.param(date(2024, 2, 29), 24, date(2022, 2, 28), id="29-feb-minus-24"),
        pytest.param(date(2024, 3, 30), 1, date(2024, 2, 29), id="30-mar-leap"),
        pytest.param(date(2025, 3, 30), 1, date(2025, 2, 28), id="30-mar"),
        pytest.param(date(2026, 1, 15), 1, date(2025, 12, 15), id="across-new-year"),
        pytest.param(date(2026, 1, 31), 1, date(2025, 12, 31), id="31-jan-minus-1"),
        pytest.param(date(2026, 2, 10), 3, date(2025, 11, 10), id="mid-month"),
        pytest.param(date(2025, 12, 31), 12, date(2024, 12, 31), id="31-dec-minus-12"),
    ],
)
def test_window_start(as_of, months, expected):
    assert window_start(as_of, months) == expected


@pytest.mark.parametrize(
    ("as_of", "ended_on", "in_3m", "in_6m", "in_12m", "in_24m"),
    [
        pytest.param(date(2026, 3, 31), date(2026, 3, 31), 1, 1, 1, 1, id="on-as_of-in"),
        pytest.param(date(2026, 3, 31), date(2026, 4, 1), 0, 0, 0, 0, id="after-as_of-out"),
        pytest.param(date(2026, 3, 31), date(2026, 1, 1), 1, 1, 1, 1, id="day-after-3m-start"),
        pytest.param(date(2026, 3, 31), date(2025, 12, 31), 0, 1, 1, 1, id="on-3m-start"),
        pytest.param(date(2026, 3, 31), date(2025, 10, 1), 0, 1, 1, 1, id="day-after-6m-start"),
        pytest.param(date(2026, 3, 31), date(2025, 9, 30), 0, 0, 1, 1, id="on-6m-start"),
        pytest.param(date(2026, 3, 31), date(2025, 4, 1), 0, 0, 1, 1, id="day-after-12m-start"),
        pytest.param(date(2026, 3, 31), date(2025, 3, 31), 0, 0, 0, 1, id="on-12m-start"),
        pytest.param(date(2026, 3, 31), date(2024, 4, 1), 0, 0, 0, 1, id="day-after-24m-start"),
        pytest.param(date(2026, 3, 31), date(2024, 3, 31), 0, 0, 0, 0, id="on-24m-start"),
        pytest.param(date(2025, 8, 31), date(2025, 6, 1), 1, 1, 1, 1, id="aug-day-after-3m-start"),
        pytest.param(date(2025, 8, 31), date(2025, 5, 31), 0, 1, 1, 1, id="aug-on-3m-start"),
        pytest.param(date(2025, 8, 31), date(2025, 3, 1), 0, 1, 1, 1, id="aug-day-after-6m-start-28-feb"),
        pytest.param(date(2025, 8, 31), date(2025, 2, 28), 0, 0, 1, 1, id="aug-on-6m-start-28-feb"),
        pytest.param(date(2025, 8, 31), date(2024, 8, 31), 0, 0, 0, 1, id="aug-on-12m-start"),
        pytest.param(date(2025, 8, 31), date(2023, 8, 31), 0, 0, 0, 0, id="aug-on-24m-start"),
        pytest.param(date(2024, 5, 31), date(2024, 2, 29), 0, 1, 1, 1, id="leap-on-3m-start"),
        pytest.param(date(2024, 5, 31), date(2024, 3, 1), 1, 1, 1, 1, id="leap-day-after-3m-start"),
    ],
)
def test_window_membership(as_of, ended_on, in_3m, in_6m, in_12m, in_24m):
    c = facts(started_on=ended_on - timedelta(days=10), ended_on=ended_on, last_payment_on=ended_on)
    windows = score_windows([c], as_of)
    counts = tuple(windows[name].contracts for name in ("3m", "6m", "12m", "24m"))
    assert counts == (in_3m, in_6m, in_12m, in_24m)


def test_active_contract_is_placed_by_its_last_payment():
    # Active, last paid 2025-12-31 = the 3m start: out of 3m, in 6m.
    c = facts(ended_on=None, started_on=date(2025, 12, 1), last_payment_on=date(2025, 12, 31))
    windows = score_windows([c], AS_OF)
    assert [windows[name].contracts for name in ("3m", "6m", "12m", "24m")] == [0, 1, 1, 1]


def test_score_windows_figures_and_excluded():
    contracts = [
        job(1, 1, "positive", IN_3M),  # 1
        job(2, 2, "negative", IN_6M, total="5000"),  # 1.5
        job(3, 3, "neutral", IN_12M, total="500"),  # 1.25
    ]
    windows = score_windows(contracts, AS_OF)
    six = windows["6m"]
    assert (six.start, six.contracts, six.clients, six.qualifies) == (date(2025, 9, 30), 2, 2, True)
    assert (six.positive_weight, six.negative_weight, six.total_weight) == (
        Decimal("1"),
        Decimal("1.5"),
        Decimal("2.5"),
    )
    assert six.score == Decimal("0")  # 100 x (1 - 1.5) / 2.5 clamped
    assert windows["12m"].score == Decimal("0")  # 100 x (1 - 1.5) / 3.75 clamped
    assert windows["3m"].qualifies is False and windows["3m"].score is None
    assert windows["trending"].qualifies is False and windows["trending"].score is None

    without = score_windows(contracts, AS_OF, excluded=[2])
    assert without["6m"].qualifies is False
    assert without["12m"].score == Decimal("44.44444444444444444444444444")  # 100 x 1 / 2.25


# --- compute: windows, ties, rounding ---------------------------------------------------


@pytest.mark.parametrize(
    ("contracts", "score", "window", "unrounded"),
    [
        pytest.param([], None, None, None, id="no-contracts"),
        pytest.param([job(1, 1, "positive", IN_3M)], None, None, None, id="one-contract"),
        pytest.param(
            [job(1, 1, "positive", IN_3M), job(2, 1, "positive", IN_3M)], None, None, None, id="one-client-only"
        ),
        pytest.param(
            [job(1, 1, "positive", TOO_OLD), job(2, 2, "positive", IN_3M)], None, None, None, id="older-than-24m"
        ),
        pytest.param(
            [job(1, 1, "positive", IN_3M), job(2, 2, "positive", date(2026, 4, 1))],
            None,
            None,
            None,
            id="after-as_of",
        ),
        pytest.param(
            [job(1, 1, "positive", IN_3M), job(2, 2, "positive", IN_3M)], 100, "24m", "100", id="all-tie-24m-wins"
        ),
        pytest.param(
            # 12m = 6m = trending = 100, 24m = 100 x (2 - 1) / 3
            [job(1, 1, "positive", IN_3M), job(2, 2, "positive", IN_3M), job(3, 3, "negative", IN_24M)],
            100,
            "12m",
            "100",
            id="tie-12m-over-6m-and-trending",
        ),
        pytest.param(
            # 6m = trending = 100, 12m = 24m = 33.3
            [job(1, 1, "positive", IN_3M), job(2, 2, "positive", IN_3M), job(3, 3, "negative", IN_12M)],
            100,
            "6m",
            "100",
            id="tie-6m-over-trending",
        ),
        pytest.param(
            # 3m = 100, 6m = 12m = 24m = 100/3, trending = (100 + 33.3) / 2 = 66.67
            [job(1, 1, "positive", IN_3M), job(2, 2, "positive", IN_3M), job(3, 3, "negative", IN_6M)],
            67,
            "trending",
            "66.66666666666666666666666667",
            id="trending-wins",
        ),
        pytest.param(
            [job(1, 1, "positive", IN_24M), job(2, 2, "positive", IN_24M)], 100, "24m", "100", id="only-24m-qualifies"
        ),
        pytest.param(
            # 12m = 100 x (1 - 1) / 2 = 0; 24m = 100 x (3 - 1) / 4 = 50; 6m has one contract
            [
                job(1, 1, "negative", IN_3M),
                job(2, 2, "positive", IN_12M),
                job(3, 3, "positive", IN_24M),
                job(4, 4, "positive", IN_24M),
            ],
            50,
            "24m",
            "50",
            id="24m-highest",
        ),
        pytest.param(
            # 6m = 100 x 1 / 2 = 50; 12m = 24m = 100 x (1 - 1) / 3 = 0; 3m has one contract
            [job(1, 1, "positive", IN_3M), job(2, 2, "neutral", IN_6M), job(3, 3, "negative", IN_12M)],
            50,
            "6m",
            "50",
            id="6m-highest",
        ),
        pytest.param([job(1, 1, "negative", IN_3M), job(2, 2, "negative", IN_3M)], 0, "24m", "0", id="clamped-to-0"),
        pytest.param(
            [job(1, 1, "positive", IN_3M), job(2, 2, "neutral", IN_3M)], 50, "24m", "50", id="neutral-in-denominator"
        ),
        pytest.param(
            # 100 x (1.5 - 1) / 2.5 = 20
            [job(1, 1, "positive", IN_3M, total="5000"), job(2, 2, "negative", IN_3M)],
            20,
            "24m",
            "20",
            id="weighted",
        ),
        pytest.param(
            # 100 x (1 + 1) / (1 + 1): the flagged neutral is left out
            [
                job(1, 1, "positive", IN_3M),
                job(2, 2, "positive", IN_3M),
                job(3, 3, "neutral", IN_3M, client_flagged=True),
            ],
            100,
            "24m",
            "100",
            id="left-out-counts-nowhere",
        ),
        pytest.param(
            [
                job(1, 1, "positive", IN_3M),
                job(2, 1, "positive", IN_3M),
                job(3, 2, "neutral", IN_3M, client_flagged=True),
            ],
            None,
            None,
            None,
            id="left-out-client-does-not-qualify",
        ),
        pytest.param(
            # 6m = trending = 100; 12m = 24m: 100 x (2 - 2) / 4 = 0, the active job (92 days paid, weight 2)
            # last paid 211 days before as_of is negative despite its private 10
            [
                job(1, 1, "positive", IN_3M),
                job(2, 2, "positive", IN_3M),
                facts(
                    contract_id=3,
                    client_id=3,
                    started_on=date(2025, 6, 1),
                    ended_on=None,
                    last_payment_on=date(2025, 9, 1),
                ),
            ],
            100,
            "6m",
            "100",
            id="active-unpaid-180-days-negative-in-12m",
        ),
        pytest.param(
            # neutral 1.5 + positive 1.5 + 1 (91 days): 100 x 2.5 / 4 = 62.5 -> 63
            [job(1, 1, "neutral", IN_3M, total="5000"), job(2, 2, "positive", IN_3M, total="5000", paid_days=91)],
            63,
            "24m",
            "62.5",
            id="half-up-62.5",
        ),
        pytest.param(
            # positives 1 and 3.5 ($5000, 182 days), negative 3.5: 100 x (4.5 - 3.5) / 8 = 12.5 -> 13
            [
                job(1, 1, "positive", IN_3M),
                job(2, 2, "positive", IN_3M, total="5000", paid_days=182),
                job(3, 3, "negative", IN_3M, total="5000", paid_days=182),
            ],
            13,
            "24m",
            "12.5",
            id="half-up-12.5",
        ),
        pytest.param(
            # positive 1.25, neutral 1.5: 100 x 1.25 / 2.75 = 45.45 -> 45
            [job(1, 1, "positive", IN_3M, total="500"), job(2, 2, "neutral", IN_3M, total="5000")],
            45,
            "24m",
            "45.45454545454545454545454545",
            id="round-down-45.45",
        ),
        pytest.param(
            # neutral 1.25, positive 1.5: 100 x 1.5 / 2.75 = 54.55 -> 55
            [job(1, 1, "neutral", IN_3M, total="500"), job(2, 2, "positive", IN_3M, total="5000")],
            55,
            "24m",
            "54.54545454545454545454545455",
            id="round-up-54.55",
        ),
        pytest.param(
            # 3m: 3 positives + 1 neutral = 75; 6m adds 2 neutrals: 3 / 6 = 50 (= 12m = 24m);
            # trending = (75 + 50) / 2 = 62.5 -> 63
            [
                job(1, 1, "positive", IN_3M),
                job(2, 2, "positive", IN_3M),
                job(3, 1, "positive", IN_3M),
                job(4, 2, "neutral", IN_3M),
                job(5, 3, "neutral", IN_6M),
                job(6, 3, "neutral", IN_6M),
            ],
            63,
            "trending",
            "62.5",
            id="trending-half-up-62.5",
        ),
    ],
)
def test_compute_score(contracts, score, window, unrounded):
    result = compute(contracts, as_of=AS_OF)
    assert (result.score, result.window) == (score, window)
    assert result.unrounded == (None if unrounded is None else Decimal(unrounded))
    assert result.detail["unrounded"] == unrounded
    assert result.decisions == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("89.5", 90),
        ("89.4999", 89),
        ("89.49999999999999999999999999", 89),
        ("12.5", 13),
        ("0.5", 1),
        ("0", 0),
        ("99.5", 100),
        ("100", 100),
    ],
)
def test_round_half_up(value, expected):
    assert round_half_up(Decimal(value)) == expected


# --- no-harm rule ----------------------------------------------------------------------

P1_P2_N3 = [job(1, 1, "positive", IN_3M), job(2, 2, "positive", IN_3M), job(3, 3, "negative", IN_3M)]  # 33.3
P1_U2_N3 = [job(1, 1, "positive", IN_3M), job(2, 2, "neutral", IN_3M), job(3, 3, "negative", IN_3M)]  # 0


@pytest.mark.parametrize(
    ("contracts", "exclusions", "decisions", "score", "unrounded"),
    [
        pytest.param(P1_P2_N3, [3], {3: "excluded"}, 100, "100", id="negative-excluded"),
        pytest.param(
            # without 1: 100 x (1 - 1) / 2 = 0 < 33.3
            P1_P2_N3,
            [1],
            {1: "kept_no_harm"},
            33,
            "33.33333333333333333333333333",
            id="positive-kept",
        ),
        pytest.param(
            # 100 x (1 - 1) / 2 = 0; without 2 nothing qualifies: None < 0
            [job(1, 1, "positive", IN_3M), job(2, 2, "negative", IN_3M)],
            [2],
            {2: "kept_no_harm"},
            0,
            "0",
            id="would-lose-the-score-kept",
        ),
        pytest.param([job(1, 1, "positive", IN_3M)], [1], {1: "excluded"}, None, None, id="none-vs-none-excluded"),
        pytest.param(
            # 100 either way
            [job(1, 1, "positive", IN_3M), job(2, 2, "positive", IN_3M), job(3, 3, "positive", IN_3M)],
            [3],
            {3: "excluded"},
            100,
            "100",
            id="equal-excluded",
        ),
        pytest.param(
            # 3 first: {1, 2} = 50 >= 0, excluded; then 2: {1} has no score, None < 50, kept
            P1_U2_N3,
            [3, 2],
            {3: "excluded", 2: "kept_no_harm"},
            50,
            "50",
            id="order-negative-then-neutral",
        ),
        pytest.param(
            # 2 first: {1, 3} = 0 >= 0, excluded; then 3: {1} has no score, None < 0, kept
            P1_U2_N3,
            [2, 3],
            {2: "excluded", 3: "kept_no_harm"},
            0,
            "0",
            id="order-neutral-then-negative",
        ),
        pytest.param(P1_P2_N3, [99], {99: "excluded"}, 33, "33.33333333333333333333333333", id="unknown-contract"),
        pytest.param(
            [*P1_P2_N3, job(4, 4, "negative", IN_3M, client_flagged=True)],
            [4],
            {4: "excluded"},
            33,
            "33.33333333333333333333333333",
            id="left-out-contract",
        ),
        pytest.param(
            [*P1_P2_N3, job(4, 4, "negative", TOO_OLD)],
            [4],
            {4: "excluded"},
            33,
            "33.33333333333333333333333333",
            id="contract-older-than-24m",
        ),
        pytest.param(P1_P2_N3, [3, 3], {3: "excluded"}, 100, "100", id="repeated-id-decided-once"),
        pytest.param(
            # 1 kept (without it 0 < 33.3), then 3 excluded: {1, 2} = 100
            P1_P2_N3,
            [1, 3],
            {1: "kept_no_harm", 3: "excluded"},
            100,
            "100",
            id="kept-then-excluded",
        ),
    ],
)
def test_no_harm_rule(contracts, exclusions, decisions, score, unrounded):
    result = compute(contracts, as_of=AS_OF, exclusions=exclusions)
    assert result.decisions == decisions
    assert result.score == score
    assert result.unrounded == (None if unrounded is None else Decimal(unrounded))
    assert [(e["contract_id"], e["decision"]) for e in result.detail["exclusions"]] == list(decisions.items())


def test_kept_contract_still_counts_in_the_windows():
    result = compute(P1_P2_N3, as_of=AS_OF, exclusions=[1])
    assert result.detail["windows"]["3m"]["contracts"] == 3
    assert result.detail["exclusions"] == [
        {
            "contract_id": 1,
            "decision": "kept_no_harm",
            "score_with": "33.33333333333333333333333333",
            "score_without": "0",
        }
    ]


# --- the result and its detail -------------------------------------------------------


def test_detail_shape():
    contracts = [
        job(1, 1, "positive", IN_3M),  # 1
        job(2, 2, "negative", IN_6M, total="5000"),  # 1.5
        job(3, 3, "positive", IN_12M, total="500"),  # 1.25
        job(4, 3, "positive", date(2026, 2, 1), private_score=None),  # no feedback: left out
    ]
    # Before: 6m = 100 x (1 - 1.5) / 2.5 -> 0; 12m = 24m = 100 x (2.25 - 1.5) / 3.75 = 20.
    # Without 2: 6m holds one contract; 12m = 24m = 100 x 2.25 / 2.25 = 100.
    result = compute(contracts, as_of=AS_OF, exclusions=[2, 99])
    assert isinstance(result, JssResult)
    assert (result.score, result.window, result.unrounded) == (100, "24m", Decimal("100"))
    assert result.decisions == {2: "excluded", 99: "excluded"}
    assert result.detail == {
        "algorithm_version": ALGORITHM_VERSION,
        "as_of": "2026-03-31",
        "score": 100,
        "window": "24m",
        "unrounded": "100",
        "windows": {
            "3m": {
                "start": "2025-12-31",
                "contracts": 1,
                "clients": 1,
                "qualifies": False,
                "positive_weight": "1",
                "negative_weight": "0",
                "total_weight": "1",
                "score": None,
            },
            "6m": {
                "start": "2025-09-30",
                "contracts": 1,
                "clients": 1,
                "qualifies": False,
                "positive_weight": "1",
                "negative_weight": "0",
                "total_weight": "1",
                "score": None,
            },
            "12m": {
                "start": "2025-03-31",
                "contracts": 2,
                "clients": 2,
                "qualifies": True,
                "positive_weight": "2.25",
                "negative_weight": "0",
                "total_weight": "2.25",
                "score": "100",
            },
            "24m": {
                "start": "2024-03-31",
                "contracts": 2,
                "clients": 2,
                "qualifies": True,
                "positive_weight": "2.25",
                "negative_weight": "0",
                "total_weight": "2.25",
                "score": "100",
            },
            "trending": {"of": ["3m", "6m"], "qualifies": False, "score": None},
        },
        "left_out": [{"contract_id": 4, "reason": "no_feedback"}],
        "exclusions": [
            {"contract_id": 2, "decision": "excluded", "score_with": "20", "score_without": "100"},
            {"contract_id": 99, "decision": "excluded", "score_with": "100", "score_without": "100"},
        ],
    }
    assert json.loads(json.dumps(result.detail)) == result.detail


def test_left_out_listed_with_reasons_in_contract_order():
    contracts = [
        facts(contract_id=9, ended_on=None, last_payment_on=None),
        facts(contract_id=5, total_charged=Decimal("0")),
        facts(contract_id=7, private_score=3, client_suspended_for_tos=True),
        facts(contract_id=6, private_score=None),
    ]
    assert compute(contracts, as_of=AS_OF).detail["left_out"] == [
        {"contract_id": 5, "reason": "zero_charged_positive"},
        {"contract_id": 6, "reason": "no_feedback"},
        {"contract_id": 7, "reason": "flagged_client"},
        {"contract_id": 9, "reason": "active_never_paid"},
    ]


def test_accepts_any_iterable():
    result = compute((c for c in P1_P2_N3), as_of=AS_OF, exclusions=iter([3]))
    assert (result.score, result.decisions) == (100, {3: "excluded"})


def test_contract_facts_defaults():
    c = ContractFacts(contract_id=1, client_id=2, started_on=START)
    assert (c.ended_on, c.last_payment_on, c.public_rating, c.private_score) == (None, None, None, None)
    assert (c.disputed, c.client_flagged, c.client_suspended_for_tos) == (False, False, False)
    with pytest.raises(AttributeError):
        c.disputed = True  # frozen
