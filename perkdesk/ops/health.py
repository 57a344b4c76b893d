"""What /healthz and /metrics ask of the servers, each with a short timeout so a probe never hangs a worker."""

import hmac
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import redis
from django.conf import settings
from django.db import connections

# Every probe together answers within this (the load balancer's and compose's timeouts are longer).
DEADLINE_SECONDS = 2.5
REDIS_TIMEOUT_SECONDS = 1.0


def database_state() -> str:
    """A fresh connection of this (probe) thread: the connect timeout bounds an unreachable server."""
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any failure means "down" for a probe
        return "down"
    finally:
        connection.close()
    return "ok"


def redis_state(url: str) -> str:
    if not url:
        return "none"
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return "unknown"
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS, retry=None
    )
    try:
        client.ping()
    except Exception:  # noqa: BLE001
        return "down"
    finally:
        client.close()
    return "ok"


def cache_url() -> str:
    cache = settings.CACHES["default"]
    return cache["LOCATION"] if cache["BACKEND"].endswith("RedisCache") else ""


def broker_url() -> str:
    from perkdesk.celery import app

    return "" if app.conf.task_always_eager else (app.conf.broker_url or "")


def probe() -> dict[str, str]:
    """database, cache and broker states, probed at once in threads; one that does not answer in time is down."""
    checks = {"database": database_state, "cache": lambda: redis_state(cache_url())}
    broker = broker_url()
    if broker == cache_url() and broker:
        states_share = True
    else:
        states_share = False
        checks["broker"] = lambda: redis_state(broker) if broker else "eager"
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="healthz")
    futures = {name: pool.submit(check) for name, check in checks.items()}
    deadline = time.monotonic() + DEADLINE_SECONDS
    states = {}
    for name, future in futures.items():
        try:
            states[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            states[name] = "down"
    pool.shutdown(wait=False)
    if states_share:
        states["broker"] = states["cache"]
    return states


def authorised(request) -> bool:
    """Staff signed in, or the operator's token (``OPS_TOKEN``) as ``Authorization: Bearer <token>``."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.OPS_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip(), token)
