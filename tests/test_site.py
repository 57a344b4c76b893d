"""The site's front door: login and where people land (the health probe: tests/test_health.py)."""

import pytest
from django.urls import reverse

from tests import factories as f

pytestmark = pytest.mark.django_db


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Sign in to PerkDesk" in response.content


@pytest.mark.parametrize(
    "make_user, landing",
    [
        (lambda: f.FreelancerFactory(user__username="fl").user, "/requests/"),
        (lambda: f.UserFactory(username="ag", agent=True), "/desk/"),
        (lambda: f.UserFactory(username="ld", lead=True), "/desk/"),
    ],
    ids=["freelancer", "agent", "lead"],
)
def test_login_lands_freelancers_on_requests_and_staff_on_desk(client, make_user, landing):
    user = make_user()
    response = client.post(reverse("login"), {"username": user.username, "password": "perkdesk"}, follow=True)
    assert response.redirect_chain[-1][0] == landing
    assert response.status_code == 200


def test_wrong_password_stays_on_login_with_a_message(client):
    user = f.UserFactory()
    response = client.post(reverse("login"), {"username": user.username, "password": "nope"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content


def test_pages_need_login(client):
    for url in ("/requests/", "/desk/", "/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"] or "/admin/login/" in response["Location"]


def test_freelancer_cannot_open_desk(client):
    client.force_login(f.FreelancerFactory().user)
    response = client.get("/desk/")
    assert response.status_code == 302


def test_logout_by_get_asks_and_only_a_post_signs_out(client):
    user = f.FreelancerFactory().user
    client.force_login(user)
    page = client.get(reverse("logout"))
    assert page.status_code == 200
    assert b"Sign out of PerkDesk?" in page.content and b'<button type="submit">Sign out</button>' in page.content
    assert client.get("/requests/").status_code == 200  # still signed in: a GET changes nothing
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert b"You have signed out." in response.content
    assert client.get("/requests/").status_code == 302
    # Signed out already: the address leads to the sign-in page.
    assert client.get(reverse("logout"))["Location"] == reverse("login")


def test_a_post_only_address_opened_in_the_browser_gets_perkdesk_s_405_page(client):
    r = f.RemovalRequestFactory()
    client.force_login(r.requested_by)
    response = client.get(f"/requests/{r.ticket_number}/withdraw/")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert b"This address is not for opening directly" in response.content
    assert b"Nothing was changed." in response.content
    r.refresh_from_db()
    assert r.status == "submitted"


def test_my_requests_lists_only_my_tickets(client):
    mine = f.RemovalRequestFactory()
    other = f.RemovalRequestFactory()
    client.force_login(mine.requested_by)
    response = client.get("/requests/")
    assert mine.ticket_number.encode() in response.content
    assert mine.contract.number.encode() in response.content
    assert other.ticket_number.encode() not in response.content
