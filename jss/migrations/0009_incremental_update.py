"""The incremental scheduled update (issue 17 item 2): each snapshot's ``stable_until``, each update's change-log
watermark and base, and the change log itself, kept by database triggers on PostgreSQL and SQLite.

Whatever writes the rows the score reads (the ORM, the admin, an importer's raw SQL) logs the subjects they
belong to in ``jss_jsssubjectchange``:

- a contract inserted, deleted, or updated in a column the score reads (``marketplace.models.JSS_FACTS``, the
  client, the subject columns, the feedback copy the feedback triggers of marketplace 0002 keep): its subject,
  before and after when the subject changes;
- a client's ``flagged`` / ``suspended_for_tos`` changed: every subject with a contract with that client;
- a perk exclusion made or removed: its contract's subject.

PostgreSQL logs contract writes once per statement from its transition tables (a bulk insert of N contracts
adds one INSERT ... SELECT DISTINCT, not N); SQLite once per row. A bulk load run with
``session_replication_role = replica`` skips triggers: the update after it must be a full one
(``recalculate_jss --full``), docs/capacity.md.

SQLite: like marketplace 0002's, these triggers name other tables; a later migration that makes Django rebuild
``marketplace_contract``, ``marketplace_client`` or ``jss_jssexclusion`` drops them first (SQLITE_TRIGGERS) and
creates them again after (SQLITE)."""

import django.db.models.deletion
from django.db import migrations, models

LOG = "jss_jsssubjectchange"
# The contract columns the score reads, its subject's included (marketplace.models.JSS_FACTS but the id).
CONTRACT_COLUMNS = (
    "freelancer_id",
    "agency_id",
    "client_id",
    "started_on",
    "ended_on",
    "last_payment_on",
    "total_charged",
    "disputed",
    "feedback_public_rating",
    "feedback_private_score",
)


def _subject(row: str) -> str:
    """(kind, subject id) of a contract row: an agency's contract counts for the agency only."""
    kind = f"CASE WHEN {row}.agency_id IS NULL THEN 'freelancer' ELSE 'agency' END"
    return f"{kind}, COALESCE({row}.agency_id, {row}.freelancer_id)"


def _tuple(row: str) -> str:
    return "(" + ", ".join(f"{row}.{column}" for column in CONTRACT_COLUMNS) + ")"


