"""The deployment files say what the README promises."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_five_services_from_one_image():
    services = compose()["services"]
    assert set(services) == {"db", "redis", "web", "worker", "beat"}
    assert services["db"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    images = {services[name]["image"] for name in ("web", "worker", "beat")}
    assert images == {"perkdesk:latest"}


def test_compose_healthchecks_and_healthy_dependencies():
    services = compose()["services"]
    for name in ("db", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_exactly_one_beat_and_web_migrates_on_start():
    services = compose()["services"]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "celery -A perkdesk beat" in services["beat"]["command"]
    assert "migrate" in services["web"]["command"] and "gunicorn" in services["web"]["command"]


def test_env_example_lists_every_setting_the_code_reads():
    import re

    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    settings_src = (ROOT / "perkdesk" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings_src)) | set(
        re.findall(r'"([A-Z_]+)" in env', settings_src)
    )
    assert read - listed == set()
