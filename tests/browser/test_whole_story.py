"""The whole story in a real Chromium: alice asks to hide a contract's feedback, an agent approves it in the
admin, her ticket says applied, her public profile says "This feedback has been removed." and the client's
history still shows what the client wrote. Screenshots of the public pages are kept in the test's tmp dir."""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache

from jss.models import JssExclusion
from requests_app.models import RemovalRequest
from tests import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMMENT = "Talented, but the final files came late and needed rework."
RESPONSE = "Thanks for the feedback; the delay came from two extra rounds of revisions."


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def sign_in(page, url, username, *, label_suffix=""):
    page.goto(url)
    page.get_by_label(f"Username{label_suffix}").fill(username)
    page.get_by_label(f"Password{label_suffix}").fill("perkdesk")
    page.get_by_role("button", name=re.compile("Sign in|Log in")).click()


def test_alice_hides_a_feedback_and_the_profiles_show_it(live_server, browser, tmp_path):
    alice = f.FreelancerFactory(user__username="alice", name="Alice Nguyen", public_id="alice-nguyen", top_rated=True)
    orchard = f.ClientFactory(name="Orchard & Pine", public_id="orchard-pine")
    brand = f.ContractFactory(freelancer=alice, client=orchard, title="Brand refresh — logo and guidelines")
    f.FeedbackFactory(
        contract=brand, public_rating=Decimal("3.75"), public_comment=COMMENT, freelancer_response=RESPONSE
    )
    f.ContractFactory(freelancer=alice, title="WordPress maintenance retainer", with_feedback=True)
    f.UserFactory(username="agent", first_name="Avery", last_name="Agent", agent=True)

    # alice asks, through the form.
    alice_page = browser.new_context().new_page()
    sign_in(alice_page, f"{live_server.url}/requests/new/", "alice")
    alice_page.wait_for_url(f"{live_server.url}/requests/new/")
    alice_page.locator(f"#contract-{brand.number}").check()
    alice_page.get_by_label("Hide from profile and JSS").check()
    alice_page.get_by_role("button", name="Send request").click()
    alice_page.wait_for_url(re.compile(r"/requests/\d{9}/$"))
    ticket = RemovalRequest.objects.get()
    assert alice_page.get_by_text(f"Your ticket number is {ticket.ticket_number}").is_visible()

    # Until it is applied, her profile still shows the client's words.
    public = browser.new_context().new_page()
    public.goto(f"{live_server.url}/freelancers/alice-nguyen/")
    assert public.get_by_text(COMMENT).is_visible()

    # The agent finds it in the queue and approves it.
    agent_page = browser.new_context().new_page()
    sign_in(agent_page, f"{live_server.url}/admin/login/?next=/admin/requests_app/removalrequest/", "agent")
    agent_page.wait_for_url(re.compile(r"/admin/requests_app/removalrequest/"))
    agent_page.get_by_role("link", name=ticket.ticket_number).click()
    agent_page.wait_for_url(re.compile(rf"/admin/requests_app/removalrequest/{ticket.pk}/change/"))
    agent_page.get_by_role("link", name="Approve…").click()
    agent_page.get_by_role("heading", name="This cannot be undone").wait_for()
    agent_page.get_by_role("button", name="Approve ticket").click()
    agent_page.wait_for_url(re.compile(rf"/admin/requests_app/removalrequest/{ticket.pk}/change/"))
    assert agent_page.get_by_text(f"Ticket {ticket.ticket_number} approved.").is_visible()

    # Applied (the task ran after the approval committed): one exclusion, feedback hidden.
    ticket.refresh_from_db()
    assert ticket.status == "applied"
    assert JssExclusion.objects.filter(contract=brand, removal_request=ticket).count() == 1

    # alice's ticket says so.
    alice_page.reload()
    assert alice_page.locator("h1 .badge").inner_text() == "Applied"
    assert alice_page.get_by_text("Applied on").is_visible()

    # Her public profile: still listed and counted, the feedback removed, nothing of it left.
    public.goto(f"{live_server.url}/freelancers/alice-nguyen/")
    assert public.get_by_text("This feedback has been removed.").is_visible()
    assert public.get_by_text("Brand refresh — logo and guidelines").is_visible()
    assert public.get_by_text("2 jobs", exact=True).first.is_visible()
    html = public.content()
    assert COMMENT not in html and RESPONSE not in html and "3.75" not in html
    public.screenshot(path=str(tmp_path / "freelancer-profile.png"), full_page=True)

    # The client's history keeps what the client wrote, reached by the link on her profile.
    public.get_by_role("link", name="Orchard & Pine").first.click()
    public.wait_for_url(f"{live_server.url}/clients/orchard-pine/")
    assert public.get_by_text(COMMENT).is_visible()
    assert public.get_by_text(RESPONSE).is_visible()
    assert public.get_by_text("3.75", exact=True).is_visible()
    assert public.get_by_text("This feedback has been removed.").count() == 0
    public.screenshot(path=str(tmp_path / "client-history.png"), full_page=True)

    for context in (alice_page.context, agent_page.context, public.context):
        context.close()
