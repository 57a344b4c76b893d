"""Two agents acting on one ticket at the same moment, on PostgreSQL with real threads: the row lock lets
exactly one through, and the other is told what happened instead of overwriting it."""

import threading

import pytest
from django.db import connection

from requests_app import services
from requests_app.models import EventKind
from requests_app.services.decisions import AlreadyClaimed, AlreadyDecided
from tests import factories as f
from tests.requests_app.test_decisions import LATER, submit_ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at_once(*calls):
    """Run each call in its own thread (its own connection), released together by a barrier; returns each
    call's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome under test may be any refusal
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck on the lock"
    return outcomes


@pytest.mark.parametrize("round_", range(5))
@pytest.mark.parametrize("second", ["approve", "reject"])
def test_two_agents_deciding_at_once_make_one_decision(second, round_):
    ticket = submit_ticket()
    sam = f.UserFactory(agent=True, first_name="Sam", last_name="Rivera")
    avery = f.UserFactory(agent=True, first_name="Avery", last_name="Agent")
    decide = {
        "approve": lambda who: lambda: services.approve_request(ticket, agent=who, now=LATER),
        "reject": lambda who: lambda: services.reject_request(ticket, agent=who, reason="duplicate", now=LATER),
    }
    outcomes = at_once(decide["approve"](sam), decide[second](avery))

    decided = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(decided) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], AlreadyDecided)
    assert isinstance(refused[0], services.InvalidTransition)
    assert "already decided" in str(refused[0])
    winner = sam if outcomes[0] is decided[0] else avery
    assert f"by {winner.get_full_name()}" in str(refused[0])

    ticket.refresh_from_db()
    assert ticket.decided_by == winner
    decisions = ticket.events.filter(kind__in=[EventKind.APPROVED, EventKind.REJECTED])
    assert decisions.count() == 1
    assert decisions.get().actor == winner
    # The winner's decision stands (an approval is applied at once by the eager task after commit).
    assert ticket.status in ({"applied"} if decisions.get().kind == EventKind.APPROVED else {"rejected"})


@pytest.mark.parametrize("round_", range(3))
def test_two_agents_claiming_at_once_leave_one_assignee(round_):
    ticket = submit_ticket()
    sam = f.UserFactory(agent=True, first_name="Sam", last_name="Rivera")
    avery = f.UserFactory(agent=True, first_name="Avery", last_name="Agent")
    outcomes = at_once(
        lambda: services.claim_request(ticket, agent=sam, now=LATER),
        lambda: services.claim_request(ticket, agent=avery, now=LATER),
    )
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], AlreadyClaimed), outcomes
    ticket.refresh_from_db()
    winner = sam if not isinstance(outcomes[0], Exception) else avery
    assert ticket.assigned_to == winner
    assert ticket.events.filter(kind=EventKind.CLAIMED).count() == 1
    assert f"already claimed by {winner.get_full_name()}" in str(refused[0])
