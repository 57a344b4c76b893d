"""The incremental scheduled update equals a full rescore, subject for subject.

A full update on day D; then random changes (new contracts, a new subject, feedback written, edited or
deleted, a client flagged or cleared, a payment recorded by raw SQL, a contract deleted, a perk exclusion
added); then an update on D + 1, D + 14 or D + 45 that builds on D's (only the dirty subjects scored, the others
carried). Every subject's snapshot must be ``engine.compute`` on the new day (score, window, stored detail,
stable_until), a full update of the same day must find nothing to change, and a chunk run again must write
nothing. PostgreSQL runs the SQL path, SQLite the Python path."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from jss import batch, engine, services
from jss.models import JssExclusion, JssSubjectChange, ScoreSnapshot, ScoreUpdate, ScoreUpdateChunk
from marketplace.models import Agency, Client, Contract, Feedback, Freelancer
from requests_app.models import RemovalRequest
from tests import factories as f
from tests.jss.builders import ClientSpec, ContractSpec, SubjectSpec, applied_request, build_world
from tests.jss.test_batch import DB_EXAMPLES, ratings, worlds

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(dt.datetime(2026, 12, 1, 2, 0))


def current_expectations(as_of):
    """(kind, id) -> engine.compute of the subject's contracts as they are now, for every subject with one."""
    expected = {}
    for kind, model in (("freelancer", Freelancer), ("agency", Agency)):
        ids = list(model.objects.values_list("pk", flat=True))
        for subject_id, facts in batch.facts_of(kind, ids).items():
            column = "contract__agency_id" if kind == "agency" else "contract__freelancer_id"
            rows = JssExclusion.objects.filter(created_at__date__lte=as_of, **{column: subject_id})
            if kind == "freelancer":
                rows = rows.filter(contract__agency__isnull=True)
            order = list(rows.order_by("created_at", "id").values_list("contract_id", flat=True))
            expected[(kind, subject_id)] = engine.compute(facts, as_of=as_of, exclusions=order)
    return expected


def assert_snapshots_are_the_engines(as_of):
    expected = current_expectations(as_of)
    stored = {}
    for row in ScoreSnapshot.objects.filter(as_of=as_of):
        key = ("agency", row.agency_id) if row.agency_id else ("freelancer", row.freelancer_id)
        stored[key] = row
    assert set(stored) == set(expected)  # a subject whose contracts all vanished has none
    for key, result in expected.items():
        row = stored[key]
        assert (row.score, row.window, row.detail, row.stable_until) == (
            result.score,
            result.window,
            result.stored,
            result.stable_until,
        ), key
        assert row.full_detail == result.detail


def apply_changes(data, day):
    """Random changes of every kind the change log must catch, on and around ``day``."""
    contracts = list(Contract.objects.order_by("pk"))
    clients = list(Client.objects.order_by("pk"))
    for _ in range(data.draw(st.integers(0, 3), label="new contracts")):
        if contracts and data.draw(st.integers(0, 3)):
            like = data.draw(st.sampled_from(contracts))
            freelancer, agency = like.freelancer, like.agency
        else:
            freelancer, agency = f.FreelancerFactory(), None  # a subject that had no contract
        reference = day - dt.timedelta(days=data.draw(st.integers(-10, 120) | st.integers(0, 800)))
        active = data.draw(st.integers(0, 3)) == 0
        contract = Contract.objects.create(
            number=f"77{Contract.objects.count():06d}{data.draw(st.integers(0, 999)):03d}",
            title="new",
            freelancer=freelancer,
            agency=agency,
            client=data.draw(st.sampled_from(clients)),
            started_on=reference - dt.timedelta(days=data.draw(st.sampled_from([0, 89, 90, 200]))),
            ended_on=None if active else reference,
            last_payment_on=reference,
            total_charged=data.draw(st.sampled_from(["0", "100", "5000"]).map(Decimal)),
        )
        if data.draw(st.booleans()):
            Feedback.objects.create(contract=contract, public_rating=data.draw(ratings), private_score=9)
        contracts.append(contract)
    for contract in data.draw(
        st.lists(st.sampled_from(contracts), max_size=3, unique=True) if contracts else st.just([])
    ):
        feedback = Feedback.objects.filter(contract=contract).first()
        choice = data.draw(st.integers(0, 2), label="feedback")
        if feedback is None:
            Feedback.objects.create(contract=contract, public_rating=data.draw(ratings), private_score=2)
        elif choice == 0:
            feedback.delete()
        else:
            with connection.cursor() as cursor:  # raw SQL: the triggers see it all the same
                cursor.execute(
                    "UPDATE marketplace_feedback SET private_score = %s WHERE id = %s",
                    [data.draw(st.none() | st.integers(0, 10)), feedback.pk],
                )
    if clients and data.draw(st.booleans(), label="client flags"):
        client = data.draw(st.sampled_from(clients))
        if data.draw(st.booleans()):
            client.flagged = not client.flagged
        else:
            client.suspended_for_tos = not client.suspended_for_tos
        client.save()
    agencies = list(Agency.objects.order_by("pk"))
    if contracts and data.draw(st.integers(0, 3), label="move") == 0:
        # A contract moves between a freelancer's own work and an agency's: both subjects change.
        contract = data.draw(st.sampled_from(contracts))
        agency = None if contract.agency_id or not agencies else data.draw(st.sampled_from(agencies))
        Contract.objects.filter(pk=contract.pk).update(agency=agency)
    active = [c for c in contracts if c.ended_on is None and c.last_payment_on is not None]
    if active and data.draw(st.booleans(), label="payment"):
        contract = data.draw(st.sampled_from(active))
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE marketplace_contract SET last_payment_on = %s WHERE id = %s",
                [max(day - dt.timedelta(days=data.draw(st.integers(0, 30))), contract.started_on), contract.pk],
            )
    protected = set(RemovalRequest.objects.values_list("contract_id", flat=True))
    deletable = [c for c in contracts if c.pk not in protected]
    for contract in data.draw(
        st.lists(st.sampled_from(deletable), max_size=2, unique=True) if deletable else st.just([])
    ):
        contract.delete()
        contracts.remove(contract)
    free = [c for c in contracts if c.pk not in protected]
    if free and data.draw(st.booleans(), label="exclusion"):
        contract = data.draw(st.sampled_from(free))
        applied_request(
            contract, contract.freelancer.user, at=timezone.make_aware(dt.datetime.combine(day, dt.time(3)))
        )


