"""Someone is told (issue 13): without Sentry, ADMINS get mail for a 500 and for a task out of retries; with
SENTRY_DSN, the error goes to Sentry (a local stand-in here) with the release and no personal data."""

import gzip
import http.server
import json
import os
import subprocess
import sys
import threading

import pytest
from django.core import mail
from django.db import OperationalError
from django.test import Client
from django.urls import path

from requests_app import services, tasks
from tests.processes import ROOT

pytestmark = pytest.mark.django_db

ADMINS = [("Ops", "ops@perkdesk.example")]


def boom(request):
    raise RuntimeError("the contracts page broke")


urlpatterns = [path("contracts/", boom)]  # this module is the urlconf of the 500 test


def test_a_500_mails_the_admins(settings):
    settings.ADMINS, settings.DEBUG = ADMINS, False
    settings.ROOT_URLCONF = __name__
    response = Client(raise_request_exception=False).get("/contracts/")
    assert response.status_code == 500
    [message] = mail.outbox
    assert message.to == ["ops@perkdesk.example"] and "ERROR" in message.subject and "/contracts/" in message.subject
    assert "the contracts page broke" in message.body


def test_a_task_out_of_retries_mails_the_admins(settings, monkeypatch):
    settings.ADMINS = ADMINS
    calls = []

    def database_away(request_id, **kwargs):
        calls.append(request_id)
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(services, "apply_exclusion", database_away)
    tasks.apply_exclusion.apply(args=[4242])
    assert len(calls) == tasks.apply_exclusion.max_retries + 1
    [message] = mail.outbox
    assert message.to == ["ops@perkdesk.example"]
    assert message.subject.endswith(f"Task requests_app.apply_exclusion failed after {len(calls) - 1} retries")
    assert "could not connect to server" in message.body


def test_no_admins_no_mail(settings, monkeypatch):
    settings.ADMINS = []
    monkeypatch.setattr(services, "apply_exclusion", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad")))
    tasks.apply_exclusion.apply(args=[1])
    assert mail.outbox == []


class Envelopes(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


SENTRY_SCRIPT = """
import django
django.setup()
import sentry_sdk
from django.test import Client
from django.urls import path
from django.contrib.auth import get_user_model
from requests_app import views
def broken(request):
    raise RuntimeError("the contracts page broke for sentry")
views.my_contracts = broken
from django.urls import path
import perkdesk.urls
perkdesk.urls.urlpatterns.insert(0, path("contracts/", broken))
user = get_user_model()(username="pii-person", email="pii-person@example.com")
client = Client(raise_request_exception=False)
request = client.get("/contracts/", HTTP_COOKIE="sessionid=secret-session-cookie")
assert request.status_code == 500, request.status_code
sentry_sdk.flush(5)
"""


def test_sentry_gets_the_error_with_the_release_and_no_personal_data():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Envelopes)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {
            **os.environ,
            "DJANGO_ENV": "development",
            "SENTRY_DSN": f"http://publickey@127.0.0.1:{server.server_address[1]}/1",
            "GIT_COMMIT": "0123abcd",
        }
        result = subprocess.run(
            [sys.executable, "-c", SENTRY_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr[-3000:]
    finally:
        server.shutdown()
        server.server_close()
    items = [json.loads(line) for body in server.received for line in body.splitlines() if line.startswith(b"{")]
    events = [item for item in items if item.get("exception")]
    assert events, items
    event = events[0]
    assert event["exception"]["values"][-1]["value"] == "the contracts page broke for sentry"
    assert event["release"] == "0123abcd"
    text = json.dumps(events)
    assert "secret-session-cookie" not in text and "pii-person" not in text
