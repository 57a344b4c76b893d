"""Asking the freelancer: request_info, the reply (with a screenshot), the paused SLA, the reminder and no_reply.

Histories are made by calling the real services, on a pinned clock (every `now` is passed)."""

import datetime as dt
import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from requests_app import selectors, services
from requests_app.models import EventKind, RemovalRequest, RequestEvent
from requests_app.screenshots import InvalidScreenshot
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
QUESTION = "Could you attach the email that told you about the status change?"


def submit_ticket(*, now=NOW, freelancer=None):
    freelancer = freelancer or f.FreelancerFactory(top_rated=True)
    contract = f.ContractFactory(freelancer=freelancer, with_feedback=True)
    return services.submit_request(
        requester=freelancer.user, contract_number=contract.number, scope="jss_only", now=now
    )


def png(name="reply.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), "white").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def agent():
    return f.UserFactory(agent=True, email="avery@perkdesk.example")


@pytest.fixture
def waiting(agent, django_capture_on_commit_callbacks):
    ticket = submit_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.request_info(ticket, agent=agent, message=QUESTION, now=NOW + DAY)
    ticket.refresh_from_db()
    return ticket


# --- request_info ---------------------------------------------------------------------------------------


def test_a_question_puts_the_ticket_on_hold_and_emails_the_freelancer_a_link(waiting, agent):
    assert waiting.status == "waiting_on_freelancer"
    assert waiting.waiting_since == NOW + DAY
    assert waiting.assigned_to == agent
    event = RequestEvent.objects.get(request=waiting, kind=EventKind.INFO_REQUESTED)
    assert (event.public, event.actor, event.message) == (True, agent, QUESTION)
    assert event.data["question"] == QUESTION
    assert event.data["reply_by"] == (NOW + DAY + 7 * DAY).isoformat()
    question_mail = [m for m in mail.outbox if "A question about" in m.subject]
    assert len(question_mail) == 1
    body = question_mail[0].body
    assert QUESTION in body and f"/requests/{waiting.ticket_number}/" in body
    assert "4 December 2026" in body  # reply by: asked on 27 November, PERK_REPLY_DAYS = 7
    assert question_mail[0].alternatives  # a plain-text part and an HTML part


@pytest.mark.parametrize("status", ["approved", "rejected", "withdrawn", "waiting_on_freelancer"])
def test_only_a_submitted_ticket_gets_a_question(agent, status):
    ticket = submit_ticket()
    if status == "approved":
        services.approve_request(ticket, agent=agent, now=NOW)
    elif status == "rejected":
        services.reject_request(ticket, agent=agent, reason="duplicate", now=NOW)
    elif status == "withdrawn":
        services.withdraw_request(ticket, requester=ticket.requested_by, now=NOW)
    else:
        services.request_info(ticket, agent=agent, message=QUESTION, now=NOW)
    with pytest.raises(services.InvalidTransition, match="only a submitted ticket can get a question"):
        services.request_info(ticket, agent=agent, message="Another question?", now=NOW + DAY)
    assert RequestEvent.objects.filter(request=ticket, kind=EventKind.INFO_REQUESTED).count() == (
        1 if status == "waiting_on_freelancer" else 0
    )


def test_a_question_needs_text_and_an_agent(agent):
    ticket = submit_ticket()
    with pytest.raises(services.InvalidInput, match="needs some text"):
        services.request_info(ticket, agent=agent, message="   ", now=NOW)
    with pytest.raises(services.NotPermitted):
        services.request_info(ticket, agent=f.UserFactory(is_staff=True), message=QUESTION, now=NOW)
    ticket.refresh_from_db()
    assert ticket.status == "submitted" and ticket.waiting_since is None


def test_a_waiting_ticket_cannot_be_approved_until_the_freelancer_answers(waiting, agent):
    with pytest.raises(services.InvalidTransition, match="waiting on the freelancer's reply"):
        services.approve_request(waiting, agent=agent, now=NOW + 2 * DAY)
    waiting.refresh_from_db()
    assert waiting.status == "waiting_on_freelancer"


# --- the reply ------------------------------------------------------------------------------------------


def test_the_reply_returns_it_to_submitted_and_the_deadline_moves_on_by_the_time_waited(waiting):
    due_before = waiting.sla_due_at
    services.reply_to_request(
        waiting, requester=waiting.requested_by, message="Here it is.", screenshot=png(), now=NOW + 3 * DAY
    )
    waiting.refresh_from_db()
    # Asked on day 1, answered on day 3: it waited two days, so it is due two days later.
    assert waiting.status == "submitted"
    assert waiting.sla_due_at == due_before + 2 * DAY
    assert waiting.waiting_since is None
    assert waiting.screenshot and waiting.screenshot_content_type == "image/png"
    event = RequestEvent.objects.get(request=waiting, kind=EventKind.REPLIED)
    assert (event.public, event.actor_id, event.message) == (True, waiting.requested_by_id, "Here it is.")
    assert event.data == {
        "paused_seconds": 2 * 86400,
        "sla_due_at": (due_before + 2 * DAY).isoformat(),
        "screenshot": True,
    }


@pytest.mark.parametrize("status", ["submitted", "approved", "rejected", "withdrawn"])
def test_a_reply_to_a_ticket_that_is_not_waiting_is_refused(agent, status):
    ticket = submit_ticket()
    if status == "approved":
        services.approve_request(ticket, agent=agent, now=NOW)
    elif status == "rejected":
        services.reject_request(ticket, agent=agent, reason="duplicate", now=NOW)
    elif status == "withdrawn":
        services.withdraw_request(ticket, requester=ticket.requested_by, now=NOW)
    with pytest.raises(services.InvalidTransition, match="not waiting for your reply"):
        services.reply_to_request(ticket, requester=ticket.requested_by, message="Hello?", now=NOW + DAY)
    assert not RequestEvent.objects.filter(request=ticket, kind=EventKind.REPLIED).exists()


def test_only_the_requester_side_can_reply(waiting):
    stranger = f.FreelancerFactory(top_rated=True)
    with pytest.raises(services.NotPermitted):
        services.reply_to_request(waiting, requester=stranger.user, message="Me too", now=NOW + 2 * DAY)
    with pytest.raises(services.InvalidInput, match="needs some text"):
        services.reply_to_request(waiting, requester=waiting.requested_by, message="", now=NOW + 2 * DAY)
    waiting.refresh_from_db()
    assert waiting.status == "waiting_on_freelancer"


def test_a_bad_screenshot_in_a_reply_changes_nothing(waiting):
    bogus = SimpleUploadedFile("x.png", b"not a picture at all", content_type="image/png")
    with pytest.raises(InvalidScreenshot, match="(?i)png|jpeg|pdf|image|picture"):
        services.reply_to_request(
            waiting, requester=waiting.requested_by, message="Here.", screenshot=bogus, now=NOW + 2 * DAY
        )
    waiting.refresh_from_db()
    assert waiting.status == "waiting_on_freelancer"


def test_the_freelancer_may_withdraw_while_the_ticket_waits(waiting):
    services.withdraw_request(waiting, requester=waiting.requested_by, now=NOW + 2 * DAY)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.waiting_since) == ("withdrawn", None)


