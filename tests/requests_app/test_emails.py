"""The ticket emails: sent only after the transaction commits, text and HTML, with the words a freelancer
needs (ticket number, the reason of a rejection, what happens at the next JSS update)."""

import pytest
from django.core import mail

from requests_app import services
from requests_app.eligibility import NotEligible
from requests_app.models import RequestEvent
from tests import factories as f

pytestmark = pytest.mark.django_db


def top_rated(**kwargs):
    return f.FreelancerFactory(top_rated=True, **kwargs)


def job(freelancer, **kwargs):
    kwargs.setdefault("with_feedback", True)
    return f.ContractFactory(freelancer=freelancer, **kwargs)


def html_of(message):
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def submit(django_capture_on_commit_callbacks, freelancer=None, **kwargs):
    freelancer = freelancer or top_rated()
    contract = kwargs.pop("contract", None) or job(freelancer)
    with django_capture_on_commit_callbacks(execute=True):
        r = services.submit_request(
            requester=freelancer.user, contract_number=contract.number, scope=kwargs.pop("scope", "jss_only"), **kwargs
        )
    return r


def test_submitted_email_leaves_only_after_commit_with_the_ticket_number(django_capture_on_commit_callbacks):
    alice = top_rated(user__email="alice@example.com")
    contract = job(alice)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = services.submit_request(requester=alice.user, contract_number=contract.number, scope="jss_only")
        assert mail.outbox == []  # still inside the transaction's lifetime: nothing sent
    assert len(callbacks) == 1
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert r.ticket_number in message.subject
    assert f"Your ticket number is {r.ticket_number}." in message.body
    assert "We will email you as soon as we can." in message.body
    assert f"Contract ID: {contract.number}" in message.body
    assert r.ticket_number in html_of(message)
    assert f"/requests/{r.ticket_number}/" in message.body
    sent = RequestEvent.objects.get(request=r, kind="email_sent")
    assert not sent.public


def test_no_email_for_a_refused_request(django_capture_on_commit_callbacks):
    fl = f.FreelancerFactory()  # not Top Rated
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(NotEligible):
            services.submit_request(requester=fl.user, contract_number=job(fl).number, scope="jss_only")
    assert callbacks == [] and mail.outbox == []


def test_no_email_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    from django.db import transaction

    alice = top_rated()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.submit_request(requester=alice.user, contract_number=job(alice).number, scope="jss_only")
            raise RuntimeError("the caller's transaction fails after the service")
    assert callbacks == [] and mail.outbox == []
    assert not RequestEvent.objects.exists()


def test_approved_and_applied_emails(django_capture_on_commit_callbacks):
    r = submit(django_capture_on_commit_callbacks, scope="hide_profile_and_jss")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(r, agent=f.UserFactory(agent=True))
    # Approving queues the exclusion (eager here) and both emails, after the commit.
    approved, applied = sorted(mail.outbox, key=lambda m: "approved" not in m.subject)
    r.refresh_from_db()
    assert r.status == "applied"

    assert approved.subject == f"Your feedback removal request {r.ticket_number} was approved"
    assert f"by {r.sla_due_at:%-d %B %Y}" in approved.body
    assert "hidden on your profile" in approved.body
    assert r.ticket_number in html_of(approved)

    assert "removed from your Job Success Score calculations" in applied.body
    assert "the next time your score is updated" in applied.body
    assert "Your visible JSS may not change" in applied.body
    assert "This feedback has been removed." in applied.body
    applied_html = html_of(applied)
    assert "Your visible JSS may not change" in applied_html and "the next time your score is updated" in applied_html


def test_applied_email_for_jss_only_says_the_profile_does_not_change(django_capture_on_commit_callbacks):
    r = submit(django_capture_on_commit_callbacks, scope="jss_only")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(r, agent=f.UserFactory(agent=True))
    [applied] = [m for m in mail.outbox if "removed from your Job Success Score" in m.subject]
    assert "your public work history does not change" in applied.body


@pytest.mark.parametrize("reason", ["not_eligible", "screenshot_invalid", "duplicate"])
def test_rejected_email_gives_the_reason_s_message(django_capture_on_commit_callbacks, reason):
    from requests_app.domain import REJECTION_REASONS

    r = submit(django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_request(r, agent=f.UserFactory(agent=True), reason=reason)
    [message] = mail.outbox
    assert message.subject == f"Your feedback removal request {r.ticket_number} was not accepted"
    assert REJECTION_REASONS[reason][1] in message.body
    assert REJECTION_REASONS[reason][1] in html_of(message)
    assert "A note from our support team" not in message.body


def test_rejected_email_carries_the_agent_s_note_verbatim_in_text_and_escaped_in_html(
    django_capture_on_commit_callbacks,
):
    r = submit(django_capture_on_commit_callbacks)
    mail.outbox.clear()
    note = "The client's account was closed & we can't verify <anything>."
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_request(r, agent=f.UserFactory(agent=True), reason="other", message=note)
    [message] = mail.outbox
    assert note in message.body  # plain text: no HTML entities
    html = html_of(message)
    assert "The client&#x27;s account was closed &amp; we can&#x27;t verify &lt;anything&gt;." in html


def test_text_emails_are_not_html_escaped(django_capture_on_commit_callbacks):
    alice = top_rated()
    contract = job(alice, title="Tom's logo & <brand> kit")
    r = submit(django_capture_on_commit_callbacks, freelancer=alice, contract=contract)
    [message] = mail.outbox
    assert "Tom's logo & <brand> kit" in message.body
    assert "Tom&#x27;s logo &amp; &lt;brand&gt; kit" in html_of(message)
    assert r.ticket_number in message.body


def test_withdrawing_sends_no_email(django_capture_on_commit_callbacks):
    r = submit(django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.withdraw_request(r, requester=r.requested_by)
    assert mail.outbox == []
