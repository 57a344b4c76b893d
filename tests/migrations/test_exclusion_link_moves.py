"""requests_app 0006 carries a database made before 2026-12-07 across: the ticket ↔ exclusion links that
lived on ``jss_jssexclusion.removal_request_id`` move to ``RemovalRequest.exclusion``, each ticket's
``jss_outcome`` becomes its exclusion's ``outcome``, the old column goes, and nothing is lost.

The database is taken back to the old migrations with Django's migration executor, the old column is put
back the way jss 0001 used to create it, rows are written in that shape, and the migrations run forward."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

OLD = [("jss", "0006_snapshot_detail_as_json_text"), ("requests_app", "0005_event_time_index")]
NOW = timezone.make_aware(dt.datetime(2026, 11, 26, 12, 0))

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def columns(table):
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def test_links_and_outcomes_move_to_the_ticket_and_nothing_is_lost():
    apps = migrate(OLD)
    with connection.cursor() as cursor:  # the column as jss 0001 created it before 2026-12-07
        cursor.execute(
            "ALTER TABLE jss_jssexclusion ADD COLUMN removal_request_id bigint UNIQUE"
            " REFERENCES requests_app_removalrequest (id) DEFERRABLE INITIALLY DEFERRED"
        )
    User = apps.get_model("auth", "User")
    Freelancer = apps.get_model("marketplace", "Freelancer")
    Client = apps.get_model("marketplace", "Client")
    Contract = apps.get_model("marketplace", "Contract")
    RemovalRequest = apps.get_model("requests_app", "RemovalRequest")
    RequestEvent = apps.get_model("requests_app", "RequestEvent")
    ScoreUpdate = apps.get_model("jss", "ScoreUpdate")
    user = User.objects.create(username="ann", email="ann@example.com")
    freelancer = Freelancer.objects.create(user=user, name="Ann", public_id="ann")
    client = Client.objects.create(name="Acme", public_id="acme")
    ScoreUpdate.objects.create(as_of=dt.date(2026, 11, 20), started_at=NOW, finished_at=NOW)
    tickets = {}
    for n, outcome in enumerate(["excluded", "kept_no_harm", "pending"], start=1):
        contract = Contract.objects.create(
            number=f"7000{n}",
            title=f"Job {n}",
            freelancer=freelancer,
            client=client,
            platform="upwork",
            started_on=dt.date(2026, 1, 1),
            ended_on=dt.date(2026, 3, 1),
            total_charged=Decimal("500.00"),
        )
        ticket = RemovalRequest.objects.create(
            ticket_number=f"12345678{n}",
            contract=contract,
            freelancer=freelancer,
            requested_by=user,
            scope="jss_only",
            status="applied",
            submitted_at=NOW - dt.timedelta(days=30),
            sla_due_at=NOW - dt.timedelta(days=23),
            decided_at=NOW - dt.timedelta(days=29),
            applied_at=NOW - dt.timedelta(days=29),
            jss_outcome=outcome,
        )
        RequestEvent.objects.create(request=ticket, kind="applied", created_at=NOW, message="Applied.")
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO jss_jssexclusion (contract_id, removal_request_id, created_at) VALUES (%s, %s, %s)"
                " RETURNING id",
                [contract.pk, ticket.pk, NOW - dt.timedelta(days=29)],
            )
            tickets[ticket.pk] = (cursor.fetchone()[0], contract.pk, outcome)
    # A ticket without an exclusion (still open) keeps none.
    open_ticket = RemovalRequest.objects.create(
        ticket_number="123456789",
        contract=Contract.objects.create(
            number="70009",
            title="Open",
            freelancer=freelancer,
            client=client,
            platform="upwork",
            started_on=dt.date(2026, 1, 1),
            total_charged=Decimal("1.00"),
        ),
        freelancer=freelancer,
        requested_by=user,
        scope="jss_only",
        status="submitted",
        submitted_at=NOW,
        sla_due_at=NOW + dt.timedelta(days=7),
    )

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from jss.models import JssExclusion
    from requests_app.models import RemovalRequest as Ticket
    from requests_app.models import RequestEvent as Event

    assert "removal_request_id" not in columns("jss_jssexclusion")
    assert JssExclusion.objects.count() == 3
    assert Event.objects.count() == 3
    for ticket_pk, (exclusion_pk, contract_pk, outcome) in tickets.items():
        ticket = Ticket.objects.select_related("exclusion").get(pk=ticket_pk)
        assert ticket.exclusion_id == exclusion_pk
        assert ticket.exclusion.contract_id == contract_pk
        assert ticket.jss_outcome == ticket.exclusion.outcome == outcome
        expected_as_of = None if outcome == "pending" else dt.date(2026, 11, 20)
        assert ticket.exclusion.outcome_as_of == expected_as_of
        assert ticket.exclusion.removal_request == ticket
    assert Ticket.objects.get(pk=open_ticket.pk).exclusion_id is None


def test_a_database_made_since_has_nothing_to_carry():
    migrate(OLD)
    assert "removal_request_id" not in columns("jss_jssexclusion")
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert "exclusion_id" in columns("requests_app_removalrequest")
    assert {"outcome", "outcome_as_of"} <= columns("jss_jssexclusion")