@pytest.mark.parametrize("read_database", ["", "default"], ids=["primary", "replica"])
@DB_EXAMPLES
@given(worlds(), st.sampled_from([1, 14, 45]), st.integers(1, 4), st.data())
def test_the_incremental_update_equals_the_engine_and_a_full_update(read_database, world, days, chunk_size, data):
    """``read_database`` 'default' plays a read replica: on PostgreSQL the chunks then take the Python path too."""
    as_of, clients, subjects = world
    later = as_of + dt.timedelta(days=days)
    overrides = dict(
        JSS_UPDATE_CHUNK_SIZE=chunk_size, JSS_UPDATE_INCREMENTAL=True, JSS_UPDATE_READ_DATABASE=read_database
    )
    with transaction.atomic(), override_settings(**overrides):
        build_world(clients, subjects, excluded_at=timezone.make_aware(dt.datetime(2024, 1, 1)))
        first = services.run_update(as_of=as_of, force=True, now=NOW).update
        assert first.finished_at is not None and not first.incremental and first.change_watermark is not None
        assert_snapshots_are_the_engines(as_of)

        apply_changes(data, later)
        start = services.run_update(as_of=later, force=True, now=NOW)
        update = start.update
        assert update.finished_at is not None and update.incremental_from_id == first.pk
        assert_snapshots_are_the_engines(later)
        assert update.subjects == ScoreSnapshot.objects.filter(as_of=later).count()

        # A redelivered chunk does nothing; the chunk's work done again writes nothing either.
        for chunk in ScoreUpdateChunk.objects.filter(update=update):
            assert services.score_chunk(chunk.pk, now=NOW) is None
            _, _, written, _ = batch.score_and_write_incremental(
                chunk.kind,
                chunk.first_subject,
                chunk.last_subject,
                later,
                now=NOW,
                base_as_of=as_of,
                since=first.change_watermark,
                upto=update.change_watermark,
            )
            assert written == 0
        # A full update of the same day finds every row as it would have written it.
        rerun = services.run_update(as_of=later, force=True, now=NOW).update
        assert not rerun.incremental and rerun.subjects_scored == rerun.subjects
        assert rerun.snapshots_written == 0
        transaction.set_rollback(True)


def test_an_unchanged_marketplace_is_carried_forward_and_only_due_subjects_are_scored():
    as_of = dt.date(2026, 3, 31)
    recent = ContractSpec(
        client=0,
        started_on=as_of - dt.timedelta(days=40),
        ended_on=as_of - dt.timedelta(days=5),
        last_payment_on=as_of - dt.timedelta(days=5),
        private_score=10,
    )
    old = ContractSpec(
        client=1,
        started_on=dt.date(2025, 1, 1),
        ended_on=dt.date(2025, 6, 1),
        last_payment_on=dt.date(2025, 6, 1),
        private_score=10,
    )
    build_world(
        [ClientSpec(), ClientSpec()],
        [SubjectSpec(agency=False, contracts=[recent, old]) for _ in range(4)]
        + [SubjectSpec(agency=False, contracts=[old, old])],
    )
    services.run_update(as_of=as_of, force=True, now=NOW)
    # 14 days on: the old-only subject's score cannot change before 2026-06-01 (12m crossing); the others'
    # recent contract is in the 3m window until 2026-06-26: nothing is due, nothing changed.
    update = services.run_update(as_of=as_of + dt.timedelta(days=14), force=True, now=NOW).update
    assert update.incremental and (update.subjects, update.subjects_scored) == (5, 0)
    # Once a window edge passes, the subjects it touches are scored again.
    update = services.run_update(as_of=dt.date(2026, 6, 2), force=True, now=NOW).update
    assert update.incremental and update.subjects_scored == 5
    assert_snapshots_are_the_engines(dt.date(2026, 6, 2))


