"""Project-level pages: the landing redirect after login, the CSRF refusal page and the health probe."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from perkdesk.ops import health, heartbeats
from perkdesk.ops import metrics as ops_metrics
from requests_app.metrics import ticket_figures


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


@never_cache
@require_safe
def healthz(request):
    """200 when the database, the cache (Redis: sessions' neighbour, rate limits) and the broker answer, else
    503, within 3 seconds whatever hangs. Anonymous callers (load balancers) get the status only; staff and
    the operator's token (``OPS_TOKEN``) also get each part and the heartbeats of beat and the sweep."""
    states = health.probe()
    up = all(state in ("ok", "none", "eager") for state in states.values())
    body = {"status": "ok" if up else "down"}
    try:
        detailed = health.authorised(request)
    except Exception:  # noqa: BLE001 - the user lookup needs the database, which may be the thing that is down
        detailed = False
    if detailed:
        body.update(states)
        if states["database"] == "ok":
            for name in (heartbeats.BEAT, heartbeats.SWEEP):
                pulse = heartbeats.pulse(name)
                body[name] = {
                    "last": pulse.last.isoformat() if pulse.last else None,
                    "age_seconds": int(pulse.age.total_seconds()) if pulse.age is not None else None,
                    "stale": pulse.stale,
                }
    return JsonResponse(body, status=200 if up else 503)


@never_cache
@require_safe
def metrics(request):
    """Prometheus exposition: request latency by view, tickets by status, at-risk and breached counts, when the
    sweep and beat last ran, the Celery queue depth. Staff or the operator's token only: 403 for anyone else."""
    if not health.authorised(request):
        return HttpResponseForbidden("Metrics are for staff and the monitoring token (OPS_TOKEN).")
    from prometheus_client import CONTENT_TYPE_LATEST

    return HttpResponse(ops_metrics.exposition(ticket_figures()), content_type=CONTENT_TYPE_LATEST)
