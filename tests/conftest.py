import os
import shutil

import pytest
import time_machine
from django.conf import settings
from django.db import connection

from tests.clock import NOW

# Playwright's sync API runs an event loop in the test thread; the ORM calls around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REQUIRE_SERVERS = os.environ.get("PERKDESK_REQUIRE_SERVERS") == "1"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(item, why):
    # In CI every server must be there: a skipped check would hide a failure.
    if REQUIRE_SERVERS:
        pytest.fail(f"{why} (PERKDESK_REQUIRE_SERVERS=1)", pytrace=False)
    pytest.skip(why)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _unavailable(item, "needs PostgreSQL")
    if item.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
        _unavailable(item, "needs Redis")
    if item.get_closest_marker("browser") and not CHROMIUM:
        _unavailable(item, "needs the system Chromium (apt-get install chromium)")


@pytest.fixture(autouse=True)
def _pinned_clock(request):
    """One clock for every test: pinned at tests.clock.NOW and ticking, so the code (timezone.now()), the
    factories and the tests' own dates agree whatever day the suite runs on. Tests marked ``real_clock`` see
    the real clock (a real Celery worker or other process that the pin cannot reach is involved)."""
    if request.node.get_closest_marker("real_clock"):
        yield None
        return
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    """Screenshots go to a temporary folder, email to the in-memory outbox, tasks run eagerly unless a
    test asks for the real worker."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache (Redis under make test) and user ids restart with every test
    database: start each test with an empty cache so no count leaks from an earlier test or run."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _eager_celery():
    from celery._state import _set_task_join_will_block

    from perkdesk.celery import app

    # Process-wide flag a worker started in this process (or a denied_join_result block) can leave on; it makes a
    # later test's result.get() fail with "Never call result.get() within a task!". Tests run outside tasks.
    _set_task_join_will_block(False)
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def chromium_path():
    return CHROMIUM


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def pytest_report_header(config):
    return f"database: {settings.DATABASES['default']['ENGINE']}; broker: {settings.CELERY_BROKER_URL or 'eager'}"
