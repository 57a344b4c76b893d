"""/healthz (issue 13): the load balancer's probe. 503 within 3 s when the database or Redis does not answer,
stopped or hung; anonymous callers get the status only, staff and the operator's token get each part and the
heartbeats of beat and the sweep."""

import json
import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from perkdesk.ops import heartbeats
from tests import factories as f
from tests.processes import ROOT, redis_process, silent_server

pytestmark = pytest.mark.django_db

PROBE = """
import json, time
import django
django.setup()
from django.test import Client
started = time.monotonic()
response = Client().get("/healthz", HTTP_AUTHORIZATION="Bearer ops-token-for-tests")
print(json.dumps({"status": response.status_code, "seconds": time.monotonic() - started, "body": response.json()}))
"""


def probe_in_a_subprocess(**env):
    """/healthz as a fresh process sees it (its own connections), with the servers the test points it at."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    base = {
        **os.environ,
        "DJANGO_ENV": "development",
        "OPS_TOKEN": "ops-token-for-tests",
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
    }
    base.update(env)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_anonymous_callers_get_the_status_only(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_staff_see_each_part_and_the_heartbeats(client):
    heartbeats.record(heartbeats.SWEEP, data={"applied": 2})
    client.force_login(f.UserFactory(agent=True))
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["cache"] in {"ok", "none"} and body["broker"] in {"ok", "eager"}
    assert body["sweep"]["stale"] is False and body["sweep"]["age_seconds"] < 60
    assert body["beat"] == {"last": None, "age_seconds": None, "stale": True}


def test_a_freelancer_is_anonymous_to_the_probe_and_a_token_opens_it(client, settings):
    settings.OPS_TOKEN = "a-long-operator-token"
    client.force_login(f.FreelancerFactory().user)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer wrong").json() == {"status": "ok"}
    assert "database" in client.get("/healthz", HTTP_AUTHORIZATION="Bearer a-long-operator-token").json()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_503_within_3_seconds_with_redis_stopped(tmp_path):
    with redis_process(tmp_path) as redis:
        urls = {"REDIS_URL": redis.url(1), "CELERY_BROKER_URL": redis.url(0)}
        up = probe_in_a_subprocess(**urls)
        assert up["status"] == 200, up
        assert (up["body"]["cache"], up["body"]["broker"]) == ("ok", "ok")
        redis.stop()
        down = probe_in_a_subprocess(**urls)
    assert down["status"] == 503 and down["seconds"] < 3, down
    assert down["body"]["status"] == "down"
    assert (down["body"]["database"], down["body"]["cache"], down["body"]["broker"]) == ("ok", "down", "down")


@pytest.mark.postgres
def test_503_within_3_seconds_with_redis_hanging():
    with silent_server() as port:
        down = probe_in_a_subprocess(REDIS_URL=f"redis://127.0.0.1:{port}/0", CELERY_BROKER_URL="")
    assert down["status"] == 503 and down["seconds"] < 3, down
    assert (down["body"]["database"], down["body"]["cache"]) == ("ok", "down")


@pytest.mark.parametrize("how", ["refused", "hanging"])
def test_503_within_3_seconds_with_postgresql_unreachable(how):
    if how == "refused":
        down = probe_in_a_subprocess(DATABASE_URL="postgres://postgres@127.0.0.1:1/perkdesk")
    else:
        with silent_server() as port:
            down = probe_in_a_subprocess(DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/perkdesk")
    assert down["status"] == 503 and down["seconds"] < 3, down
    assert down["body"]["status"] == "down" and down["body"]["database"] == "down"
    assert "beat" not in down["body"]  # heartbeats need the database: left out, not a 500


def test_the_probe_never_says_more_than_the_status_to_anonymous_callers_when_down(client, monkeypatch):
    from perkdesk.ops import health

    monkeypatch.setattr(health, "database_state", lambda: "down")
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 503 and time.monotonic() - started < 3
    assert response.json() == {"status": "down"}
