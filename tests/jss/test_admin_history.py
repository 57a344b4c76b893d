"""The freelancer and agency admin pages show the JSS history as an SVG chart and the latest detail."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from django.utils.formats import date_format

from jss import services
from marketplace.models import Contract
from tests import factories as f
from tests.jss.builders import ClientSpec, ContractSpec, SubjectSpec, applied_request, build_world

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 26)


def job(end, client, score):
    return ContractSpec(
        client=client, started_on=end - dt.timedelta(days=15), ended_on=end, last_payment_on=end, private_score=score
    )


@pytest.fixture
def admin_client(client):
    client.force_login(f.UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def history():
    """A freelancer scored four times: no window qualifies at first (one client), then 100, then 33 when a
    bad job lands; one contract without feedback is left out and one exclusion is kept by the no-harm rule."""
    clients = [ClientSpec(), ClientSpec(), ClientSpec(), ClientSpec()]
    contracts = [
        job(AS_OF - dt.timedelta(days=100), 0, 10),
        job(AS_OF - dt.timedelta(days=60), 1, 10),
        job(AS_OF - dt.timedelta(days=20), 2, 2),
        ContractSpec(client=3, started_on=AS_OF - dt.timedelta(days=40), ended_on=AS_OF - dt.timedelta(days=30)),
    ]
    built = build_world(clients, [SubjectSpec(agency=False, contracts=contracts)])
    freelancer_id = built.subjects[0][1]
    kept = Contract.objects.get(pk=built.facts[built.subjects[0]][0].contract_id)
    applied_request(kept, kept.freelancer.user, at=timezone.make_aware(dt.datetime(2026, 7, 1)))
    for days_ago in (84, 42, 28, 0):
        services.run_update(as_of=AS_OF - dt.timedelta(days=days_ago), force=True)
    return freelancer_id, built


def test_the_freelancer_page_draws_the_history_and_explains_the_latest_score(admin_client, history):
    freelancer_id, built = history
    response = admin_client.get(f"/admin/marketplace/freelancer/{freelancer_id}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    svg = re.search(r"<svg class=\"jss-chart\".*?</svg>", html, re.S).group(0)
    assert svg.count("<circle") == 3  # three scores ...
    assert svg.count('class="jss-gap"') == 1  # ... and one snapshot without a score
    assert "<polyline" in svg and "Top Rated: 90" in svg
    assert "26 Nov 2026: 33% (24m)" in svg  # each point says its date, score and window
    assert "jss/admin.css" in html

    panel = html[html.index("How the latest score was worked out") :]
    assert '<strong class="jss-score">33%</strong>' in html
    assert "24 months" in panel and "shown" in panel
    left_out = Contract.objects.get(pk=built.facts[built.subjects[0]][3].contract_id)
    assert left_out.number in panel and "Ended without feedback" in panel
    kept = Contract.objects.get(pk=built.facts[built.subjects[0]][0].contract_id)
    assert kept.number in panel and "no-harm rule" in panel


def test_the_agency_page_has_the_panel_too(admin_client):
    end = AS_OF - dt.timedelta(days=10)
    built = build_world(
        [ClientSpec(), ClientSpec()], [SubjectSpec(agency=True, contracts=[job(end, 0, 10), job(end, 1, 10)])]
    )
    services.run_update(as_of=AS_OF, force=True)
    response = admin_client.get(f"/admin/marketplace/agency/{built.subjects[0][1]}/change/")
    assert response.status_code == 200
    assert '<strong class="jss-score">100%</strong>' in response.content.decode()
    assert response.content.decode().count("<circle") == 1


def test_a_freelancer_never_scored(admin_client):
    freelancer = f.FreelancerFactory()
    response = admin_client.get(f"/admin/marketplace/freelancer/{freelancer.pk}/change/")
    assert response.status_code == 200
    assert "No Job Success Score yet" in response.content.decode()
    assert '<svg class="jss-chart"' not in response.content.decode()


def test_the_updates_list_says_which_runs_were_incremental(admin_client, history):
    """The last of the fixture's forced runs rescored a day in full; a run 14 days on carries most subjects."""
    services.run_update(as_of=AS_OF + dt.timedelta(days=14))
    page = admin_client.get("/admin/jss/scoreupdate/").content.decode()
    assert "full, forced" in page
    assert f"incremental from {date_format(AS_OF)}" in page
    assert "Subjects scored" in page
