"""Production refuses to start on an unsafe setting (issue 13, SPEC §7): a system check at error level whose
message says what to set. Each setting in a subprocess, as an operator would start it; and the processes that
run no management command (gunicorn through perkdesk.wsgi, the Celery worker) refuse as well."""

import os
import secrets
import subprocess
import sys

import pytest

from tests.processes import ROOT


def production_env(**overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EMAIL_", "CELERY_"))}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60),
        DJANGO_ALLOWED_HOSTS="perkdesk.example",
        REDIS_URL="redis://127.0.0.1:6379/3",
        EMAIL_URL="smtp://mail.perkdesk.example:587/?tls=True",
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def check(**overrides):
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=production_env(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_safe_production_settings_start():
    result = check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


UNSAFE = [
    # (what is wrong, the environment that makes it, the check id, what the message tells the operator to set)
    ("per-process cache: REDIS_URL unset", {"REDIS_URL": None}, "perkdesk.E001", "Set REDIS_URL"),
    ("console email: EMAIL_URL unset", {"EMAIL_URL": None}, "perkdesk.E002", "Set EMAIL_URL"),
    ("console email, said outright", {"EMAIL_URL": "consolemail://"}, "perkdesk.E002", "Set EMAIL_URL"),
    ("in-memory email", {"EMAIL_URL": "memorymail://"}, "perkdesk.E002", "Set EMAIL_URL"),
    ("dummy email", {"EMAIL_URL": "dummymail://"}, "perkdesk.E002", "Set EMAIL_URL"),
    ("DEBUG on", {"DJANGO_DEBUG": "true"}, "perkdesk.E003", "DJANGO_DEBUG"),
    ("empty secret key", {"DJANGO_SECRET_KEY": ""}, "perkdesk.E004", "Set DJANGO_SECRET_KEY"),
    (
        "the development secret key",
        {"DJANGO_SECRET_KEY": "dev-only-insecure-key-not-for-production"},
        "perkdesk.E004",
        "Set DJANGO_SECRET_KEY",
    ),
    ("a short secret key", {"DJANGO_SECRET_KEY": "changeme"}, "perkdesk.E004", "Set DJANGO_SECRET_KEY"),
]


@pytest.mark.parametrize("what, overrides, check_id, advice", UNSAFE, ids=[u[0] for u in UNSAFE])
def test_production_refuses_an_unsafe_setting(what, overrides, check_id, advice):
    result = check(**overrides)
    assert result.returncode != 0, f"{what}: started anyway\n{result.stdout}"
    assert f"{check_id}" in result.stderr and advice in result.stderr, result.stderr
    assert "SystemCheckError" in result.stderr


def test_a_missing_secret_key_stops_production_before_anything_else():
    result = check(DJANGO_SECRET_KEY=None)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_development_is_not_held_to_production_rules():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EMAIL_", "REDIS_", "CELERY_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "DJANGO_ENV": "development"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "process",
    [
        [sys.executable, "-c", "import perkdesk.wsgi"],
        [sys.executable, "-m", "celery", "-A", "perkdesk", "--quiet", "worker", "--pool=solo"],
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "perkdesk",
            "--quiet",
            "beat",
            "--schedule=/tmp/perkdesk-refused-beat-schedule",
        ],  # never /dev/null: beat replaces it,
    ],
    ids=["gunicorn-wsgi", "celery-worker", "celery-beat"],
)
def test_web_worker_and_beat_refuse_to_start_on_an_unsafe_setting(process):
    result = subprocess.run(
        process,
        cwd=ROOT,
        env=production_env(EMAIL_URL="consolemail://", CELERY_BROKER_URL="redis://127.0.0.1:1/0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "refuses to start in production" in output and "perkdesk.E002" in output, output[-2000:]
