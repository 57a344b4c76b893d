"""The Celery app. Tasks are DjangoTask so ``delay_on_commit`` exists on every one of them.

Worker and beat log the same JSON lines as the web (Django's ``LOGGING``, not Celery's own root-logger
setup), with the task's name, id and ticket number, and refuse unsafe production settings at start."""

import logging
import logging.config
import os
import sys

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "perkdesk.settings")

app = Celery("perkdesk", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("celery.perkdesk")
# Python warnings (Celery's "running as root" comes before its logging setup) as JSON log lines, not raw stderr.
logging.captureWarnings(True)


@signals.setup_logging.connect(dispatch_uid="perkdesk.celery.logging")
def use_django_logging(loglevel=None, **kwargs):
    """Connected, so Celery leaves the root logger alone: every line goes through Django's JSON handler."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
    _say_through_the_log()


def _say_through_the_log():
    """The worker prints a few words on its own on shutdown ("worker: Warm shutdown"); send them as log lines."""
    import celery.apps.worker as worker_module

    def say(message, file=None):
        logger.warning(str(message).strip())

    worker_module.safe_say = say


@signals.worker_init.connect(dispatch_uid="perkdesk.celery.worker_checks")
@signals.beat_init.connect(dispatch_uid="perkdesk.celery.beat_checks")
def refuse_unsafe_settings(**kwargs):
    """Celery logs and swallows a signal handler's exception, so leave with SystemExit (which it lets through)."""
    from django.core.management.base import SystemCheckError

    from perkdesk.ops.checks import refuse_unsafe_production_settings

    try:
        refuse_unsafe_production_settings()
    except SystemCheckError as error:
        logger.critical(str(error))
        print(str(error), file=sys.stderr, flush=True)
        raise SystemExit(1) from error


@signals.task_prerun.connect(dispatch_uid="perkdesk.celery.ticket")
def remember_the_ticket(task=None, args=None, **kwargs):
    """Tasks about one ticket take its id first: log lines of the run carry its ticket number."""
    ticket = ""
    if task is None or task.request.is_eager:  # in-process (development, tests): no extra query
        return
    if task.name.startswith("requests_app.") and args and isinstance(args[0], int):
        try:
            from requests_app.models import RemovalRequest

            ticket = RemovalRequest.objects.filter(pk=args[0]).values_list("ticket_number", flat=True).first() or ""
        except Exception:  # noqa: BLE001 - a missing ticket number never stops the task
            ticket = ""
    task.request.perkdesk_ticket = ticket
