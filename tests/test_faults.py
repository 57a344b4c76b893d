"""Faults, for real (issue 7, SPEC §7): the database drops the connection in the middle of a submission, the
broker is down while an agent approves, the mail server refuses to talk. Each time nothing is lost or
half-written, the person sees a clean page, and the work is done (or recorded as not done) exactly once.
"""

import datetime as dt
import logging
import socketserver
import threading
from contextlib import contextmanager
from email.utils import parseaddr
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from jss.models import JssExclusion
from outbox import tasks as outbox_tasks
from outbox.models import EmailDelivery
from perkdesk.celery import app as celery_app
from requests_app import services
from requests_app.models import RemovalRequest, RequestEvent
from requests_app.services import submission
from requests_app.services.common import QUEUE_DOWN_WARNING
from tests import factories as f
from tests.security import png_bytes

FRIENDLY_500 = "Something went wrong on our side"
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


def private_files():
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def eligible_freelancer():
    """A Top Rated freelancer with one ended contract whose feedback may be removed."""
    freelancer = f.FreelancerFactory(top_rated=True)
    contract = f.ContractFactory(freelancer=freelancer, with_feedback=True)
    return freelancer, contract


def form(contract, **extra):
    return {"contract": contract.number, "scope": "jss_only", **extra}


# --- the database drops the connection mid-request ------------------------------------------------------


def terminate_backend(pid):
    """pg_terminate_backend from a second connection (another thread has its own), waiting until it is gone."""
    outcome = []

    def kill():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
                outcome.append(cursor.fetchone()[0])
        finally:
            connections.close_all()

    thread = threading.Thread(target=kill)
    thread.start()
    thread.join(timeout=30)
    assert outcome == [True], f"backend {pid} was not terminated"


def backend_alive(pid) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_mid_submission_shows_a_clean_error_and_leaves_nothing_half_written(monkeypatch):
    freelancer, contract = eligible_freelancer()
    browser = Client(raise_request_exception=False)
    browser.force_login(freelancer.user)
    mail.outbox.clear()

    # Between the ticket's insert and its "submitted" event, the database connection of this very request
    # is killed from another session; the request then carries on and hits the dead connection.
    real_record_event = submission.record_event
    killed = []

    def drop_the_connection_then_record(*args, **kwargs):
        assert RemovalRequest.objects.filter(contract=contract).exists()  # the first write happened
        pid = connection.connection.info.backend_pid
        terminate_backend(pid)
        killed.append(pid)
        return real_record_event(*args, **kwargs)

    monkeypatch.setattr(submission, "record_event", drop_the_connection_then_record)
    screenshot = SimpleUploadedFile("mail.png", png_bytes(), content_type="image/png")
    response = browser.post("/requests/new/", form(contract, screenshot=screenshot))

    assert len(killed) == 1
    assert response.status_code == 500
    page = response.content.decode()
    assert FRIENDLY_500 in page and "it was either stored whole or not at all" in page
    for detail in ("Traceback", "OperationalError", "terminating connection", "record_event", "psycopg"):
        assert detail not in page
    # Nothing half-written: no ticket, no event, no stored screenshot, no email.
    assert not backend_alive(killed[0])
    assert RemovalRequest.objects.count() == 0
    assert RequestEvent.objects.count() == 0
    assert private_files() == []
    assert mail.outbox == []

    # The next request gets a fresh connection and works: the same submission goes through whole.
    monkeypatch.setattr(submission, "record_event", real_record_event)
    screenshot = SimpleUploadedFile("mail.png", png_bytes(), content_type="image/png")
    response = browser.post("/requests/new/", form(contract, screenshot=screenshot), follow=True)
    assert response.status_code == 200
    stored = RemovalRequest.objects.get(contract=contract)
    assert f"Your ticket number is {stored.ticket_number}" in " ".join(response.content.decode().split())
    assert connection.connection.info.backend_pid != killed[0]
    assert list(stored.events.values_list("kind", flat=True)) == ["submitted", "email_sent"]
    assert [p.read_bytes() for p in private_files()] == [png_bytes()]
    assert [m.subject for m in mail.outbox] == [
        f"Your feedback removal request {stored.ticket_number} has been submitted"
    ]


# --- the broker is down while an agent approves -------------------------------------------------------


