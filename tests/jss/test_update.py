"""The scheduled JSS update: when it runs, chunks, one snapshot per subject, reruns, lost and redelivered
messages, the outcome of applied requests, and a query count that does not follow the number of subjects.

Tasks run eagerly (conftest); on_commit work runs inside ``django_capture_on_commit_callbacks``."""

import datetime as dt
import math
import threading

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from jss import engine, services, signals, tasks
from jss.models import ScoreSnapshot, ScoreUpdate, ScoreUpdateChunk
from marketplace.models import Contract
from requests_app import services as request_services
from requests_app.models import RequestEvent
from tests import factories as f
from tests.jss.builders import ClientSpec, ContractSpec, SubjectSpec, applied_request, build_world

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 26)
NOW = timezone.make_aware(dt.datetime(2026, 11, 26, 9, 0))


def job(days_ago, client, score=10):
    end = AS_OF - dt.timedelta(days=days_ago)
    return ContractSpec(
        client=client, started_on=end - dt.timedelta(days=20), ended_on=end, last_payment_on=end, private_score=score
    )


def world(n, *, agencies_every=5):
    """n subjects with two or three jobs each from different clients (some agencies)."""
    clients = [ClientSpec() for _ in range(4)]
    subjects = [
        SubjectSpec(
            agency=i % agencies_every == 0,
            contracts=[job(10 + i % 30, 0), job(40, 1 + i % 3, score=10 if i % 4 else 3)]
            + ([job(90, 3)] if i % 2 else []),
        )
        for i in range(n)
    ]
    return build_world(clients, subjects)


def snapshot_rows():
    return list(
        ScoreSnapshot.objects.order_by("pk").values_list(
            "pk", "freelancer_id", "agency_id", "as_of", "score", "window", "detail", "computed_at"
        )
    )


