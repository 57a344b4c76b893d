"""A freelancer's whole journey in a real Chromium: sign in, pick a contract, ask, read the ticket number."""

import re

import pytest
from django.core.cache import cache

from requests_app.models import RemovalRequest
from tests import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/contracts/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("perkdesk")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/contracts/")


def test_alice_picks_a_contract_submits_and_sees_her_ticket_number(live_server, page):
    alice = f.FreelancerFactory(user__username="alice", name="Alice Nguyen", top_rated=True)
    f.ContractFactory(freelancer=alice, with_feedback=True, title="WordPress maintenance retainer")
    brand = f.ContractFactory(freelancer=alice, with_feedback=True, title="Brand refresh — logo and guidelines")
    brand.feedback.public_rating, brand.feedback.public_comment = "3.75", "The final files came late."
    brand.feedback.save()

    sign_in(page, live_server, "alice")
    card = page.locator(f"#contract-{brand.number}")
    assert card.get_by_text(brand.number).is_visible()
    assert card.get_by_text("The final files came late.").is_visible()
    card.get_by_role("link", name="Request removal").click()

    page.wait_for_url(re.compile(r"/requests/new/\?contract=\d+$"))
    # The form offers the contracts the perk can take, with the one picked on My contracts chosen.
    assert page.locator(f"#contract-{brand.number}").is_checked()
    assert page.get_by_text("The final files came late.").is_visible()
    page.get_by_label("Hide from profile and JSS").check()
    page.get_by_role("button", name="Send request").click()

    page.wait_for_url(re.compile(r"/requests/\d{9}/$"))
    ticket = RemovalRequest.objects.get()
    assert page.url == f"{live_server.url}/requests/{ticket.ticket_number}/"
    assert page.get_by_text(f"Your ticket number is {ticket.ticket_number}").is_visible()
    assert page.get_by_text("Your request has been submitted.").is_visible()
    assert (ticket.contract_id, ticket.scope) == (brand.pk, "hide_profile_and_jss")

    # Her tickets list links to the same page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My requests").click()
    page.get_by_role("link", name=ticket.ticket_number).click()
    page.wait_for_url(f"{live_server.url}/requests/{ticket.ticket_number}/")


def test_without_javascript_the_form_says_why_nothing_is_possible_and_lists_refusals(live_server, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    frank = f.FreelancerFactory(user__username="frank")  # not Top Rated
    f.ContractFactory(freelancer=frank, with_feedback=True)
    sign_in(page, live_server, "frank")
    page.goto(f"{live_server.url}/requests/new/")
    assert page.get_by_role("heading", name="The perk cannot be used right now").is_visible()
    assert page.locator('li[data-code="not_top_rated"]').is_visible()
    assert page.get_by_role("button", name="Send request").count() == 0

    # bob lost Top Rated after a dip: he may ask with a screenshot; sent without one, the refusal is listed.
    bob = f.FreelancerFactory(user__username="bob")
    f.TopRatedPeriodFactory(freelancer=bob, lost_jss_dip=True)
    contract = f.ContractFactory(freelancer=bob, with_feedback=True)
    page.context.clear_cookies()
    sign_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/requests/new/")
    assert page.get_by_text("required", exact=True).is_visible()
    page.locator(f"#contract-{contract.number}").check()
    page.get_by_label("JSS only").check()
    page.get_by_role("button", name="Send request").click()
    refusals = page.get_by_role("alert").first
    codes = refusals.locator("li[data-code]").evaluate_all("items => items.map(li => li.dataset.code)")
    assert codes == ["screenshot_required"]
    assert f"Nothing was sent for contract {contract.number}." in refusals.inner_text()
    assert RemovalRequest.objects.count() == 0
    context.close()
