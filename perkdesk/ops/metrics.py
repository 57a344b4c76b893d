"""Prometheus metrics (issue 13): request latency by view (a middleware), and at scrape time the heartbeats
and the Celery queue depth; the ticket figures come from ``requests_app.metrics``. Served at /metrics to staff
and to the operator's token only (``perkdesk.views.metrics``).

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` (compose does): each worker writes its
samples there and a scrape adds them up, whichever worker answers."""

import os
import time

import redis
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from perkdesk.ops import health, heartbeats

REQUEST_LATENCY = Histogram(
    "perkdesk_http_request_duration_seconds",
    "Time to answer a web request, by view.",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "unresolved"
        REQUEST_LATENCY.labels(view, request.method, str(response.status_code)).observe(time.perf_counter() - started)
        return response


def queue_depth(queue="celery"):
    """Messages waiting in the broker's default queue (Redis: a list of that name); None if not knowable."""
    url = health.broker_url()
    if not url.startswith(("redis://", "rediss://")):
        return None
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return client.llen(queue)
    except redis.RedisError:
        return None
    finally:
        client.close()


class FiguresCollector:
    """Gauges read when scraped: ``figures`` returns [(name, help, {labels}, value)] (the ticket figures)."""

    def __init__(self, figures=()):
        self.figures = figures

    def collect(self):
        families = {}
        for name, help_text, labels, value in self.figures:
            family = families.get(name)
            if family is None:
                family = families[name] = GaugeMetricFamily(name, help_text, labels=sorted(labels))
            family.add_metric([labels[k] for k in sorted(labels)], value)
        for name in (heartbeats.SWEEP, heartbeats.BEAT):
            pulse = heartbeats.pulse(name)
            gauge = GaugeMetricFamily(
                f"perkdesk_{name}_last_run_timestamp_seconds",
                f"When the {name} last ran (Unix time; 0 = never).",
            )
            gauge.add_metric([], pulse.last.timestamp() if pulse.last else 0)
            families[gauge.name] = gauge
        depth = queue_depth()
        if depth is not None:
            gauge = GaugeMetricFamily(
                "perkdesk_celery_queue_length", "Messages waiting in the Celery queue.", labels=["queue"]
            )
            gauge.add_metric(["celery"], depth)
            families[gauge.name] = gauge
        yield from families.values()


def exposition(figures) -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    now = CollectorRegistry()
    now.register(FiguresCollector(figures))
    return generate_latest(processes) + generate_latest(now)
