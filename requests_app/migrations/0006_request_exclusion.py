"""The link between a ticket and its exclusion moves from ``jss.JssExclusion.removal_request`` to
``RemovalRequest.exclusion`` (SPEC §3: jss knows nothing of tickets), and each exclusion takes its ticket's
``jss_outcome`` as its own ``outcome``.

Databases made before 2026-12-07 still have ``jss_jssexclusion.removal_request_id`` (jss 0001 no longer
creates it): this carries every pair across, then drops that column with its foreign key. A database made
since has no such column and nothing to carry. Reversing restores no column (the link stays on the ticket)."""

import django.db.models.deletion
from django.db import migrations, models

LEGACY_COLUMN = "removal_request_id"


def _has_legacy_column(schema_editor, table):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, table)
    return any(column.name == LEGACY_COLUMN for column in columns)


def carry_links_across(apps, schema_editor):
    JssExclusion = apps.get_model("jss", "JssExclusion")
    RemovalRequest = apps.get_model("requests_app", "RemovalRequest")
    ScoreUpdate = apps.get_model("jss", "ScoreUpdate")
    exclusions = JssExclusion._meta.db_table
    if not _has_legacy_column(schema_editor, exclusions):
        return
    requests = RemovalRequest._meta.db_table
    last_update = (
        ScoreUpdate.objects.filter(finished_at__isnull=False).order_by("-as_of").values_list("as_of", flat=True)
    ).first()
    # Names from the models, not input; set-based, so a big table is carried in two statements.
    schema_editor.execute(
        f"UPDATE {requests} SET exclusion_id = (SELECT e.id FROM {exclusions} e"  # noqa: S608
        f" WHERE e.{LEGACY_COLUMN} = {requests}.id) WHERE id IN (SELECT {LEGACY_COLUMN} FROM {exclusions})"
    )
    schema_editor.execute(
        f"UPDATE {exclusions} SET outcome = (SELECT r.jss_outcome FROM {requests} r"  # noqa: S608
        f" WHERE r.id = {exclusions}.{LEGACY_COLUMN}), outcome_as_of = %s"
        f" WHERE {LEGACY_COLUMN} IN (SELECT id FROM {requests} WHERE jss_outcome <> 'pending')",
        params=[last_update],
    )
    legacy = models.BigIntegerField(db_column=LEGACY_COLUMN)
    legacy.set_attributes_from_name("removal_request")
    legacy.model = JssExclusion
    schema_editor.remove_field(JssExclusion, legacy)


class Migration(migrations.Migration):
    dependencies = [
        ("jss", "0007_exclusion_outcome"),
        ("requests_app", "0005_event_time_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="removalrequest",
            name="exclusion",
            field=models.OneToOneField(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="removal_request",
                to="jss.jssexclusion",
            ),
        ),
        migrations.RunPython(carry_links_across, migrations.RunPython.noop),
    ]
