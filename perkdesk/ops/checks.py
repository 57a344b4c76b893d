"""Production refuses to start on settings that lose data or leak it (SPEC §7, issue 13): system checks at
error level, run by ``manage.py`` commands (migrate included), by gunicorn through ``perkdesk.wsgi`` and by
the Celery worker and beat at start. Development is never checked here."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}
UNSENT_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}
DEV_SECRET_KEY = "dev-only-insecure-key-not-for-production"


@register("perkdesk")
def production_settings(app_configs=None, **kwargs):
    if not getattr(settings, "PRODUCTION", False):
        return []
    errors = []
    for alias, cache in settings.CACHES.items():
        if cache["BACKEND"] in PER_PROCESS_CACHES:
            errors.append(
                Error(
                    f"The {alias!r} cache is {cache['BACKEND'].rsplit('.', 1)[-1]}, a cache of each process: "
                    "rate limits would count per worker.",
                    hint="Set REDIS_URL (e.g. redis://redis:6379/1) to a Redis database for the cache.",
                    id="perkdesk.E001",
                )
            )
    if settings.EMAIL_BACKEND in UNSENT_EMAIL_BACKENDS:
        errors.append(
            Error(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: freelancers' emails would never be delivered.",
                hint="Set EMAIL_URL to your mail server, e.g. smtp://user:password@mail.example:587/?tls=True.",
                id="perkdesk.E002",
            )
        )
    if settings.DEBUG:
        errors.append(
            Error(
                "DEBUG is on: error pages would show settings and code to anyone.",
                hint="Unset DJANGO_DEBUG (or set DJANGO_DEBUG=false) in production.",
                id="perkdesk.E003",
            )
        )
    try:
        secret = settings.SECRET_KEY
    except ImproperlyConfigured:
        secret = ""
    if not secret or secret == DEV_SECRET_KEY or secret.startswith("django-insecure-") or len(secret) < 50:
        errors.append(
            Error(
                "DJANGO_SECRET_KEY is missing, the development default, or shorter than 50 characters.",
                hint='Set DJANGO_SECRET_KEY to a long random value, e.g. python -c "import secrets; '
                'print(secrets.token_urlsafe(60))".',
                id="perkdesk.E004",
            )
        )
    return errors


def refuse_unsafe_production_settings():
    """For the processes that run no management command (gunicorn, Celery): raise like ``manage.py check``."""
    from django.core.checks import run_checks
    from django.core.management.base import SystemCheckError

    if not getattr(settings, "PRODUCTION", False):
        return
    errors = [e for e in run_checks(tags=["perkdesk"]) if e.is_serious()]
    if errors:
        raise SystemCheckError(
            "PerkDesk refuses to start in production:\n" + "\n".join(f"{e.id}: {e.msg} HINT: {e.hint}" for e in errors)
        )
