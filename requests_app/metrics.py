"""The ticket figures /metrics exports: tickets by status, and the open ones at risk of or past the promise."""

from django.db.models import Count
from django.utils import timezone

from requests_app import reports
from requests_app.domain import STATUSES
from requests_app.models import RemovalRequest


def ticket_figures(*, now=None):
    now = now or timezone.now()
    by_status = dict(RemovalRequest.objects.order_by().values_list("status").annotate(n=Count("pk")))
    urgent = reports.open_requests().aggregate(
        at_risk=Count("pk", filter=reports.at_risk_q(now)), breached=Count("pk", filter=reports.breached_q(now))
    )
    figures = [
        ("perkdesk_tickets", "Removal requests by status.", {"status": status}, by_status.get(status, 0))
        for status in STATUSES
    ]
    figures.append(("perkdesk_tickets_at_risk", "Open tickets near the SLA deadline.", {}, urgent["at_risk"]))
    figures.append(("perkdesk_tickets_breached", "Open tickets past the SLA deadline.", {}, urgent["breached"]))
    return figures