@contextmanager
def broker_at(url):
    """Queue to ``url`` for real instead of running tasks in the process; the connection and producer
    pools are dropped on the way in and out so neither the dead broker nor this one leaks into other tests."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url = saved
        celery_app._pool = None
        celery_app.amqp._producer_pool = None


QUEUE = "/admin/requests_app/removalrequest/"


def approve_through_the_admin(browser, ticket, how):
    if how == "queue action":
        data = {"action": "approve_selected", "_selected_action": [ticket.pk], "index": "0", "confirm": "yes"}
        return browser.post(QUEUE, data, follow=True)
    return browser.post(f"{QUEUE}{ticket.pk}/approve/", {"confirm": "yes"}, follow=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["queue action", "ticket button"])
def test_an_approval_made_while_the_broker_is_down_stands_and_the_sweep_applies_it(how, caplog):
    freelancer, contract = eligible_freelancer()
    ticket = services.submit_request(requester=freelancer.user, contract_number=contract.number, scope="jss_only")
    agent = f.UserFactory(agent=True, first_name="Avery", last_name="Agent")
    browser = Client(raise_request_exception=False)
    browser.force_login(agent)
    mail.outbox.clear()

    with broker_at(CLOSED_PORT_BROKER), caplog.at_level(logging.WARNING):
        response = approve_through_the_admin(browser, ticket, how)

    # The agent is back on the page they came from, told the approval stands and what did not happen.
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert any(ticket.ticket_number in m and "pproved" in m for m in messages), messages
    assert QUEUE_DOWN_WARNING in messages
    assert QUEUE_DOWN_WARNING in " ".join(response.content.decode().split()).replace("&#x27;", "'")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.decided_by) == ("approved", agent)
    assert ticket.events.filter(kind="approved", actor=agent).count() == 1
    assert not JssExclusion.objects.exists()
    assert mail.outbox == []
    assert "queueing requests_app.apply_exclusion" in caplog.text

    # The broker is back; the next sweep applies the approval, once.
    report = services.sweep()
    assert report.applied == [ticket.ticket_number]
    ticket.refresh_from_db()
    assert ticket.status == "applied"
    assert JssExclusion.objects.filter(contract=contract, removal_request=ticket).count() == 1
    assert ticket.events.filter(kind="applied").count() == 1
    assert services.sweep().applied == []

    # The approval's email could not be queued either: once its own task has had its time, the sweep sends it.
    assert not ticket.events.filter(kind="email_sent", data__email="approved").exists()
    later = timezone.now() + dt.timedelta(minutes=15)
    assert f"approved to {freelancer.user.email}" in services.sweep(now=later).emails
    approved = [m for m in mail.outbox if m.subject.endswith(f"{ticket.ticket_number} was approved")]
    assert [m.to for m in approved] == [[freelancer.user.email]]
    assert services.sweep(now=later + dt.timedelta(minutes=15)).emails == []
    assert ticket.events.filter(kind="email_sent", data__email="approved").count() == 1


# --- the mail server fails ------------------------------------------------------------------------------


class FlakySmtpServer(socketserver.ThreadingTCPServer):
    """A minimal SMTP server on 127.0.0.1 that answers ``421 Service not available`` to its first
    ``refuse_first`` connections, then takes mail properly and keeps what it received."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, refuse_first):
        super().__init__(("127.0.0.1", 0), SmtpSession)
        self.refuse_first = refuse_first
        self.connections = 0
        self.received = []  # (sender, recipients, message bytes)
        self.lock = threading.Lock()

    @property
    def port(self):
        return self.server_address[1]


