#!/usr/bin/env python
"""SPEC §8: a full scheduled JSS update against the bare aggregate over the same 24-month contracts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/perkdesk_bench .venv/bin/python bench/recalc.py --contracts 2000000
    DATABASE_URL=sqlite:///var/bench.sqlite3 .venv/bin/python bench/recalc.py --contracts 100000
    ... --workers 2      # the chunks go to 2 real Celery worker processes (needs REDIS_URL); the outcome
                         # emails they owe are queued to a queue nobody consumes, as in-process runs do
    ... --jobs 2         # in process: 2 chunks at once, each on its own connection (default: CPUs on PostgreSQL)

With ``--contracts N`` the script makes its data: it (re)creates the bench database, migrates it and runs
``generate_bench_data`` (it reuses a database that already holds exactly that data; ``--fresh`` rebuilds).
Without it, it measures whatever the bench database holds. It refuses any database whose name does not
contain "bench", so it can never wipe a development or production database.

It then runs ``--repeat`` rounds (default 3), each timing the bare aggregate ``SELECT subject, count(*),
sum(total_charged) ... GROUP BY subject`` over the contracts whose reference date is in the 24 months up to
as_of (median of three runs, its rows fetched as an application would) just before and just after one full
scheduled update from deleted snapshots and updates (every subject scored, one snapshot each written). The
figures are the medians over the rounds, so one noisy moment on a shared machine does not decide them;
``ratio_each_run`` shows every round. The last line printed is one JSON object: {"contracts", "subjects",
"seconds", "sql_seconds", "ratio", "queries", ...}; ``queries`` counts the statements the update sent (in this
process and its job threads; with --workers the workers' are not visible here, so it is null). With REDIS_URL
(or CELERY_BROKER_URL) the outcome emails are queued as in production, to a throwaway queue; without a broker
they are sent eagerly, inside the timing. ``sql_server_seconds``/``ratio_server`` time the same aggregate
wrapped in count(*), so that no rows leave the database.

``--incremental-after-days N`` (off by default): after the full rounds, a small churn is written with the
change-log triggers on (0.5 % of the contracts get new feedback, 1 % new contracts are added for existing
subjects), then an incremental update N days later is timed against a full update from empty on that same
as_of (each twice, the best reported); the JSON gains {"incremental_seconds", "full_seconds_same_day",
"dirty_subjects", "subjects", "incremental_equals_full", "churn_seconds", ...} (``subjects`` is then the later day's).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"
SEED = 1


def database_name(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return Path(parts.path).name
    return parts.path.lstrip("/")


def refuse_unless_bench(url: str) -> None:
    if "bench" not in database_name(url).lower():
        sys.exit(
            f"recalc.py: refusing to use {database_name(url)!r}: only a database named with 'bench' (it may wipe it)"
        )


def recreate(url: str) -> None:
    """Drop and create the bench database (PostgreSQL) or delete its file (SQLite)."""
    parts = urlsplit(url)
    name = database_name(url)
    if parts.scheme.startswith("sqlite"):
        Path(parts.path).unlink(missing_ok=True)
        Path(parts.path).parent.mkdir(parents=True, exist_ok=True)
        return
    import psycopg

    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(url: str, *, broker: str | None) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "perkdesk.settings"
    os.environ.setdefault("DJANGO_ENV", "development")  # settings default to production
    if broker:
        os.environ["CELERY_BROKER_URL"] = broker
    else:  # in-process: every task (the outcome emails too) runs eagerly here
        os.environ.pop("REDIS_URL", None)
        os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import logging

    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)  # "no hostname": eager tasks, no broker


def existing_contracts() -> int | None:
    from django.db import connection
    from django.db.utils import DatabaseError

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM marketplace_contract")
            return cursor.fetchone()[0]
    except DatabaseError:
        return None


def make_data(url: str, contracts: int, *, fresh: bool, log) -> None:
    from django.core.management import call_command
    from django.db import connection

    if not fresh and existing_contracts() == contracts:
        log(f"reusing the {contracts} contracts already in {database_name(url)}")
        return
    connection.close()
    recreate(url)
    log(f"created {database_name(url)}; migrating")
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command("generate_bench_data", contracts=contracts, seed=SEED, stdout=sys.stderr, stderr=sys.stderr)
    log(f"generate_bench_data: {time.perf_counter() - started:.1f} s")


def bare_aggregate_sql(as_of):
    from jss import engine

    start = engine.window_start(as_of, 24)
    return (
        "SELECT agency_id, CASE WHEN agency_id IS NULL THEN freelancer_id END AS subject, "
        "count(*), sum(total_charged) FROM marketplace_contract "
        "WHERE COALESCE(ended_on, last_payment_on) > %s AND COALESCE(ended_on, last_payment_on) <= %s "
        "GROUP BY 1, 2",
        [start, as_of],
    )


def time_bare_aggregate(as_of, runs=3) -> tuple[float, float, int]:
    """(seconds with its rows fetched, seconds inside the database only, groups): medians of ``runs``.

    The first is the query as an application runs it (its 100k-odd rows come back); the second wraps it in
    ``SELECT count(*) FROM (...)`` so nothing but one number leaves the database."""
    from django.db import connection

    sql, params = bare_aggregate_sql(as_of)
    params = [connection.ops.adapt_datefield_value(p) for p in params]
    fetched, inside, groups = [], [], 0
    for _ in range(runs):
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(sql, params)
            groups = len(cursor.fetchall())
            fetched.append(time.perf_counter() - started)
            started = time.perf_counter()
            cursor.execute(f"SELECT count(*) FROM ({sql}) s", params)
            cursor.fetchone()
            inside.append(time.perf_counter() - started)
    return statistics.median(fetched), statistics.median(inside), groups


def clear_scores() -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE jss_scoresnapshot, jss_scoreupdatechunk, jss_scoreupdate")
        else:
            for table in ("jss_scoresnapshot", "jss_scoreupdatechunk", "jss_scoreupdate"):
                cursor.execute(f"DELETE FROM {table}")
    # Every run records the same outcomes: the bench's applied requests go back to "pending" (bench data
    # only: a real database never loses a timeline event).
    from bench.bulkload import timeline_unguarded
    from jss.models import JssExclusion
    from outbox.models import EmailDelivery
    from requests_app.models import RemovalRequest, RequestEvent

    with timeline_unguarded():
        RequestEvent.objects.filter(kind__in=["jss_outcome", "email_sent"], request__status="applied").delete()
        EmailDelivery.objects.filter(kind="jss_outcome").delete()
        RemovalRequest.objects.filter(status="applied").exclude(jss_outcome="pending").update(jss_outcome="pending")
        JssExclusion.objects.exclude(outcome="pending").update(outcome="pending", outcome_as_of=None)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE jss_scoresnapshot")


class QueryCounter:
    """Counts the statements sent on every connection of this process (the job threads open their own)."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        with self.lock:
            self.count += 1
        return execute(sql, params, many, context)

    def watch(self, sender, connection, **kwargs):  # connection_created (again on each reconnect)
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)


