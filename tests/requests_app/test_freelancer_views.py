"""The freelancer's pages: /contracts/, /requests/new/, /requests/, /requests/<ticket>/ with its withdraw and
screenshot, and the per-user submission limit. Each asserts what the person sees and what is (not) stored."""

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from requests_app import services
from requests_app.models import RemovalRequest, RequestEvent, private_storage
from tests import factories as f
from tests.outcomes import judged_by_update

pytestmark = pytest.mark.django_db

TODAY = f.TODAY
NOW = timezone.make_aware(dt.datetime(TODAY.year, TODAY.month, TODAY.day, 9, 30))


@pytest.fixture(autouse=True)
def _clock_and_limits(time_machine):
    # The factories' world is dated around TODAY; the pages read the real clock.
    time_machine.move_to(NOW, tick=False)
    cache.clear()
    yield
    cache.clear()


def image_bytes(fmt):
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), (20, 128, 74)).save(buffer, format=fmt)
    return buffer.getvalue()


PNG, JPEG = image_bytes("PNG"), image_bytes("JPEG")


def top_rated(**kwargs):
    return f.FreelancerFactory(top_rated=True, **kwargs)


def job(freelancer, **kwargs):
    kwargs.setdefault("with_feedback", True)
    return f.ContractFactory(freelancer=freelancer, **kwargs)


def stored():
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return RemovalRequest.objects.count(), RequestEvent.objects.count(), files


def words(html):
    """Visible words, whitespace collapsed (tags dropped)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def text(response):
    return words(response.content.decode())


def card(response, contract):
    """The HTML of one contract's card on /contracts/."""
    html = response.content.decode()
    start = html.index(f'id="contract-{contract.number}"')
    ends = [i for i in (html.find('class="card contract"', start), html.find("</ol>", start)) if i != -1]
    return html[start : min(ends)]


# --- /contracts/ ----------------------------------------------------------------------------------


def test_contracts_page_lists_my_contracts_with_their_ids_and_feedback(client):
    alice = top_rated(user__username="alice")
    good = job(alice, title="Brand refresh")
    good.feedback.public_rating, good.feedback.public_comment = "3.75", "Files came late."
    good.feedback.freelancer_response, good.feedback.private_score = "Two extra rounds of revisions.", 3
    good.feedback.save()
    active = job(alice, active=True, with_feedback=False, title="Ongoing retainer")
    someone_elses = job(top_rated(), title="Not mine")
    client.force_login(alice.user)
    response = client.get("/contracts/")
    assert response.status_code == 200
    page = text(response)
    assert f"Contract ID {good.number}" in page and f"Contract ID {active.number}" in page
    assert someone_elses.number not in page and "Not mine" not in page
    assert "Brand refresh" in page and good.client.name in page
    assert "3.75" in page and "Files came late." in page and "Two extra rounds of revisions." in page
    assert f'href="/requests/new/?contract={good.number}"' in response.content.decode()
    assert f'href="/requests/new/?contract={active.number}"' not in response.content.decode()


def test_contracts_page_never_shows_the_private_score(client):
    alice = top_rated()
    contract = job(alice, title="Logo work", client=f.ClientFactory(name="Acme"))
    contract.feedback.private_score, contract.feedback.public_rating, contract.feedback.public_comment = 6, None, ""
    contract.feedback.save()
    client.force_login(alice.user)
    row = card(client.get("/contracts/"), contract)
    assert "private feedback, which only the marketplace sees" in row
    # Apart from the Contract ID and the dates there is no number on the card: no score, no JSS figure.
    visible = re.sub(r"\d{1,2} \w{3} \d{4}", "", words(row).replace(contract.number, ""))
    assert not re.search(r"\d", visible), visible


def test_contracts_page_explains_why_the_perk_cannot_be_used(client):
    alice = top_rated()
    active = job(alice, active=True, with_feedback=False)
    elance = job(alice, elance=True)
    client.force_login(alice.user)
    response = client.get("/contracts/")
    active_card = card(response, active)
    assert "Not available now" in active_card
    assert f"Contract {active.number} is still active." in active_card
    assert 'data-code="contract_not_ended"' in active_card and 'data-code="no_feedback"' in active_card
    assert "Jobs performed on Elance are not eligible." in card(response, elance)


