"""The conversation in real Chromium windows: the agent asks for a screenshot, the freelancer replies with one
on her ticket page, the agent approves through the confirmation page, and the freelancer sees it applied.

Screenshots of the confirmation page and the context box go to $PERKDESK_SCREENSHOTS when it is set."""

import io
import os
from pathlib import Path

import pytest
from django.test import Client
from PIL import Image

from requests_app.models import RemovalRequest
from tests import factories as f
from tests.requests_app.test_decisions import submit_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def signed_in(browser, live_server, user, size=(1280, 900)):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def test_ask_reply_with_a_screenshot_approve_through_the_confirmation_and_see_it_applied(
    live_server, browser, tmp_path
):
    shots = Path(os.environ.get("PERKDESK_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    avery = f.UserFactory(agent=True, username="avery", first_name="Avery", last_name="Agent")
    alice = f.FreelancerFactory(top_rated=True, user__username="alice", name="Alice Nguyen")
    ticket = submit_ticket(freelancer=alice)
    feedback = ticket.contract.feedback
    feedback.public_rating, feedback.public_comment = "3.75", "The final files came late."
    feedback.save()
    admin_ticket = f"{live_server.url}/admin/requests_app/removalrequest/{ticket.pk}/change/"

    agent_context, agent = signed_in(browser, live_server, avery)
    agent.goto(admin_ticket)
    assert agent.get_by_text("The final files came late.").is_visible()
    agent.get_by_role("link", name="Ask the freelancer…").click()
    agent.get_by_label("Question to the freelancer").fill("Please attach the email that told you about the dip.")
    agent.get_by_role("button", name="Send the question about this ticket").click()
    agent.wait_for_url(admin_ticket)
    agent.get_by_text("Waiting on the freelancer's reply since").wait_for()

    alice_context, freelancer = signed_in(browser, live_server, alice.user, size=(390, 844))
    freelancer.goto(f"{live_server.url}/requests/{ticket.ticket_number}/")
    freelancer.get_by_role("heading", name="The support team has a question").wait_for()
    assert freelancer.locator("blockquote.asked").inner_text() == "Please attach the email that told you about the dip."
    buffer = io.BytesIO()
    Image.new("RGB", (640, 360), (240, 240, 250)).save(buffer, format="PNG")
    freelancer.get_by_label("Your reply").fill("Here is the email from 21 November.")
    freelancer.get_by_label("A new screenshot (optional)").set_input_files(
        files=[{"name": "status-loss.png", "mimeType": "image/png", "buffer": buffer.getvalue()}]
    )
    freelancer.get_by_role("button", name="Send reply").click()
    freelancer.get_by_text("your reply was sent").wait_for()
    ticket.refresh_from_db()
    assert ticket.status == "submitted" and ticket.screenshot

    agent.goto(admin_ticket)
    agent.locator(".pd-shot img").wait_for()  # the new screenshot, previewed inline
    agent.screenshot(path=str(shots / "agent-ticket-context.png"), full_page=True)
    agent.get_by_role("link", name="Approve…").click()
    agent.get_by_role("heading", name="This cannot be undone").wait_for()
    agent.get_by_label("Thanks for the screenshot").check()
    agent.screenshot(path=str(shots / "agent-approve-confirmation.png"), full_page=True)
    agent.get_by_role("button", name="Approve ticket").click()
    agent.get_by_text(f"Ticket {ticket.ticket_number} approved.").wait_for()

    freelancer.goto(f"{live_server.url}/requests/{ticket.ticket_number}/")
    freelancer.get_by_text("Waiting for the next JSS update").wait_for()
    assert freelancer.get_by_text("Thank you for the screenshot of your status-loss email").is_visible()
    assert RemovalRequest.objects.get(pk=ticket.pk).status == "applied"
    freelancer.screenshot(path=str(shots / "alice-phone-applied.png"), full_page=True)
    agent_context.close()
    alice_context.close()
