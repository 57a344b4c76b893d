"""Each exclusion carries the latest scheduled update's verdict (``outcome``, ``outcome_as_of``), so jss
records it on its own row and tells requests_app with a signal instead of writing tickets (SPEC §3).

The permanence trigger now refuses DELETE and any UPDATE that touches more than those two columns."""

from django.db import migrations, models

PERMANENT_BUT_OUTCOME = """
CREATE OR REPLACE FUNCTION jss_exclusion_is_permanent() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.contract_id = OLD.contract_id
            AND NEW.created_at = OLD.created_at THEN
        RETURN NEW;  -- a scheduled update's verdict: outcome and outcome_as_of only
    END IF;
    RAISE EXCEPTION 'perk exclusions are permanent: % on jss_jssexclusion refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""
FULLY_PERMANENT = """
CREATE OR REPLACE FUNCTION jss_exclusion_is_permanent() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'perk exclusions are permanent: % on jss_jssexclusion refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PERMANENT_BUT_OUTCOME, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FULLY_PERMANENT, params=None)


class Migration(migrations.Migration):
    dependencies = [("jss", "0006_snapshot_detail_as_json_text")]

    operations = [
        migrations.AddField(
            model_name="jssexclusion",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("pending", "Pending the next JSS update"),
                    ("excluded", "Excluded from the JSS"),
                    ("kept_no_harm", "Kept in the JSS (removing it would lower the score)"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="jssexclusion",
            name="outcome_as_of",
            field=models.DateField(blank=True, help_text="The scheduled update that decided it.", null=True),
        ),
        migrations.AddConstraint(
            model_name="jssexclusion",
            constraint=models.CheckConstraint(
                condition=models.Q(("outcome__in", ["pending", "excluded", "kept_no_harm"])),
                name="exclusion_outcome_valid",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
