#!/usr/bin/env python
"""Load: U concurrent freelancers submitting removal requests and reading their status pages through
gunicorn, for S seconds (SPEC §8). Prints one JSON object as its last line:
{"requests", "errors", "p50_ms", "p95_ms", ...}. Each user pauses --think-ms on average between
requests, as a person reading the page would (0 makes it a closed-loop stress run). Refusals (a form
re-shown with reasons, 429 from the rate limit) are answers, not errors; an error is a 5xx, a
connection failure or an unexpected page.

    .venv/bin/python bench/submit_load.py --users 20 --seconds 60
    .venv/bin/python bench/submit_load.py --users 5 --seconds 10 --database-url sqlite:///var/bench_load.sqlite3

It only talks to 127.0.0.1 and only writes to a database whose name contains "bench"; it makes its own
data (one freelancer per user, each with regular and Special Offer contracts to ask about).
"""

import argparse
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/perkdesk_bench_load"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TICKET_RE = re.compile(r"Your ticket number is (\d{9})")


def log(message):
    print(message, file=sys.stderr, flush=True)


def guard(database_url):
    name = urllib.parse.urlsplit(database_url).path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to write to {name!r}: the bench database's name must contain 'bench'")


def ensure_postgres_database(database_url):
    if not database_url.startswith("postgres"):
        return
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare_data(env, users):
    """Migrate the bench database and make one eligible Top Rated freelancer per simulated user."""
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    script = f"""
import datetime as dt
from decimal import Decimal
from django.contrib.auth.models import User
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from marketplace.models import Client, Contract, Feedback, Freelancer, TopRatedPeriod
from requests_app.models import RemovalRequest, RequestEvent
from axes.models import AccessAttempt
users = {users}
today = timezone.localdate()
from bench.bulkload import timeline_unguarded
with timeline_unguarded():
    AccessAttempt.objects.all().delete()
    RequestEvent.objects.filter(request__freelancer__public_id__startswith="load-").delete()
    RemovalRequest.objects.filter(freelancer__public_id__startswith="load-").delete()
    clients = [
        Client.objects.update_or_create(public_id=f"load-client-{{i}}", defaults={{"name": f"Load client {{i}}"}})[0]
        for i in range(4)
    ]
    password = make_password("perkdesk")
    for u in range(users):
        user, _ = User.objects.update_or_create(username=f"load{{u}}", defaults={{"password": password,
                                                "email": f"load{{u}}@bench.example"}})
        freelancer, _ = Freelancer.objects.update_or_create(public_id=f"load-{{u}}", defaults={{"user": user,
                                                            "name": f"Load user {{u}}"}})
        if not TopRatedPeriod.objects.filter(freelancer=freelancer, ended_on__isnull=True).exists():
            TopRatedPeriod.objects.create(freelancer=freelancer, started_on=today - dt.timedelta(days=400))
        for c in range(40):
            number = f"9{{u:04d}}{{c:03d}}"
            contract, created = Contract.objects.update_or_create(number=number, defaults=dict(
                title=f"Load contract {{c}}", freelancer=freelancer, client=clients[c % 4],
                started_on=today - dt.timedelta(days=200 + c), ended_on=today - dt.timedelta(days=30 + c),
                last_payment_on=today - dt.timedelta(days=30 + c), total_charged=Decimal("700.00"),
                is_special_offer=c % 4 != 0))
            Feedback.objects.get_or_create(contract=contract, defaults=dict(public_rating=Decimal("3.50"),
                                           private_score=5, public_comment="Load test feedback."))
print("ready")
"""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class User:
    def __init__(self, port, index):
        self.port = port
        self.index = index
        self.cookies = {}
        self.tickets = []
        self.contracts = [f"9{index:04d}{c:03d}" for c in range(40)]
        random.Random(index).shuffle(self.contracts)

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Host": "127.0.0.1"}
        if body is not None:
            body = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        elapsed = (time.perf_counter() - start) * 1000
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        conn.close()
        return response.status, dict(response.getheaders()), text, elapsed


