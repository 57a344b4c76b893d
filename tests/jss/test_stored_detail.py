"""A snapshot stores only what cannot be derived (``engine.stored_detail``); ``engine.expand_detail`` gives back
the engine's whole detail from it (no database)."""

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from jss import batch, engine  # noqa: F401 - batch.REASONS below


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), st.integers(1, 12)), min_size=4),
    st.sampled_from([dt.date(2026, 3, 31), dt.date(2024, 2, 29), dt.date(2025, 8, 31)]),
    st.lists(
        st.tuples(st.integers(1, 10**9), st.sampled_from(sorted(batch.REASONS.values()))), unique_by=lambda x: x[0]
    ),
)
def test_the_stored_detail_expands_to_the_engines_detail(figures, as_of, left_out):
    # Any cumulative window figures, as the SQL makes them: what is stored gives back the whole detail.
    tallies, n, k, p, m = [], 0, 0, 0, 0
    for contracts, positive, negative, clients in figures[:4]:
        n, k = n + contracts, max(k, min(clients, n + contracts))
        p, m = p + positive, m + negative
        tallies.append((n, k, p, m, p + m + contracts))
    expected = engine.from_tallies(tallies, left_out, as_of=as_of)
    stored = json.loads(json.dumps(expected.stored))  # as the json column gives it back
    assert set(stored) == {"windows", "left_out"}
    assert engine.expand_detail(stored, as_of) == expected.detail
    assert len(json.dumps(stored)) < len(json.dumps(expected.detail)) / 2 or left_out


def test_a_detail_stored_whole_before_is_read_as_it_is():
    # Snapshots written before 2026-12-07 kept the whole detail: it is read back unchanged.
    whole = engine.from_tallies([(2, 2, 8, 0, 8)] * 4, [], as_of=dt.date(2026, 3, 31)).detail
    assert engine.expand_detail(whole, dt.date(2026, 3, 31)) is whole
    assert engine.expand_detail({}, dt.date(2026, 3, 31)) == {}


def test_from_tallies_is_compute_without_exclusions():
    contracts = [
        engine.ContractFacts(
            contract_id=1,
            client_id=1,
            started_on=dt.date(2026, 1, 1),
            ended_on=dt.date(2026, 3, 1),
            last_payment_on=dt.date(2026, 3, 1),
            private_score=10,
            total_charged=engine.Decimal(100),
        ),
        engine.ContractFacts(
            contract_id=2,
            client_id=2,
            started_on=dt.date(2025, 5, 1),
            ended_on=dt.date(2025, 11, 1),
            last_payment_on=dt.date(2025, 11, 1),
            private_score=3,
            total_charged=engine.Decimal(5000),
        ),
        engine.ContractFacts(contract_id=3, client_id=2, started_on=dt.date(2026, 2, 1), ended_on=dt.date(2026, 3, 2)),
    ]
    as_of = dt.date(2026, 3, 31)
    # 3m: job 1 (weight 1, positive); 6m adds job 2 (weight 1.5 + 2 periods of 91 days = 3.5, negative).
    tallies = [(1, 1, 4, 0, 4), (2, 2, 4, 14, 18), (2, 2, 4, 14, 18), (2, 2, 4, 14, 18)]
    stable = engine.stable_until(contracts, as_of)
    assert stable == dt.date(2026, 5, 1)  # job 2 (ended 2025-11-01) leaves the 6-month window
    got = engine.from_tallies(tallies, [(3, "no_feedback")], as_of=as_of, stable=stable)
    assert got == engine.compute(contracts, as_of=as_of)