class SmtpSession(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        server = self.server
        with server.lock:
            server.connections += 1
            refused = server.connections <= server.refuse_first
        if refused:
            self.reply("421 mail.test Service not available, closing transmission channel")
            return
        self.reply("220 mail.test ESMTP ready")
        sender, recipients, data = None, [], None
        while line := self.rfile.readline():
            if data is not None:
                if line.rstrip(b"\r\n") == b".":
                    with server.lock:
                        server.received.append((sender, recipients, b"".join(data)))
                    sender, recipients, data = None, [], None
                    self.reply("250 2.0.0 Ok: queued")
                else:
                    data.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb, _, argument = line.decode().strip().partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 mail.test")
            elif verb == "MAIL":
                sender = argument.partition(":")[2].strip().strip("<>")
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                recipients.append(argument.partition(":")[2].strip().strip("<>"))
                self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                data = []
                self.reply("354 End data with <CR><LF>.<CR><LF>")
            elif verb in ("RSET", "NOOP"):
                sender, recipients, data = (None, [], None) if verb == "RSET" else (sender, recipients, data)
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Command not recognised")


@contextmanager
def smtp_server(settings, *, refuse_first):
    server = FlakySmtpServer(refuse_first)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def submit_through_the_form(freelancer, contract):
    browser = Client(raise_request_exception=False)
    browser.force_login(freelancer.user)
    return browser.post("/requests/new/", form(contract), follow=True)


@pytest.mark.django_db(transaction=True)
def test_the_mail_server_refusing_at_first_delays_the_email_which_then_goes_once(settings):
    freelancer, contract = eligible_freelancer()
    with smtp_server(settings, refuse_first=2) as server:
        response = submit_through_the_form(freelancer, contract)

        ticket = RemovalRequest.objects.get(contract=contract)
        assert response.status_code == 200
        assert f"Your ticket number is {ticket.ticket_number}" in " ".join(response.content.decode().split())
        assert ticket.status == "submitted"
        # Refused twice, retried, delivered on the third connection: received once, recorded once.
        assert server.connections == 3
        assert len(server.received) == 1
        sender, recipients, message = server.received[0]
        assert (sender, recipients) == (parseaddr(settings.DEFAULT_FROM_EMAIL)[1], [freelancer.user.email])
        assert f"Subject: Your feedback removal request {ticket.ticket_number} has been submitted" in message.decode()
        sent = ticket.events.filter(kind="email_sent")
        assert sent.count() == 1 and sent.get().data["email"] == "submitted"

        # A redelivered task finds the record and sends nothing more.
        delivery = EmailDelivery.objects.get(about_id=ticket.pk, kind="submitted")
        assert (delivery.attempts, delivery.sent_at is not None) == (3, True)
        assert outbox_tasks.send_email.apply(args=[delivery.pk]).result is False
        assert len(server.received) == 1
        assert ticket.events.filter(kind="email_sent").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_keeps_failing_loses_no_request_and_the_failure_is_logged(settings, caplog):
    freelancer, contract = eligible_freelancer()
    with smtp_server(settings, refuse_first=10**6) as server, caplog.at_level(logging.INFO):
        response = submit_through_the_form(freelancer, contract)

    # The person sees their ticket, as if nothing had happened; the request is stored whole.
    assert response.status_code == 200
    ticket = RemovalRequest.objects.get(contract=contract)
    assert f"Your ticket number is {ticket.ticket_number}" in " ".join(response.content.decode().split())
    assert list(ticket.events.values_list("kind", flat=True)) == ["submitted"]
    # Every retry was tried against the server, none delivered, none recorded as sent.
    assert server.connections == outbox_tasks.send_email.max_retries + 1
    assert server.received == []
    assert not ticket.events.filter(kind="email_sent").exists()
    # Logged: each retry, then the final failure with the server's answer; the ticket stands regardless.
    trace = [r for r in caplog.records if r.name == "celery.app.trace" and "outbox.send_email" in r.getMessage()]
    retries = [r for r in trace if r.levelno == logging.INFO and " retry: " in r.getMessage()]
    failed = [r for r in trace if r.levelno == logging.ERROR]
    assert len(retries) == outbox_tasks.send_email.max_retries
    assert len(failed) == 1 and "SMTPConnectError: (421" in failed[0].getMessage()
    assert RemovalRequest.objects.get(pk=ticket.pk).status == "submitted"

    # The mail server is back: the next sweep sends the email that never went, once.
    with smtp_server(settings, refuse_first=0) as server:
        later = timezone.now() + dt.timedelta(minutes=15)
        assert services.sweep(now=later).emails == [f"submitted to {freelancer.user.email}"]
        assert services.sweep(now=later + dt.timedelta(minutes=15)).emails == []
    assert [recipients for _, recipients, _ in server.received] == [[freelancer.user.email]]
    assert ticket.events.filter(kind="email_sent", data__email="submitted").count() == 1
