"""Applying an approved request: the exclusion, the hidden feedback, the event and the email, exactly once;
the task's retries; and an approval made while the broker is down."""

import datetime as dt
import threading
import time
from contextlib import contextmanager

import pytest
from django.core import mail
from django.db import OperationalError, connection, connections
from django.utils import timezone

from jss.models import JssExclusion
from outbox import tasks as outbox_tasks
from outbox.models import EmailDelivery
from perkdesk.celery import app as celery_app
from requests_app import services, tasks
from requests_app.models import RemovalRequest, RequestEvent
from requests_app.services.applying import sweep
from requests_app.services.common import queue_failures
from tests import factories as f
from tests.outcomes import judged_by_update

NOW = timezone.make_aware(dt.datetime(2026, 11, 26, 9, 0))


def submitted(*, scope="hide_profile_and_jss", agency=False, now=NOW):
    freelancer = f.FreelancerFactory(top_rated=True)
    contract_kwargs = {"freelancer": freelancer}
    requester = freelancer.user
    if agency:
        firm = f.AgencyFactory(top_rated=True)
        f.AgencyMembershipFactory(agency=firm, freelancer=freelancer, owner=True)
        contract_kwargs["agency"] = firm
    contract = f.ContractFactory(with_feedback=True, **contract_kwargs)
    contract.feedback.freelancer_response = "Thanks, it was a pleasure."
    contract.feedback.save()
    return services.submit_request(requester=requester, contract_number=contract.number, scope=scope, now=now)


def agent():
    return f.UserFactory(agent=True)


