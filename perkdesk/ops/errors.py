"""Someone is told when work is lost: a task out of retries mails ``ADMINS`` (a 500 does too, through the
``mail_admins`` log handler in settings). With ``SENTRY_DSN`` set, Sentry's Celery integration reports it
instead."""

import logging

from celery.signals import task_failure
from django.conf import settings
from django.core.mail import mail_admins

logger = logging.getLogger(__name__)


@task_failure.connect(dispatch_uid="perkdesk.ops.errors.task_out_of_retries")
def task_out_of_retries(sender=None, task_id=None, exception=None, args=None, kwargs=None, **extra):
    if getattr(settings, "SENTRY_DSN", "") or not settings.ADMINS:
        return
    name = getattr(sender, "name", str(sender))
    retries = getattr(getattr(sender, "request", None), "retries", 0)
    mail_admins(
        f"Task {name} failed after {retries} retries",
        f"Task {name}[{task_id}] gave up with {exception!r}.\nargs={args!r} kwargs={kwargs!r}\n\n"
        "The sweep retries approvals and emails that are still owed; anything else needs a person.",
        fail_silently=True,
    )
