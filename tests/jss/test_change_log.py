"""The change log the incremental update reads: database triggers (jss migration 0009) log the subject of every
write that can change a score, whoever makes it (the ORM, raw SQL), on PostgreSQL and SQLite."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from jss.models import JssExclusion, JssSubjectChange
from marketplace.models import Contract, Feedback
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return {
        "freelancer": f.FreelancerFactory(),
        "other": f.FreelancerFactory(),
        "agency": f.AgencyFactory(),
        "client": f.ClientFactory(),
        "client2": f.ClientFactory(),
    }


def logged_after(mark):
    return set(JssSubjectChange.objects.filter(id__gt=mark).values_list("kind", "subject_id"))


def mark():
    return JssSubjectChange.objects.order_by("-id").values_list("id", flat=True).first() or 0


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_new_contract_logs_its_subject_a_freelancers_or_its_agencys(people):
    start = mark()
    f.ContractFactory(freelancer=people["freelancer"], client=people["client"])
    assert logged_after(start) == {("freelancer", people["freelancer"].pk)}
    start = mark()
    f.ContractFactory(freelancer=people["freelancer"], agency=people["agency"], client=people["client"])
    assert logged_after(start) == {("agency", people["agency"].pk)}


def test_a_bulk_insert_logs_each_subject(people):
    start = mark()
    Contract.objects.bulk_create(
        Contract(
            number=f"9900{n}",
            title="bulk",
            freelancer=people["freelancer"] if n % 2 else people["other"],
            client=people["client"],
            started_on=dt.date(2026, 1, 1),
            total_charged=Decimal(10),
        )
        for n in range(6)
    )
    assert logged_after(start) == {("freelancer", people["freelancer"].pk), ("freelancer", people["other"].pk)}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("started_on", "2025-01-02"),
        ("ended_on", "2026-11-25"),
        ("last_payment_on", "2026-01-01"),
        ("total_charged", 1234),
        ("disputed", True),
    ],
)
def test_a_raw_update_of_a_fact_the_score_reads_logs_the_subject(people, column, value):
    contract = f.ContractFactory(freelancer=people["freelancer"], client=people["client"])
    start = mark()
    raw(f"UPDATE marketplace_contract SET {column} = %s WHERE id = %s", [value, contract.pk])
    assert logged_after(start) == {("freelancer", people["freelancer"].pk)}


def test_an_update_of_other_columns_or_to_the_same_values_logs_nothing(people):
    contract = f.ContractFactory(freelancer=people["freelancer"], client=people["client"])
    start = mark()
    raw("UPDATE marketplace_contract SET title = 'renamed' WHERE id = %s", [contract.pk])
    contract.refresh_from_db()
    contract.save()  # every column, the same values
    assert logged_after(start) == set()


def test_moving_a_contract_to_another_subject_logs_both(people):
    contract = f.ContractFactory(freelancer=people["freelancer"], client=people["client"])
    start = mark()
    Contract.objects.filter(pk=contract.pk).update(agency=people["agency"])
    assert logged_after(start) == {("freelancer", people["freelancer"].pk), ("agency", people["agency"].pk)}
    start = mark()
    Contract.objects.filter(pk=contract.pk).update(agency=None, freelancer=people["other"])
    assert logged_after(start) == {("agency", people["agency"].pk), ("freelancer", people["other"].pk)}
    start = mark()
    Contract.objects.filter(pk=contract.pk).update(client=people["client2"])
    assert logged_after(start) == {("freelancer", people["other"].pk)}


def test_feedback_written_edited_or_deleted_logs_the_subject_through_the_contracts_copy(people):
    contract = f.ContractFactory(freelancer=people["freelancer"], client=people["client"])
    start = mark()
    feedback = Feedback.objects.create(contract=contract, public_rating=Decimal("5.00"), private_score=10)
    assert logged_after(start) == {("freelancer", people["freelancer"].pk)}
    start = mark()
    raw("UPDATE marketplace_feedback SET private_score = 3 WHERE id = %s", [feedback.pk])
    assert logged_after(start) == {("freelancer", people["freelancer"].pk)}
    start = mark()
    raw("UPDATE marketplace_feedback SET public_comment = 'edited' WHERE id = %s", [feedback.pk])
    assert logged_after(start) == set()  # not a fact the score reads
    start = mark()
    feedback.delete()
    assert logged_after(start) == {("freelancer", people["freelancer"].pk)}


def test_a_deleted_contract_logs_its_subject(people):
    contract = f.ContractFactory(freelancer=people["freelancer"], agency=people["agency"], client=people["client"])
    start = mark()
    raw("DELETE FROM marketplace_contract WHERE id = %s", [contract.pk])
    assert logged_after(start) == {("agency", people["agency"].pk)}


def test_a_client_flagged_or_suspended_logs_every_subject_with_a_contract_with_it(people):
    f.ContractFactory(freelancer=people["freelancer"], client=people["client"])
    f.ContractFactory(freelancer=people["other"], agency=people["agency"], client=people["client"])
    f.ContractFactory(freelancer=people["other"], client=people["client2"])
    client = people["client"]
    start = mark()
    client.flagged = True
    client.save()
    assert logged_after(start) == {("freelancer", people["freelancer"].pk), ("agency", people["agency"].pk)}
    start = mark()
    client.name = "renamed"
    client.save()  # flags unchanged
    raw("UPDATE marketplace_client SET suspended_for_tos = suspended_for_tos WHERE id = %s", [client.pk])
    assert logged_after(start) == set()
    start = mark()
    raw("UPDATE marketplace_client SET suspended_for_tos = %s WHERE id = %s", [True, people["client2"].pk])
    assert logged_after(start) == {("freelancer", people["other"].pk)}


def test_a_perk_exclusion_made_logs_its_contracts_subject(people):
    # (Exclusions are permanent: PostgreSQL refuses their deletion; where one is deleted all the same, its
    # delete trigger logs the subject too.)
    contract = f.ContractFactory(freelancer=people["freelancer"], agency=people["agency"], client=people["client"])
    start = mark()
    JssExclusion.objects.create(contract=contract, created_at=timezone.now())
    assert logged_after(start) == {("agency", people["agency"].pk)}
