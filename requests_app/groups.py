"""The support groups and what each may do (SPEC §7). Made by a data migration, and kept in step after
every migrate or flush by a post_migrate hook, so neither production nor a test database lacks them."""

from django.contrib.auth.management import create_permissions
from django.db.models import Q

VIEW_MODELS = {
    "marketplace": ["freelancer", "agency", "agencymembership", "client", "contract", "feedback", "topratedperiod"],
    "jss": ["jssexclusion", "scoresnapshot", "scoreupdate", "scoreupdatechunk", "topratedevaluation"],
    "requests_app": ["removalrequest", "requestevent"],
}
AGENT_ACTIONS = ["claim_removalrequest", "add_note_removalrequest", "approve_removalrequest", "reject_removalrequest"]
LEAD_ACTIONS = AGENT_ACTIONS + ["reassign_removalrequest", "view_reports"]
GROUPS = {"Support agents": AGENT_ACTIONS, "Support leads": LEAD_ACTIONS}


def sync_support_groups(apps):
    """Create the groups and set exactly their permissions; `apps` is a migration's or the global registry."""
    for app_config in apps.get_app_configs():
        # Permissions normally appear after all migrations (post_migrate); make them now to grant them.
        had_models = getattr(app_config, "models_module", None)
        app_config.models_module = had_models or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = had_models

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, actions in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        # filter, not get: a model added by a later migration has no permission yet when the data migration
        # runs; the post_migrate sync grants it once it exists.
        view = Q()
        for app_label, models in VIEW_MODELS.items():
            view |= Q(content_type__app_label=app_label, codename__in=[f"view_{model}" for model in models])
        wanted = list(Permission.objects.filter(view))
        wanted += Permission.objects.filter(content_type__app_label="requests_app", codename__in=actions)
        group.permissions.set(wanted)
