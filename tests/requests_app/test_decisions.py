"""The agent's services: claim, reassign, note, approve, reject — every transition, and every refusal.

Histories are made by calling the real services (submit, approve, apply, withdraw), so no test starts from
a state the app could never reach.
"""

import datetime as dt

import pytest
from django.core import mail

from requests_app import selectors, services
from requests_app.domain import REJECTION_REASONS
from requests_app.models import EventKind, RemovalRequest, RequestEvent
from requests_app.services.decisions import AlreadyClaimed, AlreadyDecided
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=3)
PAST = {"approve": "approved", "reject": "rejected"}


# --- histories, made through the services -----------------------------------------------------------------


def submit_ticket(*, now=NOW, scope="jss_only", freelancer=None, **contract):
    """A submitted request of an eligible Top Rated freelancer, as the request form would make it."""
    freelancer = freelancer or f.FreelancerFactory(top_rated=True)
    contract = f.ContractFactory(freelancer=freelancer, with_feedback=True, **contract)
    return services.submit_request(requester=freelancer.user, contract_number=contract.number, scope=scope, now=now)


def agent(**kwargs):
    return f.UserFactory(agent=True, **kwargs)


def lead(**kwargs):
    return f.UserFactory(lead=True, **kwargs)


def ticket_in(status, *, by=None):
    """A ticket that reached `status` through the services."""
    ticket = submit_ticket()
    by = by or agent()
    if status in ("approved", "applied"):
        services.approve_request(ticket, agent=by, now=NOW)
    if status == "applied":
        services.apply_exclusion(ticket.pk, now=NOW + dt.timedelta(minutes=5))
    if status == "rejected":
        services.reject_request(ticket, agent=by, reason="duplicate", now=NOW)
    if status == "withdrawn":
        services.withdraw_request(ticket, requester=ticket.requested_by, now=NOW)
    ticket.refresh_from_db()
    assert ticket.status == status
    return ticket


def snapshot(ticket):
    """What a refusal must leave untouched: the row and its timeline."""
    row = RemovalRequest.objects.filter(pk=ticket.pk).values().get()
    return row, list(RequestEvent.objects.filter(request=ticket).values_list("pk", flat=True))


# --- approve ------------------------------------------------------------------------------------------------


def test_approve_decides_assigns_and_queues_the_exclusion_and_the_email(django_capture_on_commit_callbacks):
    ticket = submit_ticket()
    avery = agent(first_name="Avery", last_name="Agent")
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(ticket, agent=avery, now=LATER)
    ticket.refresh_from_db()
    # The eager task applied it at once; the agent decided and now owns the ticket.
    assert ticket.status == "applied"
    assert (ticket.decided_by, ticket.decided_at, ticket.assigned_to) == (avery, LATER, avery)
    approved = ticket.events.get(kind=EventKind.APPROVED)
    assert approved.actor == avery and approved.public and approved.created_at == LATER
    assert "within 7 days of your request, by 3 December 2026" in approved.message
    subjects = [message.subject for message in mail.outbox]
    assert f"Your feedback removal request {ticket.ticket_number} was approved" in subjects


def test_nothing_leaves_before_the_transaction_commits(django_capture_on_commit_callbacks):
    ticket = submit_ticket()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.approve_request(ticket, agent=agent(), now=LATER)
    assert len(callbacks) == 2
    assert mail.outbox == []
    ticket.refresh_from_db()
    assert ticket.status == "approved"


def test_approving_a_ticket_someone_else_claimed_keeps_their_claim():
    ticket = submit_ticket()
    sam, avery = agent(), agent()
    services.claim_request(ticket, agent=sam, now=NOW)
    services.approve_request(ticket, agent=avery, now=LATER)
    ticket.refresh_from_db()
    assert (ticket.assigned_to, ticket.decided_by) == (sam, avery)


# --- reject -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", list(REJECTION_REASONS))
def test_reject_with_each_reason_tells_the_freelancer_its_canned_message(reason, django_capture_on_commit_callbacks):
    ticket = submit_ticket()
    avery = agent()
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_request(ticket, agent=avery, reason=reason, message="  See the contract dates.  ", now=LATER)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.rejection_reason, ticket.decided_by, ticket.assigned_to) == (
        "rejected",
        reason,
        avery,
        avery,
    )
    event = ticket.events.get(kind=EventKind.REJECTED)
    canned = REJECTION_REASONS[reason][1]
    assert event.public and event.actor == avery
    assert event.message == f"{canned}\n\nSee the contract dates."
    [email] = [m for m in mail.outbox if "was not accepted" in m.subject]
    assert canned in email.body and "See the contract dates." in email.body


def test_reject_without_a_message_sends_the_canned_one_alone():
    ticket = submit_ticket()
    services.reject_request(ticket, agent=agent(), reason="not_eligible", now=LATER)
    assert ticket.events.get(kind=EventKind.REJECTED).message == REJECTION_REASONS["not_eligible"][1]


