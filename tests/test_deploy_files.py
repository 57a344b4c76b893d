"""The deployment files say what the README promises."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


APP_SERVICES = ("migrate", "web", "worker", "beat")


def test_compose_services_from_one_image():
    services = compose()["services"]
    assert {"db", "redis", "mailpit", *APP_SERVICES} <= set(services)
    assert services["db"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert {services[name]["image"] for name in APP_SERVICES} == {"perkdesk:latest"}


def test_compose_one_shot_migrate_that_the_others_wait_for():
    services = compose()["services"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["db"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
        assert "migrate" not in " ".join(services[name]["command"]), f"{name} must not migrate on start"


def test_compose_healthchecks_everywhere_and_exactly_one_beat():
    services = compose()["services"]
    for name, service in services.items():
        if name == "migrate":
            assert service["healthcheck"] == {"disable": True}  # it exits; nothing to watch
        else:
            assert service["healthcheck"]["test"], name
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["beat"]["command"][:5] == ["celery", "-A", "perkdesk", "--quiet", "beat"]
    assert "beat-heartbeat" in " ".join(services["beat"]["healthcheck"]["test"])
    assert "gunicorn.conf.py" in services["web"]["command"]


def test_compose_publishes_ports_on_this_machine_only():
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert compose()["services"]["web"]["ports"] == ["127.0.0.1:8000:8000"]


def test_compose_broker_and_cache_on_separate_redis_databases_and_mail_to_a_catcher():
    env = compose()["x-django"]["environment"]
    assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert env["REDIS_URL"] == "redis://redis:6379/1"
    assert env["EMAIL_URL"] == "${EMAIL_URL:-smtp://mailpit:1025}"


def test_compose_flower_is_optional_and_needs_a_password():
    flower = compose()["services"]["flower"]
    assert flower["profiles"] == ["flower"]
    assert "FLOWER_BASIC_AUTH" in " ".join(flower["command"])


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="needs docker-compose (apt-get install docker-compose)")
def test_docker_compose_accepts_the_file():
    result = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config", "--quiet"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SECRET_KEY": "x" * 60},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_image_builds_static_with_the_script_ci_runs_and_installs_the_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "bin/build-static" in dockerfile and "collectstatic" not in dockerfile
    assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "USER perkdesk" in dockerfile and "HEALTHCHECK" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"tests", "bench", "docs"} <= set(ignored)


def test_env_example_lists_every_setting_the_code_reads():
    import re

    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    settings_src = (ROOT / "perkdesk" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings_src)) | set(
        re.findall(r'"([A-Z_]+)" in env', settings_src)
    )
    assert read - listed == set()
