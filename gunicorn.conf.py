"""gunicorn settings for the image, compose and the production smoke test: one place (issue 13).

Environment: PORT (8000), WEB_CONCURRENCY (workers, 3), GUNICORN_TIMEOUT (30 s), GUNICORN_BIND."""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# A request that takes longer is killed (the worker restarts); the sweep and the queue do long work, not the web.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, not all at once, so a slow leak never takes the site down.
max_requests = 1000
max_requests_jitter = 100
# Heartbeat files in memory: a slow or full disk must not make the arbiter kill healthy workers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Access and error lines as JSON on stdout, with the request id (perkdesk.ops.gunicorn).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "perkdesk.ops.gunicorn.JsonLogger"
# Behind one proxy (the platform's): trust its X-Forwarded-* only from there.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


# /metrics with several workers: prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by compose).
def on_starting(server):
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):  # samples of a previous run would be added to this one's
            os.remove(os.path.join(path, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
