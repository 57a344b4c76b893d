"""The sweep behind the 7-day promise: it applies what a lost message left approved, and tells the leads,
once each, when a ticket is at risk (PERK_SLA_WARNING_DAYS) and when it has broken the promise
(PERK_SLA_DAYS)."""

import datetime as dt
import threading

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from jss.models import JssExclusion
from outbox import services as outbox_services
from outbox import tasks as outbox_tasks
from outbox.models import EmailDelivery
from perkdesk.celery import app as celery_app
from requests_app import services, tasks
from requests_app.models import RemovalRequest, RequestEvent
from requests_app.services.applying import sweep
from tests import factories as f

NOW = timezone.make_aware(dt.datetime(2026, 11, 26, 9, 0))
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)
# a sweep's counts
NOTHING = {
    "applied": 0,
    "failed": 0,
    "at_risk": 0,
    "breached": 0,
    "reminded": 0,
    "no_reply": 0,
    "emails": 0,
    "outcomes": 0,
}


def submitted(*, scope="jss_only", now=NOW):
    freelancer = f.FreelancerFactory(top_rated=True)
    contract = f.ContractFactory(freelancer=freelancer, with_feedback=True)
    return services.submit_request(requester=freelancer.user, contract_number=contract.number, scope=scope, now=now)


def approved_but_waiting(*, now=NOW, scope="hide_profile_and_jss"):
    """Approved, and the message that would apply it lost: on_commit callbacks never run outside
    ``django_capture_on_commit_callbacks`` in a non-transactional test, exactly like a dropped message."""
    request = submitted(scope=scope, now=now)
    services.approve_request(request, agent=f.UserFactory(agent=True), now=now + dt.timedelta(hours=1))
    request.refresh_from_db()
    assert request.status == "approved"
    return request


@pytest.fixture
def leads():
    return [
        f.UserFactory(lead=True, username="lena", email="lena@perkdesk.example"),
        f.UserFactory(lead=True, username="omar", email="omar@perkdesk.example"),
    ]


@pytest.fixture
def not_leads():
    """People who must not get the alerts: an agent, a lead without email, a lead who left."""
    f.UserFactory(agent=True, username="agnes", email="agnes@perkdesk.example")
    f.UserFactory(lead=True, username="noemail", email="")
    f.UserFactory(lead=True, username="gone", email="gone@perkdesk.example", is_active=False)


def alerts(request, kind=None):
    kinds = [kind] if kind else ["sla_at_risk", "sla_breached"]
    return RequestEvent.objects.filter(request=request, kind__in=kinds)


def run_sweep(capture, at):
    with capture(execute=True):
        return sweep(now=at)


# --- applying what was left approved --------------------------------------------------------------


@pytest.mark.django_db
def test_the_sweep_applies_approved_requests_whose_message_was_lost(django_capture_on_commit_callbacks):
    waiting = [approved_but_waiting(), approved_but_waiting(scope="jss_only")]
    untouched = submitted()
    mail.outbox.clear()

    report = run_sweep(django_capture_on_commit_callbacks, NOW + DAY)

    assert sorted(report.applied) == sorted(r.ticket_number for r in waiting)
    assert report.failed == []
    for request in waiting:
        request.refresh_from_db()
        assert request.status == "applied"
        assert request.applied_at == NOW + DAY
        assert JssExclusion.objects.filter(removal_request=request).count() == 1
        assert RequestEvent.objects.filter(request=request, kind="applied").count() == 1
    assert waiting[0].contract.feedback.__class__.objects.get(contract=waiting[0].contract).hidden_on_profile
    untouched.refresh_from_db()
    assert untouched.status == "submitted"
    applied_mails = [m for m in mail.outbox if m.subject.startswith("Feedback removed")]
    assert len(applied_mails) == 2


@pytest.mark.django_db
def test_a_second_sweep_finds_nothing_to_do(django_capture_on_commit_callbacks, leads):
    approved_but_waiting()
    run_sweep(django_capture_on_commit_callbacks, NOW + 6 * DAY)
    events, outbox = RequestEvent.objects.count(), len(mail.outbox)
    again = run_sweep(django_capture_on_commit_callbacks, NOW + 6 * DAY + 15 * MINUTE)
    assert again.counts() == NOTHING
    assert (RequestEvent.objects.count(), len(mail.outbox)) == (events, outbox)


