#!/usr/bin/env python
"""The agents' pages at scale (SPEC §8): the queue's changelist (default view and each filter), the ticket
change page and /desk/, through Django's test Client logged in as an agent (and a lead for the desk's
reports). Prints p50/p95 ms and queries per page, and one JSON object as its last line:
{"requests", "p95_ms", "max_queries", "desk_p95_ms", ...}.

    .venv/bin/python bench/admin_queue.py --requests 1000000
    .venv/bin/python bench/admin_queue.py --requests 20000 --database-url sqlite:///var/bench_queue.sqlite3

With --requests N it makes its own data (bench/queue_data.py, bulk inserts) unless the database already
holds exactly that queue; it then drops and recreates the database, so it refuses any database whose name
does not contain "bench". Without --requests it measures whatever bench queue is there.

Targets at 1,000,000 requests on PostgreSQL (SPEC §8): changelist and change page p95 ≤ 150 ms with ≤ 10
queries, the same count at 10 and 100 rows a page; /desk/ p95 ≤ 200 ms. The searches (ticket, Contract ID,
freelancer name, email, agency and client name) are reported apart. The CSV export: bench/queue_export.py.
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/perkdesk_bench_queue"


def log(message):
    print(message, file=sys.stderr, flush=True)


def database_name(database_url):
    parts = urllib.parse.urlsplit(database_url)
    return parts.path.lstrip("/") if parts.scheme.startswith("postgres") else parts.path


def guard(database_url):
    name = database_name(database_url)
    if "bench" not in Path(name).name:
        sys.exit(f"refusing to use {name!r}: the bench database's name must contain 'bench'")


def recreate_database(database_url):
    """Drop and create the (bench-named) database: a clean queue every time data is made."""
    guard(database_url)
    name = database_name(database_url)
    if database_url.startswith("postgres"):
        import psycopg

        parts = urllib.parse.urlsplit(database_url)
        maintenance = parts._replace(scheme="postgresql", path="/postgres").geturl()
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        Path(name).unlink(missing_ok=True)
        Path(name).parent.mkdir(parents=True, exist_ok=True)


def setup_django(database_url):
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "perkdesk.settings")
    os.environ.setdefault("DJANGO_ENV", "development")  # settings default to production
    os.environ["DJANGO_DEBUG"] = "false"  # no debug cursor, no debug templates: production-like timings
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()


def queue_size():
    from django.db import DatabaseError

    from requests_app.models import RemovalRequest

    try:
        if not get_user("bench_agent0"):
            return None
        return RemovalRequest.objects.count()
    except DatabaseError:
        return None


def get_user(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username=username).first()


def measure(client, url, repeat):
    """Timings of `repeat` GETs after two warm-ups, and the queries of one more."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        response.content  # noqa: B018 - rendered in full
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
        "queries": len(queries),
    }


CHANGELIST_VIEWS = {
    "default": "",
    "status=submitted": "status=submitted",
    "status=waiting_on_freelancer": "status=waiting_on_freelancer",
    "status=approved": "status=approved",
    "status=applied": "status=applied",
    "status=rejected": "status=rejected",
    "status=withdrawn": "status=withdrawn",
    "status=all": "status=all",
    "mine": "assignee=mine",
    "unassigned": "assignee=unassigned",
    "at_risk": "sla=at_risk",
    "breached": "sla=breached",
    "scope=jss_only": "scope__exact=jss_only",
    "scope=hide_profile_and_jss": "scope__exact=hide_profile_and_jss",
    "special_offer=yes": "is_special_offer__exact=1",
    "special_offer=no": "is_special_offer__exact=0",
    "sort=ticket": "o=1",
    "sort=ticket desc": "o=-1",
    "sort=age": "o=8",
    "sort=sla": "o=6",
    "status=all&sort=sla": "status=all&o=6",
}