def test_contracts_page_shows_the_published_score_and_the_next_update(client):
    alice = top_rated()
    job(alice)
    f.ScoreUpdateFactory(as_of=TODAY - dt.timedelta(days=3))
    f.ScoreSnapshotFactory(freelancer=alice, as_of=TODAY - dt.timedelta(days=3), score=92)
    f.ScoreSnapshotFactory(freelancer=alice, as_of=TODAY - dt.timedelta(days=17), score=88)
    client.force_login(alice.user)
    page = text(client.get("/contracts/"))
    # The latest snapshot with its date, and the update JSS_UPDATE_EVERY_DAYS (14) after the last one.
    assert "Job Success 92% published 23 Nov 2026" in page
    assert "next update 7 Dec 2026" in page
    assert "88%" not in page


def test_contracts_page_says_there_is_no_score_yet(client):
    alice = top_rated()
    job(alice)
    client.force_login(alice.user)
    page = text(client.get("/contracts/"))
    assert "No Job Success Score yet" in page and "0%" not in page
    # No update has run yet: the next nightly run (02:00) is tomorrow, the clock being past it today.
    assert "next update 27 Nov 2026" in page


def test_agency_owner_sees_the_agency_s_contracts_and_a_member_sees_only_their_own(client):
    agency = f.AgencyFactory(top_rated=True, name="Brightline Studio")
    dave, erin = top_rated(), top_rated()
    f.AgencyMembershipFactory(agency=agency, freelancer=dave, owner=True)
    f.AgencyMembershipFactory(agency=agency, freelancer=erin)
    by_erin = job(erin, agency=agency, title="Design system")
    by_someone = job(f.FreelancerFactory(), agency=agency, title="Data warehouse")
    client.force_login(dave.user)
    page = text(client.get("/contracts/"))
    assert by_erin.number in page and by_someone.number in page
    client.force_login(erin.user)
    response = client.get("/contracts/")
    page = text(response)
    assert by_erin.number in page and by_someone.number not in page
    assert 'data-code="agency_role_required"' in card(response, by_erin)
    assert f'href="/requests/new/?contract={by_erin.number}"' not in response.content.decode()


def test_contracts_of_an_agency_i_left_are_not_mine_any_more(client):
    former = f.AgencyFactory(top_rated=True)
    alice = top_rated()
    old = job(alice, agency=former, title="Work for a former agency")
    own = job(alice)
    client.force_login(alice.user)
    page = text(client.get("/contracts/"))
    assert own.number in page and old.number not in page and former.name not in page


def test_contracts_page_shows_the_cooldown_and_the_open_request(client):
    alice = top_rated()
    first = job(alice)
    r = services.submit_request(requester=alice.user, contract_number=first.number, scope="jss_only")
    services.approve_request(r, agent=f.UserFactory(agent=True))
    job(alice)
    client.force_login(alice.user)
    response = client.get("/contracts/")
    page = text(response)
    assert f"Request in progress: {r.ticket_number}" in page
    assert "You can request another removal from 26 February 2027 and after 10 more completed Upwork contracts." in page


def test_grace_window_contracts_can_be_used_with_a_screenshot(client):
    bob = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=bob, lost_jss_dip=True)
    contract = job(bob)
    client.force_login(bob.user)
    response = client.get("/contracts/")
    page = text(response)
    assert "Available with a screenshot" in page
    assert "requests possible until 5 December 2026, with a screenshot" in page
    assert f'href="/requests/new/?contract={contract.number}"' in response.content.decode()


@pytest.mark.parametrize("count", [5, 30])
def test_contracts_page_query_count_does_not_grow_with_contracts(client, django_assert_max_num_queries, count):
    alice = top_rated()
    agency = f.AgencyFactory(top_rated=True)
    f.AgencyMembershipFactory(agency=agency, freelancer=alice, owner=True)
    for i in range(count):
        job(alice, agency=agency if i % 3 == 0 else None, active=i % 7 == 0)
    # An approved request: open and counted, so the cooldown's job count is read too.
    r = services.submit_request(requester=alice.user, contract_number=job(alice).number, scope="jss_only")
    services.approve_request(r, agent=f.UserFactory(agent=True))
    client.force_login(alice.user)
    # Session, user, freelancer, memberships, count, contracts, periods, tickets, jobs since, the published
    # scores and the last update's date: the same at 5 and 30 contracts.
    with django_assert_max_num_queries(11):
        response = client.get("/contracts/")
    assert response.status_code == 200
    assert len(response.context["rows"]) == min(count + 1, 25)


