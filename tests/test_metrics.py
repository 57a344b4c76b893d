"""/metrics (issue 13): Prometheus text for staff and the monitoring token, 403 for anyone else."""

import datetime as dt
import re

import pytest

from perkdesk.ops import heartbeats
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def sample(text, name, **labels):
    """The value of one sample line of the exposition, or None."""
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = "^" + re.escape(name + (f"{{{label_text}}}" if labels else "")) + r" (\S+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else None


def test_metrics_give_the_figures_an_operator_watches(client, time_machine):
    time_machine.move_to(NOW, tick=False)
    f.RemovalRequestFactory(submitted_at=NOW - dt.timedelta(days=8))  # breached
    f.RemovalRequestFactory(submitted_at=NOW - dt.timedelta(days=6, hours=12))  # at risk
    f.RemovalRequestFactory(submitted_at=NOW)
    f.RemovalRequestFactory(applied=True)
    heartbeats.record(heartbeats.SWEEP, now=NOW - dt.timedelta(minutes=3))
    client.force_login(f.UserFactory(lead=True))
    client.get("/desk/")

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert sample(text, "perkdesk_tickets", status="submitted") == 3
    assert sample(text, "perkdesk_tickets", status="applied") == 1
    assert sample(text, "perkdesk_tickets", status="rejected") == 0
    assert sample(text, "perkdesk_tickets_breached") == 1
    assert sample(text, "perkdesk_tickets_at_risk") == 1
    assert sample(text, "perkdesk_sweep_last_run_timestamp_seconds") == (NOW - dt.timedelta(minutes=3)).timestamp()
    assert sample(text, "perkdesk_beat_last_run_timestamp_seconds") == 0
    count = sample(
        text, "perkdesk_http_request_duration_seconds_count", method="GET", status="200", view="requests_app:desk"
    )
    assert count is not None and count >= 1


def test_metrics_are_not_public(client, settings):
    settings.OPS_TOKEN = "monitoring-token-0123456789"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 403
    client.force_login(f.FreelancerFactory().user)
    assert client.get("/metrics").status_code == 403
    client.logout()
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer monitoring-token-0123456789")
    assert response.status_code == 200 and b"perkdesk_tickets" in response.content


@pytest.mark.redis
def test_metrics_show_the_celery_queue_depth(client, settings):
    from perkdesk.celery import app

    app.conf.task_always_eager = False  # the autouse fixture puts it back
    client.force_login(f.UserFactory(agent=True))
    text = client.get("/metrics").content.decode()
    assert sample(text, "perkdesk_celery_queue_length", queue="celery") is not None
