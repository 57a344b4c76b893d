"""Nothing reverts a perk exclusion or a final status: not the ORM, not raw SQL on PostgreSQL."""

import datetime as dt

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from jss.models import JssExclusion
from requests_app import services, tasks
from requests_app.domain import InvalidTransition
from requests_app.models import RemovalRequest, RequestEvent
from requests_app.services.applying import sweep
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_orm_refuses_to_delete_or_change_an_exclusion():
    exclusion = f.JssExclusionFactory()
    with pytest.raises(PermissionError):
        exclusion.delete()
    with pytest.raises(PermissionError):
        JssExclusion.objects.all().delete()
    with pytest.raises(PermissionError):
        JssExclusion.objects.filter(pk=exclusion.pk).update(created_at=None)
    with pytest.raises(PermissionError):
        JssExclusion.objects.filter(pk=exclusion.pk).update(outcome="excluded", created_at=None)
    assert JssExclusion.objects.filter(pk=exclusion.pk).exists()
    # Each scheduled update's verdict is the one thing that changes on it.
    assert JssExclusion.objects.filter(pk=exclusion.pk).update(outcome="excluded", outcome_as_of=f.TODAY) == 1


def test_cascades_cannot_reach_an_exclusion():
    from django.db.models import ProtectedError

    exclusion = f.JssExclusionFactory()
    with pytest.raises(ProtectedError), transaction.atomic():
        exclusion.contract.delete()
    assert JssExclusion.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM jss_jssexclusion",
        "UPDATE jss_jssexclusion SET created_at = now()",
        "UPDATE jss_jssexclusion SET contract_id = contract_id + 1, outcome = 'excluded'",
    ],
    ids=["delete", "update", "update-contract-with-outcome"],
)
def test_postgres_refuses_raw_sql_on_exclusions(sql):
    f.JssExclusionFactory()
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert JssExclusion.objects.count() == 1


@pytest.mark.postgres
def test_postgres_lets_an_update_change_only_the_outcome():
    exclusion = f.JssExclusionFactory()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE jss_jssexclusion SET outcome = 'kept_no_harm', outcome_as_of = '2026-11-26'")
    exclusion.refresh_from_db()
    assert (exclusion.outcome, str(exclusion.outcome_as_of)) == ("kept_no_harm", "2026-11-26")


@pytest.mark.postgres
@pytest.mark.parametrize("status", ["applied", "rejected", "withdrawn"])
def test_postgres_refuses_to_move_a_request_out_of_a_final_status(status):
    traits = {"applied": {"applied": True}, "rejected": {"rejected": True}, "withdrawn": {"withdrawn": True}}[status]
    request = f.RemovalRequestFactory(**traits)
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        RemovalRequest.objects.filter(pk=request.pk).update(status="submitted")
    request.refresh_from_db()
    assert request.status == status


# --- no admin page, service, sweep or cascade reverts an applied request ----------------------------

ADMIN_DELETE_SELECTED = {"action": "delete_selected", "post": "yes"}


