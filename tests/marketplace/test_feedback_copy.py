"""The contract's copy of its feedback (``feedback_public_rating`` / ``feedback_private_score``) is the
feedback's, whatever writes either row: the database keeps it (marketplace migration 0002), on PostgreSQL and
on SQLite. The scheduled JSS update reads only the copy, so a stale copy would be a wrong score."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from marketplace.models import Contract, Feedback
from tests import factories as f

pytestmark = pytest.mark.django_db


def copy_of(contract_id):
    return tuple(
        Contract.objects.filter(pk=contract_id).values_list("feedback_public_rating", "feedback_private_score").get()
    )


def feedback_of(contract_id):
    row = Feedback.objects.filter(contract_id=contract_id).values_list("public_rating", "private_score").first()
    return tuple(row) if row else (None, None)


def create(contract):
    return Feedback.objects.create(contract=contract, public_rating=Decimal("4.25"), private_score=7)


def update_rating(contract):
    create(contract)
    Feedback.objects.filter(contract=contract).update(public_rating=Decimal("3.50"), private_score=None)


def save_instance(contract):
    feedback = create(contract)
    feedback.private_score = 2
    feedback.save()


def delete(contract):
    create(contract).delete()


def bulk(contract):
    Feedback.objects.bulk_create([Feedback(contract=contract, public_rating=None, private_score=9)])


def stale_contract_save(contract):
    # A contract loaded before its feedback arrived, then saved: its stale (empty) copy must not win.
    stale = Contract.objects.get(pk=contract.pk)
    create(contract)
    stale.title = "Renamed"
    stale.save()


def written_copy_is_replaced(contract):
    create(contract)
    Contract.objects.filter(pk=contract.pk).update(feedback_private_score=10, feedback_public_rating=Decimal("5"))


def raw_sql(contract):
    create(contract)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE marketplace_feedback SET private_score = 0 WHERE contract_id = %s", [contract.pk])


def moved_to_another_contract(contract):
    other = f.ContractFactory()
    feedback = Feedback.objects.create(contract=other, public_rating=Decimal("2.00"), private_score=1)
    Feedback.objects.filter(pk=feedback.pk).update(contract=contract)
    assert copy_of(other.pk) == (None, None)


def hidden_on_profile(contract):
    from django.utils import timezone

    create(contract)
    Feedback.objects.filter(contract=contract).update(hidden_on_profile=True, hidden_at=timezone.now())


@pytest.mark.parametrize(
    "write",
    [
        create,
        update_rating,
        save_instance,
        delete,
        bulk,
        stale_contract_save,
        written_copy_is_replaced,
        raw_sql,
        moved_to_another_contract,
        hidden_on_profile,
    ],
)
def test_the_copy_follows_the_feedback(write):
    contract = f.ContractFactory()
    assert copy_of(contract.pk) == (None, None)
    write(contract)
    assert copy_of(contract.pk) == feedback_of(contract.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # TRUNCATE refuses a table with deferred checks pending
def test_truncating_the_feedback_empties_every_copy():
    contract = f.FeedbackFactory(public_rating=Decimal("4.75"), private_score=8).contract
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE marketplace_feedback")
    assert copy_of(contract.pk) == (None, None)


def test_the_factories_and_a_contract_without_feedback():
    with_feedback = f.FeedbackFactory(public_rating=Decimal("4.75"), private_score=8).contract
    without = f.ContractFactory()
    assert copy_of(with_feedback.pk) == (Decimal("4.75"), 8)
    assert copy_of(without.pk) == (None, None)


@pytest.mark.django_db(transaction=True)
def test_the_migration_copies_existing_feedback():
    """A database made before 2026-12-07: contracts and feedback without the copy; migrating copies it."""
    executor = MigrationExecutor(connection)
    executor.migrate([("marketplace", "0001_initial")])
    apps = executor.loader.project_state([("marketplace", "0001_initial")]).apps
    User = apps.get_model("auth", "User")
    OldFreelancer = apps.get_model("marketplace", "Freelancer")
    OldClient = apps.get_model("marketplace", "Client")
    OldContract = apps.get_model("marketplace", "Contract")
    OldFeedback = apps.get_model("marketplace", "Feedback")
    freelancer = OldFreelancer.objects.create(
        user=User.objects.create(username="old", email="old@example.com"), name="Old", public_id="old"
    )
    client = OldClient.objects.create(name="Acme", public_id="acme")
    contracts = [
        OldContract.objects.create(
            number=f"9100{n}", title="Job", freelancer=freelancer, client=client, started_on="2026-01-01"
        )
        for n in range(3)
    ]
    OldFeedback.objects.create(contract=contracts[0], public_rating=Decimal("4.50"), private_score=9)
    OldFeedback.objects.create(contract=contracts[1], public_rating=None, private_score=3)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert [copy_of(c.pk) for c in contracts] == [(Decimal("4.50"), 9), (None, 3), (None, None)]
    # ... and from now on the database keeps it.
    Feedback.objects.create(contract_id=contracts[2].pk, public_rating=Decimal("1.00"), private_score=None)
    assert copy_of(contracts[2].pk) == (Decimal("1.00"), None)