def run(args):
    from django.contrib import admin
    from django.test import Client
    from django.urls import reverse

    from requests_app.models import RemovalRequest, Status

    requests = RemovalRequest.objects.count()
    # /desk/'s rollup as the 15-minute sweep keeps it (its own part of the sweep, timed: the rest of the sweep
    # would apply, alert and email, changing the queue being measured).
    from django.utils import timezone

    from requests_app.services import desk_days

    started = time.perf_counter()
    desk_days.rebuild_closed_days(now=timezone.now())
    rollup_seconds = round(time.perf_counter() - started, 2)
    log(f"desk rollup rebuilt (the sweep's part) in {rollup_seconds} s")
    agent, lead = get_user("bench_agent0"), get_user("bench_lead")
    model_admin = admin.site._registry[RemovalRequest]
    changelist = reverse("admin:requests_app_removalrequest_changelist")
    agent_client, lead_client = Client(), Client()
    agent_client.force_login(agent)
    lead_client.force_login(lead)
    pages = {}

    # Query counts at 10 and 100 rows a page; timings at the page size agents get (list_per_page).
    default_per_page = model_admin.list_per_page
    same_queries = True
    for name, query in CHANGELIST_VIEWS.items():
        url = f"{changelist}?{query}" if query else changelist
        counts = {}
        for per_page in (10, 100):
            model_admin.list_per_page = per_page
            counts[per_page] = measure(agent_client, url, 1)["queries"]
        model_admin.list_per_page = default_per_page
        pages[f"changelist {name}"] = {
            **measure(agent_client, url, args.repeat),
            "queries_at_10": counts[10],
            "queries_at_100": counts[100],
        }
        same_queries &= counts[10] == counts[100]
        log(f"changelist {name:28} {pages[f'changelist {name}']}")
    model_admin.list_per_page = 100
    at_100 = measure(agent_client, changelist, args.repeat)
    model_admin.list_per_page = default_per_page
    log(f"changelist default, 100 rows{'':10} {at_100}")

    searches = {}
    sample = (
        RemovalRequest.objects.select_related("contract__client", "freelancer__user")
        .filter(status=Status.APPLIED)
        .first()
    )
    for name, term in {
        "ticket": sample.ticket_number,
        "contract": sample.contract.number,
        "name": sample.freelancer.name,
        "email": sample.freelancer.user.email,
        "agency": "Bench Agency 777",
        "client": sample.contract.client.name,
    }.items():
        searches[f"search {name}"] = measure(
            agent_client, f"{changelist}?{urllib.parse.urlencode({'q': term})}", args.repeat
        )
        log(f"search {name:32} {searches[f'search {name}']}")

    tickets = {
        "submitted": RemovalRequest.objects.filter(status=Status.SUBMITTED, agency__isnull=True).first(),
        "waiting": RemovalRequest.objects.filter(status=Status.WAITING_ON_FREELANCER).first(),
        "approved": RemovalRequest.objects.filter(status=Status.APPROVED).first(),
        "applied": RemovalRequest.objects.filter(status=Status.APPLIED, agency__isnull=False).first(),
        "rejected": RemovalRequest.objects.filter(status=Status.REJECTED).first(),
    }
    for name, ticket in tickets.items():
        if ticket is None:
            continue
        url = reverse("admin:requests_app_removalrequest_change", args=[ticket.pk])
        for who, client in (("agent", agent_client), ("lead", lead_client)):
            pages[f"change {name} ({who})"] = measure(client, url, args.repeat)
            log(f"change {name} ({who}){'':14} {pages[f'change {name} ({who})']}")

    desk = {}
    for who, client in (("agent", agent_client), ("lead", lead_client)):
        desk[f"desk ({who})"] = measure(client, reverse("requests_app:desk"), args.repeat)
        log(f"desk ({who}){'':24} {desk[f'desk ({who})']}")

    from django.db import connection

    return {
        "requests": requests,
        "database": connection.vendor,
        "p95_ms": max(page["p95_ms"] for page in pages.values()),
        "max_queries": max(
            max(page["queries"], page.get("queries_at_10", 0), page.get("queries_at_100", 0)) for page in pages.values()
        ),
        "rows_per_page": default_per_page,
        "changelist_100_rows": at_100,
        "same_queries_at_10_and_100": same_queries,
        "desk_p95_ms": max(page["p95_ms"] for page in desk.values()),
        "desk_queries": max(page["queries"] for page in desk.values()),
        "desk_rollup_seconds": rollup_seconds,
        "search_p95_ms": max(page["p95_ms"] for page in searches.values()),
        "search_max_queries": max(page["queries"] for page in searches.values()),
        "repeat": args.repeat,
        "load_average": os.getloadavg()[0],
        "pages": {**pages, **searches, **desk},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, help="make a queue of this many requests (bulk inserts)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--repeat", type=int, default=40, help="timed GETs per page")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    guard(args.database_url)

    if args.requests:
        setup_django(args.database_url)
        if queue_size() != args.requests:
            from django.db import connections

            connections.close_all()
            log(f"making a queue of {args.requests} requests in {database_name(args.database_url)}")
            recreate_database(args.database_url)
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            from bench import queue_data

            started = time.perf_counter()
            counts = queue_data.generate(args.requests, seed=args.seed, progress=log)
            log(f"made {counts} in {time.perf_counter() - started:.0f} s")
        else:
            log(f"reusing the queue of {args.requests} requests in {database_name(args.database_url)}")
    else:
        setup_django(args.database_url)
        if queue_size() is None:
            sys.exit("no bench queue in this database: pass --requests N to make one")

    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