def run_user(user, deadline, results, lock, think_ms=0):
    def record(kind, status, elapsed, ok):
        with lock:
            results.append((kind, status, elapsed, ok))

    try:
        status, _, text, ms = user.request("GET", "/accounts/login/")
        token = CSRF_RE.search(text).group(1)
        status, headers, _, ms = user.request(
            "POST",
            "/accounts/login/",
            {
                "csrfmiddlewaretoken": token,
                "username": f"load{user.index}",
                "password": "perkdesk",
                "next": "/requests/",
            },
        )
        record("login", status, ms, status == 302)
    except Exception as exc:  # noqa: BLE001 - a failed login is an error of the run, counted
        record("login", 0, 0.0, False)
        log(f"user {user.index}: login failed: {exc}")
        return
    step = 0
    pause = random.Random(user.index)
    while time.monotonic() < deadline:
        step += 1
        if think_ms:
            # A person reads the page before the next click (locust's wait_time); 0 = a closed-loop stress run.
            time.sleep(pause.uniform(0.5, 1.5) * think_ms / 1000)
        try:
            if step % 3 == 1:
                status, _, text, ms = user.request("GET", "/requests/new/")
                ok = status == 200 and "csrfmiddlewaretoken" in text
                record("form", status, ms, ok)
                if not ok:
                    continue
                token = CSRF_RE.search(text).group(1)
                number = user.contracts[step % len(user.contracts)]
                status, headers, text, ms = user.request(
                    "POST",
                    "/requests/new/",
                    {
                        "csrfmiddlewaretoken": token,
                        "contract": number,
                        "scope": random.choice(["jss_only", "hide_profile_and_jss"]),
                        "agency": "",
                    },
                )
                # 302 to the ticket = stored; 200 = refused with reasons on the form; 429 = rate limited.
                ok = status in (200, 302, 429)
                record("submit", status, ms, ok)
                location = {k.lower(): v for k, v in headers.items()}.get("location", "")
                match = re.search(r"/requests/(\d{9})/", location)
                if match:
                    user.tickets.append(match.group(1))
            elif step % 3 == 2 and user.tickets:
                ticket = random.choice(user.tickets)
                status, _, text, ms = user.request("GET", f"/requests/{ticket}/")
                record("status", status, ms, status == 200 and ticket in text)
            else:
                status, _, text, ms = user.request("GET", "/requests/")
                record("list", status, ms, status == 200)
        except Exception as exc:  # noqa: BLE001
            record("error", 0, 0.0, False)
            log(f"user {user.index}: {exc}")


def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(q * (len(values) - 1)))))
    return round(values[k], 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument(
        "--think-ms",
        type=int,
        default=500,
        help="mean pause between a user's requests (uniform 0.5x-1.5x); 0 for no pause",
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    guard(args.database_url)
    ensure_postgres_database(args.database_url)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.setdefault("DJANGO_ENV", "development")  # settings default to production; DEBUG is off below
    env.update(
        DATABASE_URL=args.database_url,
        DJANGO_DEBUG="false",
        LOG_LEVEL="WARNING",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        PERK_SUBMISSIONS_PER_HOUR="100000",
        DATABASE_CONN_MAX_AGE="60",
    )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    log(f"preparing {args.users} users in {urllib.parse.urlsplit(args.database_url).path.lstrip('/')}")
    prepare_data(env, args.users)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "perkdesk.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            "gthread",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        log(f"gunicorn on 127.0.0.1:{port}; {args.users} users for {args.seconds}s")
        results, lock = [], threading.Lock()
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=run_user, args=(User(port, i), deadline, results, lock, args.think_ms))
            for i in range(args.users)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.seconds + 60)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if args.redis_url:
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()  # the bench's own queue of unsent emails
    timings = [r[2] for r in results if r[0] != "error"]
    by_kind = {}
    for kind, status, ms, _ok in results:
        entry = by_kind.setdefault(kind, {"count": 0, "statuses": {}, "ms": []})
        entry["count"] += 1
        entry["statuses"][str(status)] = entry["statuses"].get(str(status), 0) + 1
        entry["ms"].append(ms)
    summary = {
        "requests": len(results),
        "errors": sum(1 for r in results if not r[3]),
        "p50_ms": round(statistics.median(timings), 1) if timings else None,
        "p95_ms": percentile(timings, 0.95),
        "users": args.users,
        "seconds": args.seconds,
        "rps": round(len(results) / args.seconds, 1),
        "think_ms": args.think_ms,
        "database": "postgresql" if args.database_url.startswith("postgres") else "sqlite",
        "by_kind": {
            k: {"count": v["count"], "statuses": v["statuses"], "p95_ms": percentile(v["ms"], 0.95)}
            for k, v in by_kind.items()
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
