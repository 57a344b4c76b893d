"""The production smoke test (issue 13): static files built by bin/build-static (the Dockerfile's and CI's
step), the site served by gunicorn with gunicorn.conf.py under DJANGO_ENV=production on PostgreSQL and Redis.
Every page each role opens answers 200 or 302, and the CSS and JavaScript those pages link answer 200.

The image once answered 500 on every HTML page (no staticfiles manifest) while /healthz said ok: this is the
test that would have caught it."""

import http.client
import json
import os
import re
import secrets
import subprocess
import sys
from html import unescape
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import override_settings

from tests import factories as f
from tests.processes import ROOT, answers, free_port, stop_process, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PASSWORD = "perkdesk-smoke-9"
ASSET = re.compile(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="([^"]+)"')


class Browser:
    """Plain HTTP against gunicorn as the proxy would forward it (https), keeping its own cookies."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {
            "Host": f"127.0.0.1:{self.port}",
            "X-Forwarded-Proto": "https",
            "Origin": f"https://127.0.0.1:{self.port}",
            "Referer": f"https://127.0.0.1:{self.port}/",
            **(headers or {}),
        }
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        content = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        conn.close()
        return response, content

    def get(self, path):
        return self.request("GET", path)

    def sign_in(self, username):
        response, content = self.get("/accounts/login/")
        assert response.status == 200, content[:500]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content).group(1).decode()
        body = f"csrfmiddlewaretoken={token}&username={username}&password={PASSWORD}"
        response, content = self.request("POST", "/accounts/login/", body=body)
        assert response.status == 302, f"{username} could not sign in: {response.status} {content[:800]!r}"
        assert "sessionid" in self.cookies


@pytest.fixture
def static_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("staticfiles")
    result = subprocess.run(
        ["sh", "bin/build-static"],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable, "DJANGO_STATIC_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((root / "staticfiles.json").read_text())["paths"]
    assert "perkdesk/site.css" in manifest
    return root


@pytest.fixture
def gunicorn(static_root, tmp_path):
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))},
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_STATIC_ROOT": str(static_root),
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": os.environ["REDIS_URL"],
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL or os.environ["REDIS_URL"],
        "EMAIL_URL": f"smtp://127.0.0.1:{free_port()}",  # nobody listens: emails fail and are retried later
        "PRIVATE_MEDIA_ROOT": str(tmp_path / "private"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
    }
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "perkdesk.wsgi:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log, process.port = log, port
    try:
        wait_for(
            lambda: answers(port) or (process.poll() is not None and _died(log)),
            timeout=60,
            what=f"gunicorn on {port}",
        )
        yield process
    finally:
        stop_process(process)
        connection.close()


def _died(log):
    raise AssertionError(f"gunicorn exited: {log.read_text()[-3000:]}")


def people():
    """Everyone who signs in, with their own data: a freelancer's ticket, agents and leads, a superuser."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        password = make_password(PASSWORD)
    freelancer = f.FreelancerFactory(top_rated=True, user__username="smoke-freelancer")
    ticket = f.RemovalRequestFactory(contract=f.ContractFactory(freelancer=freelancer, with_feedback=True))
    f.RemovalRequestFactory(applied=True)
    agent = f.UserFactory(username="smoke-agent", agent=True)
    lead = f.UserFactory(username="smoke-lead", lead=True)
    admin = f.UserFactory(username="smoke-admin", is_staff=True, is_superuser=True)
    for user in (freelancer.user, agent, lead, admin):
        user.password = password
        user.save(update_fields=["password"])
    return freelancer, ticket


def test_production_serves_every_page_and_its_static_files(gunicorn):
    freelancer, ticket = people()
    queue = "/admin/requests_app/removalrequest/"
    pages = {
        None: [
            ("/accounts/login/", 200),
            ("/admin/login/", 200),
            (f"/freelancers/{freelancer.public_id}/", 200),
            (f"/clients/{ticket.contract.client.public_id}/", 200),
            ("/requests/", 302),
            ("/desk/", 302),
            ("/healthz", 200),
        ],
        "smoke-freelancer": [
            ("/", 302),
            ("/requests/", 200),
            ("/requests/new/", 200),
            ("/contracts/", 200),
            (f"/requests/{ticket.ticket_number}/", 200),
            (f"/freelancers/{freelancer.public_id}/", 200),
        ],
        "smoke-agent": [
            ("/", 302),
            ("/desk/", 200),
            ("/admin/", 200),
            (queue, 200),
            (f"{queue}?status=all", 200),
            (f"{queue}{ticket.pk}/change/", 200),
            (f"{queue}{ticket.pk}/reject/", 200),
            ("/admin/marketplace/contract/", 200),
            (f"/requests/{ticket.ticket_number}/", 200),
        ],
        "smoke-lead": [
            ("/desk/", 200),
            (queue, 200),
            (f"{queue}{ticket.pk}/reassign/", 200),
            ("/admin/jss/scoresnapshot/", 200),
        ],
        "smoke-admin": [
            ("/admin/", 200),
            ("/admin/auth/user/", 200),
            ("/desk/", 200),
        ],
    }
    assets = set()
    for username, visits in pages.items():
        browser = Browser(gunicorn.port)
        if username:
            browser.sign_in(username)
        for path, status in visits:
            response, content = browser.get(path)
            assert response.status == status, f"{path} as {username}: {response.status} {content[:600]!r}"
            if status == 200 and response.headers.get_content_type() == "text/html":
                linked = {unescape(url) for url in ASSET.findall(content.decode())}
                assert linked or path.startswith("/admin/login"), f"{path} links no CSS"
                assets |= {url for url in linked if url.startswith("/static/")}
    # The pages link the hashed names from the manifest, and each is served (long-cached) by whitenoise.
    assert any(re.search(r"/static/perkdesk/site\.[0-9a-f]{12}\.css$", url) for url in assets), assets
    assert any(url.endswith(".js") for url in assets), assets
    browser = Browser(gunicorn.port)
    for url in sorted(assets):
        response, content = browser.get(urlsplit(url).path)
        assert response.status == 200, f"{url}: {response.status}"
        assert content, url
        assert "max-age=315360000" in response.headers.get("Cache-Control", ""), url

    # gunicorn wrote JSON lines only: its own, Django's and the access log, each request with its id.
    lines = [json.loads(line) for line in gunicorn.log.read_text().splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert len(access) >= sum(len(v) for v in pages.values())
    assert all(len(line["request_id"]) == 32 and line["status"] in (200, 302) for line in access)
