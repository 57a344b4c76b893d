"""A person signing in with a real Chromium."""

import pytest

from tests import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_freelancer_signs_in_and_reaches_their_requests(live_server, page):
    alice = f.FreelancerFactory(user__username="alice", name="Alice Nguyen")
    request = f.RemovalRequestFactory(contract__freelancer=alice)
    page.goto(f"{live_server.url}/requests/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("perkdesk")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/requests/")
    assert page.get_by_role("heading", name="My feedback removal requests").is_visible()
    assert page.get_by_text(request.ticket_number).is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")


def test_wrong_password_is_explained(live_server, page):
    f.UserFactory(username="alice")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("Please enter a correct username and password")
