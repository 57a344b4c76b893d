#!/usr/bin/env python
"""The queue's CSV export at scale (SPEC §8: "streams in bounded memory"): downloads the export of the whole
queue (?status=all) as an agent through Django's test Client, reading the streamed response chunk by chunk
as a browser would, and prints one JSON object as its last line:
{"requests", "rows", "seconds", "mb", "rows_per_second", "peak_rss_mb", "rss_growth_mb", ...}.

    .venv/bin/python bench/queue_export.py --requests 1000000
    .venv/bin/python bench/queue_export.py                       # the bench queue already there

It uses (and with --requests makes) the bench queue of bench/admin_queue.py, in the same database.
``rss_growth_mb``: how far the export raised the process's peak resident memory above what it was before the
download (ru_maxrss), i.e. the memory the export itself needed; bounded means it stays flat as N grows.
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import admin_queue  # noqa: E402


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, help="make a queue of this many requests first (bulk inserts)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", admin_queue.DEFAULT_DB))
    parser.add_argument("--query", default="status=all", help="the changelist's filters to export")
    args = parser.parse_args()
    admin_queue.guard(args.database_url)
    admin_queue.setup_django(args.database_url)
    if args.requests and admin_queue.queue_size() != args.requests:
        from django.core.management import call_command
        from django.db import connections

        from bench import queue_data

        connections.close_all()
        admin_queue.recreate_database(args.database_url)
        call_command("migrate", verbosity=0)
        queue_data.generate(args.requests, seed=1, progress=admin_queue.log)
    elif admin_queue.queue_size() is None:
        sys.exit("no bench queue in this database: pass --requests N to make one")

    from django.db import connection, reset_queries
    from django.test import Client
    from django.urls import reverse

    from requests_app.models import RemovalRequest

    requests = RemovalRequest.objects.count()
    client = Client()
    client.force_login(admin_queue.get_user("bench_agent0"))
    url = f"{reverse('admin:requests_app_removalrequest_export')}?{args.query}"
    client.get(reverse("admin:requests_app_removalrequest_changelist"))  # warm the admin up
    reset_queries()
    before = peak_rss_mb()
    started = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200 or not response.streaming:
        sys.exit(f"GET {url} answered {response.status_code} (streaming: {response.streaming})")
    size = lines = 0
    first_chunk_s = None
    for chunk in response.streaming_content:
        if first_chunk_s is None:
            first_chunk_s = time.perf_counter() - started
        size += len(chunk)
        lines += chunk.count(b"\n")
    response.close()
    seconds = time.perf_counter() - started
    after = peak_rss_mb()
    result = {
        "requests": requests,
        "database": connection.vendor,
        "query": args.query,
        "rows": lines - 1,
        "seconds": round(seconds, 2),
        "first_chunk_s": round(first_chunk_s or 0, 3),
        "mb": round(size / 1e6, 1),
        "rows_per_second": round((lines - 1) / seconds),
        "peak_rss_mb": round(after, 1),
        "rss_before_mb": round(before, 1),
        "rss_growth_mb": round(after - before, 1),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
