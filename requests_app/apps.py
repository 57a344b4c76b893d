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

        from jss.signals import outcomes_changed
        from outbox.signals import email_sent
        from requests_app import receivers

        outcomes_changed.connect(receivers.record_jss_outcomes, dispatch_uid="requests_app.record_jss_outcomes")
        email_sent.connect(receivers.note_email_sent, dispatch_uid="requests_app.note_email_sent")
