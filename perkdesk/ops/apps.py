from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "perkdesk.ops"
    label = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from perkdesk.ops import checks, errors  # noqa: F401 - registers the system checks and error signals
