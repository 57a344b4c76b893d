"""Properties of the JSS engine over random contract histories (hypothesis, no database)."""

import json
import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from jss.engine import (
    ContractFacts,
    compute,
    left_out_reason,
    outcome,
    reference_date,
    round_half_up,
    weight,
    window_start,
)

AS_OF = date(2026, 3, 31)
FAST = settings(max_examples=200, deadline=None)

ratings = st.none() | st.decimals(min_value=Decimal("1.00"), max_value=Decimal("5.00"), places=2)
amounts = st.sampled_from(["0", "0.01", "100", "250", "250.01", "999", "1000", "1000.01", "25000"]).map(Decimal)


@st.composite
def contract_facts(draw, contract_id: int) -> ContractFacts:
    # Reference dates spread over every window and a little past as_of; some active, some unpaid.
    reference = AS_OF - timedelta(days=draw(st.integers(-20, 200) | st.integers(0, 800)))
    started_on = reference - timedelta(days=draw(st.integers(0, 400)))
    active = draw(st.integers(0, 4)) == 0
    if draw(st.integers(0, 9)) == 0:
        last_payment_on = None
    elif active or draw(st.booleans()):
        last_payment_on = reference
    else:
        last_payment_on = started_on + timedelta(days=draw(st.integers(0, (reference - started_on).days)))
    return ContractFacts(
        contract_id=contract_id,
        client_id=draw(st.integers(1, 4)),
        started_on=started_on,
        ended_on=None if active else reference,
        last_payment_on=last_payment_on,
        total_charged=draw(amounts),
        disputed=draw(st.integers(0, 9)) == 0,
        client_flagged=draw(st.integers(0, 14)) == 0,
        client_suspended_for_tos=draw(st.integers(0, 14)) == 0,
        public_rating=draw(ratings),
        private_score=draw(st.none() | st.integers(0, 10)),
    )


@st.composite
def histories(draw, max_size: int = 14) -> list[ContractFacts]:
    size = draw(st.integers(0, max_size))
    return [draw(contract_facts(contract_id)) for contract_id in range(1, size + 1)]


@st.composite
def histories_with_exclusions(draw):
    contracts = draw(histories())
    ids = [c.contract_id for c in contracts] + [999]  # 999: a contract the subject does not have
    exclusions = draw(st.lists(st.sampled_from(ids), unique=True, max_size=5))
    return contracts, exclusions


def at_least(a, b) -> bool:
    """a >= b where None is lower than any number and equal to None."""
    return b is None or (a is not None and a >= b)


def naive_displayed(contracts, as_of):
    """SPEC §5 spelt out with the public helpers and exact fractions, window by window."""
    scores = {}
    for name, months in (("3m", 3), ("6m", 6), ("12m", 12), ("24m", 24)):
        start = window_start(as_of, months)
        inside = [c for c in contracts if left_out_reason(c, as_of) is None and start < reference_date(c) <= as_of]
        if len(inside) < 2 or len({c.client_id for c in inside}) < 2:
            scores[name] = None
            continue
        total = sum(Fraction(weight(c)) for c in inside)
        net = sum(
            Fraction(weight(c)) * {"positive": 1, "negative": -1, "neutral": 0}[outcome(c, as_of)] for c in inside
        )
        scores[name] = min(max(100 * net / total, Fraction(0)), Fraction(100))
    if scores["3m"] is not None and scores["6m"] is not None:
        scores["trending"] = (scores["3m"] + scores["6m"]) / 2
    else:
        scores["trending"] = None
    best_name, best = None, None
    for name in ("24m", "12m", "6m", "trending"):
        if scores[name] is not None and (best is None or scores[name] > best):
            best_name, best = name, scores[name]
    return best_name, best


@FAST
@given(histories())
def test_score_is_between_0_and_100_or_none(contracts):
    result = compute(contracts, as_of=AS_OF)
    if result.score is None:
        assert result.window is None and result.unrounded is None
    else:
        assert 0 <= result.score <= 100
        assert Decimal(0) <= result.unrounded <= Decimal(100)
        assert result.score == round_half_up(result.unrounded)
        assert result.window in {"6m", "12m", "24m", "trending"}
    assert json.loads(json.dumps(result.detail)) == result.detail


@FAST
@given(histories())
def test_matches_the_rules_spelt_out_naively(contracts):
    result = compute(contracts, as_of=AS_OF)
    window, exact = naive_displayed(contracts, AS_OF)
    assert result.window == window
    if exact is None:
        assert result.unrounded is None
    else:
        assert abs(Fraction(result.unrounded) - exact) < Fraction(1, 10**20)
        assert result.score == int(exact + Fraction(1, 2))  # half up, exactly


@FAST
@given(histories())
def test_left_out_detail_matches_left_out_reason(contracts):
    detail = compute(contracts, as_of=AS_OF).detail
    expected = [
        {"contract_id": c.contract_id, "reason": left_out_reason(c, AS_OF)}
        for c in contracts
        if left_out_reason(c, AS_OF) is not None
    ]
    assert detail["left_out"] == expected  # contract ids ascend in the strategy


@FAST
@given(histories_with_exclusions(), st.randoms(use_true_random=False))
def test_contract_order_does_not_matter(drawn, rng: random.Random):
    contracts, exclusions = drawn
    shuffled = list(contracts)
    rng.shuffle(shuffled)
    assert compute(shuffled, as_of=AS_OF, exclusions=exclusions) == compute(
        contracts, as_of=AS_OF, exclusions=exclusions
    )


@FAST
@given(histories_with_exclusions())
def test_no_harm_never_lowers_the_score(drawn):
    contracts, exclusions = drawn
    plain = compute(contracts, as_of=AS_OF)
    with_exclusions = compute(contracts, as_of=AS_OF, exclusions=exclusions)
    assert at_least(with_exclusions.unrounded, plain.unrounded)
    assert set(with_exclusions.decisions) == set(exclusions)
    for step in with_exclusions.detail["exclusions"]:
        without = None if step["score_without"] is None else Decimal(step["score_without"])
        with_it = None if step["score_with"] is None else Decimal(step["score_with"])
        assert (step["decision"] == "excluded") == at_least(without, with_it)


@FAST
@given(histories_with_exclusions())
def test_exclusions_are_deterministic(drawn):
    contracts, exclusions = drawn
    first = compute(contracts, as_of=AS_OF, exclusions=exclusions)
    second = compute(tuple(contracts), as_of=AS_OF, exclusions=tuple(exclusions))
    assert first == second
    assert list(first.decisions) == list(dict.fromkeys(exclusions))


@FAST
@given(histories_with_exclusions())
def test_result_is_the_score_without_the_applied_exclusions(drawn):
    contracts, exclusions = drawn
    result = compute(contracts, as_of=AS_OF, exclusions=exclusions)
    applied = {contract_id for contract_id, decision in result.decisions.items() if decision == "excluded"}
    remaining = [c for c in contracts if c.contract_id not in applied]
    plain = compute(remaining, as_of=AS_OF)
    assert (plain.score, plain.window, plain.unrounded) == (result.score, result.window, result.unrounded)
    assert plain.detail["windows"] == result.detail["windows"]