@pytest.fixture
def applied(django_capture_on_commit_callbacks):
    """An exclusion made the real way: submitted, approved, applied by the task after commit."""
    now = timezone.make_aware(dt.datetime(2026, 11, 26, 9, 0))
    freelancer = f.FreelancerFactory(top_rated=True)
    contract = f.ContractFactory(freelancer=freelancer, with_feedback=True)
    request = services.submit_request(
        requester=freelancer.user, contract_number=contract.number, scope="hide_profile_and_jss", now=now
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(request, agent=f.UserFactory(agent=True), now=now)
    request.refresh_from_db()
    assert request.status == "applied"
    return request


def _unchanged(request):
    request.refresh_from_db()
    feedback = request.contract.feedback
    feedback.refresh_from_db()
    assert request.status == "applied"
    assert JssExclusion.objects.filter(removal_request=request, contract=request.contract).count() == 1
    assert feedback.hidden_on_profile is True


def test_no_admin_page_deletes_or_changes_an_exclusion_even_for_a_superuser(admin_client, applied):
    exclusion = JssExclusion.objects.get(removal_request=applied)
    delete_url = reverse("admin:jss_jssexclusion_delete", args=[exclusion.pk])
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = reverse("admin:jss_jssexclusion_change", args=[exclusion.pk])
    admin_client.post(change_url, {"contract": "", "removal_request": "", "created_at": ""})
    changelist = reverse("admin:jss_jssexclusion_changelist")
    assert b"delete_selected" not in admin_client.get(changelist).content
    admin_client.post(changelist, {**ADMIN_DELETE_SELECTED, "_selected_action": [exclusion.pk]})
    _unchanged(applied)


def test_no_admin_page_deletes_or_reverts_an_applied_request_or_unhides_its_feedback(admin_client, applied):
    delete_url = reverse("admin:requests_app_removalrequest_delete", args=[applied.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = reverse("admin:requests_app_removalrequest_change", args=[applied.pk])
    assert admin_client.post(change_url, {"status": "approved"}).status_code == 403
    changelist = reverse("admin:requests_app_removalrequest_changelist")
    admin_client.post(changelist, {**ADMIN_DELETE_SELECTED, "_selected_action": [applied.pk]})
    for action in ("approve_selected", "claim_selected"):
        admin_client.post(changelist, {"action": action, "_selected_action": [applied.pk]})
    feedback_url = reverse("admin:marketplace_feedback_change", args=[applied.contract.feedback.pk])
    admin_client.post(feedback_url, {"hidden_on_profile": "", "hidden_at": ""})
    assert (
        admin_client.post(
            reverse("admin:marketplace_feedback_delete", args=[applied.contract.feedback.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    _unchanged(applied)


def test_no_service_or_task_moves_an_applied_request(applied, django_capture_on_commit_callbacks):
    agent = f.UserFactory(agent=True)
    for attempt in (
        lambda: services.approve_request(applied, agent=agent),
        lambda: services.reject_request(applied, agent=agent, reason="other", message="changed our mind"),
        lambda: services.withdraw_request(applied, requester=applied.requested_by),
        lambda: services.claim_request(applied, agent=agent),
    ):
        with pytest.raises(InvalidTransition):
            attempt()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.apply_exclusion.delay(applied.pk).get() is False
        assert sweep().applied == []
    _unchanged(applied)


@pytest.mark.parametrize("owner", ["client", "freelancer", "freelancer's user", "requester"])
def test_deleting_what_an_exclusion_hangs_on_is_refused(applied, owner):
    target = {
        "client": applied.contract.client,
        "freelancer": applied.freelancer,
        "freelancer's user": applied.freelancer.user,
        "requester": applied.requested_by,
    }[owner]
    with pytest.raises(ProtectedError), transaction.atomic():
        target.delete()
    _unchanged(applied)


def test_deleting_the_agency_of_an_agency_exclusion_is_refused():
    agency = f.AgencyFactory()
    exclusion = f.JssExclusionFactory(contract__agency=agency)
    with pytest.raises(ProtectedError), transaction.atomic():
        agency.delete()
    assert JssExclusion.objects.filter(pk=exclusion.pk).exists()


# --- the timeline is append-only ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE requests_app_requestevent SET message = 'rewritten'",
        'UPDATE requests_app_requestevent SET data = \'{"reason": "other"}\'::jsonb',
        "DELETE FROM requests_app_requestevent",
    ],
    ids=["update-message", "update-data", "delete"],
)
def test_postgres_refuses_raw_sql_that_changes_or_deletes_an_event(sql):
    event = f.RequestEventFactory(message="Request received.", data={"scope": "jss_only"})
    with pytest.raises((IntegrityError, InternalError), match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)
    event.refresh_from_db()
    assert (event.message, event.data) == ("Request received.", {"scope": "jss_only"})


@pytest.mark.postgres
def test_postgres_still_takes_new_events():
    event = f.RequestEventFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO requests_app_requestevent (request_id, created_at, kind, message, data, public)"
            " VALUES (%s, now(), 'note_added', 'A note.', '{}', false)",
            [event.request_id],
        )
    assert RequestEvent.objects.filter(request_id=event.request_id).count() == 2