@pytest.mark.django_db
def test_one_request_that_cannot_be_applied_does_not_hold_up_the_others(django_capture_on_commit_callbacks):
    before = approved_but_waiting()
    # A row the apply step cannot complete: its contract already has an applied request (legacy data the
    # eligibility rules would never let in), so the database refuses a second one.
    broken = f.RemovalRequestFactory(approved=True, submitted_at=NOW, sla_due_at=NOW + 7 * DAY)
    f.RemovalRequestFactory(applied=True, contract=broken.contract, submitted_at=NOW - 90 * DAY)
    after = approved_but_waiting()

    report = run_sweep(django_capture_on_commit_callbacks, NOW + DAY)

    assert sorted(report.applied) == sorted([before.ticket_number, after.ticket_number])
    assert report.failed == [broken.ticket_number]
    broken.refresh_from_db()
    assert broken.status == "approved"
    assert not RequestEvent.objects.filter(request=broken, kind="applied").exists()
    for request in (before, after):
        request.refresh_from_db()
        assert request.status == "applied"

    with pytest.raises(CommandError, match=broken.ticket_number):
        call_command("apply_due_exclusions")


# --- the SLA alerts ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_at_risk_then_breached_each_once_at_the_right_moment(django_capture_on_commit_callbacks, leads, not_leads):
    request = submitted()
    mail.outbox.clear()

    def sweep_at(moment):
        return run_sweep(django_capture_on_commit_callbacks, moment)

    assert sweep_at(NOW + 5 * DAY - MINUTE).counts()["at_risk"] == 0
    assert not alerts(request).exists() and mail.outbox == []

    report = sweep_at(NOW + 5 * DAY)
    assert report.at_risk == [request.ticket_number]
    event = alerts(request, "sla_at_risk").get()
    assert (event.public, event.actor, event.created_at) == (False, None, NOW + 5 * DAY)
    assert event.message.startswith("SLA at risk: 2 days 0 hours left")
    # One email per lead (the outbox owes each recipient their own message).
    assert sorted(m.to[0] for m in mail.outbox) == ["lena@perkdesk.example", "omar@perkdesk.example"]
    warning = mail.outbox[0]
    assert warning.subject.startswith(f"[PerkDesk] SLA at risk: ticket {request.ticket_number} is due")
    assert f"/admin/requests_app/removalrequest/{request.pk}/change/" in warning.body
    assert request.contract.number in warning.body

    for moment in (NOW + 5 * DAY + 15 * MINUTE, NOW + 6 * DAY, NOW + 7 * DAY - MINUTE):
        assert sweep_at(moment).counts() == NOTHING
    assert len(mail.outbox) == 2

    report = sweep_at(NOW + 7 * DAY)
    assert report.breached == [request.ticket_number]
    event = alerts(request, "sla_breached").get()
    assert (event.public, event.actor) == (False, None)
    assert "SLA breached: the 7-day promise ran out" in event.message
    breaches = mail.outbox[2:]
    assert {m.subject for m in breaches} == {
        f"[PerkDesk] SLA breached: ticket {request.ticket_number} missed the 7-day promise"
    }
    assert sorted(m.to[0] for m in breaches) == ["lena@perkdesk.example", "omar@perkdesk.example"]

    for moment in (NOW + 7 * DAY + 15 * MINUTE, NOW + 30 * DAY):
        assert sweep_at(moment).counts()["breached"] == 0
    assert len(mail.outbox) == 4
    assert alerts(request).count() == 2
    # The freelancer's timeline never shows them.
    assert not request.events.filter(public=True, kind__startswith="sla").exists()


@pytest.mark.django_db
def test_a_ticket_already_past_the_promise_gets_only_the_breach_alert(django_capture_on_commit_callbacks, leads):
    request = submitted()
    mail.outbox.clear()
    report = run_sweep(django_capture_on_commit_callbacks, NOW + 8 * DAY)
    assert (report.at_risk, report.breached) == ([], [request.ticket_number])
    assert list(alerts(request).values_list("kind", flat=True)) == ["sla_breached"]
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["[PerkDesk] SLA breached"] * 2  # one per lead


