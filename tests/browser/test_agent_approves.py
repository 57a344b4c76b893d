"""A support agent in a real Chromium: signs in to the admin, finds a ticket by its number with the search box,
approves it with the admin action through its confirmation page and reads the result; the approval is applied
once it commits."""

import pytest
from django.utils import timezone

from requests_app.models import EventKind
from tests import factories as f
from tests.requests_app.test_decisions import submit_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_finds_a_ticket_by_number_and_approves_it(live_server, page):
    avery = f.UserFactory(agent=True, username="avery", first_name="Avery", last_name="Agent")
    ticket = submit_ticket(now=timezone.now())
    other = submit_ticket(now=timezone.now())

    page.goto(f"{live_server.url}/admin/requests_app/removalrequest/")
    assert "/admin/login/" in page.url
    page.get_by_label("Username").fill("avery")
    page.get_by_label("Password").fill("perkdesk")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/requests_app/removalrequest/")
    assert page.get_by_role("link", name=other.ticket_number).is_visible()  # the open queue lists both

    page.locator("#searchbar").fill(ticket.ticket_number)
    page.locator("#searchbar").press("Enter")
    page.wait_for_url(f"**q={ticket.ticket_number}**")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert ticket.contract.number in rows.first.inner_text()
    assert page.get_by_role("link", name=other.ticket_number).count() == 0

    page.get_by_label(f"Select ticket {ticket.ticket_number}").check()
    page.locator("select[name=action]").select_option(label="Approve selected tickets…")
    page.get_by_role("button", name="Go").click()
    # The confirmation page: what will happen, and that it cannot be undone; nothing has changed yet.
    page.get_by_role("heading", name="This cannot be undone").wait_for()
    ticket.refresh_from_db()
    assert ticket.status == "submitted"
    page.get_by_role("button", name="Approve ticket").click()

    message = page.locator("ul.messagelist li.success")
    message.wait_for()
    assert message.inner_text() == f"Approved 1 ticket: {ticket.ticket_number}."
    ticket.refresh_from_db()
    # In a live server the transaction really commits: the queued task applied the exclusion at once (eager).
    assert ticket.status == "applied"
    assert ticket.decided_by == avery and ticket.assigned_to == avery
    assert ticket.events.get(kind=EventKind.APPROVED).actor == avery
    other.refresh_from_db()
    assert other.status == "submitted"
