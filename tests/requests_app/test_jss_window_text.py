"""The ticket page's JSS box says which window the live score comes from in words, not a bare code."""

import pytest
from django.template import Context, Template
from django.urls import reverse

from requests_app.formatting import jss_window_text
from tests import factories as f
from tests.requests_app.test_decisions import NOW, submit_ticket


@pytest.mark.parametrize(
    "window, live, text",
    [
        ("24m", True, "live, 24-month window"),
        ("12m", True, "live, 12-month window"),
        ("6m", True, "live, 6-month window"),
        ("trending", True, "live, trending window"),
        (None, True, "live, no window qualifies"),
        ("24m", False, "24-month window"),
    ],
)
def test_window_codes_read_as_words(window, live, text):
    assert jss_window_text(window, live=live) == text


def test_the_template_filter_uses_the_same_words():
    rendered = Template("{% load ticket_text %}{{ w|live_window }} / {{ none|live_window }}").render(
        Context({"w": "24m", "none": None})
    )
    assert rendered == "live, 24-month window / live, no window qualifies"


@pytest.mark.django_db
def test_the_ticket_page_says_live_and_the_window(client, time_machine):
    time_machine.move_to(NOW, tick=False)
    ticket = submit_ticket(now=NOW)
    client.force_login(f.UserFactory(agent=True))
    html = client.get(reverse("admin:requests_app_removalrequest_change", args=[ticket.pk])).content.decode()
    box = html.split('id="jss-h"')[1].split("</section>")[0]
    assert "live, " in box and ("-month window" in box or "no window qualifies" in box or "trending" in box)
    assert ">24m<" not in box and ">12m<" not in box and ">6m<" not in box
