"""Exclusions are permanent (the policy: "You can't undo the exclusion"). On PostgreSQL the database itself
refuses to delete or change one, whatever code path tries; on SQLite the model and queryset guards remain."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION jss_exclusion_is_permanent() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'perk exclusions are permanent: % on jss_jssexclusion refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER jss_exclusion_permanent
    BEFORE UPDATE OR DELETE ON jss_jssexclusion
    FOR EACH ROW EXECUTE FUNCTION jss_exclusion_is_permanent();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS jss_exclusion_permanent ON jss_jssexclusion;
DROP FUNCTION IF EXISTS jss_exclusion_is_permanent();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("jss", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
