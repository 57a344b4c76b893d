"""The timeline is append-only (SPEC §3): on PostgreSQL the database refuses to change or delete an event,
whatever code path tries (like the exclusions' trigger, jss 0002). Bench scripts that rebuild their own data
disable the trigger for that one transaction (bench/bulkload.py ``timeline_unguarded``)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION request_event_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'request events are append-only: % on requests_app_requestevent refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER request_event_append_only
    BEFORE UPDATE OR DELETE ON requests_app_requestevent
    FOR EACH ROW EXECUTE FUNCTION request_event_is_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS request_event_append_only ON requests_app_requestevent;
DROP FUNCTION IF EXISTS request_event_is_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0007_event_data")]

    operations = [migrations.RunPython(forward, backward)]
