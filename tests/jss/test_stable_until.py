"""``engine.stable_until``: the first date on which the passing of time alone could change a score, and the
proof that it is safe: on every day before it the engine gives the same score and stored detail."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jss import engine
from jss.engine import ContractFacts, add_months, contract_stable_until, stable_until, window_start
from tests.jss.test_engine_properties import histories

D = date


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2026, 1, 15), 3, D(2026, 4, 15)),
        (D(2025, 8, 31), 6, D(2026, 2, 28)),  # clamped to February's end
        (D(2023, 8, 31), 6, D(2024, 2, 29)),  # leap year
        (D(2026, 11, 30), 3, D(2027, 2, 28)),
        (D(2026, 12, 31), 3, D(2027, 3, 31)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2024, 2, 29), 24, D(2026, 2, 28)),
        (D(2022, 2, 28), 24, D(2024, 2, 28)),
        (D(2026, 10, 31), 12, D(2027, 10, 31)),
        (D(2026, 3, 31), 6, D(2026, 9, 30)),
        (D(2026, 12, 1), 24, D(2028, 12, 1)),
    ],
)
def test_add_months_clamps_to_the_months_end(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("day", "months"),
    [(D(2025, 8, 31), 6), (D(2023, 8, 31), 6), (D(2026, 1, 31), 3), (D(2024, 2, 29), 12), (D(2026, 5, 15), 24)]
    + [(D(2024, 1, 1) + timedelta(days=n), m) for n in range(0, 800, 29) for m in (3, 6, 12, 24)],
)
def test_add_months_is_the_first_day_a_window_no_longer_holds_the_day_or_the_day_before(day, months):
    """A reference date d leaves a W-month window on the first as_of whose start (exclusive) is >= d: that day
    is add_months(d, W), or the next day when the clamp bites; never earlier than add_months."""
    first = add_months(day, months)
    assert window_start(first - timedelta(days=1), months) < day
    assert window_start(first, months) >= day or window_start(first + timedelta(days=1), months) >= day


AS_OF = D(2026, 3, 31)  # windows start (exclusive): 3m 2025-12-31, 6m 2025-09-30, 12m 2025-03-31, 24m 2024-03-31


def job(ref, *, active=False, paid=True, rating=None, private=10, charged="100", flagged=False, started=None):
    started = started or ref - timedelta(days=10)
    return ContractFacts(
        contract_id=1,
        client_id=1,
        started_on=started,
        ended_on=None if active else ref,
        last_payment_on=ref if paid else None,
        total_charged=Decimal(charged),
        public_rating=rating,
        private_score=private,
        client_flagged=flagged,
    )


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        # a counted ended contract leaves its smallest window W months after its reference date
        (job(D(2026, 3, 1)), D(2026, 6, 1)),  # 3m
        (job(D(2025, 12, 31)), D(2026, 6, 30)),  # exactly on the 3m start: in 6m, leaves it 6 months on
        (job(D(2026, 1, 1)), D(2026, 4, 1)),  # just inside 3m
        (job(D(2025, 11, 30)), D(2026, 5, 30)),  # 6m
        (job(D(2025, 8, 31)), D(2026, 8, 31)),  # 12m
        (job(D(2024, 8, 31)), D(2026, 8, 31)),  # 24m
        (job(D(2024, 3, 31)), None),  # on the 24m start: out for good
        (job(D(2020, 1, 1)), None),  # long ago
        (job(D(2026, 4, 10)), D(2026, 4, 10)),  # ends after as_of: enters that day
        (job(D(2025, 12, 31) - timedelta(days=0), private=3), D(2026, 6, 30)),  # negative counts too
        # left out for good whatever the date: no date
        (job(D(2026, 3, 1), private=None), None),  # ended, no feedback, short
        (job(D(2026, 3, 1), active=True, paid=False), None),  # active, never paid
        # active and paid: the no-payment rule (180 days after the last payment) or the window, first
        (job(D(2026, 3, 1), active=True, private=None), D(2026, 6, 1)),  # 3m crossing before 2026-08-28
        (job(D(2025, 11, 1), active=True, private=None), D(2026, 4, 30)),  # 180 days before the 6m crossing
        (job(D(2025, 6, 1), active=True, private=None), D(2026, 6, 1)),  # already negative: the 12m crossing
        # left out by the outcome: only the no-payment rule can bring it back
        (job(D(2026, 3, 1), charged="0"), None),  # ended, positive, nothing charged
        (job(D(2026, 3, 1), active=True, charged="0"), D(2026, 8, 28)),  # active: turns negative, then counts
        (job(D(2026, 3, 1), private=3, flagged=True), None),  # negative from a flagged client, ended
        (job(D(2026, 3, 1), active=True, private=3, flagged=True), D(2026, 8, 28)),
        # month ends and leap years
        (job(D(2025, 11, 30), active=True, private=None), D(2026, 5, 29)),  # 180 days first
        (job(D(2025, 10, 31)), D(2026, 4, 30)),  # 6m, clamped to April's end
    ],
)
def test_contract_stable_until(contract, expected):
    assert contract_stable_until(contract, AS_OF) == expected


@pytest.mark.parametrize(
    ("as_of", "ref", "expected"),
    [
        (D(2024, 2, 29), D(2024, 1, 31), D(2024, 4, 30)),  # leap day as_of; 3m, clamped
        (D(2024, 2, 29), D(2023, 11, 30), D(2024, 3, 1)),  # 3m start 2023-11-29: leaves the day after
        (D(2024, 2, 29), D(2023, 2, 28), D(2025, 2, 28)),  # 24m (12m start 2023-02-28 excludes it)
        (D(2025, 2, 28), D(2024, 2, 29), D(2025, 3, 1)),  # 12m start 2024-02-28: leaves the day after
        (D(2025, 3, 1), D(2024, 2, 29), D(2026, 2, 28)),  # 24m of a leap day (a day early)
        (D(2023, 11, 29), D(2023, 8, 31), D(2023, 11, 30)),  # 3m, clamped: a day early (true: 12-01)
        (D(2026, 12, 31), D(2026, 9, 30), D(2027, 3, 30)),  # 6m start 2026-06-30
        (D(2026, 12, 31), D(2026, 10, 1), D(2027, 1, 1)),  # 3m
    ],
)
def test_contract_stable_until_on_month_ends_and_leap_years(as_of, ref, expected):
    assert contract_stable_until(job(ref), as_of) == expected


def test_a_subject_whose_score_never_changes_with_time_is_stable_forever():
    assert stable_until([], AS_OF) == engine.NEVER
    assert stable_until([job(D(2020, 1, 1)), job(D(2026, 3, 1), private=None)], AS_OF) == engine.NEVER
    assert stable_until([job(D(2026, 3, 1)), job(D(2025, 11, 30))], AS_OF) == D(2026, 5, 30)
    assert engine.compute([job(D(2026, 3, 1))], as_of=AS_OF).stable_until == D(2026, 6, 1)


def _same(a, b):
    return (a.score, a.window, a.stored, a.decisions) == (b.score, b.window, b.stored, b.decisions)


@settings(max_examples=300, deadline=None)
@given(histories(), st.lists(st.integers(1, 14), unique=True, max_size=3), st.data())
def test_nothing_changes_before_stable_until(contracts, exclusions, data):
    """The rule is safe: on every day from as_of up to the day before stable_until the engine gives the same
    score, window, stored detail and no-harm decisions (checked on the days around each window edge and at
    random)."""
    first = engine.compute(contracts, as_of=AS_OF, exclusions=exclusions)
    until = first.stable_until
    assert until == stable_until(contracts, AS_OF) and until > AS_OF
    last = min(until, AS_OF + timedelta(days=800)) - timedelta(days=1)
    days = {last, AS_OF + timedelta(days=1)} if last > AS_OF else set()
    if last > AS_OF:
        days |= {AS_OF + timedelta(days=data.draw(st.integers(1, (last - AS_OF).days))) for _ in range(5)}
    for day in sorted(days):
        assert _same(engine.compute(contracts, as_of=day, exclusions=exclusions), first), day
