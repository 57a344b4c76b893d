"""The two support groups with their permissions, made by a migration so production has them too."""

from django.db import migrations

from requests_app.groups import GROUPS, sync_support_groups


def create_groups(apps, schema_editor):
    sync_support_groups(apps)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("marketplace", "0001_initial"),
        ("jss", "0001_initial"),
        ("requests_app", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
