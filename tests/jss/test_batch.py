"""The set-based batch path (SQL figures + engine scoring) equals the engine, on random data and on the edges.

These run against the real database (SQLite or PostgreSQL): the SQL expressions are what is under test."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jss import batch, engine
from jss.models import ScoreSnapshot
from tests.jss.builders import ClientSpec, ContractSpec, SubjectSpec, build_world

pytestmark = pytest.mark.django_db

EVERYONE = (0, 2**62)
AS_OF_EDGES = [dt.date(2026, 3, 31), dt.date(2025, 8, 31), dt.date(2024, 2, 29), dt.date(2026, 11, 26)]
DB_EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

ratings = st.none() | st.decimals(min_value=Decimal("1.00"), max_value=Decimal("5.00"), places=2)
amounts = st.sampled_from(["0", "0.01", "100", "250", "250.01", "999.99", "1000", "1000.01", "25000"]).map(Decimal)


@st.composite
def contract_specs(draw, as_of, clients):
    # Reference dates on both sides of every window edge, a little after as_of, and long ago.
    reference = as_of - dt.timedelta(days=draw(st.integers(-20, 200) | st.integers(0, 800)))
    started_on = reference - dt.timedelta(days=draw(st.sampled_from([0, 89, 90, 91, 181, 182]) | st.integers(0, 700)))
    active = draw(st.integers(0, 4)) == 0
    if draw(st.integers(0, 9)) == 0:
        last_payment_on = None
    elif active or draw(st.booleans()):
        last_payment_on = reference
    else:
        last_payment_on = started_on + dt.timedelta(days=draw(st.integers(0, (reference - started_on).days)))
    return ContractSpec(
        client=draw(st.integers(0, clients - 1)),
        started_on=started_on,
        ended_on=None if active else reference,
        last_payment_on=last_payment_on,
        total_charged=draw(amounts),
        disputed=draw(st.integers(0, 9)) == 0,
        public_rating=draw(ratings),
        private_score=draw(st.none() | st.integers(0, 10)),
        has_feedback_row=draw(st.integers(0, 5)) > 0,
    )


@st.composite
def worlds(draw):
    as_of = draw(st.sampled_from(AS_OF_EDGES))
    clients = [
        ClientSpec(flagged=draw(st.integers(0, 6)) == 0, suspended_for_tos=draw(st.integers(0, 8)) == 0)
        for _ in range(draw(st.integers(1, 5)))
    ]
    subjects = []
    for _ in range(draw(st.integers(1, 4))):
        contracts = draw(st.lists(contract_specs(as_of, len(clients)), max_size=10))
        exclusions = draw(st.lists(st.integers(0, len(contracts) - 1), unique=True, max_size=3)) if contracts else []
        subjects.append(SubjectSpec(agency=draw(st.booleans()), contracts=contracts, exclusions=exclusions))
    return as_of, clients, subjects


def batch_scores(as_of):
    scores = {}
    for kind in batch.KINDS:
        for s in batch.score_range(kind, *EVERYONE, as_of):
            scores[(kind, s.subject_id)] = s
    return scores


def assert_batch_equals_engine(built, scores, as_of):
    for key in built.subjects:
        expected = engine.compute(built.facts[key], as_of=as_of, exclusions=built.exclusions[key])
        if not built.facts[key]:
            assert key not in scores  # no contract, nothing to score
            continue
        got = scores[key]
        assert (got.score, got.window) == (expected.score, expected.window)
        assert json.loads(got.detail_json) == expected.stored  # only what cannot be derived is stored
        assert engine.expand_detail(json.loads(got.detail_json), as_of) == expected.detail
        assert got.decisions == expected.decisions
        assert got.stable_until == expected.stable_until  # the SQL date rule is the engine's
    assert len(scores) == sum(1 for key in built.subjects if built.facts[key])


@DB_EXAMPLES
@given(worlds())
def test_batch_path_equals_the_engine_on_random_data(world):
    as_of, clients, subjects = world
    with transaction.atomic():
        built = build_world(clients, subjects, excluded_at=timezone.make_aware(dt.datetime(2024, 1, 1)))
        assert_batch_equals_engine(built, batch_scores(as_of), as_of)
        transaction.set_rollback(True)


def snapshots_equal_the_engine(built, as_of):
    for key in built.subjects:
        kind, subject_id = key
        expected = engine.compute(built.facts[key], as_of=as_of, exclusions=built.exclusions[key])
        stored = ScoreSnapshot.objects.filter(**{f"{kind}_id": subject_id}, as_of=as_of).first()
        if not built.facts[key]:
            assert stored is None
            continue
        assert (stored.score, stored.window, stored.algorithm_version) == (expected.score, expected.window, 1)
        assert stored.full_detail == expected.detail
        assert set(stored.detail) <= {"windows", "left_out", "exclusions"}
        assert stored.stable_until == expected.stable_until


NOW = timezone.make_aware(dt.datetime(2026, 12, 1, 2, 0))


@pytest.mark.postgres
@DB_EXAMPLES
@given(worlds())
def test_the_postgresql_statement_writes_the_engines_snapshots(world):
    """On PostgreSQL the figures become scores and the stored detail inside the database."""
    as_of, clients, subjects = world
    with transaction.atomic():
        built = build_world(clients, subjects, excluded_at=timezone.make_aware(dt.datetime(2024, 1, 1)))
        decisions = {}
        for kind in batch.KINDS:
            decisions.update(batch.score_and_write(kind, *EVERYONE, as_of, now=NOW, method="sql")[2])
        snapshots_equal_the_engine(built, as_of)
        expected = {}
        for key in built.subjects:
            expected.update(engine.compute(built.facts[key], as_of=as_of, exclusions=built.exclusions[key]).decisions)
        assert decisions == expected
        for kind in batch.KINDS:  # again (a redelivered chunk): nothing changes
            scored, written, _ = batch.score_and_write(kind, *EVERYONE, as_of, now=NOW, method="sql")
            assert written == 0
        transaction.set_rollback(True)


@DB_EXAMPLES
@given(worlds(), st.integers(1, 4), st.randoms(use_true_random=False))
def test_the_fanned_out_update_equals_the_engine_and_a_redelivered_chunk_changes_nothing(world, size, random):
    """The update as the workers run it: the subjects in ranges of ``size`` ids, each chunk on its own, in any
    order (PostgreSQL: one statement per chunk; SQLite: the engine's scoring). Every subject's snapshot is
    the engine's, and a chunk delivered again writes nothing."""
    as_of, clients, subjects = world
    with transaction.atomic():
        built = build_world(clients, subjects, excluded_at=timezone.make_aware(dt.datetime(2024, 1, 1)))
        plan = batch.plan_chunks(size, 64)
        random.shuffle(plan)
        decisions = {}
        for kind, first, last, _ in plan:
            decisions.update(batch.score_and_write(kind, first, last, as_of, now=NOW)[2])
        snapshots_equal_the_engine(built, as_of)
        expected = {}
        for key in built.subjects:
            expected.update(engine.compute(built.facts[key], as_of=as_of, exclusions=built.exclusions[key]).decisions)
        assert decisions == expected
        for kind, first, last, _ in plan[:2]:
            assert batch.score_and_write(kind, first, last, as_of, now=NOW)[1] == 0
        transaction.set_rollback(True)


@pytest.mark.postgres
def test_the_sql_and_python_paths_write_the_same_text():
    # The upsert leaves a row alone when its text is the same: switching paths (a read replica configured or
    # not) must not rewrite every snapshot. Left-out contracts in both orders of id.
    late = AS_OF - dt.timedelta(days=3)
    # Ids in creation order: client 0, client 1, client 0; the index reads them by client (0, 0, 1).
    contracts = [
        ended(5, ended_on=None, last_payment_on=None),
        ended(6, client=1, private_score=3),
        ended(7, private_score=None, has_feedback_row=False),
        ContractSpec(client=2, started_on=late, ended_on=late, last_payment_on=late, private_score=2),
    ]
    build_world(
        [ClientSpec(), ClientSpec(flagged=True), ClientSpec()], [SubjectSpec(agency=False, contracts=contracts)]
    )
    assert batch.score_and_write("freelancer", *EVERYONE, AS_OF, now=NOW, method="sql")[:2] == (1, 1)
    stored = ScoreSnapshot.objects.get(as_of=AS_OF)
    assert len(stored.detail["left_out"]) == 3
    assert batch.score_and_write("freelancer", *EVERYONE, AS_OF, now=NOW, method="python")[:2] == (1, 0)
    assert batch.score_and_write("freelancer", *EVERYONE, AS_OF, now=NOW, method="sql")[:2] == (1, 0)


AS_OF = dt.date(2026, 3, 31)  # windows start (exclusive): 3m 2025-12-31, 6m 2025-09-30, 12m 2025-03-31, 24m 2024-03-31


def ended(days_ago, **kw):
    end = AS_OF - dt.timedelta(days=days_ago)
    values = dict(client=0, started_on=end - dt.timedelta(days=10), ended_on=end, last_payment_on=end, private_score=10)
    values.update(kw)
    return ContractSpec(**values)


def on(day, **kw):
    values = dict(client=0, started_on=day - dt.timedelta(days=10), ended_on=day, last_payment_on=day, private_score=10)
    values.update(kw)
    return ContractSpec(**values)


EDGES = [
    pytest.param([ended(5, started_on=AS_OF - dt.timedelta(days=95), private_score=7)], id="exactly-90-days-long-term"),
    pytest.param([ended(5, started_on=AS_OF - dt.timedelta(days=94), private_score=7)], id="89-days-not-long-term"),
    pytest.param([ended(5, total_charged=Decimal("250"))], id="$250-weight-1"),
    pytest.param([ended(5, total_charged=Decimal("250.01"))], id="$250.01-weight-1.25"),
    pytest.param([ended(5, total_charged=Decimal("1000")), ended(6, total_charged=Decimal("1000.01"))], id="$1000"),
    pytest.param([ended(5, total_charged=Decimal("0"))], id="$0-positive-left-out"),
    pytest.param([ended(5, total_charged=Decimal("0"), private_score=2)], id="$0-negative-counts"),
    pytest.param([on(dt.date(2025, 12, 31)), on(dt.date(2026, 1, 1))], id="on-and-after-3m-start-31st"),
    pytest.param([on(dt.date(2025, 9, 30)), on(dt.date(2025, 10, 1))], id="on-and-after-6m-start"),
    pytest.param([on(dt.date(2024, 3, 31)), on(dt.date(2024, 4, 1))], id="on-and-after-24m-start"),
    pytest.param([on(AS_OF), on(AS_OF + dt.timedelta(days=1))], id="on-and-after-as_of"),
    pytest.param(
        [ended(5, ended_on=None, last_payment_on=AS_OF - dt.timedelta(days=180))], id="active-unpaid-180-days-negative"
    ),
    pytest.param(
        [ended(5, ended_on=None, last_payment_on=AS_OF - dt.timedelta(days=179))], id="active-unpaid-179-days"
    ),
    pytest.param([ended(5, ended_on=None, last_payment_on=None)], id="active-never-paid-left-out"),
    pytest.param([ended(5, private_score=None, has_feedback_row=False)], id="no-feedback-row-left-out"),
    pytest.param([ended(5, client=1, private_score=3)], id="flagged-client-negative-left-out"),
    pytest.param([ended(5, client=1)], id="flagged-client-positive-counts"),
    pytest.param([ended(5, public_rating=Decimal("3.99"), private_score=None)], id="public-3.99-negative"),
    pytest.param([ended(5, public_rating=Decimal("4.50"), private_score=None)], id="public-4.50-positive"),
    pytest.param([ended(5, public_rating=Decimal("4.49"), private_score=None)], id="public-4.49-neutral"),
    pytest.param([ended(5, started_on=AS_OF - dt.timedelta(days=5 + 637), total_charged=Decimal("5000"))], id="cap-8"),
]


@pytest.mark.parametrize("edge", EDGES)
def test_the_sql_rules_on_the_edges(edge):
    # Each edge contract next to two good jobs from two other clients, so every window has a score.
    filler = [ended(3, client=2), ended(4, client=3)]
    clients = [ClientSpec(), ClientSpec(flagged=True), ClientSpec(), ClientSpec()]
    built = build_world(clients, [SubjectSpec(agency=False, contracts=edge + filler)])
    assert_batch_equals_engine(built, batch_scores(AS_OF), AS_OF)


def test_no_qualifying_window_and_ties_through_sql():
    one_client = SubjectSpec(agency=False, contracts=[ended(5), ended(6)])  # one client: no window qualifies
    tie = SubjectSpec(agency=True, contracts=[ended(5), ended(6, client=1)])  # 100 in every window: 24m wins
    built = build_world([ClientSpec(), ClientSpec()], [one_client, tie])
    scores = batch_scores(AS_OF)
    assert (scores[built.subjects[0]].score, scores[built.subjects[0]].window) == (None, None)
    assert (scores[built.subjects[1]].score, scores[built.subjects[1]].window) == (100, "24m")
    assert_batch_equals_engine(built, scores, AS_OF)


def test_snapshots_are_upserted_and_unchanged_rows_left_alone():
    built = build_world(
        [ClientSpec(), ClientSpec()], [SubjectSpec(agency=False, contracts=[ended(5), ended(6, client=1)])]
    )
    scores = batch.score_range("freelancer", *EVERYONE, AS_OF)
    first = timezone.make_aware(dt.datetime(2026, 3, 31, 2, 0))
    assert batch.write_snapshots("freelancer", AS_OF, scores, now=first) == 1
    again = timezone.make_aware(dt.datetime(2026, 3, 31, 3, 0))
    assert batch.write_snapshots("freelancer", AS_OF, scores, now=again) == 0
    snapshot = ScoreSnapshot.objects.get(freelancer_id=built.subjects[0][1], as_of=AS_OF)
    assert snapshot.computed_at == first  # the rerun did not touch the row
    assert (snapshot.score, snapshot.window) == (100, "24m")
    assert snapshot.full_detail == engine.compute(built.facts[built.subjects[0]], as_of=AS_OF).detail


def test_a_changed_score_is_rewritten():
    built = build_world(
        [ClientSpec(), ClientSpec()], [SubjectSpec(agency=False, contracts=[ended(5), ended(6, client=1)])]
    )
    now = timezone.make_aware(dt.datetime(2026, 3, 31, 2, 0))
    batch.write_snapshots("freelancer", AS_OF, batch.score_range("freelancer", *EVERYONE, AS_OF), now=now)
    contract_id = built.facts[built.subjects[0]][0].contract_id
    from marketplace.models import Feedback

    Feedback.objects.filter(contract_id=contract_id).update(private_score=2)  # the marketplace re-sent it
    rescored = batch.score_range("freelancer", *EVERYONE, AS_OF)
    assert batch.write_snapshots("freelancer", AS_OF, rescored, now=now + dt.timedelta(hours=1)) == 1
    assert ScoreSnapshot.objects.get(freelancer_id=built.subjects[0][1]).score == 0


@pytest.mark.parametrize("chunk_size, max_chunks", [(2, 64), (1, 3), (1000, 64)])
def test_the_chunks_cover_every_subject_once(chunk_size, max_chunks):
    subjects = [SubjectSpec(agency=i % 3 == 0, contracts=[ended(5 + i), ended(9, client=1)]) for i in range(7)]
    subjects.append(SubjectSpec(agency=False, contracts=[]))  # nothing to score
    built = build_world([ClientSpec(), ClientSpec()], subjects)
    plan = batch.plan_chunks(chunk_size, max_chunks)
    covered = [
        (kind, s.subject_id) for kind, first, last, _ in plan for s in batch.score_range(kind, first, last, AS_OF)
    ]
    assert sorted(covered) == sorted(key for key in built.subjects if built.facts[key])
    assert len(plan) <= max(max_chunks, 2)  # one range at least for each kind
    assert {kind for kind, *_ in plan} == {"freelancer", "agency"}
    ranges = sorted((kind, first, last) for kind, first, last, _ in plan)
    for (kind, _, last), (next_kind, next_first, _) in zip(ranges, ranges[1:], strict=False):
        assert kind != next_kind or next_first == last + 1  # no gap, no overlap


def test_the_number_of_chunks_stops_growing():
    # Freelancer ids 100,000 wide: 1,000 ids a chunk would make 100 chunks; at most 64, each 1,563 wide.
    from django.contrib.auth import get_user_model

    from marketplace.models import Freelancer

    built = build_world([ClientSpec()], [SubjectSpec(agency=False, contracts=[ended(5)])])
    low = built.subjects[0][1]
    user = get_user_model().objects.create(username="far", email="far@example.com")
    Freelancer.objects.create(pk=low + 99_999, user=user, name="Far", public_id="far")
    plan = batch.plan_chunks(1000, 64)
    assert len(plan) == 64
    assert {last - first + 1 for _, first, last, _ in plan[:-1]} == {1563}
    assert len(batch.plan_chunks(1000, 1000)) == 100


def test_decode_left_out():
    assert batch.decode_left_out(None) == []
    assert batch.decode_left_out('[12,"no_feedback"],[5,"flagged_client"]') == [
        (5, "flagged_client"),
        (12, "no_feedback"),
    ]


@pytest.mark.postgres
@DB_EXAMPLES
@given(
    st.lists(
        st.tuples(st.integers(0, 3000), st.integers(0, 3000), st.integers(0, 3000), st.integers(1, 9)),
        min_size=4,
        max_size=4,
    ),
    st.sampled_from(AS_OF_EDGES),
)
def test_postgresql_writes_any_figures_as_the_engine_does(figures, as_of):
    """Big and awkward denominators (weights up to thousands of quarters): the rounding, the best window and
    the ties, as the engine's Decimal arithmetic gives them."""
    tallies, n, k, p, m = [], 0, 0, 0, 0
    for contracts, positive, negative, clients in figures:
        n, k = n + contracts, max(k, min(clients, n + contracts))
        p, m = p + positive, m + negative
        tallies.append((n, k, p, m, p + m + 3 * contracts))
    columns = ", ".join(("subject", *batch.FIGURE_COLUMNS, "left_out", "stable_until"))
    values = ", ".join(["%s"] * (3 + len(batch.FIGURE_COLUMNS)))
    with transaction.atomic(), connection.cursor() as cursor:
        int_columns = ", ".join(f"{column} int" for column in batch.FIGURE_COLUMNS)
        cursor.execute(
            f"CREATE TEMP TABLE figures (subject bigint, {int_columns}, left_out text, stable_until date) "
            "ON COMMIT DROP"
        )
        left_out = '[20,"flagged_client"],[12,"active_never_paid"]'
        cursor.execute(
            f"INSERT INTO figures VALUES ({values})",
            [424242, *(v for t in tallies for v in t), left_out, engine.NEVER],
        )
        sql, params = batch.snapshot_upsert_sql(f"SELECT {columns} FROM figures", "freelancer", as_of)
        cursor.execute(sql, {**params, "now": NOW})
        assert cursor.fetchone()[:2] == (1, 1)
        stored = ScoreSnapshot.objects.get(freelancer_id=424242, as_of=as_of)
        expected = engine.from_tallies(tallies, [(12, "active_never_paid"), (20, "flagged_client")], as_of=as_of)
        assert (stored.score, stored.window, stored.full_detail) == (expected.score, expected.window, expected.detail)
        transaction.set_rollback(True)