def test_contracts_page_is_paginated(client):
    alice = top_rated()
    numbers = [job(alice, ended_on=TODAY - dt.timedelta(days=i + 1)).number for i in range(27)]
    client.force_login(alice.user)
    first, second = text(client.get("/contracts/")), text(client.get("/contracts/?page=2"))
    assert numbers[0] in first and numbers[24] in first and numbers[25] not in first
    assert numbers[25] in second and numbers[26] in second and "Page 2 of 2" in second


def test_contracts_page_for_an_account_without_freelancer_profile(client):
    client.force_login(f.UserFactory())
    assert "has no freelancer profile" in text(client.get("/contracts/"))


# --- /requests/new/ -------------------------------------------------------------------------------


def test_form_offers_the_contracts_the_perk_can_take_with_the_one_picked_on_my_contracts(client):
    alice = top_rated()
    contract = job(alice, title="Brand refresh", client=f.ClientFactory(name="Orchard & Pine"))
    contract.feedback.public_rating, contract.feedback.public_comment = "3.75", "The final files came late."
    contract.feedback.save()
    other = job(alice)
    active = job(alice, active=True)
    client.force_login(alice.user)
    response = client.get(f"/requests/new/?contract={contract.number}")
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(rf'<input type="radio" name="contract" value="{contract.number}"[^>]* checked>', html)
    assert re.search(rf'<input type="radio" name="contract" value="{other.number}"[^>]*>', html)
    assert f'value="{active.number}"' not in html  # not one the perk can take
    page = text(response)
    assert "Brand refresh" in page and "Orchard &amp; Pine" in html and "The final files came late." in page
    assert 'enctype="multipart/form-data"' in html and 'name="scope"' in html
    # Nobody here lost Top Rated after a dip: no screenshot to attach, so no field asking for one.
    assert 'name="screenshot"' not in html and "(optional)" not in page
    assert "This feedback has been removed." in html


def test_form_says_the_screenshot_is_required_and_why_in_the_grace_window(client):
    bob = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=bob, lost_jss_dip=True)
    contract = job(bob)
    client.force_login(bob.user)
    response = client.get("/requests/new/")
    html, page = response.content.decode(), text(response)
    assert f'value="{contract.number}"' in html and 'name="screenshot"' in html
    assert "Screenshot of the status-loss email required" in page
    assert (
        "You lost Top Rated after a JSS dip on 21 November 2026: requests for your own contracts are possible "
        "until 5 December 2026, with a screenshot of the email that told you."
    ) in page
    assert "Needs the screenshot below" in page


def test_when_nothing_is_possible_the_form_says_why_and_when_and_asks_for_nothing(client):
    grace = top_rated()
    earlier = job(grace, ended_on=TODAY - dt.timedelta(days=40), started_on=TODAY - dt.timedelta(days=90))
    r = services.submit_request(
        requester=grace.user, contract_number=earlier.number, scope="jss_only", now=NOW - dt.timedelta(days=33)
    )
    services.approve_request(r, agent=f.UserFactory(agent=True), now=NOW - dt.timedelta(days=32))
    services.apply_exclusion(r.pk, now=NOW - dt.timedelta(days=32))
    job(grace)
    client.force_login(grace.user)
    response = client.get("/requests/new/")
    html, page = response.content.decode(), text(response)
    assert "The perk cannot be used right now" in page
    assert "You can request another removal from 24 January 2027 and after 9 more completed Upwork contracts." in page
    assert 'name="contract"' not in html and "Send request" not in page