def one_freelancer_one_contract():
    """One freelancer with one ended contract (Jan-Feb 2026, private score 10)."""
    one = ContractSpec(
        client=0,
        started_on=dt.date(2026, 1, 1),
        ended_on=dt.date(2026, 2, 1),
        last_payment_on=dt.date(2026, 2, 1),
        private_score=10,
    )
    build_world([ClientSpec()], [SubjectSpec(agency=False, contracts=[one])])


def test_it_runs_full_without_a_base_with_the_setting_off_or_when_asked(settings):
    one_freelancer_one_contract()
    day = dt.date(2026, 3, 1)
    assert not services.run_update(as_of=day, force=True, now=NOW).update.incremental  # nothing to build on
    assert services.run_update(as_of=day + dt.timedelta(days=1), force=True, now=NOW).update.incremental
    assert not services.run_update(as_of=day + dt.timedelta(days=2), force=True, now=NOW, full=True).update.incremental
    settings.JSS_UPDATE_INCREMENTAL = False
    assert not services.run_update(as_of=day + dt.timedelta(days=3), force=True, now=NOW).update.incremental
    settings.JSS_UPDATE_INCREMENTAL = True
    # An update before the base (a day filled in behind a later one) or of a day already done runs full.
    assert not services.run_update(as_of=day - dt.timedelta(days=5), force=True, now=NOW).update.incremental
    assert not services.run_update(as_of=day + dt.timedelta(days=3), force=True, now=NOW).update.incremental
    # The base must be finished and know its watermark.
    ScoreUpdate.objects.filter(as_of=day + dt.timedelta(days=3)).update(change_watermark=None)
    assert not services.run_update(as_of=day + dt.timedelta(days=4), force=True, now=NOW).update.incremental


def test_finished_updates_prune_the_change_log_to_what_the_next_run_needs():
    one_freelancer_one_contract()
    contract = Contract.objects.get()
    marks = []
    for n in range(3):
        Feedback.objects.filter(contract=contract).update(private_score=9 - n)  # a change logged each time
        marks.append(services.run_update(as_of=dt.date(2026, 3, 1 + n), force=True, now=NOW).update.change_watermark)
    # After the third update: rows up to the second's watermark are gone (one generation kept as a margin).
    assert not JssSubjectChange.objects.filter(id__lte=marks[1]).exists()
    assert JssSubjectChange.objects.filter(id__gt=marks[1], id__lte=marks[2]).exists()


@pytest.mark.parametrize("subjects", [4, 40])
def test_an_incremental_chunk_takes_the_same_queries_whatever_its_size(subjects):
    def job(days, client):
        end = dt.date(2026, 3, 31) - dt.timedelta(days=days)
        return ContractSpec(
            client=client, started_on=end - dt.timedelta(days=9), ended_on=end, last_payment_on=end, private_score=10
        )

    built = build_world(
        [ClientSpec(), ClientSpec()],
        [
            SubjectSpec(agency=False, contracts=[job(5 + i % 20, 0), job(200, 1)], exclusions=[1] if i == 0 else [])
            for i in range(subjects)
        ],
        excluded_at=timezone.make_aware(dt.datetime(2024, 1, 1)),
    )
    as_of = dt.date(2026, 3, 31)
    first = services.run_update(as_of=as_of, force=True, now=NOW).update
    # Half the subjects changed: a new contract each.
    for _kind, subject_id in built.subjects[::2]:
        like = Contract.objects.filter(freelancer_id=subject_id).first()
        Contract.objects.create(
            number=f"88{subject_id:08d}",
            title="n",
            freelancer_id=subject_id,
            client_id=like.client_id,
            started_on=dt.date(2026, 4, 1),
            ended_on=dt.date(2026, 4, 5),
            last_payment_on=dt.date(2026, 4, 5),
        )
    later = as_of + dt.timedelta(days=14)
    with CaptureQueriesContext(connection) as queries:
        start = services.start_scheduled_update(as_of=later, force=True, now=NOW, queue=False)
        assert start.update.incremental and len(start.chunk_ids) == 1
        planned = len(queries)
        services.score_chunk(start.chunk_ids[0], now=NOW, queue=False)
    # The chunk row; a savepoint; the dirty subjects; the exclusions; the tally's settings and the tally + upsert
    # (PostgreSQL; SQLite: the tally and the upsert); the engine's facts and its subjects' snapshots; the carry; the
    # outcomes (2); the update row, the chunk marked, the last-chunk test; the savepoint released. The same count
    # at 4 subjects and at 40 (and at any size).
    chunk_queries = len(queries) - planned
    assert chunk_queries == CHUNK_QUERIES[connection.vendor]
    assert ScoreSnapshot.objects.filter(as_of=later).count() == subjects
    assert first.subjects == subjects


CHUNK_QUERIES = {"postgresql": 15, "sqlite": 16}
