"""One outbox for every email: owed in the transaction, sent after commit with no row locked, marked sent,
and never sent twice, not even when the database connection drops between sending and marking."""

import datetime as dt

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.utils import timezone

from outbox import services
from outbox.models import About, EmailDelivery
from requests_app import services as request_services
from requests_app.models import RequestEvent
from tests import factories as f

NOW = timezone.make_aware(dt.datetime(2026, 11, 26, 9, 0))


def submitted():
    freelancer = f.FreelancerFactory(top_rated=True)
    contract = f.ContractFactory(freelancer=freelancer, with_feedback=True)
    return request_services.submit_request(
        requester=freelancer.user, contract_number=contract.number, scope="jss_only", now=NOW
    )


@pytest.mark.django_db
def test_an_email_is_owed_in_the_transaction_and_sent_only_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ticket = submitted()
        delivery = EmailDelivery.objects.get(about_type=About.REMOVAL_REQUEST, about_id=ticket.pk)
        assert (delivery.kind, delivery.sent_at, mail.outbox) == ("submitted", None, [])
    assert len(callbacks) == 1
    delivery.refresh_from_db()
    assert delivery.sent_at is not None and delivery.attempts == 1
    assert [m.to for m in mail.outbox] == [[ticket.requested_by.email]]


@pytest.mark.django_db
def test_owing_the_same_email_again_owes_nothing_more(django_capture_on_commit_callbacks):
    ticket = submitted()
    email = services.Email(subject="s", text="t")
    again = services.owe_email(
        about_type=About.REMOVAL_REQUEST,
        about_id=ticket.pk,
        kind="submitted",
        occasion=ticket.events.get(kind="submitted").pk,
        recipients=[ticket.requested_by.email, ticket.requested_by.email],
        email=email,
        now=NOW,
    )
    assert again == []
    assert EmailDelivery.objects.filter(about_id=ticket.pk).count() == 1


def other_connection():
    """A second connection to the same (test) database, outside Django."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(**params, autocommit=True)


class KillingBackend(LocmemBackend):
    """Delivers (to ``mail.outbox``), then has another connection terminate this process's database backend:
    the moment between the mail server taking the email and the outbox marking it sent."""

    victims: list[int] = []

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        pid = connection.connection.info.backend_pid
        with other_connection() as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        KillingBackend.victims.append(pid)
        return sent


class Probe(LocmemBackend):
    """While sending: can another connection lock the ticket at once (NOWAIT)? Is a transaction open here?"""

    ticket_id = 0
    seen: list = []

    def send_messages(self, messages):
        with other_connection() as other, other.transaction():
            row = other.execute(
                "SELECT id FROM requests_app_removalrequest WHERE id = %s FOR UPDATE NOWAIT", [Probe.ticket_id]
            ).fetchone()
        Probe.seen += [row[0], connection.in_atomic_block]
        return super().send_messages(messages)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_between_sending_and_marking_does_not_send_the_email_twice(settings):
    ticket = submitted()  # committed; its sending task was queued (eager, with no broker) and ran
    delivery = EmailDelivery.objects.get(about_id=ticket.pk, kind="submitted")
    # Owe it again as if that first sending never happened, so this test drives the send.
    assert delivery.sent_at is not None
    EmailDelivery.objects.filter(pk=delivery.pk).update(sent_at=None, claimed_at=None)
    mail.outbox.clear()
    KillingBackend.victims.clear()
    settings.EMAIL_BACKEND = f"{__name__}.KillingBackend"

    assert services.send_delivery(delivery.pk) is True

    assert len(KillingBackend.victims) == 1  # the backend really was killed after the send
    assert connection.connection.info.backend_pid != KillingBackend.victims[0]  # marked on a fresh one
    delivery.refresh_from_db()
    assert delivery.sent_at is not None
    assert len(mail.outbox) == 1
    # The redelivered task, and the sweep once the resend delay is over, find nothing owed.
    assert services.send_delivery(delivery.pk) is False
    later = timezone.now() + dt.timedelta(minutes=15)
    assert services.owed_deliveries(now=later) == []
    assert len(mail.outbox) == 1
    events = RequestEvent.objects.filter(request=ticket, kind="email_sent", data__email="submitted")
    assert events.count() == 2  # the first, automatic send and this one: one event per send, none lost


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_ticket_row_is_locked_while_the_mail_server_talks(settings):
    """While the email is being sent another connection can lock the ticket at once (NOWAIT), and this
    connection has no transaction open."""
    ticket = submitted()
    delivery = EmailDelivery.objects.get(about_id=ticket.pk, kind="submitted")
    EmailDelivery.objects.filter(pk=delivery.pk).update(sent_at=None, claimed_at=None)
    Probe.ticket_id, Probe.seen = ticket.pk, []
    settings.EMAIL_BACKEND = f"{__name__}.Probe"
    assert services.send_delivery(delivery.pk) is True
    assert Probe.seen == [ticket.pk, False]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_the_email_once():
    """A redelivered task and the sweep's resend running at the same moment: one claims the delivery, the
    other finds it held (or sent) and sends nothing."""
    import threading

    from django.db import connections

    ticket = submitted()
    delivery = EmailDelivery.objects.get(about_id=ticket.pk, kind="submitted")
    EmailDelivery.objects.filter(pk=delivery.pk).update(sent_at=None, claimed_at=None)
    mail.outbox.clear()
    barrier = threading.Barrier(2)
    results = []

    def send():
        try:
            barrier.wait()
            results.append(services.send_delivery(delivery.pk))
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert len(mail.outbox) == 1
    assert EmailDelivery.objects.get(pk=delivery.pk).attempts == 2  # the first, automatic send and this one


@pytest.mark.django_db
def test_work_held_back_is_listed_not_sent(django_capture_on_commit_callbacks):
    """The demo's way to build history: tasks queued inside ``held_back()`` are kept, not sent."""
    from perkdesk.queueing import held_back

    with held_back() as held, django_capture_on_commit_callbacks(execute=True) as callbacks:
        ticket = submitted()
    assert callbacks == [] and mail.outbox == []
    delivery = EmailDelivery.objects.get(about_id=ticket.pk, kind="submitted")
    assert [(task, args) for task, args in held] == [("outbox.send_email", (delivery.pk,))]
    assert delivery.sent_at is None
