"""The contract carries a copy of its feedback's public rating and private score, kept by the database itself.

The scheduled JSS update reads each chunk of subjects from one covering index of the contracts (issue 17):
with the feedback in another table it had to join it, and a join per chunk costs more than the whole
chunk. So the two facts the JSS reads are copied onto the contract by triggers, on PostgreSQL and SQLite:
whatever writes a feedback row (the importer, the admin, raw SQL, a bulk load) updates its contract, and
whatever writes a contract row (a stale ``save()`` included) gets the values from its feedback again. The
Feedback row stays the source; ``tests/marketplace/test_feedback_copy.py`` holds the copy equal to it.

The triggers are made first, then existing rows are copied. On a large marketplace this migration rewrites the
contracts table once and builds its indexes while holding the table: docs/capacity.md says how to run it there."""

from django.db import migrations, models

POSTGRES = """
CREATE OR REPLACE FUNCTION marketplace_contract_feedback_copy() RETURNS trigger AS $$
BEGIN
    SELECT f.public_rating, f.private_score INTO NEW.feedback_public_rating, NEW.feedback_private_score
    FROM marketplace_feedback f WHERE f.contract_id = NEW.id;
    IF NOT FOUND THEN
        NEW.feedback_public_rating := NULL;
        NEW.feedback_private_score := NULL;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- Only when a write names the copy (an INSERT, a save() of every column, the feedback trigger below): an
-- importer's update of other columns runs no lookup.
CREATE TRIGGER contract_feedback_copy
    BEFORE INSERT OR UPDATE OF feedback_public_rating, feedback_private_score ON marketplace_contract
    FOR EACH ROW EXECUTE FUNCTION marketplace_contract_feedback_copy();

CREATE OR REPLACE FUNCTION marketplace_feedback_to_contract() RETURNS trigger AS $$
BEGIN
    -- Touching the contract row is enough: its own trigger reads the feedback again.
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE marketplace_contract SET feedback_private_score = NULL WHERE id = OLD.contract_id;
    END IF;
    IF TG_OP = 'INSERT' THEN
        UPDATE marketplace_contract SET feedback_private_score = NULL WHERE id = NEW.contract_id;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.contract_id IS DISTINCT FROM OLD.contract_id THEN
            UPDATE marketplace_contract SET feedback_private_score = NULL WHERE id = NEW.contract_id;
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER feedback_to_contract
    AFTER INSERT OR DELETE ON marketplace_feedback
    FOR EACH ROW EXECUTE FUNCTION marketplace_feedback_to_contract();
CREATE TRIGGER feedback_to_contract_changed
    AFTER UPDATE OF contract_id, public_rating, private_score ON marketplace_feedback
    FOR EACH ROW WHEN ((OLD.contract_id, OLD.public_rating, OLD.private_score)
        IS DISTINCT FROM (NEW.contract_id, NEW.public_rating, NEW.private_score))
    EXECUTE FUNCTION marketplace_feedback_to_contract();

CREATE OR REPLACE FUNCTION marketplace_feedback_truncated() RETURNS trigger AS $$
BEGIN
    UPDATE marketplace_contract SET feedback_public_rating = NULL, feedback_private_score = NULL
    WHERE feedback_public_rating IS NOT NULL OR feedback_private_score IS NOT NULL;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER feedback_truncated
    AFTER TRUNCATE ON marketplace_feedback
    FOR EACH STATEMENT EXECUTE FUNCTION marketplace_feedback_truncated();
"""
POSTGRES_BACKFILL = """
UPDATE marketplace_contract c SET feedback_public_rating = f.public_rating, feedback_private_score = f.private_score
FROM marketplace_feedback f WHERE f.contract_id = c.id
"""
POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS feedback_truncated ON marketplace_feedback;
DROP FUNCTION IF EXISTS marketplace_feedback_truncated();
DROP TRIGGER IF EXISTS feedback_to_contract_changed ON marketplace_feedback;
DROP TRIGGER IF EXISTS feedback_to_contract ON marketplace_feedback;
DROP FUNCTION IF EXISTS marketplace_feedback_to_contract();
DROP TRIGGER IF EXISTS contract_feedback_copy ON marketplace_contract;
DROP FUNCTION IF EXISTS marketplace_contract_feedback_copy();
"""

_FROM_FEEDBACK = """UPDATE marketplace_contract SET
        feedback_public_rating = (SELECT public_rating FROM marketplace_feedback WHERE contract_id = marketplace_contract.id),
        feedback_private_score = (SELECT private_score FROM marketplace_feedback WHERE contract_id = marketplace_contract.id)"""
# SQLite: AFTER triggers that write the row again (a trigger does not fire itself: recursive_triggers is off).
# A later migration that makes Django rebuild marketplace_contract or marketplace_feedback on SQLite (most
# AlterField operations) fails on these triggers, which name the other table: such a migration drops them
# first (SQLITE_TRIGGERS) and creates them again after (SQLITE).
SQLITE = [
    f"CREATE TRIGGER contract_feedback_copy_insert AFTER INSERT ON marketplace_contract "
    f"BEGIN {_FROM_FEEDBACK} WHERE id = NEW.id; END",
    f"CREATE TRIGGER contract_feedback_copy_update AFTER UPDATE OF feedback_public_rating, feedback_private_score "
    f"ON marketplace_contract "
    f"BEGIN {_FROM_FEEDBACK} WHERE id = NEW.id; END",
    f"CREATE TRIGGER feedback_to_contract_insert AFTER INSERT ON marketplace_feedback "
    f"BEGIN {_FROM_FEEDBACK} WHERE id = NEW.contract_id; END",
    f"CREATE TRIGGER feedback_to_contract_update AFTER UPDATE OF contract_id, public_rating, private_score "
    f"ON marketplace_feedback WHEN OLD.contract_id IS NOT NEW.contract_id OR OLD.public_rating IS NOT "
    f"NEW.public_rating OR OLD.private_score IS NOT NEW.private_score "
    f"BEGIN {_FROM_FEEDBACK} WHERE id IN (OLD.contract_id, NEW.contract_id); END",
    f"CREATE TRIGGER feedback_to_contract_delete AFTER DELETE ON marketplace_feedback "
    f"BEGIN {_FROM_FEEDBACK} WHERE id = OLD.contract_id; END",
]
SQLITE_TRIGGERS = [statement.split()[2] for statement in SQLITE]


def forward(apps, schema_editor):
    # The triggers first, then the copy of what is there: a feedback row written in between is not missed.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
        schema_editor.execute(POSTGRES_BACKFILL)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)
        schema_editor.execute(f"{_FROM_FEEDBACK} WHERE id IN (SELECT contract_id FROM marketplace_feedback)")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE)
    elif schema_editor.connection.vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="contract",
            name="feedback_private_score",
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="contract",
            name="feedback_public_rating",
            field=models.DecimalField(decimal_places=2, editable=False, max_digits=3, null=True),
        ),
        migrations.RunPython(forward, backward),
        migrations.AddIndex(
            model_name="client",
            index=models.Index(
                condition=models.Q(("flagged", True), ("suspended_for_tos", True), _connector="OR"),
                fields=["id"],
                name="client_flagged_or_tos",
            ),
        ),
        migrations.AddIndex(
            model_name="contract",
            index=models.Index(
                condition=models.Q(("agency__isnull", True)),
                fields=["freelancer", "client"],
                include=(
                    "id",
                    "started_on",
                    "ended_on",
                    "last_payment_on",
                    "total_charged",
                    "disputed",
                    "feedback_public_rating",
                    "feedback_private_score",
                ),
                name="contract_jss_freelancer",
            ),
        ),
        migrations.AddIndex(
            model_name="contract",
            index=models.Index(
                condition=models.Q(("agency__isnull", False)),
                fields=["agency", "client"],
                include=(
                    "id",
                    "started_on",
                    "ended_on",
                    "last_payment_on",
                    "total_charged",
                    "disputed",
                    "feedback_public_rating",
                    "feedback_private_score",
                ),
                name="contract_jss_agency",
            ),
        ),
    ]