def test_agency_owner_is_offered_the_agency_s_contracts_and_not_a_member_only_agency_s(client):
    dave = top_rated()
    mine = f.AgencyFactory(name="Brightline Studio", top_rated=True)
    member_only = f.AgencyFactory(name="Other Agency", top_rated=True)
    f.AgencyMembershipFactory(agency=mine, freelancer=dave, owner=True)
    f.AgencyMembershipFactory(agency=member_only, freelancer=dave)
    agency_job = job(f.FreelancerFactory(), agency=mine)
    not_mine = job(f.FreelancerFactory(), agency=member_only)
    client.force_login(dave.user)
    html = client.get("/requests/new/").content.decode()
    assert f'value="{agency_job.number}"' in html and "Brightline Studio" in html
    assert f'value="{not_mine.number}"' not in html


def test_submitting_redirects_to_the_ticket(client):
    alice = top_rated()
    contract = job(alice)
    client.force_login(alice.user)
    response = client.post("/requests/new/", {"contract": contract.number, "scope": "hide_profile_and_jss"})
    r = RemovalRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/requests/{r.ticket_number}/"
    assert (r.contract, r.scope, r.requested_by) == (contract, "hide_profile_and_jss", alice.user)
    page = client.get(response["Location"])
    assert f"Your ticket number is {r.ticket_number}" in text(page)
    assert "Your request has been submitted." in text(page)


def test_agency_owner_submits_for_the_agency(client):
    agency = f.AgencyFactory(top_rated=True)
    dave = top_rated()
    f.AgencyMembershipFactory(agency=agency, freelancer=dave, owner=True)
    contract = job(f.FreelancerFactory(), agency=agency)
    client.force_login(dave.user)
    response = client.post(
        "/requests/new/", {"contract": contract.number, "scope": "jss_only", "agency": agency.public_id}
    )
    assert response.status_code == 302
    assert RemovalRequest.objects.get().agency == agency


def test_every_refusal_is_listed_on_the_form_and_nothing_is_stored(client, settings):
    settings.PERK_END_DATE = TODAY - dt.timedelta(days=1)
    carol = f.FreelancerFactory(suspended=True)
    f.TopRatedPeriodFactory(freelancer=carol, lost_suspension=True)
    contract = job(carol, active=True, elance=True, with_feedback=False)
    client.force_login(carol.user)
    before = stored()
    response = client.post("/requests/new/", {"contract": contract.number, "scope": "jss_only"})
    assert response.status_code == 200
    assert stored() == before
    html = response.content.decode()
    refusals = html[html.index('id="refusals"') : html.index("</div>", html.index('id="refusals"'))]
    codes = re.findall(r'<li data-code="([a-z_]+)">', refusals)
    assert codes == [
        "account_inactive",
        "contract_not_ended",
        "elance_contract",
        "no_feedback",
        "status_lost_suspension",
        "perk_closed",
    ]
    page = text(response)
    assert "Our records show your account is not active." in page
    assert "We can't accept this request, for 6 reasons" in page
    assert "The feedback removal perk ended on" in page
    assert f'Nothing was sent for contract <span class="mono">{contract.number}</span>.' in html


def test_someone_else_s_contract_is_refused_like_an_unknown_one(client):
    alice = top_rated()
    theirs = job(top_rated())
    client.force_login(alice.user)
    response = client.post("/requests/new/", {"contract": theirs.number, "scope": "jss_only"})
    page = text(response)
    assert f"We could not find a contract with ID {theirs.number} among your contracts." in page
    assert response.context["form"].errors["contract"] == ["Check the Contract ID."]
    assert RemovalRequest.objects.count() == 0


