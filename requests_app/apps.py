from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_groups(sender, apps=None, **kwargs):
    from django.apps import apps as global_apps

    from requests_app.groups import sync_support_groups

    sync_support_groups(apps or global_apps)


class RequestsAppConfig(AppConfig):
    name = "requests_app"
    label = "requests_app"
    verbose_name = "Feedback removal requests"

    def ready(self):
        post_migrate.connect(_sync_groups, sender=self, dispatch_uid="requests_app.sync_support_groups")
