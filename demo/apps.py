from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data of ``make run`` (``seed_demo``): it sits above every app and is imported by none."""

    name = "demo"
    label = "demo"
    verbose_name = "Demo data"