def test_cooldown_refusal_says_when_the_next_request_is_possible(client):
    grace = top_rated()
    earlier = job(grace, ended_on=TODAY - dt.timedelta(days=40), started_on=TODAY - dt.timedelta(days=90))
    r = services.submit_request(
        requester=grace.user, contract_number=earlier.number, scope="jss_only", now=NOW - dt.timedelta(days=33)
    )
    services.approve_request(r, agent=f.UserFactory(agent=True), now=NOW - dt.timedelta(days=32))
    services.apply_exclusion(r.pk, now=NOW - dt.timedelta(days=32))
    client.force_login(grace.user)
    before = stored()
    response = client.post("/requests/new/", {"contract": job(grace).number, "scope": "jss_only"})
    assert stored() == before
    page = text(response)
    assert "You can request another removal from 24 January 2027 and after 9 more completed Upwork contracts." in page
    assert [e.code for e in response.context["form"].non_field_errors().as_data()] == [
        "cooldown_months",
        "cooldown_jobs",
    ]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"scope": "jss_only"}, "contract", "Enter the Contract ID"),
        ({"contract": "12-ab", "scope": "jss_only"}, "contract", "digits only"),
        ({"contract": "31849001"}, "scope", "Choose “JSS only” or “Hide from profile and JSS”."),
        ({"contract": "31849001", "scope": "everything"}, "scope", "Select a valid choice"),
        ({"contract": "31849001", "scope": "jss_only", "agency": "not-mine"}, "agency", "which agency"),
    ],
    ids=["no-contract", "letters", "no-scope", "bad-scope", "foreign-agency"],
)
def test_malformed_input_is_an_error_on_its_field(client, data, field, message):
    client.force_login(top_rated().user)
    response = client.post("/requests/new/", data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert RemovalRequest.objects.count() == 0


def test_new_request_needs_login(client):
    response = client.get("/requests/new/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- the submission limit -------------------------------------------------------------------------


def test_submissions_over_the_hourly_limit_get_a_friendly_429(client, settings):
    settings.PERK_SUBMISSIONS_PER_HOUR = 2
    alice = top_rated()
    client.force_login(alice.user)
    # Malformed posts never reach the service and do not count.
    for _ in range(3):
        assert client.post("/requests/new/", {"scope": "jss_only"}).status_code == 200
    # Refusals count: they stop someone probing contract numbers.
    for number in ("11111111", "22222222"):
        assert client.post("/requests/new/", {"contract": number, "scope": "jss_only"}).status_code == 200
    good = job(alice)
    response = client.post("/requests/new/", {"contract": good.number, "scope": "jss_only"})
    assert response.status_code == 429
    assert response["Retry-After"] == str(30 * 60)
    page = text(response)
    assert "Please wait a little before sending another request" in page
    assert "You have sent 2 requests this hour" in page
    assert "You can try again in about 30 minutes, after 10:00 UTC" in page
    assert RemovalRequest.objects.count() == 0
    # The form says so too, before anyone types.
    assert "You can send another after 10:00 (UTC)." in text(client.get("/requests/new/"))


def test_the_limit_is_per_person_and_per_hour(client, settings, time_machine):
    settings.PERK_SUBMISSIONS_PER_HOUR = 1
    alice, bob = top_rated(), top_rated()
    client.force_login(alice.user)
    assert client.post("/requests/new/", {"contract": "11111111", "scope": "jss_only"}).status_code == 200
    assert client.post("/requests/new/", {"contract": "11111111", "scope": "jss_only"}).status_code == 429
    client.force_login(bob.user)
    assert client.post("/requests/new/", {"contract": job(bob).number, "scope": "jss_only"}).status_code == 302
    time_machine.move_to(NOW + dt.timedelta(hours=1), tick=False)
    client.force_login(alice.user)
    assert client.post("/requests/new/", {"contract": job(alice).number, "scope": "jss_only"}).status_code == 302


# --- /requests/ and /requests/<ticket>/ -------------------------------------------------------------


def submitted(freelancer=None, **kwargs):
    freelancer = freelancer or top_rated()
    return services.submit_request(
        requester=freelancer.user, contract_number=job(freelancer).number, scope="jss_only", **kwargs
    )


def test_my_requests_links_each_ticket_to_its_page(client):
    r = submitted()
    client.force_login(r.requested_by)
    html = client.get("/requests/").content.decode()
    assert f'href="/requests/{r.ticket_number}/"' in html


def test_ticket_page_shows_status_ticket_number_sla_and_countdown(client):
    r = submitted()
    client.force_login(r.requested_by)
    response = client.get(f"/requests/{r.ticket_number}/")
    assert response.status_code == 200
    page = text(response)
    assert f"Your ticket number is {r.ticket_number}" in page
    assert 'class="badge submitted big">Submitted<' in response.content.decode()
    assert f"Contract ID {r.contract.number} — {r.contract.title}" in page
    assert "JSS only" in page
    assert "If approved, the feedback will be applied by 3 December 2026 ." in page
    assert "7 days 0 hours left" in page
    assert "Withdraw this request" in page


def test_ticket_page_shows_only_the_public_timeline(client):
    r = submitted()
    agent = f.UserFactory(agent=True, username="avery")
    services.claim_request(r, agent=agent)
    services.add_note(r, agent=agent, message="Client account under review by Trust & Safety.")
    services.approve_request(r, agent=agent)
    RequestEvent.objects.create(request=r, kind="email_sent", public=True, created_at=timezone.now(), message="x@y")
    client.force_login(r.requested_by)
    response = client.get(f"/requests/{r.ticket_number}/")
    page = text(response)
    assert [e.kind for e in response.context["timeline"]] == ["submitted", "approved"]
    assert "Trust &amp; Safety" not in page and "Trust & Safety" not in page
    assert "Claimed" not in page and "x@y" not in page and "avery" not in page
    assert "Approved. The feedback will be removed" in page
    assert "support team" in page
    assert "Withdraw this request" not in page


def test_applied_ticket_explains_the_jss_outcome(client):
    r = submitted()
    services.approve_request(r, agent=f.UserFactory(agent=True))
    services.apply_exclusion(r.pk)
    client.force_login(r.requested_by)
    page = text(client.get(f"/requests/{r.ticket_number}/"))
    assert "Waiting for the next JSS update" in page
    assert (
        "Your score will be recalculated without this contract on 27 November. Removing it can never lower your "
        "score, but other contracts added or aged out may still move it, so it may or may not improve."
    ) in page
    judged_by_update(r, "kept_no_harm", as_of=TODAY)
    page = text(client.get(f"/requests/{r.ticket_number}/"))
    assert "Kept by the no-harm rule" in page and "At the update of 26 November 2026" in page
    assert "the perk never harms your JSS" in page
    judged_by_update(r, "excluded", as_of=TODAY)
    page = text(client.get(f"/requests/{r.ticket_number}/"))
    assert "Left out of your JSS" in page
    assert "The update of 26 November 2026 recalculated your score without this contract." in page


def test_rejected_ticket_shows_the_reason(client):
    r = submitted()
    services.reject_request(r, agent=f.UserFactory(agent=True), reason="duplicate")
    client.force_login(r.requested_by)
    page = text(client.get(f"/requests/{r.ticket_number}/"))
    assert "This request repeats another feedback removal request for the same contract" in page
    assert "Withdraw this request" not in page


def test_ticket_page_is_for_its_owner_and_staff_only(client):
    r = submitted()
    client.force_login(top_rated().user)
    assert client.get(f"/requests/{r.ticket_number}/").status_code == 404
    client.force_login(f.UserFactory(agent=True))
    staff_view = client.get(f"/requests/{r.ticket_number}/")
    assert staff_view.status_code == 200 and "Withdraw this request" not in text(staff_view)
    client.force_login(r.requested_by)
    assert client.get("/requests/123456789/").status_code == 404
    client.logout()
    assert client.get(f"/requests/{r.ticket_number}/").status_code == 302


def test_agency_tickets_are_visible_to_the_agency_s_managers_not_its_members(client):
    agency = f.AgencyFactory(top_rated=True)
    dave, admin, erin = top_rated(), top_rated(), top_rated()
    f.AgencyMembershipFactory(agency=agency, freelancer=dave, owner=True)
    f.AgencyMembershipFactory(agency=agency, freelancer=admin, admin=True)
    f.AgencyMembershipFactory(agency=agency, freelancer=erin)
    contract = job(erin, agency=agency)
    r = services.submit_request(requester=dave.user, contract_number=contract.number, scope="jss_only")
    client.force_login(admin.user)
    assert client.get(f"/requests/{r.ticket_number}/").status_code == 200
    client.force_login(erin.user)
    assert client.get(f"/requests/{r.ticket_number}/").status_code == 404


# --- withdraw -------------------------------------------------------------------------------------


def test_withdraw_is_post_only(client):
    r = submitted()
    client.force_login(r.requested_by)
    assert client.get(f"/requests/{r.ticket_number}/withdraw/").status_code == 405
    r.refresh_from_db()
    assert r.status == "submitted"


def test_owner_withdraws_from_the_ticket_page(client):
    r = submitted()
    client.force_login(r.requested_by)
    response = client.post(f"/requests/{r.ticket_number}/withdraw/", follow=True)
    assert response.redirect_chain == [(f"/requests/{r.ticket_number}/", 302)]
    r.refresh_from_db()
    assert r.status == "withdrawn"
    assert RequestEvent.objects.filter(request=r, kind="withdrawn", actor=r.requested_by).count() == 1
    page = text(response)
    assert "You withdrew this request. Nothing will be removed." in page
    assert "Withdraw this request" not in page


def test_others_cannot_withdraw(client):
    r = submitted()
    for user in (top_rated().user, f.UserFactory(agent=True)):
        client.force_login(user)
        assert client.post(f"/requests/{r.ticket_number}/withdraw/").status_code == 404
    r.refresh_from_db()
    assert r.status == "submitted"


def test_withdrawing_an_approved_request_is_refused_cleanly(client):
    r = submitted()
    services.approve_request(r, agent=f.UserFactory(agent=True))
    client.force_login(r.requested_by)
    response = client.post(f"/requests/{r.ticket_number}/withdraw/", follow=True)
    assert response.status_code == 200
    assert "This request was already approved; it can no longer be withdrawn." in text(response)
    r.refresh_from_db()
    assert r.status == "approved"


# --- the screenshot -------------------------------------------------------------------------------


def with_screenshot(content=PNG, name="mail.png"):
    bob = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=bob, lost_jss_dip=True)
    return services.submit_request(
        requester=bob.user,
        contract_number=job(bob).number,
        scope="jss_only",
        screenshot=SimpleUploadedFile(name, content),
    )


@pytest.mark.parametrize(("content", "content_type", "ext"), [(PNG, "image/png", "png"), (JPEG, "image/jpeg", "jpg")])
def test_owner_gets_the_screenshot_inline_and_uncached(client, content, content_type, ext):
    r = with_screenshot(content)
    client.force_login(r.requested_by)
    detail = client.get(f"/requests/{r.ticket_number}/").content.decode()
    assert f'href="/requests/{r.ticket_number}/screenshot/"' in detail
    response = client.get(f"/requests/{r.ticket_number}/screenshot/")
    assert response.status_code == 200
    served = b"".join(response.streaming_content)
    # The stored file, re-encoded from the upload's pixels (no metadata): the same picture.
    assert served == private_storage().open(r.screenshot.name, "rb").read()
    with Image.open(io.BytesIO(served)) as image, Image.open(io.BytesIO(content)) as sent:
        assert (image.format, image.size) == (sent.format, sent.size)
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'inline; filename="screenshot-{r.ticket_number}.{ext}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_screenshot_is_for_the_owner_and_staff_only(client):
    r = with_screenshot()
    client.force_login(f.UserFactory(agent=True))
    assert client.get(f"/requests/{r.ticket_number}/screenshot/").status_code == 200
    client.force_login(top_rated().user)
    assert client.get(f"/requests/{r.ticket_number}/screenshot/").status_code == 404
    client.logout()
    assert client.get(f"/requests/{r.ticket_number}/screenshot/").status_code == 302


def test_ticket_without_screenshot_has_none_to_serve(client):
    r = submitted()
    client.force_login(r.requested_by)
    assert client.get(f"/requests/{r.ticket_number}/screenshot/").status_code == 404
    assert "/screenshot/" not in client.get(f"/requests/{r.ticket_number}/").content.decode()


def test_navigation_offers_contracts_and_a_new_request_to_freelancers_only(client):
    client.force_login(top_rated().user)
    html = client.get("/requests/").content.decode()
    assert 'href="/contracts/"' in html and 'href="/requests/new/"' in html
    client.force_login(f.UserFactory(agent=True))
    html = client.get("/desk/").content.decode()
    assert 'href="/contracts/"' not in html
