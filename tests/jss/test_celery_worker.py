"""The scheduled update with real Celery workers on Redis against the test database: the chunks fan out to
two worker processes, every subject gets exactly one snapshot, and running it again changes nothing."""

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from jss import engine, tasks
from jss.models import ScoreSnapshot, ScoreUpdate, ScoreUpdateChunk
from perkdesk.celery import app as celery_app
from tests.jss.builders import ClientSpec, ContractSpec, SubjectSpec, build_world

# Worker processes read the real clock, so this test does too: the update is dated today, the world before it.
pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.real_clock,
]

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = """
import os, sys
import django
django.setup()
from perkdesk.celery import app
app.conf.task_default_queue = os.environ["TEST_QUEUE"]
app.start(sys.argv[1:])
"""


def wait_for(predicate, *, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def forget_backend():
    """The app keeps its result backend object once made: drop it so the next use reads the setting again."""
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


@pytest.fixture
def worker(tmp_path):
    """Two worker processes (prefork) on a queue of this test only, pointed at the test database."""
    queue = f"jss-test-{uuid.uuid4().hex[:12]}"
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "perkdesk.settings",
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "JSS_UPDATE_CHUNK_SIZE": "3",
        "TEST_QUEUE": queue,
        # Nothing in production reads task results (no backend, issue 13); this test does, so it has one.
        "CELERY_RESULT_BACKEND": settings.CELERY_BROKER_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    saved = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    saved_backend = celery_app.conf.result_backend
    celery_app.conf.result_backend = settings.CELERY_BROKER_URL
    forget_backend()
    with open(tmp_path / "worker.log", "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCHER,
                "worker",
                "-Q",
                queue,
                "-c",
                "2",
                "-P",
                "prefork",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = False, queue
        try:
            yield process
        finally:
            celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = saved
            celery_app.conf.result_backend = saved_backend
            forget_backend()
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            connection.close()  # the test database is flushed next: no session of ours lingers on it


def world(as_of):
    def job(days, client, score):
        end = as_of - dt.timedelta(days=days)
        return ContractSpec(
            client=client,
            started_on=end - dt.timedelta(days=30),
            ended_on=end,
            last_payment_on=end,
            private_score=score,
        )

    subjects = [
        SubjectSpec(agency=i % 4 == 0, contracts=[job(10 + i, 0, 10), job(50, 1 + i % 2, 3 if i % 3 == 0 else 9)])
        for i in range(10)
    ]
    return build_world([ClientSpec(), ClientSpec(), ClientSpec()], subjects)


def rows():
    return list(
        ScoreSnapshot.objects.order_by("pk").values_list(
            "pk", "freelancer_id", "agency_id", "as_of", "score", "window", "detail", "computed_at"
        )
    )


def test_the_update_fans_out_to_real_workers_and_a_rerun_changes_nothing(worker):
    as_of = timezone.localdate()
    built = world(as_of)
    started = tasks.run_scheduled_update.apply_async(kwargs={"as_of": as_of.isoformat()}, ignore_result=False).get(
        timeout=60
    )
    assert started["outcome"] == "started" and started["chunks"] >= 2
    wait_for(lambda: ScoreUpdate.objects.filter(as_of=as_of, finished_at__isnull=False).exists(), what="the update")

    update = ScoreUpdate.objects.get(as_of=as_of)
    assert update.chunks == ScoreUpdateChunk.objects.filter(update=update).count() == started["chunks"]
    assert not ScoreUpdateChunk.objects.filter(update=update, finished_at__isnull=True).exists()
    assert (update.subjects, update.snapshots_written) == (10, 10)
    assert ScoreSnapshot.objects.filter(as_of=as_of).count() == 10
    for kind, subject_id in built.subjects:
        snapshot = ScoreSnapshot.objects.get(**{f"{kind}_id": subject_id}, as_of=as_of)  # exactly one each
        expected = engine.compute(built.facts[(kind, subject_id)], as_of=as_of)
        assert (snapshot.score, snapshot.window, snapshot.full_detail) == (
            expected.score,
            expected.window,
            expected.detail,
        )
    before = rows()

    # The nightly beat again: this as_of is done. Forced: every chunk is scored again, nothing changes.
    again = tasks.run_scheduled_update.apply_async(kwargs={"as_of": as_of.isoformat()}, ignore_result=False).get(
        timeout=60
    )
    assert again["outcome"] == "done"
    first_finish = update.finished_at
    forced = tasks.run_scheduled_update.apply_async(
        kwargs={"as_of": as_of.isoformat(), "force": True}, ignore_result=False
    )
    assert forced.get(timeout=60)["outcome"] == "started"
    wait_for(lambda: ScoreUpdate.objects.filter(as_of=as_of, finished_at__gt=first_finish).exists(), what="rerun")
    # A chunk message delivered once more after the end: the chunk is finished, nothing is done.
    redelivered = [
        tasks.score_update_chunk.apply_async(args=[pk], ignore_result=False)
        for pk in ScoreUpdateChunk.objects.values_list("pk", flat=True)
    ]
    assert [result.get(timeout=60) for result in redelivered] == [None] * len(redelivered)
    assert rows() == before
    update.refresh_from_db()
    assert (update.subjects, update.snapshots_written, ScoreUpdate.objects.count()) == (10, 0, 1)