def run_in_process(as_of, broker: str | None, jobs: int) -> tuple[float, int]:
    """The whole update in this process (as ``recalculate_jss`` runs it). With a broker, the outcome emails
    are queued as in production, to a throwaway queue that is purged afterwards; without one they are
    built and sent here, eagerly, inside the timing."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    from jss import services
    from perkdesk.celery import app

    queue = f"jss-bench-{uuid.uuid4().hex[:8]}"
    if broker:
        app.conf.task_always_eager, app.conf.task_default_queue = False, queue
    counter = QueryCounter()
    connection_created.connect(counter.watch)
    try:
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            start = services.run_update(as_of=as_of, force=True, jobs=jobs)
            seconds = time.perf_counter() - started
    finally:
        connection_created.disconnect(counter.watch)
        if broker:
            with app.connection_for_write() as conn:
                conn.default_channel.queue_delete(queue)
    assert start.outcome == "started", start
    return seconds, counter.count


class BenchWorkers:
    """N real Celery worker processes on a queue of their own, started once for every round (warm, as
    long-running production workers are) and stopped at the end."""

    def __init__(self, workers: int, broker: str, url: str, log):
        from perkdesk.celery import app

        self.app, self.log, self.workers = app, log, workers
        self.queue = f"jss-bench-{uuid.uuid4().hex[:8]}"
        self.name = f"{self.queue}@{os.uname().nodename}"
        # The outcome emails the chunks owe go to a queue of their own that nobody consumes (purged at the end),
        # as the in-process runs queue them to a throwaway queue: the update is what is timed, not the mail.
        launcher = (
            "import os, sys, django; django.setup(); from perkdesk.celery import app; "
            "app.conf.task_default_queue = os.environ['BENCH_QUEUE']; "
            "app.conf.task_routes = {'outbox.*': {'queue': os.environ['BENCH_QUEUE'] + '-mail'}}; "
            "app.start(sys.argv[1:])"
        )
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": broker,
            "BENCH_QUEUE": self.queue,
            "LOG_LEVEL": "WARNING",
            "EMAIL_URL": "memorymail://",  # the outcome emails are built and sent, into memory
            "DATABASE_CONN_MAX_AGE": "60",  # as in production: a worker keeps its connection between tasks
        }
        command = ["worker", "-Q", self.queue, "-c", str(workers), "-P", "prefork", "-l", "WARNING"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{self.queue}@%h"]
        self.process = subprocess.Popen([sys.executable, "-c", launcher, *command], cwd=ROOT, env=env)
        app.conf.task_always_eager, app.conf.task_default_queue = False, self.queue

    def __enter__(self):
        deadline = time.monotonic() + 60
        while not self.app.control.ping(destination=[self.name], timeout=1.0):
            if time.monotonic() > deadline:
                self.__exit__()
                raise SystemExit("recalc.py: the Celery workers did not start")
        self.log(f"{self.workers} worker processes ready on {self.queue}")
        return self

    def run(self, as_of) -> float:
        """One full update fanned out to the workers; its time until the last chunk closed it. Then the
        outcome emails it queued are dropped and the workers left idle, so nothing runs beside the next
        timing."""
        from jss import services
        from jss.models import ScoreUpdate

        started = time.perf_counter()
        start = services.start_scheduled_update(as_of=as_of, force=True, queue=True)
        assert start.outcome == "started", start
        while not ScoreUpdate.objects.filter(pk=start.update.pk, finished_at__isnull=False).exists():
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        self.app.control.purge()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any((self.app.control.inspect([self.name]).active() or {}).values()):
            time.sleep(0.2)
        return seconds

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=60)
        self.app.control.purge()
        with self.app.connection_for_write() as conn:  # the outcome emails: not measured, not kept
            conn.default_channel.queue_delete(f"{self.queue}-mail")


def apply_churn(as_of, later, *, feedback_share=0.005, contract_share=0.01, seed=SEED) -> tuple[int, int]:
    """Realistic churn between two updates, written as the application would (triggers on, so the change log
    sees it): ``feedback_share`` of the contracts get new feedback (a rating and a private score), and
    ``contract_share`` new contracts, each for the subject and client of an existing one, ending between
    ``as_of`` and ``later``. Returns (feedback rows written, contracts added)."""
    import random

    from django.db import connection, transaction
    from django.db.models import Max

    from marketplace.models import Contract, Feedback

    rng = random.Random(seed)
    total = Contract.objects.count()
    high = Contract.objects.aggregate(high=Max("id"))["high"] or 0
    with transaction.atomic(), connection.cursor() as cursor:
        picked = sorted(rng.sample(range(1, high + 1), min(high, int(total * feedback_share))))
        contract_ids = list(Contract.objects.filter(id__in=picked).values_list("id", flat=True))
        with_feedback = set(Feedback.objects.filter(contract_id__in=contract_ids).values_list("contract_id", flat=True))
        updates = [
            (rng.choice([2, 5, 8, 10]), contract_id) for contract_id in contract_ids if contract_id in with_feedback
        ]
        cursor.executemany("UPDATE marketplace_feedback SET private_score = %s WHERE contract_id = %s", updates)
        Feedback.objects.bulk_create(
            Feedback(contract_id=contract_id, public_rating=rng.choice([3, 4, 5]), private_score=rng.choice([3, 9, 10]))
            for contract_id in contract_ids
            if contract_id not in with_feedback
        )
        sources = sorted(rng.sample(range(1, high + 1), min(high, int(total * contract_share))))
        rows = list(Contract.objects.filter(id__in=sources).values_list("freelancer_id", "agency_id", "client_id"))
        span = max((later - as_of).days, 1)
        new = []
        for n, (freelancer_id, agency_id, client_id) in enumerate(rows):
            ended = as_of + dt.timedelta(days=rng.randint(1, span))
            new.append(
                Contract(
                    number=f"{900_000_000_000 + high + n}",
                    title="churn",
                    freelancer_id=freelancer_id,
                    agency_id=agency_id,
                    client_id=client_id,
                    started_on=ended - dt.timedelta(days=rng.randint(5, 120)),
                    ended_on=ended,
                    last_payment_on=ended,
                    total_charged=rng.choice([50, 500, 5000]),
                )
            )
        Contract.objects.bulk_create(new, batch_size=5000)
    return len(contract_ids), len(new)


def snapshot_digest(as_of) -> str:
    """One hash of every snapshot on ``as_of`` (subject, score, window, stored detail, stable_until)."""
    import hashlib

    from jss.models import ScoreSnapshot

    digest = hashlib.sha256()
    rows = ScoreSnapshot.objects.filter(as_of=as_of).order_by("freelancer_id", "agency_id")
    for row in rows.values_list("freelancer_id", "agency_id", "score", "window", "detail", "stable_until").iterator(
        chunk_size=20_000
    ):
        digest.update(repr(row[:4]).encode())
        digest.update(json.dumps(row[4], sort_keys=True).encode())
        digest.update(str(row[5]).encode())
    return digest.hexdigest()


def measure_incremental(as_of, days: int, jobs: int, log) -> dict:
    """After a full update on ``as_of``: churn, then the incremental update on ``as_of`` + ``days`` and a full
    one from empty on the same day, timed; both must write the same snapshots."""
    from django.db import connection, transaction

    from jss import services
    from jss.models import ScoreSnapshot, ScoreUpdate

    later = as_of + dt.timedelta(days=days)
    started = time.perf_counter()
    feedback, added = apply_churn(as_of, later)
    churn_seconds = time.perf_counter() - started
    log(f"churn: {feedback} contracts with new feedback, {added} new contracts in {churn_seconds:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Autovacuum would have run in the N days: the covering index's pages are all-visible again.
            for table in ("marketplace_contract", "marketplace_feedback", "jss_jsssubjectchange"):
                cursor.execute(f"VACUUM ANALYZE {table}")

    def drop_later_day():
        with transaction.atomic():
            ScoreSnapshot.objects.filter(as_of=later).delete()
            ScoreUpdate.objects.filter(as_of=later).delete()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE jss_scoresnapshot")

    def run(full: bool):
        drop_later_day()
        started = time.perf_counter()
        update = services.run_update(as_of=later, force=True, jobs=jobs, full=full).update
        seconds = time.perf_counter() - started
        assert update.finished_at is not None and update.incremental == (not full), update
        log(
            f"{'full' if full else 'incremental'} update as of {later}: {seconds:.2f} s, {update.subjects_scored} of "
            f"{update.subjects} subjects scored"
        )
        return seconds, update, snapshot_digest(later)

    # Each kind twice, in the order incremental, full, full, incremental, so neither always finds the caches
    # the other warmed; the best of each is reported.
    timings: dict[bool, list[float]] = {True: [], False: []}
    digests = set()
    for full in (False, True, True, False):
        seconds, update, digest = run(full)
        timings[full].append(seconds)
        digests.add(digest)
        if not full:
            incremental_update = update
    incremental_seconds, full_seconds = min(timings[False]), min(timings[True])
    update = incremental_update
    return {
        "incremental_after_days": days,
        "incremental_seconds": round(incremental_seconds, 3),
        "full_seconds_same_day": round(full_seconds, 3),
        "incremental_speedup": round(full_seconds / incremental_seconds, 2) if incremental_seconds else None,
        "dirty_subjects": update.subjects_scored,
        "subjects": update.subjects,
        "incremental_equals_full": len(digests) == 1,
        "incremental_seconds_each_run": [round(x, 3) for x in timings[False]],
        "full_seconds_same_day_each_run": [round(x, 3) for x in timings[True]],
        "churn_feedback": feedback,
        "churn_contracts": added,
        "churn_seconds": round(churn_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, help="make a bench database with this many contracts")
    parser.add_argument("--fresh", action="store_true", help="rebuild the data even if the database has it")
    parser.add_argument("--workers", type=int, default=0, help="score the chunks on N Celery worker processes")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="in process: score N chunks at once, each on its own connection (default: the CPUs on PostgreSQL)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of (bare aggregate, full update); medians are reported"
    )
    parser.add_argument("--chunk-size", type=int, help="JSS_UPDATE_CHUNK_SIZE for this run (default: the setting)")
    parser.add_argument("--max-chunks", type=int, help="JSS_UPDATE_MAX_CHUNKS for this run (default: the setting)")
    parser.add_argument(
        "--incremental-after-days",
        type=int,
        default=None,
        metavar="N",
        help="after the full rounds: churn, then time an incremental update N days later against a full one "
        "(it changes the bench data: the next run with --contracts rebuilds it)",
    )
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    refuse_unless_bench(url)
    broker = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
    if args.workers and not broker:
        sys.exit("recalc.py: --workers needs REDIS_URL (or CELERY_BROKER_URL) for the broker")
    if args.chunk_size:
        os.environ["JSS_UPDATE_CHUNK_SIZE"] = str(args.chunk_size)
    if args.max_chunks:
        os.environ["JSS_UPDATE_MAX_CHUNKS"] = str(args.max_chunks)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    django_setup(url, broker=broker)
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from jss.models import ScoreSnapshot, ScoreUpdate

    if args.contracts:
        make_data(url, args.contracts, fresh=args.fresh, log=log)
    contracts = existing_contracts()
    if not contracts:
        sys.exit("recalc.py: the bench database has no contracts: pass --contracts N")
    as_of = timezone.localdate()

    jobs = 1 if args.workers else args.jobs or ((os.cpu_count() or 1) if connection.vendor == "postgresql" else 1)
    log(
        f"scheduled update of {contracts} contracts as of {as_of} ({connection.vendor}, "
        f"chunks of {settings.JSS_UPDATE_CHUNK_SIZE}+ ids, at most {settings.JSS_UPDATE_MAX_CHUNKS}, "
        f"{f'{args.workers} workers' if args.workers else f'in process, {jobs} at once'}), {args.repeat} runs"
    )
    # Each round: one full update from empty, with the bare aggregate (median of three) timed just before and
    # just after it, so both are measured side by side; the figures are medians over the rounds (a shared
    # machine is noisy), and each round's ratio uses the mean of its two bare timings.
    updates, bare, bare_server, queries = [], [], [], None
    workers = BenchWorkers(args.workers, broker, url, log) if args.workers else contextlib.nullcontext()
    with workers:
        for round_ in range(1, args.repeat + 1):
            before = time_bare_aggregate(as_of)
            clear_scores()
            if args.workers:
                seconds = workers.run(as_of)
            else:
                seconds, queries = run_in_process(as_of, broker, jobs)
            after = time_bare_aggregate(as_of)
            sql_seconds, sql_server_seconds = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
            groups = after[2]
            update = ScoreUpdate.objects.get(as_of=as_of)
            snapshots = ScoreSnapshot.objects.filter(as_of=as_of).count()
            assert snapshots == update.subjects == update.snapshots_written, (snapshots, update.subjects)
            updates.append(seconds)
            bare.append(sql_seconds)
            bare_server.append(sql_server_seconds)
            log(
                f"round {round_}: update {seconds:.2f} s; bare aggregate {sql_seconds:.3f} s with its {groups} rows "
                f"fetched, {sql_server_seconds:.3f} s inside the database (ratio {seconds / sql_seconds:.2f})"
            )
    seconds, sql_seconds, sql_server_seconds = (statistics.median(x) for x in (updates, bare, bare_server))
    extra = {}
    if args.incremental_after_days is not None:
        extra = measure_incremental(as_of, args.incremental_after_days, 1 if args.workers else jobs, log)
    print(
        json.dumps(
            {
                "contracts": contracts,
                "subjects": update.subjects,
                "seconds": round(seconds, 3),
                "sql_seconds": round(sql_seconds, 3),
                "ratio": round(seconds / sql_seconds, 2),
                "us_per_contract": round(seconds / contracts * 1e6, 3),
                "sql_us_per_contract": round(sql_seconds / contracts * 1e6, 3),
                "queries": queries,
                "sql_server_seconds": round(sql_server_seconds, 3),
                "ratio_server": round(seconds / sql_server_seconds, 2),
                "chunks": update.chunks,
                "workers": args.workers or None,
                "jobs": None if args.workers else jobs,
                "runs": args.repeat,
                "ratio_each_run": [round(u / b, 2) for u, b in zip(updates, bare, strict=True)],
                "seconds_each_run": [round(u, 3) for u in updates],
                "database": connection.vendor,
                **extra,
            }
        )
    )


if __name__ == "__main__":
    main()
