"""The two support groups with their permissions, made by a migration so production has them too."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_MODELS = {
    "marketplace": ["freelancer", "agency", "agencymembership", "client", "contract", "feedback", "topratedperiod"],
    "jss": ["jssexclusion", "scoresnapshot", "scoreupdate"],
    "requests_app": ["removalrequest", "requestevent"],
}
AGENT_ACTIONS = ["claim_removalrequest", "add_note_removalrequest", "approve_removalrequest", "reject_removalrequest"]
LEAD_ACTIONS = AGENT_ACTIONS + ["reassign_removalrequest", "view_reports"]
GROUPS = {"Support agents": AGENT_ACTIONS, "Support leads": LEAD_ACTIONS}


def create_groups(apps, schema_editor):
    # Permissions normally appear after all migrations (post_migrate); make them now so we can grant them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, actions in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for app_label, models in VIEW_MODELS.items():
            for model in models:
                wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=f"view_{model}"))
        for codename in actions:
            wanted.append(Permission.objects.get(content_type__app_label="requests_app", codename=codename))
        group.permissions.set(wanted)


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