# --- the paused clock and the sweep ---------------------------------------------------------------------


def test_a_waiting_ticket_is_never_at_risk_or_breached(waiting):
    long_after = waiting.sla_due_at + 3 * DAY
    assert not RemovalRequest.objects.filter(selectors.breached_q(long_after), pk=waiting.pk).exists()
    assert not RemovalRequest.objects.filter(selectors.at_risk_q(waiting.sla_due_at - DAY), pk=waiting.pk).exists()


def test_the_sweep_reminds_once_halfway_then_closes_with_no_reply(waiting, django_capture_on_commit_callbacks):
    asked = waiting.waiting_since
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        early = services.sweep(now=asked + 3 * DAY)
    assert early.reminded == [] and mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        first = services.sweep(now=asked + 4 * DAY)
        second = services.sweep(now=asked + 5 * DAY)
    assert first.reminded == [waiting.ticket_number] and second.reminded == []
    assert [m.subject for m in mail.outbox] == [
        f"Reminder: we are waiting for your answer about request {waiting.ticket_number}"
    ]
    assert QUESTION in mail.outbox[0].body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        end = services.sweep(now=asked + 7 * DAY)
    assert end.no_reply == [waiting.ticket_number]
    waiting.refresh_from_db()
    assert (waiting.status, waiting.rejection_reason, waiting.waiting_since) == ("rejected", "no_reply", None)
    event = RequestEvent.objects.get(request=waiting, kind=EventKind.REJECTED)
    assert event.actor is None and event.data["reason"] == "no_reply"
    assert [m.subject for m in mail.outbox] == [
        f"Your feedback removal request {waiting.ticket_number} was not accepted"
    ]
    assert "did not hear back" in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep(now=asked + 8 * DAY).no_reply == []


