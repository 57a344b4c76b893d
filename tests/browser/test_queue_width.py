"""The queue on a 1280 × 800 laptop screen: every column, Assignee and Age included, is on the screen without
scrolling sideways, with long agency and freelancer names and a claimed ticket. A screenshot is kept in
var/screenshots/ for people to look at."""

from pathlib import Path

import pytest
from django.utils import timezone

from marketplace.models import Freelancer
from requests_app import services
from tests import factories as f
from tests.requests_app.test_decisions import submit_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_the_queue_fits_1280_pixels_with_assignee_and_age(live_server, browser):
    avery = f.UserFactory(agent=True, username="avery", first_name="Avery", last_name="Agentwithalongname")
    now = timezone.now()
    tickets = [submit_ticket(now=now) for _ in range(4)]
    Freelancer.objects.filter(pk=tickets[0].freelancer_id).update(name="Maximiliana Bartholomew-Featherstonehaugh")
    agency = f.AgencyFactory(top_rated=True, name="Brightline Creative Studio International")
    f.AgencyMembershipFactory(agency=agency, freelancer=tickets[1].freelancer, owner=True)
    agency_contract = f.ContractFactory(agency=agency, freelancer=tickets[1].freelancer, with_feedback=True)
    services.submit_request(
        requester=tickets[1].freelancer.user, contract_number=agency_contract.number, scope="hide_profile_and_jss"
    )
    services.claim_request(tickets[2], agent=avery)

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/requests_app/removalrequest/")
    page.get_by_label("Username").fill("avery")
    page.get_by_label("Password").fill("perkdesk")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/requests_app/removalrequest/")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "queue-1280.png"))
    # Nothing to scroll sideways, neither the page nor the list's own box (Django lets the table scroll inside
    # it), and the last columns end inside that box, on the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.evaluate(
        "(() => { const r = document.querySelector('#changelist .results'); return r.scrollWidth <= r.clientWidth; })()"
    )
    results = page.locator("#changelist .results").bounding_box()
    for name in ("assignee", "age"):
        header = page.locator(f"#result_list thead th.column-{name}")
        box = header.bounding_box()
        right = box["x"] + box["width"]
        assert right <= results["x"] + results["width"] + 0.5 and right <= 1280, f"{name} column cut off: {box}"
        assert header.is_visible()
    claimed = page.locator("#result_list tbody tr", has_text=tickets[2].ticket_number)
    assert "Avery Agentwithalongname" in claimed.inner_text()
    context.close()
