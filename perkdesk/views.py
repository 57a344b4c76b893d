"""Project-level pages: the landing redirect after login, the CSRF refusal page and the health probe."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from perkdesk.celery import app as celery_app


@login_required
def home(request):
    """Staff work the desk; everyone else starts at their tickets."""
    return redirect("requests_app:desk" if request.user.is_staff else "requests_app:my_requests")


class SignOutView(auth_views.LogoutView):
    """Sign out by POST (Django's LogoutView); a GET of the address, such as a bookmarked or typed link, shows a
    page with the sign-out button instead of a bare 405. Afterwards the sign-in page says it happened."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect("login")
        return render(request, "registration/logout_confirm.html")

    def post(self, request, *args, **kwargs):
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:
            messages.success(request, "You have signed out.")
        return response


def csrf_failure(request, reason=""):
    """A refused form (CSRF_FAILURE_VIEW): the site's own page, with the signed-in user's menu, saying that
    nothing changed and how to try again (the middleware has already logged the reason)."""
    return render(request, "403_csrf.html", status=403)


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any failure means "down" for a probe
        return "down"
    return "ok"


def _broker_state() -> str:
    if celery_app.conf.task_always_eager:
        return "eager"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
    except Exception:  # noqa: BLE001
        return "down"
    return "ok"


@never_cache
@require_safe
def healthz(request):
    """200 while the database answers; the broker is reported but does not fail the probe, because the
    sweep catches up on anything queued while it was away."""
    database = _database_state()
    broker = _broker_state()
    status = 200 if database == "ok" else 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "down", "database": database, "broker": broker}, status=status
    )
