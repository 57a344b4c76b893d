"""Heartbeats (issue 13): the sweep leaves one when it runs (from beat or by hand) and /desk/ says when it
last ran, red once it is over 30 minutes old or has never run; beat's own heartbeat is in tests/test_json_logs.py
(a real beat process)."""

import datetime as dt
import re

import pytest
from django.core.management import call_command

from perkdesk.ops import heartbeats
from perkdesk.ops.models import Heartbeat
from requests_app import tasks
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def sweep_state(client):
    html = client.get("/desk/").content.decode()
    block = re.search(r'<p class="sweep-state[^"]*" id="sweep-state">(.*?)</p>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", block).split()), re.search(r'class="badge (\w+)"', block).group(1)


@pytest.fixture
def agent_client(client):
    client.force_login(f.UserFactory(agent=True))
    return client


def test_the_desk_says_when_the_sweep_last_ran_and_turns_red_after_30_minutes(agent_client, time_machine):
    time_machine.move_to(NOW, tick=False)
    text, tone = sweep_state(agent_client)
    assert (text.startswith("The sweep has not run yet"), tone) == (True, "bad")

    tasks.sweep.apply()  # as beat sends it
    time_machine.move_to(NOW + dt.timedelta(minutes=4), tick=False)
    text, tone = sweep_state(agent_client)
    assert text == "Sweep last ran 4m ago 26 Nov 2026, 12:00 UTC" and tone == "ok"

    time_machine.move_to(NOW + dt.timedelta(minutes=31), tick=False)
    text, tone = sweep_state(agent_client)
    assert text.startswith("Sweep last ran 31m ago") and tone == "bad"
    assert "beat or the workers are down" in text


def test_running_the_sweep_by_hand_counts_as_a_run(time_machine):
    time_machine.move_to(NOW, tick=False)
    f.RemovalRequestFactory(approved=True)
    call_command("apply_due_exclusions", verbosity=0)
    beat = Heartbeat.objects.get(name="sweep")
    assert beat.beat_at == NOW and beat.data["applied"] == 1
    assert heartbeats.pulse("sweep", now=NOW + dt.timedelta(minutes=30)).stale is False
    assert heartbeats.pulse("sweep", now=NOW + dt.timedelta(minutes=30, seconds=1)).stale is True
