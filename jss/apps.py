from django.apps import AppConfig


class JssConfig(AppConfig):
    name = "jss"
    label = "jss"
    verbose_name = "Job Success Score"
