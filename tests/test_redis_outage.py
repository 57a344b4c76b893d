"""Redis stopped (issue 13, §9): the agents' side degrades, it does not break. With a real Redis of the test's
own stopped, an agent signs in and approves through the admin in under 2 s and is told the queue is down; a
bulk approval names each ticket; once Redis is back the sweep applies every approval and each email goes once.

Redis is the cache and the broker here, as in production (sessions are in the database)."""

import datetime as dt
import time

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone

from jss.models import JssExclusion
from requests_app import services
from requests_app.models import RemovalRequest
from requests_app.services.common import QUEUE_DOWN_WARNING
from tests import factories as f
from tests.processes import redis_process, silent_server
from tests.test_faults import QUEUE, broker_at

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def page_text(response):
    return " ".join(response.content.decode().split()).replace("&#x27;", "'")


def test_with_redis_stopped_agents_sign_in_and_approve_and_the_sweep_applies_later(tmp_path):
    single = f.RemovalRequestFactory()
    batch = sorted((f.RemovalRequestFactory() for _ in range(3)), key=lambda t: t.pk)
    agent = f.UserFactory(username="outage-agent", agent=True)
    mail.outbox.clear()

    with redis_process(tmp_path) as redis:
        cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url(1)}}
        with override_settings(CACHES=cache), broker_at(redis.url(0)):
            redis.stop()

            browser = Client(raise_request_exception=False)
            signed_in = browser.post("/accounts/login/", {"username": "outage-agent", "password": "perkdesk"})
            assert signed_in.status_code == 302, signed_in.content[:500]
            assert browser.get("/desk/").status_code == 200

            started = time.monotonic()
            response = browser.post(f"{QUEUE}{single.pk}/approve/", {"confirm": "yes"}, follow=True)
            took = time.monotonic() - started
            assert response.status_code == 200 and took < 2, f"{response.status_code} in {took:.2f}s"
            messages = [str(m) for m in response.context["messages"]]
            assert f"Ticket {single.ticket_number} approved." in messages
            assert QUEUE_DOWN_WARNING in messages and QUEUE_DOWN_WARNING in page_text(response)

            data = {
                "action": "approve_selected",
                "_selected_action": [t.pk for t in batch],
                "index": "0",
                "confirm": "yes",
            }
            started = time.monotonic()
            response = browser.post(QUEUE, data, follow=True)
            assert response.status_code == 200 and time.monotonic() - started < 4
            messages = [str(m) for m in response.context["messages"]]
            numbers = ", ".join(t.ticket_number for t in batch)
            assert f"Approved 3 tickets: {numbers}." in messages, messages
            assert QUEUE_DOWN_WARNING in messages

        tickets = [single, *batch]
        decided = RemovalRequest.objects.filter(pk__in=[t.pk for t in tickets])
        assert set(decided.values_list("status", "decided_by")) == {("approved", agent.pk)}
        assert not JssExclusion.objects.exists() and mail.outbox == []

        # Redis is back: the next sweep applies every approval once; the approval emails that never went are
        # sent by the sweep once their own tasks have had their time, each once.
        redis.start()
        report = services.sweep()
        assert sorted(report.applied) == sorted(t.ticket_number for t in tickets)
        assert services.sweep().applied == []
        later = timezone.now() + dt.timedelta(minutes=15)
        services.sweep(now=later)
        services.sweep(now=later + dt.timedelta(minutes=15))
    for ticket in tickets:
        ticket.refresh_from_db()
        assert ticket.status == "applied"
        assert JssExclusion.objects.filter(removal_request=ticket).count() == 1
        for kind in ("was approved", "Feedback removed from your Job Success Score"):
            sent = [m for m in mail.outbox if ticket.ticket_number in m.subject and kind in m.subject]
            assert len(sent) == 1, (ticket.ticket_number, kind, [m.subject for m in mail.outbox])


def test_a_hanging_broker_costs_one_timeout_not_one_per_ticket():
    """A broker that accepts connections and never answers: the bulk approval waits for the first publish
    only (about the 2 s socket timeout), not for each of its six; all six are left to the sweep."""
    batch = [f.RemovalRequestFactory() for _ in range(3)]
    browser = Client(raise_request_exception=False)
    browser.force_login(f.UserFactory(agent=True))
    data = {"action": "approve_selected", "_selected_action": [t.pk for t in batch], "index": "0", "confirm": "yes"}
    with silent_server() as port, broker_at(f"redis://127.0.0.1:{port}/0"):
        started = time.monotonic()
        response = browser.post(QUEUE, data, follow=True)
        took = time.monotonic() - started
    assert response.status_code == 200 and took < 4, took
    assert QUEUE_DOWN_WARNING in [str(m) for m in response.context["messages"]]
    assert set(RemovalRequest.objects.filter(pk__in=[t.pk for t in batch]).values_list("status", flat=True)) == {
        "approved"
    }
    assert sorted(services.sweep().applied) == sorted(t.ticket_number for t in batch)
