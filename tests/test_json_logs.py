"""Logs (issue 13): a real worker and beat, started with compose's command lines, write JSON lines only, with
the task's name and id (and the ticket number where there is one) on the lines of a task; the web's lines carry
the request id, taken from X-Request-ID or made, and returned in the response."""

import json
import logging
import os
import signal
import subprocess
import sys
import uuid

import pytest
import yaml
from django.conf import settings
from django.db import connection

from perkdesk.celery import app as celery_app
from perkdesk.logformat import ContextFilter, JsonFormatter
from perkdesk.ops.models import Heartbeat
from tests import factories as f
from tests.processes import ROOT, wait_for


def compose_command(service):
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][service]["command"]


def lines_of(path):
    """Every line the process wrote, each parsed as JSON (a line that is not JSON fails the test)."""
    parsed = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                parsed.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"{path.name} line {number} is not JSON: {line!r}") from None
    return parsed


@pytest.fixture
def start(tmp_path):
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    env = {
        **os.environ,
        "DJANGO_ENV": "development",
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PRIVATE_MEDIA_ROOT": str(tmp_path / "private"),
        "BEAT_HEARTBEAT_FILE": str(tmp_path / "beat-heartbeat"),
        "EMAIL_URL": "memorymail://",
    }
    started = []

    def run(argv, name):
        log = tmp_path / f"{name}.log"
        with open(log, "wb") as out:
            # stdout and stderr both kept: nothing may print anything but JSON on either.
            process = subprocess.Popen(
                [sys.executable, "-m", *argv],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process.log = log
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    connection.close()


def stop(process):
    """As compose stops a container: SIGTERM, then wait."""
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_and_beat_print_json_lines_only(start, tmp_path):
    queue = f"logs-test-{uuid.uuid4().hex[:10]}"
    worker_argv = compose_command("worker")
    assert worker_argv[:5] == ["celery", "-A", "perkdesk", "--quiet", "worker"]
    worker = start([*worker_argv, "-Q", queue, "-n", f"{queue}@%h", "--without-mingle", "--without-gossip"], "worker")
    wait_for(lambda: b"ready." in worker.log.read_bytes(), timeout=60, what=f"the worker ({worker.log})")

    beat = start([*compose_command("beat")[:-1], f"--schedule={tmp_path / 'celerybeat-schedule'}"], "beat")
    wait_for(lambda: Heartbeat.objects.filter(name="beat").exists(), timeout=60, what=f"beat's heartbeat ({beat.log})")
    assert (tmp_path / "beat-heartbeat").exists()

    # Work for the worker: an approval whose message was lost, applied by the sweep; and one ticket's task.
    celery_app.conf.task_always_eager = False  # for real (the autouse fixture puts it back)
    lost = f.RemovalRequestFactory(approved=True)
    sweep_id = celery_app.send_task("requests_app.sweep", queue=queue).id
    wait_for(lambda: Heartbeat.objects.filter(name="sweep").exists(), timeout=60, what=f"the sweep ({worker.log})")
    lost.refresh_from_db()
    assert lost.status == "applied"
    other = f.RemovalRequestFactory(approved=True)
    apply_id = celery_app.send_task("requests_app.apply_exclusion", args=[other.pk], queue=queue).id
    wait_for(lambda: f"{apply_id}] succeeded".encode() in worker.log.read_bytes(), timeout=60, what="apply")

    stop(beat)
    stop(worker)
    worker_lines, beat_lines = lines_of(worker.log), lines_of(beat.log)
    for line in worker_lines + beat_lines:
        assert {"ts", "level", "logger", "message"} <= set(line), line
    assert any("ready." in line["message"] for line in worker_lines)
    assert any("shutdown" in line["message"].lower() for line in worker_lines)
    assert any(line["logger"].startswith("celery.beat") for line in beat_lines)

    swept = [line for line in worker_lines if line.get("task_id") == sweep_id]
    assert any(line["message"] == "sweep" and line["applied"] == 1 for line in swept), worker_lines
    assert all(line["task_name"] == "requests_app.sweep" for line in swept)
    applied = [line for line in worker_lines if line.get("task_id") == apply_id]
    assert any(line["message"] == "exclusion applied" for line in applied), worker_lines
    assert {line.get("ticket") for line in applied} == {other.ticket_number}


@pytest.mark.django_db
def test_the_web_returns_and_logs_the_request_id(client, caplog):
    logging.getLogger("django.request")
    with caplog.at_level(logging.WARNING, logger="django.request"):
        given = client.get("/no-such-page/", HTTP_X_REQUEST_ID="lb-7f3a9c0e-0001")
        made = client.get("/no-such-page/", HTTP_X_REQUEST_ID="not a sane id; DROP")
    assert given["X-Request-ID"] == "lb-7f3a9c0e-0001"
    assert len(made["X-Request-ID"]) == 32 and made["X-Request-ID"] != given["X-Request-ID"]
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if ContextFilter().filter(r)]
    assert [line["request_id"] for line in lines] == ["lb-7f3a9c0e-0001", made["X-Request-ID"]]
    assert all(line["message"].startswith("Not Found: /no-such-page/") for line in lines)


@pytest.mark.django_db
def test_web_lines_about_a_ticket_name_it(client, caplog):
    ticket = f.RemovalRequestFactory()
    client.force_login(f.FreelancerFactory().user)  # not the owner: a 404, logged as a warning
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(f"/requests/{ticket.ticket_number}/", HTTP_X_REQUEST_ID="lb-ticket-0000001")
    assert response.status_code == 404
    [record] = [r for r in caplog.records if r.name == "django.request"]
    line = json.loads(JsonFormatter().format(record))
    assert (line["request_id"], line["ticket"]) == ("lb-ticket-0000001", ticket.ticket_number)