@pytest.mark.parametrize(
    "reason, message, error",
    [
        ("other", "", "needs a message"),
        ("other", "   ", "needs a message"),
        ("because", "x", "reason must be one of"),
        ("duplicate", "x" * 5001, "at most 5000"),
    ],
    ids=["other-without-message", "other-blank", "unknown-reason", "too-long"],
)
def test_reject_refuses_a_bad_reason_or_message_and_changes_nothing(reason, message, error):
    ticket = submit_ticket()
    before = snapshot(ticket)
    with pytest.raises(services.InvalidInput, match=error):
        services.reject_request(ticket, agent=agent(), reason=reason, message=message, now=LATER)
    assert snapshot(ticket) == before


# --- decisions on a ticket that is no longer submitted ------------------------------------------------------


@pytest.mark.parametrize("status", ["approved", "applied", "rejected", "withdrawn"])
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_on_a_ticket_no_longer_submitted_is_refused(status, decision, django_capture_on_commit_callbacks):
    sam = agent(first_name="Sam", last_name="Rivera")
    ticket = ticket_in(status, by=sam)
    before = snapshot(ticket)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(services.InvalidTransition) as refused:
        if decision == "approve":
            services.approve_request(ticket, agent=agent(), now=LATER)
        else:
            services.reject_request(ticket, agent=agent(), reason="duplicate", now=LATER)
    assert isinstance(refused.value, AlreadyDecided)
    message = str(refused.value)
    assert ticket.ticket_number in message
    assert f"can no longer be {PAST[decision]}" in message
    if status == "withdrawn":
        assert "withdrawn by the requester" in message
    else:
        assert "already decided" in message and "by Sam Rivera" in message
        assert {"approved": "approved by", "applied": "applied on", "rejected": "rejected (Duplicate request)"}[
            status
        ] in message
    assert callbacks == []  # no email, no task
    assert snapshot(ticket) == before


def test_approving_twice_says_who_approved_first():
    sam = agent(first_name="Sam", last_name="Rivera")
    ticket = ticket_in("approved", by=sam)
    with pytest.raises(AlreadyDecided, match=r"already decided: approved by Sam Rivera on 26 November 2026 at 10:00"):
        services.approve_request(ticket, agent=agent(), now=LATER)


# --- who may decide -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who",
    ["freelancer", "staff_without_group", "inactive_agent"],
)
@pytest.mark.parametrize("decision", ["approve", "reject", "claim", "note"])
def test_only_support_staff_may_act(who, decision):
    ticket = submit_ticket()
    user = {
        "freelancer": lambda: f.FreelancerFactory().user,
        "staff_without_group": lambda: f.UserFactory(is_staff=True),
        "inactive_agent": lambda: agent(is_active=False),
    }[who]()
    before = snapshot(ticket)
    with pytest.raises(services.NotPermitted, match="may not"):
        {
            "approve": lambda: services.approve_request(ticket, agent=user, now=LATER),
            "reject": lambda: services.reject_request(ticket, agent=user, reason="duplicate", now=LATER),
            "claim": lambda: services.claim_request(ticket, agent=user, now=LATER),
            "note": lambda: services.add_note(ticket, agent=user, message="hello", now=LATER),
        }[decision]()
    assert snapshot(ticket) == before


@pytest.mark.parametrize("decision", ["approve", "reject", "claim"])
def test_nobody_decides_or_claims_their_own_request(decision):
    moonlighter = agent(first_name="Mo")
    ticket = submit_ticket(freelancer=f.FreelancerFactory(user=moonlighter, top_rated=True))
    before = snapshot(ticket)
    with pytest.raises(services.NotPermitted, match="it is their own"):
        {
            "approve": lambda: services.approve_request(ticket, agent=moonlighter, now=LATER),
            "reject": lambda: services.reject_request(ticket, agent=moonlighter, reason="duplicate", now=LATER),
            "claim": lambda: services.claim_request(ticket, agent=moonlighter, now=LATER),
        }[decision]()
    assert snapshot(ticket) == before


# --- claim ----------------------------------------------------------------------------------------------------


def test_claim_assigns_an_unassigned_ticket_with_an_internal_event():
    ticket = submit_ticket()
    avery = agent(first_name="Avery", last_name="Agent")
    services.claim_request(ticket, agent=avery, now=LATER)
    ticket.refresh_from_db()
    assert ticket.assigned_to == avery
    event = ticket.events.get(kind=EventKind.CLAIMED)
    assert (event.actor, event.public, event.message) == (avery, False, "Claimed by Avery Agent.")
    assert event not in selectors.public_timeline(ticket)


def test_claiming_your_own_claim_again_changes_nothing():
    ticket = submit_ticket()
    avery = agent()
    services.claim_request(ticket, agent=avery, now=NOW)
    before = snapshot(ticket)
    services.claim_request(ticket, agent=avery, now=LATER)
    assert snapshot(ticket) == before


def test_claiming_a_ticket_someone_else_holds_is_refused():
    ticket = submit_ticket()
    services.claim_request(ticket, agent=agent(first_name="Sam", last_name="Rivera"), now=NOW)
    before = snapshot(ticket)
    with pytest.raises(AlreadyClaimed, match="already claimed by Sam Rivera; a support lead can reassign it"):
        services.claim_request(ticket, agent=agent(), now=LATER)
    assert snapshot(ticket) == before