@contextmanager
def broker_at(url):
    """Send tasks to ``url`` instead of running them eagerly; the connection and producer pools are
    rebuilt on the way in and out, so nothing leaks into other tests."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, url
    _forget_connections()
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url = saved
        _forget_connections()


def _forget_connections():
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def approved_but_waiting():
    """Approved, and the message to apply it lost (it went to a broker nobody reads)."""
    request = submitted()
    with broker_at("memory://localhost/"):
        services.approve_request(request, agent=agent(), now=NOW)
    request.refresh_from_db()
    assert request.status == "approved"
    return request


def applied_events(request):
    return RequestEvent.objects.filter(request=request, kind="applied")


@pytest.mark.django_db
def test_approval_applies_the_exclusion_hides_the_feedback_and_emails_once(django_capture_on_commit_callbacks):
    request = submitted(scope="hide_profile_and_jss")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(request, agent=agent(), now=NOW + dt.timedelta(hours=2))

    request.refresh_from_db()
    assert request.status == "applied"
    assert request.applied_at is not None
    exclusion = JssExclusion.objects.get(contract=request.contract)
    assert request.exclusion == exclusion and exclusion.outcome == "pending"
    feedback = request.contract.feedback
    feedback.refresh_from_db()
    assert feedback.hidden_on_profile is True and feedback.hidden_at is not None
    # The client's words are never changed, only hidden.
    assert feedback.public_comment and feedback.freelancer_response == "Thanks, it was a pleasure."
    event = applied_events(request).get()
    assert (event.actor, event.public) == (None, True)
    assert "hidden on your profile" in event.message
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [
        f"Your feedback removal request {request.ticket_number} was approved",
        f"Feedback removed from your Job Success Score ({request.ticket_number})",
    ]
    assert mail.outbox[1].to == [request.requested_by.email]


@pytest.mark.django_db
def test_jss_only_leaves_the_profile_as_it_was(django_capture_on_commit_callbacks):
    request = submitted(scope="jss_only", agency=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(request, agent=agent(), now=NOW)
    request.refresh_from_db()
    feedback = request.contract.feedback
    feedback.refresh_from_db()
    assert request.status == "applied"
    assert JssExclusion.objects.filter(contract=request.contract).count() == 1
    assert (feedback.hidden_on_profile, feedback.hidden_at) == (False, None)
    assert applied_events(request).get().message == (
        "The contract is now excluded from the agency's Job Success Score calculations."
    )


@pytest.mark.django_db
def test_a_second_run_or_redelivery_does_nothing(django_capture_on_commit_callbacks):
    request = submitted()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(request, agent=agent(), now=NOW)
    request.refresh_from_db()
    applied_at = request.applied_at
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        results = [tasks.apply_exclusion.delay(request.pk).get() for _ in range(3)]
    assert results == [False, False, False]
    request.refresh_from_db()
    assert request.applied_at == applied_at
    assert JssExclusion.objects.filter(contract=request.contract).count() == 1
    assert applied_events(request).count() == 1
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_request_not_yet_approved_is_left_alone(django_capture_on_commit_callbacks):
    request = submitted()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.apply_exclusion.delay(request.pk).get() is False
    request.refresh_from_db()
    assert request.status == "submitted"
    assert not JssExclusion.objects.exists()


@pytest.mark.django_db
def test_a_missing_row_is_not_retried():
    result = tasks.apply_exclusion.apply(args=[987654321])
    assert result.successful() and result.get() is False
    assert result.state == "SUCCESS"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_transient_database_error_is_retried_until_it_works():
    """A real lock timeout (another transaction holds the row) fails the first attempts; the task retries."""
    request = approved_but_waiting()

    holding, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT id FROM requests_app_removalrequest WHERE id = %s FOR UPDATE", [request.pk])
                holding.set()
                release.wait(5)
                time.sleep(0.25)
                cursor.execute("ROLLBACK")
        finally:
            connections["default"].close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert holding.wait(5)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '100ms'")
    try:
        with pytest.raises(OperationalError):  # one attempt alone fails ...
            services.apply_exclusion(request.pk)
        release.set()
        # Eager retries run at once, one after another, as long as they do not propagate.
        assert celery_app.conf.task_eager_propagates is False
        result = tasks.apply_exclusion.apply(args=[request.pk])
        assert (result.state, result.get()) == ("SUCCESS", True)  # ... the task tried again
    finally:
        holder.join()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    request.refresh_from_db()
    assert request.status == "applied"
    assert applied_events(request).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_applying_at_once_apply_once():
    request = approved_but_waiting()
    barrier = threading.Barrier(4)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(services.apply_exclusion(request.pk))
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert JssExclusion.objects.filter(contract=request.contract).count() == 1
    assert applied_events(request).count() == 1


# --- the broker is down when the approval commits ---------------------------------------------------


@pytest.fixture
def broker_down():
    """Queueing goes to a closed port, for real: nothing is eager."""
    with broker_at("redis://127.0.0.1:1/0"):
        yield


@pytest.mark.django_db(transaction=True)
def test_an_approval_stands_when_the_broker_is_down_and_the_sweep_applies_it(broker_down, caplog):
    request = submitted()
    lead = agent()
    with queue_failures() as failed:
        approved = services.approve_request(request, agent=lead, now=NOW + dt.timedelta(hours=1))
    assert approved.status == "approved"
    # Committed: another connection's read (the database, not this object) says approved.
    assert RemovalRequest.objects.get(pk=request.pk).status == "approved"
    # The approval email is owed before the apply task is queued ("approved" before "removed").
    assert [failure.task_name for failure in failed] == [
        "outbox.send_email",
        "requests_app.apply_exclusion",
    ]
    assert failed[1].args == (request.pk,)
    assert "queueing outbox.send_email" in caplog.text
    assert not JssExclusion.objects.exists()

    report = sweep(now=NOW + dt.timedelta(minutes=75))  # the next sweep, once workers run again
    assert report.applied == [request.ticket_number]
    request.refresh_from_db()
    assert request.status == "applied"
    assert JssExclusion.objects.filter(contract=request.contract).count() == 1
    assert applied_events(request).count() == 1


@pytest.mark.django_db(transaction=True)
def test_queue_failures_are_reported_only_to_the_block_that_queued(broker_down):
    first, second = submitted(), submitted()
    reviewer = agent()
    with queue_failures() as outer:
        services.approve_request(first, agent=reviewer, now=NOW)
        with queue_failures() as inner:
            services.reject_request(second, agent=reviewer, reason="duplicate", now=NOW)
    assert [name for name, _ in inner] == ["outbox.send_email"]
    assert len(outer) == 3
    with queue_failures() as later:
        pass
    assert later == []


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_up_nothing_is_reported():
    request = submitted()
    with queue_failures() as failed:
        services.approve_request(request, agent=agent(), now=NOW)
    assert failed == []
    request.refresh_from_db()
    assert request.status == "applied"


@pytest.mark.django_db
def test_each_change_of_the_jss_outcome_is_emailed_once(django_capture_on_commit_callbacks):
    request = submitted()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(request, agent=agent(), now=NOW)
    mail.outbox.clear()
    as_of = dt.date(2026, 12, 6)
    for outcome, changed in (("excluded", True), ("excluded", False), ("kept_no_harm", True)):
        with django_capture_on_commit_callbacks(execute=True):
            assert judged_by_update(request, outcome, as_of=as_of, now=NOW) is changed
    assert [m.subject for m in mail.outbox] == [
        f"Your Job Success Score update and request {request.ticket_number}"
    ] * 2
    deliveries = EmailDelivery.objects.filter(about_id=request.pk, kind="jss_outcome")
    assert deliveries.count() == 2 and all(d.sent_at for d in deliveries)
    with django_capture_on_commit_callbacks(execute=True):
        for delivery in deliveries:
            assert outbox_tasks.send_email.delay(delivery.pk).get() is False  # a redelivery
    assert len(mail.outbox) == 2
