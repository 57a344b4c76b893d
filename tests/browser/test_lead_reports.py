"""A lead in a real Chromium: from the desk to the per-agent figures, a period picked in the form, the CSV of
the same period downloaded; and the timeline across tickets filtered to one agent. Screenshots are kept in
var/screenshots/ for people to look at. A live server reads the real clock: dates are relative to now."""

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.utils import timezone

from requests_app import services
from tests import factories as f
from tests.requests_app.test_decisions import submit_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_a_lead_reads_each_agents_figures_and_downloads_them(live_server, browser):
    now = timezone.now()
    avery = f.UserFactory(agent=True, username="avery", first_name="Avery", last_name="Agent")
    f.UserFactory(lead=True, username="lee", first_name="Lee", last_name="Lead")
    ticket = submit_ticket(now=now - dt.timedelta(hours=5))
    services.approve_request(ticket, agent=avery, now=now - dt.timedelta(hours=1))
    today = timezone.localdate(now)

    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/?next=/desk/")
    page.get_by_label("Username").fill("lee")
    page.get_by_label("Password").fill("perkdesk")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/desk/")
    page.get_by_role("link", name="Per agent, any period").click()
    page.wait_for_url("**/desk/reports/")
    page.get_by_label("From", exact=True).fill(f"{today - dt.timedelta(days=6):%Y-%m-%d}")
    page.get_by_label("To", exact=True).fill(f"{today:%Y-%m-%d}")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**date_from=**")
    row = page.locator("table.agents tbody tr", has_text="Avery Agent")
    assert row.locator("td").all_inner_texts() == ["Avery Agent", "1", "1", "0", "4h", "100% (1 of 1)"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "agent-report.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert download.value.suggested_filename == f"agents-{today - dt.timedelta(days=6):%Y%m%d}-{today:%Y%m%d}.csv"
    assert rows[1] == ["Avery Agent", "1", "1", "0", "4.00", "1", "100.0"]

    page.goto(f"{live_server.url}/admin/requests_app/requestevent/?actor={avery.pk}")
    events = page.locator("#result_list tbody tr")
    assert events.count() == 1 and "Approved" in events.first.inner_text()
    assert page.get_by_role("link", name=ticket.ticket_number).first.is_visible()
    page.screenshot(path=str(SCREENSHOTS / "timeline-admin.png"), full_page=True)
    context.close()