def run_task(django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return tasks.run_scheduled_update.delay(**kwargs).get()


def test_every_subject_gets_exactly_one_snapshot_in_several_chunks(settings, django_capture_on_commit_callbacks):
    settings.JSS_UPDATE_CHUNK_SIZE = 4
    built = world(13)
    result = run_task(django_capture_on_commit_callbacks, as_of=AS_OF.isoformat())
    assert result["outcome"] == "started"
    update = ScoreUpdate.objects.get(as_of=AS_OF)
    kinds = {kind: sum(1 for k, _ in built.subjects if k == kind) for kind in ("freelancer", "agency")}
    assert update.chunks >= sum(math.ceil(n / 4) for n in kinds.values()) >= 2  # ranges of 4 ids
    assert update.finished_at is not None
    assert (update.subjects, update.snapshots_written) == (13, 13)
    assert ScoreSnapshot.objects.filter(as_of=AS_OF).count() == 13
    for kind, subject_id in built.subjects:
        snapshot = ScoreSnapshot.objects.get(**{f"{kind}_id": subject_id}, as_of=AS_OF)
        expected = engine.compute(built.facts[(kind, subject_id)], as_of=AS_OF)
        assert (snapshot.score, snapshot.window) == (expected.score, expected.window)
        assert snapshot.full_detail == expected.detail


def test_rerunning_changes_nothing(settings, django_capture_on_commit_callbacks):
    settings.JSS_UPDATE_CHUNK_SIZE = 3
    world(8)
    run_task(django_capture_on_commit_callbacks, as_of=AS_OF.isoformat())
    before = snapshot_rows()
    assert run_task(django_capture_on_commit_callbacks, as_of=AS_OF.isoformat())["outcome"] == "done"
    assert snapshot_rows() == before
    # Forced: every subject is scored again, and rows that come out the same are left alone.
    assert run_task(django_capture_on_commit_callbacks, as_of=AS_OF.isoformat(), force=True)["outcome"] == "started"
    assert snapshot_rows() == before
    update = ScoreUpdate.objects.get(as_of=AS_OF)
    assert (update.subjects, update.snapshots_written, update.forced) == (8, 0, True)
    assert ScoreUpdate.objects.count() == 1


@pytest.mark.parametrize(
    ("last_days_ago", "force", "outcome"),
    [
        pytest.param(None, False, "started", id="first-update"),
        pytest.param(13, False, "not_due", id="13-days-not-due"),
        pytest.param(14, False, "started", id="14-days-due"),
        pytest.param(20, False, "started", id="missed-nights-catch-up"),
        pytest.param(1, True, "started", id="forced"),
    ],
)
def test_runs_only_when_due(last_days_ago, force, outcome, settings, django_capture_on_commit_callbacks):
    settings.JSS_UPDATE_EVERY_DAYS = 14
    world(3)
    if last_days_ago is not None:
        f.ScoreUpdateFactory(as_of=AS_OF - dt.timedelta(days=last_days_ago))
    result = run_task(django_capture_on_commit_callbacks, as_of=AS_OF.isoformat(), force=force)
    assert result["outcome"] == outcome
    assert ScoreSnapshot.objects.filter(as_of=AS_OF).count() == (3 if outcome == "started" else 0)


def test_a_lost_chunk_message_is_sent_again_by_the_next_nightly_run(settings, django_capture_on_commit_callbacks):
    settings.JSS_UPDATE_CHUNK_SIZE = 2
    world(6)
    with django_capture_on_commit_callbacks(execute=False) as lost:  # the broker lost every chunk message
        services.start_scheduled_update(as_of=AS_OF, now=NOW)
    assert len(lost) == ScoreUpdateChunk.objects.count() >= 3
    assert ScoreSnapshot.objects.count() == 0
    # The next night is not due for a new update, but it finds this one unfinished and resumes it.
    result = run_task(django_capture_on_commit_callbacks, as_of=(AS_OF + dt.timedelta(days=1)).isoformat())
    assert result["outcome"] == "not_due"
    update = ScoreUpdate.objects.get(as_of=AS_OF)
    assert update.finished_at is not None
    assert ScoreSnapshot.objects.filter(as_of=AS_OF).count() == 6
    assert ScoreUpdate.objects.count() == 1


def test_a_redelivered_chunk_changes_nothing(settings, django_capture_on_commit_callbacks):
    settings.JSS_UPDATE_CHUNK_SIZE = 2
    world(4)
    run_task(django_capture_on_commit_callbacks, as_of=AS_OF.isoformat())
    before = snapshot_rows()
    chunk = ScoreUpdateChunk.objects.first()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert tasks.score_update_chunk.delay(chunk.pk).get() is None
        assert tasks.finish_update.delay(chunk.update_id).get() is False
    assert queued == []
    assert snapshot_rows() == before


def test_chunks_share_nothing_and_score_in_any_order():
    # Each chunk reads its own subjects' contracts: scored last to first, every snapshot is the engine's.
    built = world(9)
    start = services.start_scheduled_update(as_of=AS_OF, now=NOW, queue=False)
    assert len(start.chunk_ids) >= 2
    for chunk_id in reversed(start.chunk_ids):
        services.score_chunk(chunk_id, now=NOW, queue=False)
    assert services.finish_update(start.update.pk, now=NOW)
    for key in built.subjects:
        kind, subject_id = key
        snapshot = ScoreSnapshot.objects.get(**{f"{kind}_id": subject_id})
        assert snapshot.full_detail == engine.compute(built.facts[key], as_of=AS_OF).detail


def test_with_a_read_replica_the_chunks_read_there_and_only_write_snapshots_to_the_primary(settings):
    """``JSS_UPDATE_READ_DATABASE`` names the database the chunks read their figures from (a read replica in
    production, DATABASE_REPLICA_URL; here the test database under its own alias): the scores are worked out
    on the worker by the engine's functions, and the primary only receives the snapshots. Same snapshots."""
    from django.test.utils import CaptureQueriesContext

    settings.JSS_UPDATE_READ_DATABASE = "default"
    built = world(9)
    with CaptureQueriesContext(connection) as queries:
        services.run_update(as_of=AS_OF, now=NOW)
    statements = [query["sql"] for query in queries.captured_queries]
    assert not any("WITH scored AS" in sql for sql in statements)  # no scoring statement on the primary
    assert sum("INSERT INTO" in sql and "jss_scoresnapshot" in sql for sql in statements) >= 2  # one per chunk
    for key in built.subjects:
        kind, subject_id = key
        snapshot = ScoreSnapshot.objects.get(**{f"{kind}_id": subject_id})
        assert snapshot.full_detail == engine.compute(built.facts[key], as_of=AS_OF).detail


def test_run_update_reports_progress():
    world(7)
    seen = []
    start = services.run_update(as_of=AS_OF, now=NOW, progress=lambda done, total: seen.append((done, total)))
    assert start.outcome == "started"
    total = seen[0][1]  # the ids the chunks cover: 7 subjects and the agencies' owners, who have no contract
    assert seen[0] == (0, total) and seen[-1] == (total, total) and total >= 7
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


# --- applied requests: the outcome and its email -----------------------------------------------------------


@pytest.fixture
def top_rated_freelancer():
    freelancer = f.FreelancerFactory(top_rated=True)
    good = [
        f.ContractFactory(
            freelancer=freelancer, with_feedback=True, ended_on=AS_OF - dt.timedelta(days=20 + i), total_charged=500
        )
        for i in range(2)
    ]
    bad = f.ContractFactory(freelancer=freelancer, ended_on=AS_OF - dt.timedelta(days=25), total_charged=500)
    f.FeedbackFactory(contract=bad, negative=True)
    return freelancer, good, bad


def applied_through_the_services(freelancer, contract, django_capture_on_commit_callbacks):
    agent = f.UserFactory(agent=True)
    with django_capture_on_commit_callbacks(execute=True):
        request = request_services.submit_request(
            requester=freelancer.user, contract_number=contract.number, scope="jss_only", now=NOW - dt.timedelta(days=3)
        )
        request_services.approve_request(request, agent=agent, now=NOW - dt.timedelta(days=2))
    request.refresh_from_db()
    assert request.status == "applied"
    return request


@pytest.mark.parametrize(
    ("which", "outcome"),
    [pytest.param("bad", "excluded", id="negative-excluded"), pytest.param("good", "kept_no_harm", id="positive-kept")],
)
def test_the_update_records_each_applied_requests_outcome_and_emails_once(
    which, outcome, top_rated_freelancer, django_capture_on_commit_callbacks
):
    freelancer, good, bad = top_rated_freelancer
    contract = bad if which == "bad" else good[0]
    request = applied_through_the_services(freelancer, contract, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    run_task(django_capture_on_commit_callbacks, as_of=AS_OF.isoformat())
    request.refresh_from_db()
    assert request.jss_outcome == outcome
    events = RequestEvent.objects.filter(request=request, kind="jss_outcome")
    assert events.count() == 1
    message = events.get().message  # it says which update decided it
    assert AS_OF.isoformat() in message or AS_OF.strftime("%-d %B %Y") in message
    assert [m.to for m in mail.outbox] == [[freelancer.user.email]]
    assert request.ticket_number in mail.outbox[0].subject

    # The next update judges it the same way: no new event, no second email.
    mail.outbox.clear()
    run_task(django_capture_on_commit_callbacks, as_of=(AS_OF + dt.timedelta(days=14)).isoformat())
    assert RequestEvent.objects.filter(request=request, kind="jss_outcome").count() == 1
    assert mail.outbox == []
    snapshot = ScoreSnapshot.objects.get(freelancer=freelancer, as_of=AS_OF)
    assert snapshot.full_detail["exclusions"][0]["contract_id"] == contract.pk
    assert snapshot.full_detail["exclusions"][0]["decision"] == outcome


# --- query count ------------------------------------------------------------------------------------------


# The whole update (start, two chunks, finish, one changed outcome announced after commit, its email owed in
# the outbox and sent, the /desk/ rollup's stored days of the outcome looked up; planning also reads the change
# log's watermark and looks for an update to build on, finishing prunes the change log), savepoints included: at
# most 62 on PostgreSQL and 62 on SQLite (its outcome bookkeeping takes one statement more), at 50 subjects and at 500
# alike (a chunk is a fixed handful of queries; chunks hold up to JSS_UPDATE_CHUNK_SIZE = 2000 subjects, so both
# sizes are one freelancer and one agency chunk).
def update_query_budget():
    return 62 if connection.vendor == "postgresql" else 62


@pytest.mark.parametrize("subjects", [50, 500])
def test_the_update_query_count_does_not_grow_with_subjects(
    subjects, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    built = world(subjects)
    # One applied request whose outcome the update records, in both sizes.
    kind, subject_id = built.subjects[1]
    assert kind == "freelancer"
    contract_id = built.facts[built.subjects[1]][1].contract_id
    contract = Contract.objects.get(pk=contract_id)
    applied_request(contract, contract.freelancer.user, at=NOW - dt.timedelta(days=1))
    with django_assert_max_num_queries(update_query_budget()):
        run_task(django_capture_on_commit_callbacks, as_of=AS_OF.isoformat())
    assert ScoreSnapshot.objects.filter(as_of=AS_OF).count() == subjects
    assert ScoreUpdate.objects.get(as_of=AS_OF).finished_at is not None


# --- outcomes in bulk, and chunks on several connections at once ------------------------------------------


def applied_on_every_subject(built, count):
    """An applied request on the second contract of the first ``count`` freelancers of ``built``."""
    requests = []
    for kind, subject_id in built.subjects:
        if kind != "freelancer" or len(requests) == count:
            continue
        contract = Contract.objects.get(pk=built.facts[(kind, subject_id)][1].contract_id)
        requests.append(applied_request(contract, contract.freelancer.user, at=NOW - dt.timedelta(days=1)))
    assert len(requests) == count
    return requests


@pytest.mark.parametrize("requests", [1, 12])
def test_recording_outcomes_takes_the_same_queries_for_one_request_or_many(
    requests, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    """The verdict lands on the exclusions in the update's transaction, and the tickets take it from the
    ``outcomes_changed`` signal after commit: each changed ticket gets its event and its email, in a fixed
    number of queries whatever the number of tickets."""
    built = world(30)
    applied = applied_on_every_subject(built, requests)
    decisions = {r.contract_id: ("excluded" if i % 2 else "kept_no_harm") for i, r in enumerate(applied)}
    mail.outbox.clear()
    with django_assert_max_num_queries(OUTCOME_QUERY_BUDGET):
        with django_capture_on_commit_callbacks() as announcements, transaction.atomic():
            changes = services.record_outcomes(decisions, as_of=AS_OF, now=NOW)
        with django_capture_on_commit_callbacks() as emails:
            for announce in announcements:
                announce()
    with django_capture_on_commit_callbacks(execute=True):
        for send in emails:  # one task per email, outside the budget: the recording is what must not grow
            send()
    assert sorted(changes) == sorted((cid, outcome, AS_OF) for cid, outcome in decisions.items())
    for r in applied:
        r.refresh_from_db()
        assert r.jss_outcome == decisions[r.contract_id]
        assert (r.exclusion.outcome, r.exclusion.outcome_as_of) == (decisions[r.contract_id], AS_OF)
        event = RequestEvent.objects.get(request=r, kind="jss_outcome")
        assert event.data == {"outcome": decisions[r.contract_id], "as_of": AS_OF.isoformat()}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.freelancer.user.email for r in applied)
    # The same decisions again (a forced rerun) change nothing: no announcement, no event, no email.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        assert services.record_outcomes(decisions, as_of=AS_OF, now=NOW) == []
    assert callbacks == []
    assert mail.outbox == []
    assert RequestEvent.objects.filter(kind="jss_outcome").count() == requests


# The exclusions locked and one UPDATE per outcome (in the update's savepoint), then, announced after commit,
# the tickets locked, one UPDATE per outcome, one INSERT of the events, the tickets read for their emails and
# the emails owed in the outbox (one look for what is already owed, one INSERT), and the /desk/ rollup's stored
# days of those applications looked up (none stored here), in their own savepoint. There are at most two
# outcomes, so this holds for any number of tickets.
OUTCOME_QUERY_BUDGET = 15


def test_a_redelivered_announcement_records_nothing_twice(django_capture_on_commit_callbacks):
    built = world(4)
    (applied,) = applied_on_every_subject(built, 1)
    change = (applied.contract_id, "kept_no_harm", AS_OF)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            signals.outcomes_changed.send(sender=None, changes=[change])
    applied.refresh_from_db()
    assert applied.jss_outcome == "kept_no_harm"
    assert RequestEvent.objects.filter(request=applied, kind="jss_outcome").count() == 1
    assert len(mail.outbox) == 1


def test_the_sweep_records_an_outcome_whose_announcement_was_lost(django_capture_on_commit_callbacks):
    """The process stopped between the update's commit and the signal: the exclusion holds the verdict, the
    ticket does not yet. The sweep finds the difference and records it, once."""
    built = world(4)
    (applied,) = applied_on_every_subject(built, 1)
    with transaction.atomic():  # committed (to the test's savepoint) without running on_commit: no signal
        services.record_outcomes({applied.contract_id: "excluded"}, as_of=AS_OF, now=NOW)
    applied.refresh_from_db()
    assert applied.jss_outcome == "pending"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert request_services.sweep(now=NOW).outcomes == 1
        assert request_services.sweep(now=NOW).outcomes == 0
    applied.refresh_from_db()
    assert applied.jss_outcome == "excluded"
    assert RequestEvent.objects.filter(request=applied, kind="jss_outcome").count() == 1
    assert [m.to for m in mail.outbox] == [[applied.freelancer.user.email]]


def test_recording_refuses_a_verdict_the_engine_never_gives_and_changes_nothing():
    built = world(4)
    (applied,) = applied_on_every_subject(built, 1)
    with pytest.raises(ValueError), transaction.atomic():
        services.record_outcomes({applied.contract_id: "deleted"}, as_of=AS_OF, now=NOW)
    applied.refresh_from_db()
    assert applied.jss_outcome == "pending" and applied.exclusion.outcome == "pending"
    assert not RequestEvent.objects.filter(kind="jss_outcome").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_jobs_score_chunks_on_their_own_connections_with_the_same_result(settings):
    """``run_update(jobs=3)`` scores the chunks on three threads, each with its own connection and
    transaction: every subject gets exactly the engine's snapshot, the outcome is recorded and emailed once,
    and scoring the day again one chunk after another finds nothing to change."""
    from django.db.backends.signals import connection_created

    settings.JSS_UPDATE_CHUNK_SIZE = 7
    built = world(60)
    (applied,) = applied_on_every_subject(built, 1)
    threads = set()

    def seen(sender, connection, **kwargs):
        threads.add(threading.current_thread().name)

    mail.outbox.clear()
    connection_created.connect(seen)
    try:
        start = services.run_update(as_of=AS_OF, now=NOW, jobs=3)
    finally:
        connection_created.disconnect(seen)
    update = ScoreUpdate.objects.get(as_of=AS_OF)
    assert start.outcome == "started" and update.finished_at is not None and update.chunks >= 8
    assert len({name for name in threads if name.startswith("jss-chunk")}) >= 2
    assert update.subjects == update.snapshots_written == ScoreSnapshot.objects.filter(as_of=AS_OF).count() == 60
    for (kind, subject_id), facts in built.facts.items():
        snapshot = ScoreSnapshot.objects.get(**{kind: subject_id}, as_of=AS_OF)
        exclusions = [applied.contract_id] if (kind, subject_id) == ("freelancer", applied.freelancer_id) else []
        assert snapshot.full_detail == engine.compute(facts, as_of=AS_OF, exclusions=exclusions).detail
    applied.refresh_from_db()
    assert applied.jss_outcome in ("excluded", "kept_no_harm")
    assert [m.to for m in mail.outbox] == [[applied.freelancer.user.email]]

    before = snapshot_rows()
    again = services.run_update(as_of=AS_OF, now=NOW + dt.timedelta(hours=1), force=True, jobs=1)
    assert again.outcome == "started"
    assert ScoreUpdate.objects.get(as_of=AS_OF).snapshots_written == 0
    assert snapshot_rows() == before
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_scored_subject_cannot_be_deleted_under_its_snapshots():
    """Snapshots carry no database foreign key (it would lock every subject row each night); what keeps their
    subject alive is the contracts' own foreign keys: the database refuses to delete a freelancer or an agency
    that has contracts, even by raw SQL, and only subjects with contracts are scored."""
    from django.db import IntegrityError, connection, transaction

    built = world(5)
    services.run_update(as_of=AS_OF, now=NOW)
    for kind, subject_id in built.subjects:
        assert ScoreSnapshot.objects.filter(**{kind: subject_id}, as_of=AS_OF).exists()
        table = "marketplace_agency" if kind == "agency" else "marketplace_freelancer"
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [subject_id])
    assert ScoreSnapshot.objects.filter(as_of=AS_OF).count() == 5


def test_the_detail_round_trips_through_its_json_column():
    """``ScoreSnapshot.detail`` is stored as PostgreSQL ``json`` (text checked to be JSON), not ``jsonb``:
    whatever writes it (the ORM, the update's SQL), it reads back as the same dict, by instance or by value."""
    from django.db import connection

    built = world(3)
    services.run_update(as_of=AS_OF, now=NOW)
    freelancer = f.FreelancerFactory()
    detail = {"windows": {"24m": {"score": "91.5", "contracts": 3}}, "left_out": [], "note": "é ✓"}
    written = f.ScoreSnapshotFactory(freelancer=freelancer, as_of=AS_OF, score=92, window="24m", detail=detail)
    assert ScoreSnapshot.objects.get(pk=written.pk).detail == detail
    assert ScoreSnapshot.objects.filter(pk=written.pk).values_list("detail", flat=True).get() == detail
    for (kind, subject_id), facts in built.facts.items():
        stored = ScoreSnapshot.objects.values_list("detail", flat=True).get(**{kind: subject_id}, as_of=AS_OF)
        assert stored == engine.compute(facts, as_of=AS_OF).stored
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_typeof(detail)::text FROM jss_scoresnapshot LIMIT 1")
            assert cursor.fetchone()[0] == "json"


def test_a_chunk_reads_from_the_primary_when_the_read_replica_is_behind_the_updates_plan(settings, monkeypatch):
    """An incremental update must not score a dirty subject from data older than its watermark: a chunk reads
    from the replica only once the replica has replayed the primary's WAL up to the update's plan."""
    from django.test.utils import CaptureQueriesContext

    from jss import batch

    settings.JSS_UPDATE_READ_DATABASE = "default"
    seen = []

    def behind(using, lsn, **kwargs):
        seen.append(lsn)
        return False

    monkeypatch.setattr(batch, "replica_caught_up", behind)
    built = world(5)
    with CaptureQueriesContext(connection) as queries:
        update = services.run_update(as_of=AS_OF, now=NOW).update
    if connection.vendor == "postgresql":
        assert update.planned_lsn and seen and set(seen) == {update.planned_lsn}
        assert any("WITH scored AS" in q["sql"] for q in queries.captured_queries)  # scored on the primary
    else:
        assert update.planned_lsn == "" and not seen  # nothing to wait for
    for key in built.subjects:
        kind, subject_id = key
        snapshot = ScoreSnapshot.objects.get(**{f"{kind}_id": subject_id})
        assert snapshot.full_detail == engine.compute(built.facts[key], as_of=AS_OF).detail


def test_a_primary_has_replayed_everything():
    from jss import batch

    assert batch.replica_caught_up("default", "0/0", wait=0)
    if connection.vendor == "postgresql":
        assert batch.replica_caught_up("default", "FFFFFFFF/FFFFFFFF", wait=0)  # not in recovery: a primary
