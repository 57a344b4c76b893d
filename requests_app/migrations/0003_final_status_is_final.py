"""Applied, rejected and withdrawn are final ("There is no undo"). On PostgreSQL the database refuses to
move a request out of a final status, so no admin page, script or bug can revert an applied request."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION requests_final_status_is_final() RETURNS trigger AS $$
BEGIN
    IF OLD.status IN ('applied', 'rejected', 'withdrawn') AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'removal request % is %, a final status', OLD.ticket_number, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER requests_final_status_is_final
    BEFORE UPDATE OF status ON requests_app_removalrequest
    FOR EACH ROW EXECUTE FUNCTION requests_final_status_is_final();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS requests_final_status_is_final ON requests_app_removalrequest;
DROP FUNCTION IF EXISTS requests_final_status_is_final();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0002_support_groups")]

    operations = [migrations.RunPython(forward, backward)]