def test_an_approved_ticket_awaiting_apply_can_still_be_claimed():
    ticket = submit_ticket()
    services.approve_request(ticket, agent=agent(), now=NOW)
    services.reassign_request(ticket, lead=lead(), assignee=None, now=NOW)  # back to the queue
    avery = agent()
    services.claim_request(ticket, agent=avery, now=LATER)
    ticket.refresh_from_db()
    assert ticket.assigned_to == avery


@pytest.mark.parametrize("status", ["applied", "rejected", "withdrawn"])
def test_a_final_ticket_cannot_be_claimed_or_reassigned(status):
    ticket = ticket_in(status)
    before = snapshot(ticket)
    with pytest.raises(services.InvalidTransition, match=f"already {status}; it can no longer be claimed"):
        services.claim_request(ticket, agent=agent(), now=LATER)
    with pytest.raises(services.InvalidTransition, match=f"already {status}; it can no longer be reassigned"):
        services.reassign_request(ticket, lead=lead(), assignee=agent(), now=LATER)
    assert snapshot(ticket) == before


# --- reassign -------------------------------------------------------------------------------------------------


def test_a_lead_reassigns_and_the_timeline_says_from_whom_to_whom():
    ticket = submit_ticket()
    sam = agent(first_name="Sam", last_name="Rivera")
    avery = agent(first_name="Avery", last_name="Agent")
    lee = lead(first_name="Lee", last_name="Lead")
    services.claim_request(ticket, agent=sam, now=NOW)
    services.reassign_request(ticket, lead=lee, assignee=avery, now=LATER)
    ticket.refresh_from_db()
    assert ticket.assigned_to == avery
    event = ticket.events.get(kind=EventKind.REASSIGNED)
    assert (event.actor, event.public, event.message) == (lee, False, "Reassigned from Sam Rivera to Avery Agent.")
    services.reassign_request(ticket, lead=lee, assignee=None, now=LATER)
    ticket.refresh_from_db()
    assert ticket.assigned_to is None
    assert ticket.events.filter(kind=EventKind.REASSIGNED).last().message == "Reassigned from Avery Agent to nobody."


def test_reassigning_to_the_current_assignee_writes_nothing():
    ticket = submit_ticket()
    avery = agent()
    services.claim_request(ticket, agent=avery, now=NOW)
    before = snapshot(ticket)
    services.reassign_request(ticket, lead=lead(), assignee=avery, now=LATER)
    assert snapshot(ticket) == before


def test_an_agent_may_not_reassign():
    ticket = submit_ticket()
    before = snapshot(ticket)
    with pytest.raises(services.NotPermitted, match="may not reassign removal requests"):
        services.reassign_request(ticket, lead=agent(), assignee=agent(), now=LATER)
    assert snapshot(ticket) == before


@pytest.mark.parametrize(
    "assignee",
    ["freelancer", "staff_without_group", "inactive_agent"],
)
def test_a_ticket_goes_only_to_someone_who_can_work_the_queue(assignee):
    ticket = submit_ticket()
    user = {
        "freelancer": lambda: f.FreelancerFactory().user,
        "staff_without_group": lambda: f.UserFactory(is_staff=True),
        "inactive_agent": lambda: agent(is_active=False),
    }[assignee]()
    before = snapshot(ticket)
    with pytest.raises(services.NotPermitted, match="is not a support agent who can work the queue"):
        services.reassign_request(ticket, lead=lead(), assignee=user, now=LATER)
    assert snapshot(ticket) == before


def test_a_ticket_is_never_assigned_to_the_agent_who_asked_for_it():
    moonlighter = agent()
    ticket = submit_ticket(freelancer=f.FreelancerFactory(user=moonlighter, top_rated=True))
    with pytest.raises(services.NotPermitted, match="it is their own"):
        services.reassign_request(ticket, lead=lead(), assignee=moonlighter, now=LATER)


# --- notes ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["submitted", "approved", "applied", "rejected", "withdrawn"])
def test_notes_are_internal_and_allowed_in_every_status(status):
    ticket = ticket_in(status) if status != "submitted" else submit_ticket()
    avery = agent()
    note = services.add_note(ticket, agent=avery, message="  Called the client.  ", now=LATER)
    assert (note.kind, note.actor, note.public, note.message) == (
        EventKind.NOTE_ADDED,
        avery,
        False,
        "Called the client.",
    )
    assert note not in selectors.public_timeline(ticket)
    ticket.refresh_from_db()
    assert ticket.status == status


@pytest.mark.parametrize(
    "message, error", [("", "needs some text"), ("  \n ", "needs some text"), ("x" * 5001, "5000")]
)
def test_an_empty_or_oversized_note_is_refused(message, error):
    ticket = submit_ticket()
    before = snapshot(ticket)
    with pytest.raises(services.InvalidInput, match=error):
        services.add_note(ticket, agent=agent(), message=message, now=LATER)
    assert snapshot(ticket) == before