POSTGRES = f"""
CREATE OR REPLACE FUNCTION jss_log_contracts_inserted() RETURNS trigger AS $$
BEGIN
    INSERT INTO {LOG} (kind, subject_id) SELECT DISTINCT {_subject("n")} FROM jss_new_rows n;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER jss_contracts_inserted AFTER INSERT ON marketplace_contract
    REFERENCING NEW TABLE AS jss_new_rows FOR EACH STATEMENT EXECUTE FUNCTION jss_log_contracts_inserted();

CREATE OR REPLACE FUNCTION jss_log_contracts_deleted() RETURNS trigger AS $$
BEGIN
    INSERT INTO {LOG} (kind, subject_id) SELECT DISTINCT {_subject("o")} FROM jss_old_rows o;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER jss_contracts_deleted AFTER DELETE ON marketplace_contract
    REFERENCING OLD TABLE AS jss_old_rows FOR EACH STATEMENT EXECUTE FUNCTION jss_log_contracts_deleted();

-- An UPDATE trigger with transition tables cannot name columns: it compares them itself.
CREATE OR REPLACE FUNCTION jss_log_contracts_updated() RETURNS trigger AS $$
BEGIN
    INSERT INTO {LOG} (kind, subject_id)
    SELECT DISTINCT s.kind, s.subject_id
    FROM jss_old_rows o JOIN jss_new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES ({_subject("o")}), ({_subject("n")})) AS s(kind, subject_id)
    WHERE {_tuple("o")} IS DISTINCT FROM {_tuple("n")};
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER jss_contracts_updated AFTER UPDATE ON marketplace_contract
    REFERENCING OLD TABLE AS jss_old_rows NEW TABLE AS jss_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION jss_log_contracts_updated();

CREATE OR REPLACE FUNCTION jss_log_client_flags() RETURNS trigger AS $$
BEGIN
    INSERT INTO {LOG} (kind, subject_id)
    SELECT DISTINCT {_subject("c")} FROM marketplace_contract c WHERE c.client_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER jss_client_flags_changed AFTER UPDATE OF flagged, suspended_for_tos ON marketplace_client
    FOR EACH ROW WHEN ((OLD.flagged, OLD.suspended_for_tos) IS DISTINCT FROM (NEW.flagged, NEW.suspended_for_tos))
    EXECUTE FUNCTION jss_log_client_flags();

CREATE OR REPLACE FUNCTION jss_log_exclusion() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO {LOG} (kind, subject_id)
        SELECT {_subject("c")} FROM marketplace_contract c WHERE c.id = OLD.contract_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO {LOG} (kind, subject_id)
        SELECT {_subject("c")} FROM marketplace_contract c WHERE c.id = NEW.contract_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER jss_exclusion_changed AFTER INSERT OR DELETE OR UPDATE OF contract_id ON jss_jssexclusion
    FOR EACH ROW EXECUTE FUNCTION jss_log_exclusion();
"""
POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS jss_exclusion_changed ON jss_jssexclusion;
DROP FUNCTION IF EXISTS jss_log_exclusion();
DROP TRIGGER IF EXISTS jss_client_flags_changed ON marketplace_client;
DROP FUNCTION IF EXISTS jss_log_client_flags();
DROP TRIGGER IF EXISTS jss_contracts_updated ON marketplace_contract;
DROP FUNCTION IF EXISTS jss_log_contracts_updated();
DROP TRIGGER IF EXISTS jss_contracts_deleted ON marketplace_contract;
DROP FUNCTION IF EXISTS jss_log_contracts_deleted();
DROP TRIGGER IF EXISTS jss_contracts_inserted ON marketplace_contract;
DROP FUNCTION IF EXISTS jss_log_contracts_inserted();
"""

_CHANGED = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in CONTRACT_COLUMNS)
SQLITE = [
    f"CREATE TRIGGER jss_contracts_inserted AFTER INSERT ON marketplace_contract "
    f"BEGIN INSERT INTO {LOG} (kind, subject_id) SELECT {_subject('NEW')}; END",
    f"CREATE TRIGGER jss_contracts_deleted AFTER DELETE ON marketplace_contract "
    f"BEGIN INSERT INTO {LOG} (kind, subject_id) SELECT {_subject('OLD')}; END",
    f"CREATE TRIGGER jss_contracts_updated AFTER UPDATE ON marketplace_contract WHEN {_CHANGED} "
    f"BEGIN INSERT INTO {LOG} (kind, subject_id) SELECT {_subject('OLD')} UNION SELECT {_subject('NEW')}; END",
    f"CREATE TRIGGER jss_client_flags_changed AFTER UPDATE OF flagged, suspended_for_tos ON marketplace_client "
    f"WHEN OLD.flagged IS NOT NEW.flagged OR OLD.suspended_for_tos IS NOT NEW.suspended_for_tos "
    f"BEGIN INSERT INTO {LOG} (kind, subject_id) SELECT DISTINCT {_subject('c')} FROM marketplace_contract c "
    f"WHERE c.client_id = NEW.id; END",
    f"CREATE TRIGGER jss_exclusion_inserted AFTER INSERT ON jss_jssexclusion "
    f"BEGIN INSERT INTO {LOG} (kind, subject_id) SELECT {_subject('c')} FROM marketplace_contract c "
    f"WHERE c.id = NEW.contract_id; END",
    f"CREATE TRIGGER jss_exclusion_deleted AFTER DELETE ON jss_jssexclusion "
    f"BEGIN INSERT INTO {LOG} (kind, subject_id) SELECT {_subject('c')} FROM marketplace_contract c "
    f"WHERE c.id = OLD.contract_id; END",
    f"CREATE TRIGGER jss_exclusion_moved AFTER UPDATE OF contract_id ON jss_jssexclusion "
    f"WHEN OLD.contract_id IS NOT NEW.contract_id "
    f"BEGIN INSERT INTO {LOG} (kind, subject_id) SELECT {_subject('c')} FROM marketplace_contract c "
    f"WHERE c.id IN (OLD.contract_id, NEW.contract_id); END",
]
SQLITE_TRIGGERS = [statement.split()[2] for statement in SQLITE]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE)
    elif schema_editor.connection.vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("jss", "0008_status_loss_notice_in_outbox"),
        ("marketplace", "0002_contract_feedback_copy"),
    ]

    operations = [
        migrations.AddField(
            model_name="scoresnapshot",
            name="stable_until",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="scoreupdate",
            name="change_watermark",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="scoreupdate",
            name="incremental_from",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="jss.scoreupdate",
            ),
        ),
        migrations.AddField(
            model_name="scoreupdate",
            name="planned_lsn",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AddField(
            model_name="scoreupdate",
            name="subjects_scored",
            field=models.PositiveIntegerField(default=0, help_text="Subjects scored (the rest were carried)."),
        ),
        migrations.AddField(
            model_name="scoreupdatechunk",
            name="subjects_scored",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.CreateModel(
            name="JssSubjectChange",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "kind",
                    models.CharField(choices=[("freelancer", "Freelancers"), ("agency", "Agencies")], max_length=16),
                ),
                ("subject_id", models.BigIntegerField()),
            ],
            options={
                "indexes": [models.Index(fields=["kind", "subject_id", "id"], name="subject_change_lookup")],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