@pytest.mark.django_db
def test_the_warning_follows_the_setting(django_capture_on_commit_callbacks, leads, settings):
    settings.PERK_SLA_WARNING_DAYS = 3
    request = submitted()
    assert run_sweep(django_capture_on_commit_callbacks, NOW + 3 * DAY - MINUTE).at_risk == []
    assert run_sweep(django_capture_on_commit_callbacks, NOW + 3 * DAY).at_risk == [request.ticket_number]


@pytest.mark.django_db
def test_finished_tickets_raise_no_alert(django_capture_on_commit_callbacks, leads):
    agent = f.UserFactory(agent=True)
    with django_capture_on_commit_callbacks(execute=True):
        rejected = services.reject_request(submitted(), agent=agent, reason="duplicate", now=NOW)
        withdrawn = submitted()
        services.withdraw_request(withdrawn, requester=withdrawn.requested_by, now=NOW)
        applied = services.approve_request(submitted(), agent=agent, now=NOW + DAY)
    applied.refresh_from_db()
    assert (rejected.status, applied.status) == ("rejected", "applied")
    mail.outbox.clear()
    report = run_sweep(django_capture_on_commit_callbacks, NOW + 10 * DAY)
    assert report.counts() == NOTHING
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_waiting_approval_is_applied_before_any_alert(django_capture_on_commit_callbacks, leads):
    request = approved_but_waiting()
    mail.outbox.clear()
    report = run_sweep(django_capture_on_commit_callbacks, NOW + 6 * DAY)
    assert (report.applied, report.at_risk) == ([request.ticket_number], [])
    assert not alerts(request).exists()
    assert not any(m.subject.startswith("[PerkDesk]") for m in mail.outbox)


@pytest.mark.django_db
def test_an_approval_still_waiting_at_the_deadline_is_a_breach(django_capture_on_commit_callbacks, leads):
    """When applying keeps failing, the leads hear about it through the breach alert."""
    broken = f.RemovalRequestFactory(approved=True, submitted_at=NOW, sla_due_at=NOW + 7 * DAY)
    f.RemovalRequestFactory(applied=True, contract=broken.contract, submitted_at=NOW - 90 * DAY)
    report = run_sweep(django_capture_on_commit_callbacks, NOW + 7 * DAY)
    assert (report.failed, report.breached) == ([broken.ticket_number], [broken.ticket_number])


@pytest.mark.django_db
def test_no_lead_with_an_email_still_records_the_alert_once(django_capture_on_commit_callbacks, not_leads):
    request = submitted()
    mail.outbox.clear()
    assert run_sweep(django_capture_on_commit_callbacks, NOW + 5 * DAY).at_risk == [request.ticket_number]
    assert run_sweep(django_capture_on_commit_callbacks, NOW + 5 * DAY + MINUTE).at_risk == []
    assert alerts(request).count() == 1
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_alert_email_goes_once_even_when_its_task_runs_twice(django_capture_on_commit_callbacks, leads):
    request = submitted()
    mail.outbox.clear()
    run_sweep(django_capture_on_commit_callbacks, NOW + 5 * DAY)
    assert len(mail.outbox) == 2
    deliveries = EmailDelivery.objects.filter(about_id=request.pk, kind="sla_at_risk")
    for delivery in deliveries:
        assert outbox_tasks.send_email.delay(delivery.pk).get() is False  # a redelivered task
    assert len(mail.outbox) == 2
    sent = RequestEvent.objects.filter(request=request, kind="email_sent", data__email="sla_at_risk")
    assert sorted(e.data["to"] for e in sent) == ["lena@perkdesk.example", "omar@perkdesk.example"]
    assert all(e.public is False for e in sent)


# --- the task and the command ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_task_takes_now_as_an_iso_string_from_beat(django_capture_on_commit_callbacks, leads):
    request = submitted()
    waiting = approved_but_waiting()
    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.sweep.delay((NOW + 5 * DAY).isoformat()).get()
    assert counts == NOTHING | {"applied": 1, "at_risk": 1}
    waiting.refresh_from_db()
    assert waiting.applied_at == NOW + 5 * DAY
    assert alerts(request, "sla_at_risk").get().created_at == NOW + 5 * DAY
    with pytest.raises(ValueError, match="ISO 8601"):
        tasks.sweep.delay("next tuesday").get()


