"""Nothing reverts a perk exclusion or a final status: not the ORM, not raw SQL on PostgreSQL."""

import pytest
from django.db import IntegrityError, InternalError, connection, transaction

from jss.models import JssExclusion
from requests_app.models import RemovalRequest
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
    assert JssExclusion.objects.filter(pk=exclusion.pk).exists()


def test_cascades_cannot_reach_an_exclusion():
    from django.db.models import ProtectedError

    exclusion = f.JssExclusionFactory()
    with pytest.raises(ProtectedError), transaction.atomic():
        exclusion.contract.delete()
    with pytest.raises(ProtectedError), transaction.atomic():
        RemovalRequest.objects.filter(pk=exclusion.removal_request_id).delete()
    assert JssExclusion.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    ["DELETE FROM jss_jssexclusion", "UPDATE jss_jssexclusion SET created_at = now()"],
    ids=["delete", "update"],
)
def test_postgres_refuses_raw_sql_on_exclusions(sql):
    f.JssExclusionFactory()
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert JssExclusion.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize("status", ["applied", "rejected", "withdrawn"])
def test_postgres_refuses_to_move_a_request_out_of_a_final_status(status):
    traits = {"applied": {"applied": True}, "rejected": {"rejected": True}, "withdrawn": {"withdrawn": True}}[status]
    request = f.RemovalRequestFactory(**traits)
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        RemovalRequest.objects.filter(pk=request.pk).update(status="submitted")
    request.refresh_from_db()
    assert request.status == status
