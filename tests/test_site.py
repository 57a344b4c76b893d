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


def test_logout_is_post_only_and_signs_out(client):
    user = f.FreelancerFactory().user
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert client.get("/requests/").status_code == 302


def test_my_requests_lists_only_my_tickets(client):
    mine = f.RemovalRequestFactory()
    other = f.RemovalRequestFactory()
    client.force_login(mine.requested_by)
    response = client.get("/requests/")
    assert mine.ticket_number.encode() in response.content
    assert mine.contract.number.encode() in response.content
    assert other.ticket_number.encode() not in response.content