def test_a_reply_before_the_end_means_the_sweep_leaves_it_alone(waiting):
    services.reply_to_request(waiting, requester=waiting.requested_by, message="Done.", now=NOW + 2 * DAY)
    assert services.sweep(now=NOW + 30 * DAY).no_reply == []
    waiting.refresh_from_db()
    assert waiting.status == "submitted"


# --- emails in the order things happened ----------------------------------------------------------------


def test_approved_arrives_before_removed(agent, django_capture_on_commit_callbacks):
    ticket = submit_ticket()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(ticket, agent=agent, message="Thanks for the details.", now=NOW + DAY)
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [
        f"Your feedback removal request {ticket.ticket_number} was approved",
        f"Feedback removed from your Job Success Score ({ticket.ticket_number})",
    ]
    assert "Thanks for the details." in mail.outbox[0].body
    for message in mail.outbox:
        assert message.body and message.alternatives  # every email has a plain-text part and an HTML part


# --- the web --------------------------------------------------------------------------------------------


def test_the_freelancer_replies_on_the_ticket_page(client, waiting):
    client.force_login(waiting.requested_by)
    page = client.get(f"/requests/{waiting.ticket_number}/").content.decode()
    assert "The support team has a question" in page and QUESTION in page
    assert f'action="/requests/{waiting.ticket_number}/reply/"' in page and 'name="screenshot"' in page
    assert "Withdraw this request" in page
    response = client.post(
        f"/requests/{waiting.ticket_number}/reply/", {"message": "Attached.", "screenshot": png()}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/requests/{waiting.ticket_number}/"
    assert "your reply was sent" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == "submitted" and waiting.screenshot


def test_an_empty_reply_is_an_error_on_the_page_and_changes_nothing(client, waiting):
    client.force_login(waiting.requested_by)
    response = client.post(f"/requests/{waiting.ticket_number}/reply/", {"message": ""})
    assert response.status_code == 400
    assert "Write your answer to the support team" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == "waiting_on_freelancer"


def test_a_reply_by_someone_else_is_a_404(client, waiting, agent):
    for user in (f.FreelancerFactory(top_rated=True).user, agent):
        client.force_login(user)
        assert client.post(f"/requests/{waiting.ticket_number}/reply/", {"message": "Hi"}).status_code == 404
    client.force_login(waiting.requested_by)
    assert client.get(f"/requests/{waiting.ticket_number}/reply/").status_code == 405
    waiting.refresh_from_db()
    assert waiting.status == "waiting_on_freelancer"


# --- collisions -----------------------------------------------------------------------------------------


def test_a_reassignment_emails_the_new_assignee_once(django_capture_on_commit_callbacks):
    ticket = submit_ticket()
    lead = f.UserFactory(lead=True, first_name="Lee", last_name="Lead")
    sam = f.UserFactory(agent=True, email="sam@perkdesk.example")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.reassign_request(ticket, lead=lead, assignee=sam, now=NOW)
        services.reassign_request(ticket, lead=lead, assignee=sam, now=NOW)  # already theirs: no news
    assert [(m.subject, m.to) for m in mail.outbox] == [
        (f"[PerkDesk] Ticket {ticket.ticket_number} is yours now", ["sam@perkdesk.example"])
    ]
    assert "Lee Lead assigned ticket" in mail.outbox[0].body


def test_an_agent_s_own_ticket_turning_at_risk_tells_them_once(agent, django_capture_on_commit_callbacks):
    f.UserFactory(lead=True, email="lee@perkdesk.example")
    ticket = submit_ticket()
    services.claim_request(ticket, agent=agent, now=NOW)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.sweep(now=NOW + 5 * DAY + dt.timedelta(hours=1))
        services.sweep(now=NOW + 5 * DAY + dt.timedelta(hours=2))
    at_risk = [m for m in mail.outbox if "SLA at risk" in m.subject]
    assert sorted(m.to[0] for m in at_risk) == ["avery@perkdesk.example", "lee@perkdesk.example"]
