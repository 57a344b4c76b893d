"""The Celery app. Tasks are DjangoTask so ``delay_on_commit`` exists on every one of them."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "perkdesk.settings")

app = Celery("perkdesk", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