@pytest.mark.django_db
def test_the_beat_schedule_runs_the_sweep_task_every_15_minutes():
    entry = celery_app.conf.beat_schedule["perk-sla-sweep"]
    assert entry["task"] == tasks.sweep.name == "requests_app.sweep"
    assert entry["task"] in celery_app.tasks
    schedule = entry["schedule"]
    assert (schedule.minute, len(schedule.hour), len(schedule.day_of_week)) == ({0, 15, 30, 45}, 24, 7)
    assert tasks.sweep.acks_late is True


@pytest.mark.django_db
def test_the_sweep_without_now_uses_the_clock(django_capture_on_commit_callbacks, leads, time_machine):
    time_machine.move_to(NOW + 5 * DAY, tick=False)
    request = submitted(now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.sweep.delay().get()
    assert counts["at_risk"] == 1
    assert alerts(request, "sla_at_risk").get().created_at == NOW + 5 * DAY


@pytest.mark.django_db
def test_apply_due_exclusions_says_what_it_did(django_capture_on_commit_callbacks, leads, capsys):
    at_risk = submitted(now=NOW - 5 * DAY)
    breached = submitted(now=NOW - 8 * DAY)
    waiting = approved_but_waiting(now=NOW - DAY)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("apply_due_exclusions", "--now", NOW.isoformat())
    out = capsys.readouterr().out
    assert f"Applied 1 ticket: {waiting.ticket_number}" in out
    assert f"At-risk alerts sent to the leads for 1 ticket: {at_risk.ticket_number}" in out
    assert f"Breach alerts sent to the leads for 1 ticket: {breached.ticket_number}" in out
    # The waiting request's own emails were never sent (its messages were lost): queued again, and sent.
    t = waiting.ticket_number
    to = waiting.requested_by.email
    assert f"Emails that never went, queued again (2): approved to {to}, submitted to {to}" in out
    assert t in out
    assert RequestEvent.objects.filter(request=waiting, kind="email_sent").count() == 3  # and "applied"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("apply_due_exclusions", "--now", NOW.isoformat())
    assert "Nothing to do" in capsys.readouterr().out
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("apply_due_exclusions", "--now", "yesterday")


# --- two sweeps at once -----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_apply_and_alert_each_request_once(leads):
    agent = f.UserFactory(agent=True)
    waiting = []
    for _ in range(12):
        request = submitted(now=NOW)
        # Approve without the on-commit task: queue to a broker nobody reads.
        conf = celery_app.conf
        conf.task_always_eager, conf.broker_url, saved = False, "memory://localhost/", conf.broker_url
        celery_app._pool, celery_app.amqp._producer_pool = None, None
        try:
            services.approve_request(request, agent=agent, now=NOW + MINUTE)
        finally:
            conf.task_always_eager, conf.broker_url = True, saved
            celery_app._pool, celery_app.amqp._producer_pool = None, None
        waiting.append(request)
    late = [submitted(now=NOW) for _ in range(8)]
    assert RemovalRequest.objects.filter(status="approved").count() == 12
    mail.outbox.clear()

    barrier = threading.Barrier(2)
    reports = []

    def run():
        try:
            barrier.wait()
            reports.append(sweep(now=NOW + 5 * DAY))
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    applied = [ticket for report in reports for ticket in report.applied]
    assert sorted(applied) == sorted(r.ticket_number for r in waiting)  # each once, none missed
    at_risk = [ticket for report in reports for ticket in report.at_risk]
    assert sorted(at_risk) == sorted(r.ticket_number for r in late)
    assert all(report.failed == [] for report in reports)
    for request in waiting:
        assert RequestEvent.objects.filter(request=request, kind="applied").count() == 1
        assert JssExclusion.objects.filter(removal_request=request).count() == 1
    for request in late:
        assert alerts(request).count() == 1
    assert len([m for m in mail.outbox if m.subject.startswith("[PerkDesk] SLA at risk")]) == 8 * len(leads)


# --- emails that never went -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sweep_sends_an_email_that_never_went_once_its_own_task_had_its_time(django_capture_on_commit_callbacks):
    """A ticket email whose message was lost (the on_commit work never ran here, like a broker that was
    down) is queued again by the first sweep at least EMAIL_RESEND_AFTER (10 minutes) after its event, sent
    once, and never again; an event older than EMAIL_RESEND_WITHIN (3 days) is no longer news."""
    request = submitted()
    mail.outbox.clear()
    assert run_sweep(django_capture_on_commit_callbacks, NOW + 9 * MINUTE).emails == []
    assert mail.outbox == []

    report = run_sweep(django_capture_on_commit_callbacks, NOW + 10 * MINUTE)
    assert report.emails == [f"submitted to {request.requested_by.email}"]
    [email] = mail.outbox
    assert email.to == [request.requested_by.email]
    assert email.subject == f"Your feedback removal request {request.ticket_number} has been submitted"
    assert RequestEvent.objects.filter(request=request, kind="email_sent").count() == 1

    for moment in (NOW + 25 * MINUTE, NOW + 2 * DAY):
        assert run_sweep(django_capture_on_commit_callbacks, moment).emails == []
    assert len(mail.outbox) == 1

    stale = submitted()
    assert run_sweep(django_capture_on_commit_callbacks, NOW + 3 * DAY + MINUTE).emails == []
    assert not RequestEvent.objects.filter(request=stale, kind="email_sent").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("tickets", [1, 6])
def test_finding_the_owed_emails_takes_one_query_whatever_the_number_of_tickets(tickets, django_assert_num_queries):
    requests = [approved_but_waiting() for _ in range(tickets)]
    with django_assert_num_queries(1):
        owed = outbox_services.owed_deliveries(now=NOW + DAY)
    assert sorted(owed) == sorted(
        EmailDelivery.objects.filter(about_id__in=[r.pk for r in requests]).values_list("pk", flat=True)
    )
    assert len(owed) == 2 * tickets  # "submitted" and "approved" each


@pytest.mark.django_db
def test_the_sweep_sends_a_status_loss_notice_that_never_went_once(django_capture_on_commit_callbacks):
    """A Top Rated evaluation's status-loss notice whose message was lost (the freelancer needs it for the grace
    window's screenshot) is sent by the next sweep, once; one owed for longer than RESEND_WITHIN is left."""
    from jss.services import owe_status_loss_notices

    today = timezone.localdate(NOW)

    def closed(days_ago):
        freelancer = f.FreelancerFactory()
        period = f.TopRatedPeriodFactory(
            freelancer=freelancer, ended_on=today - dt.timedelta(days=days_ago), loss_reason="jss_dip"
        )
        evaluation = f.TopRatedEvaluationFactory(
            freelancer=freelancer,
            evaluated_on=today - dt.timedelta(days=days_ago),
            score=84,
            top_rated=False,
            failed=["jss_below_90"],
            change="closed",
            period=period,
        )
        # What the evaluation's transaction did; its on_commit sending never ran (a lost message).
        owe_status_loss_notices(evaluation.evaluated_on, now=NOW - dt.timedelta(days=days_ago))
        return evaluation

    recent, stale = closed(2), closed(20)
    mail.outbox.clear()
    report = run_sweep(django_capture_on_commit_callbacks, NOW)
    assert report.emails == [f"status_loss to {recent.freelancer.user.email}"]
    [notice] = mail.outbox
    assert notice.to == [recent.freelancer.user.email] and "no longer Top Rated" in notice.body
    notices = EmailDelivery.objects.filter(kind="status_loss")
    assert notices.get(about_id=recent.pk).sent_at is not None
    assert notices.get(about_id=stale.pk).sent_at is None
    assert run_sweep(django_capture_on_commit_callbacks, NOW + 15 * MINUTE).emails == []
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_resend_that_meets_a_broken_mail_server_gives_up_until_the_next_sweep(settings, caplog):
    """The sweep's resend tries once: a mail server that refuses is logged, nothing is recorded as sent, and
    no retrying task is left behind to pile up during a long outage; the next sweep tries again."""
    request = submitted()
    delivery = EmailDelivery.objects.get(about_id=request.pk, kind="submitted")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2  # nothing listens
    assert outbox_tasks.send_email_once.apply(args=[delivery.pk]).result is False
    delivery.refresh_from_db()
    assert (delivery.sent_at, delivery.attempts, delivery.claimed_at) == (None, 1, None)
    assert "ConnectionRefusedError" in delivery.last_error
    assert not RequestEvent.objects.filter(request=request, kind="email_sent").exists()
    # Not a resend: the mail failure raises, for the task's own retries.
    result = outbox_tasks.send_email.apply(args=[delivery.pk])
    assert result.failed() or result.state == "RETRY"
