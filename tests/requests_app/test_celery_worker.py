"""The 7-day promise with real processes: a Celery worker (and beat) on Redis, applying against the test
database. Each test has its own queue; the workers are subprocesses so one can be killed mid-task."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection, connections

from jss.models import JssExclusion
from marketplace.models import Feedback
from perkdesk.celery import app as celery_app
from requests_app import services, tasks
from requests_app.models import RequestEvent
from requests_app.services.common import queue_failures
from tests import factories as f

# A worker process reads the real clock, so these tests do too: every date here is relative to the real now.
pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.real_clock,
]

ROOT = Path(__file__).resolve().parents[2]

# Runs the `celery` command line for our app, pointed at one queue; optional test knobs come from the
# environment: a short Redis visibility timeout (redelivery of unacknowledged messages) and a beat that
# sends the real sweep entry every few seconds instead of every 15 minutes.
LAUNCHER = """
import os, sys
import django
django.setup()
from perkdesk.celery import app
app.conf.task_default_queue = os.environ["TEST_QUEUE"]
if os.environ.get("TEST_VISIBILITY_TIMEOUT"):
    app.conf.broker_transport_options = {
        "visibility_timeout": float(os.environ["TEST_VISIBILITY_TIMEOUT"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
if os.environ.get("TEST_SWEEP_EVERY"):
    entry = dict(app.conf.beat_schedule["perk-sla-sweep"], schedule=float(os.environ["TEST_SWEEP_EVERY"]))
    app.conf.beat_schedule = {"perk-sla-sweep": entry}
app.start(sys.argv[1:])
"""


def wait_for(predicate, *, timeout=30.0, every=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Processes:
    """Celery subprocesses of one test, on one queue, killed and cleaned up at the end."""

    def __init__(self, tmp_path):
        self.queue = f"perkdesk-test-{uuid.uuid4().hex[:12]}"
        self.tmp_path = tmp_path
        self.started = []
        db = connection.settings_dict
        credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "perkdesk.settings",
            "DJANGO_ENV": "development",
            "DATABASE_URL": f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PRIVATE_MEDIA_ROOT": str(tmp_path / "private"),
            "TEST_QUEUE": self.queue,
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, kind, *args, **knobs):
        name = f"{kind}-{len(self.started)}"
        log = self.tmp_path / f"{name}.log"
        env = {**self.env, **{f"TEST_{k.upper()}": str(v) for k, v in knobs.items()}}
        command = [sys.executable, "-c", LAUNCHER, kind, "--loglevel=INFO", *args]
        if kind == "worker":
            command += ["-Q", self.queue, "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h"]
            command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        process.log = log
        self.started.append(process)
        return process

    def worker(self, *, concurrency=1, pool="prefork", **knobs):
        process = self.start("worker", f"--pool={pool}", f"--concurrency={concurrency}", **knobs)
        wait_for(lambda: self._ready(process), what=f"the worker to start (log: {process.log})")
        return process

    def _ready(self, process):
        if process.poll() is not None:
            raise AssertionError(f"the worker exited: {process.log.read_text()[-3000:]}")
        return b"ready." in process.log.read_bytes()

    @staticmethod
    def kill(process, sig=signal.SIGKILL):
        if process.poll() is None:
            os.killpg(process.pid, sig)
            process.wait(10)

    def stop_all(self):
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    self.kill(process)


@pytest.fixture
def celery_on_redis(tmp_path):
    """Tasks go to Redis (our queue) instead of running eagerly in the test."""
    processes = Processes(tmp_path)
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_default_queue
    conf.task_always_eager, conf.task_default_queue = False, processes.queue
    celery_app._pool, celery_app.amqp._producer_pool = None, None
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield processes
    processes.stop_all()
    conf.task_always_eager, conf.task_default_queue = saved
    celery_app._pool, celery_app.amqp._producer_pool = None, None
    client.delete(processes.queue, *client.keys(f"_kombu.binding*.{processes.queue}"))
    client.close()
    close_orphans()


def close_orphans():
    """Backends of killed workers may linger until their lock wait ends; end them before the flush."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND application_name <> 'perkdesk-test-holder'"
        )


def submitted(*, scope="hide_profile_and_jss"):
    freelancer = f.FreelancerFactory(top_rated=True)
    contract = f.ContractFactory(freelancer=freelancer, with_feedback=True)
    return services.submit_request(requester=freelancer.user, contract_number=contract.number, scope=scope)


def approved_but_lost():
    """Approved while the broker was unreachable: the approval stands, nothing was queued."""
    request = submitted()
    conf = celery_app.conf
    saved = conf.broker_url
    conf.broker_url = "redis://127.0.0.1:1/0"
    celery_app._pool, celery_app.amqp._producer_pool = None, None
    try:
        with queue_failures() as failed:
            services.approve_request(request, agent=f.UserFactory(agent=True))
    finally:
        conf.broker_url = saved
        celery_app._pool, celery_app.amqp._producer_pool = None, None
    # The approval email is owed before the apply task, so "approved" leaves before "removed".
    assert [name for name, _ in failed] == ["outbox.send_email", "requests_app.apply_exclusion"]
    return request


def state(request):
    request.refresh_from_db()
    return (
        request.status,
        JssExclusion.objects.filter(contract=request.contract).count(),
        RequestEvent.objects.filter(request=request, kind="applied").count(),
    )


class RowHolder:
    """Another database session holding a row lock, so a worker's task stops right there, mid-transaction."""

    def __init__(self, sql, params):
        self.sql, self.params = sql, params
        self.holding, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SET application_name = 'perkdesk-test-holder'")
                cursor.execute("BEGIN")
                cursor.execute(self.sql, self.params)
                self.holding.set()
                self.release.wait(60)
                cursor.execute("ROLLBACK")
        finally:
            connections["default"].close()

    def __enter__(self):
        self.thread.start()
        assert self.holding.wait(10)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(10)


def sessions_waiting_for_a_lock():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_an_approval_is_applied_by_the_worker_within_seconds(celery_on_redis):
    celery_on_redis.worker(concurrency=2)
    request = submitted()
    started = time.monotonic()
    with queue_failures() as failed:
        services.approve_request(request, agent=f.UserFactory(agent=True))
    assert failed == []
    wait_for(lambda: state(request) == ("applied", 1, 1), timeout=20, what="the worker to apply it")
    elapsed = time.monotonic() - started
    print(f"approval → applied by the worker in {elapsed:.2f}s")
    assert Feedback.objects.get(contract=request.contract).hidden_on_profile
    # The worker sent the emails too, each recorded once.
    wait_for(
        lambda: RequestEvent.objects.filter(request=request, kind="email_sent").count() == 3,
        timeout=20,
        what="the submitted, approved and applied emails",
    )
    sent = sorted(request.events.filter(kind="email_sent").values_list("data__email", flat=True))
    assert sent == ["applied", "approved", "submitted"]


def test_the_same_message_delivered_twice_applies_once(celery_on_redis):
    request = approved_but_lost()
    worker = celery_on_redis.worker(concurrency=2)
    message = tasks.apply_exclusion.s(request.pk).set(task_id=str(uuid.uuid4()))
    # Both deliveries reach the database together: they queue up behind a held row lock, then race.
    with RowHolder("SELECT id FROM requests_app_removalrequest WHERE id = %s FOR UPDATE", [request.pk]):
        message.apply_async()
        message.apply_async()
        wait_for(lambda: sessions_waiting_for_a_lock() == 2, what="both deliveries to wait for the row")
    done = f"apply_exclusion[{message.id}] succeeded".encode()
    wait_for(lambda: worker.log.read_bytes().count(done) == 2, what="both deliveries to finish")
    assert state(request) == ("applied", 1, 1)
    # One delivery did the work, the other found it done.
    # The worker logs JSON lines (issue 13): the result ends the message of each "succeeded" line.
    messages = [json.loads(line)["message"] for line in worker.log.read_text().splitlines() if line.startswith("{")]
    results = sorted(m.rsplit(":", 1)[-1].strip() for m in messages if "succeeded" in m and message.id in m)
    assert results == ["False", "True"], results


def test_a_worker_killed_mid_task_is_redelivered_and_applies_once(celery_on_redis):
    request = approved_but_lost()
    tasks.apply_exclusion.delay(request.pk)  # the message the approval would have queued
    feedback = Feedback.objects.get(contract=request.contract)
    with RowHolder("SELECT id FROM marketplace_feedback WHERE id = %s FOR UPDATE", [feedback.pk]):
        doomed = celery_on_redis.worker(pool="solo")
        # It has locked the request, marked it applied and inserted the exclusion, and now waits to hide
        # the feedback: the middle of the task. Then the machine dies.
        wait_for(lambda: sessions_waiting_for_a_lock() == 1, what="the worker to be mid-task")
        celery_on_redis.kill(doomed)
    # The dead worker's transaction never committed: nothing of it is left.
    wait_for(lambda: sessions_waiting_for_a_lock() == 0, what="the orphaned session to end")
    close_orphans()
    assert state(request) == ("approved", 0, 0)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert broker.hlen("unacked") >= 1, "acks_late: the killed worker never acknowledged the message"
    broker.close()

    # A new worker takes the unacknowledged message back once the (here short) visibility timeout passes.
    celery_on_redis.worker(visibility_timeout=2)
    wait_for(lambda: state(request) == ("applied", 1, 1), timeout=45, what="the redelivered message to apply it")
    time.sleep(1)
    assert state(request) == ("applied", 1, 1)
    assert Feedback.objects.get(pk=feedback.pk).hidden_on_profile


def test_beat_sends_the_sweep_and_the_worker_applies_a_lost_approval(celery_on_redis):
    request = approved_but_lost()
    time.sleep(0.5)
    assert state(request) == ("approved", 0, 0)
    celery_on_redis.worker()
    schedule = celery_on_redis.tmp_path / "celerybeat-schedule"
    beat = celery_on_redis.start("beat", f"--schedule={schedule}", "--max-interval=1", sweep_every=1)
    wait_for(lambda: state(request) == ("applied", 1, 1), timeout=30, what="the beat sweep to apply it")
    assert b"Sending due task perk-sla-sweep (requests_app.sweep)" in beat.log.read_bytes()
    celery_on_redis.kill(beat, signal.SIGTERM)
    assert state(request) == ("applied", 1, 1)
