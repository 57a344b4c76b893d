"""The support desk page (/desk/): queues and SLA at a glance, and for leads the reports.

Staff with the queue's view permission see the queue counts and the breached and at-risk tickets; the
reports (SLA compliance, time to decision, outcomes, weekly throughput) and the per-agent figures over a
chosen period (/desk/reports/, also as CSV) need ``view_reports`` (Support leads). Every figure comes
from ``requests_app.reports`` (SQL aggregates); the charts are inline SVG
computed here, with no JavaScript.
"""

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from perkdesk.ops import heartbeats
from requests_app import reports
from requests_app.csv_download import streamed_csv
from requests_app.formatting import duration_text
from requests_app.services.decisions import display_name

CHART_HEIGHT = 120
CHART_TOP = 16  # room for value labels above the tallest bar
AXIS = 20  # room for the week labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: str
    title: str
    css: str

    @property
    def cx(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list
    labels: list  # (x, text)
    baseline: float


def compact(number: int) -> str:
    """A bar label that fits over a bar: 940, 6.5k, 12k."""
    if number < 1000:
        return str(number)
    return f"{number / 1000:.1f}k" if number < 10_000 else f"{number // 1000}k"


def throughput_chart(weeks) -> Chart:
    """Submitted and applied side by side for each week."""
    group, gap, bar = 44, 6, 18
    top = max([1, *(w.submitted for w in weeks), *(w.applied for w in weeks)])
    bars, labels = [], []
    for index, week in enumerate(weeks):
        left = index * group + gap / 2
        for offset, (value, css, what) in enumerate(
            ((week.submitted, "submitted", "submitted"), (week.applied, "applied", "applied"))
        ):
            height = CHART_HEIGHT * value / top
            bars.append(
                Bar(
                    x=left + offset * (bar + 2),
                    y=CHART_TOP + CHART_HEIGHT - height,
                    width=bar,
                    height=height,
                    value=compact(value) if value else "",
                    title=f"Week of {week.starts_on:%-d %b}: {value} {what}",
                    css=css,
                )
            )
        if (len(weeks) - 1 - index) % 2 == 0:  # every other week, ending with this one
            labels.append((left + bar + 1, f"{week.starts_on:%-d %b}"))
    return Chart(len(weeks) * group, CHART_TOP + CHART_HEIGHT + AXIS, bars, labels, CHART_TOP + CHART_HEIGHT)


def compliance_chart(weeks) -> Chart:
    """Share of the requests due each week that were applied on time (100 % = the full height)."""
    group, bar = 44, 28
    bars, labels = [], []
    for index, week in enumerate(weeks):
        left = index * group + (group - bar) / 2
        share = week.compliance
        if share is None:
            bars.append(
                Bar(
                    left,
                    CHART_TOP + CHART_HEIGHT - 2,
                    bar,
                    2,
                    "",
                    f"Week of {week.starts_on:%-d %b}: none due",
                    "none",
                )
            )
        else:
            height = max(2, CHART_HEIGHT * share)
            css = "ok" if share >= 0.9 else "warn" if share >= 0.75 else "bad"
            bars.append(
                Bar(
                    x=left,
                    y=CHART_TOP + CHART_HEIGHT - height,
                    width=bar,
                    height=height,
                    value=f"{share:.0%}",
                    title=f"Week of {week.starts_on:%-d %b}: {week.on_time} of {week.due} on time",
                    css=css,
                )
            )
        if (len(weeks) - 1 - index) % 2 == 0:  # every other week, ending with this one
            labels.append((left + bar / 2, f"{week.starts_on:%-d %b}"))
    return Chart(len(weeks) * group, CHART_TOP + CHART_HEIGHT + AXIS, bars, labels, CHART_TOP + CHART_HEIGHT)


def outcome_segments(outcome) -> list[tuple[str, str, int, float]]:
    """(css, label, count, percent width) of one window's stacked bar."""
    parts = [
        ("excluded", "Excluded", outcome.excluded),
        ("kept", "Kept (no harm)", outcome.kept_no_harm),
        ("pending", "Awaiting the JSS update", outcome.pending),
    ]
    total = sum(count for _, _, count in parts)
    return [(css, label, count, 100 * count / total if total else 0) for css, label, count in parts]


def _ticket_rows(tickets, now):
    change = "admin:requests_app_removalrequest_change"
    return [
        {
            "ticket": t,
            "who": t.agency.name if t.agency_id else t.freelancer.name,
            "when": duration_text(abs(t.sla_due_at - now)),
            "assignee": display_name(t.assigned_to) if t.assigned_to_id else "",
            "url": reverse(change, args=[t.pk]),
        }
        for t in tickets
    ]


@staff_member_required
def desk(request):
    if not request.user.has_perm("requests_app.view_removalrequest"):
        raise PermissionDenied
    now = timezone.now()
    counts = reports.queue_counts(user=request.user, now=now)
    changelist = reverse("admin:requests_app_removalrequest_changelist")
    context = {
        "now": now,
        "counts": counts,
        "queues": [
            (
                "Submitted, unassigned",
                counts.submitted_unassigned,
                f"{changelist}?status=submitted&assignee=unassigned",
                "",
            ),
            ("Mine", counts.mine, f"{changelist}?assignee=mine", ""),
            ("Approved, awaiting apply", counts.approved_waiting, f"{changelist}?status=approved", ""),
            (
                "Waiting on freelancer (SLA paused)",
                counts.waiting_on_freelancer,
                f"{changelist}?status=waiting_on_freelancer",
                "",
            ),
            ("At risk", counts.at_risk, f"{changelist}?sla=at_risk", "warn" if counts.at_risk else ""),
            ("Breached", counts.breached, f"{changelist}?sla=breached", "bad" if counts.breached else ""),
        ],
        "breached": _ticket_rows(reports.urgent_tickets(now=now, breached=True), now),
        "at_risk": _ticket_rows(reports.urgent_tickets(now=now, breached=False), now),
        "urgent_limit": reports.URGENT_LIMIT,
        "changelist": changelist,
        "at_risk_hours": int(reports.at_risk_window().total_seconds() // 3600),
        "sla_days": settings.PERK_SLA_DAYS,
        "can_see_reports": request.user.has_perm("requests_app.view_reports"),
        # If beat or the workers stop, SLA alerts and lost-message recovery stop with them: say so here.
        "sweep": heartbeats.pulse(heartbeats.SWEEP, now=now),
        "sweep_stale_minutes": int(heartbeats.STALE_AFTER[heartbeats.SWEEP].total_seconds() // 60),
    }
    if context["sweep"].age is not None:
        context["sweep_age"] = duration_text(context["sweep"].age)
    if context["can_see_reports"]:
        report = reports.desk_report(now=now)
        context.update(
            compliance=report.compliance,
            decision_times=[
                (figure, duration_text(figure.median) if figure.median is not None else "—")
                for figure in report.decision_times
            ],
            outcomes=[(figure, outcome_segments(figure)) for figure in report.outcomes],
            weeks=report.weeks,
            throughput=throughput_chart(report.weeks),
            compliance_weekly=compliance_chart(report.weeks),
        )
    return render(request, "requests_app/desk.html", context)


# --- per-agent figures over a period (/desk/reports/) ----------------------------------------------------

DEFAULT_DAYS = 30
MAX_DAYS = 366


class ReportPeriodForm(forms.Form):
    """From and to, both days included, in the site's time zone; by default the last 30 days to today."""

    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data, *, today):
        self.today = today
        super().__init__(data)

    def clean(self):
        cleaned = super().clean()
        end = cleaned.get("date_to") or self.today
        start = cleaned.get("date_from") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("“From” must be on or before “To”.")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        cleaned["date_from"], cleaned["date_to"] = start, end
        return cleaned

    def period(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end): midnight of the first day to midnight after the last, as aware moments."""
        start = self.cleaned_data["date_from"]
        end = self.cleaned_data["date_to"] + dt.timedelta(days=1)
        zone = timezone.get_current_timezone()
        return (
            dt.datetime.combine(start, dt.time.min, tzinfo=zone),
            dt.datetime.combine(end, dt.time.min, tzinfo=zone),
        )


def _lead_only(request):
    if not request.user.has_perm("requests_app.view_reports"):
        raise PermissionDenied


def _period_form(request):
    # Always bound: no dates at all is valid and means the default period.
    return ReportPeriodForm(request.GET, today=timezone.localdate())


def _shown(figures):
    """(figures, median as text, SLA kept as a percentage) for the page."""
    median = duration_text(figures.median) if figures.median is not None else "—"
    return figures, median, "—" if figures.sla_kept is None else f"{figures.sla_kept:.0%}"


@staff_member_required
def agent_report(request):
    _lead_only(request)
    form = _period_form(request)
    context = {"form": form, "sla_days": settings.PERK_SLA_DAYS}
    if form.is_valid():
        start, end = form.period()
        agents, total = reports.agent_figures(start=start, end=end)
        context.update(
            agents=[_shown(a) for a in agents],
            total=_shown(total),
            date_from=form.cleaned_data["date_from"],
            date_to=form.cleaned_data["date_to"],
            csv_url=reverse("requests_app:agent_report_csv")
            + f"?date_from={form.cleaned_data['date_from']:%Y-%m-%d}&date_to={form.cleaned_data['date_to']:%Y-%m-%d}",
        )
    return render(request, "requests_app/agent_report.html", context, status=200 if form.is_valid() else 400)


AGENT_CSV_HEADER = (
    "Agent",
    "Decisions",
    "Approved",
    "Rejected",
    "Median time to decision (hours)",
    "Decided by the deadline",
    "SLA kept (%)",
)


def _hours(delta):
    return "" if delta is None else f"{delta.total_seconds() / 3600:.2f}"


@staff_member_required
def agent_report_csv(request):
    _lead_only(request)
    form = _period_form(request)
    if not form.is_valid():
        return render(request, "requests_app/agent_report.html", {"form": form}, status=400)
    start, end = form.period()
    agents, total = reports.agent_figures(start=start, end=end)
    rows = [
        (
            a.name,
            a.decisions,
            a.approved,
            a.rejected,
            _hours(a.median),
            a.in_time,
            "" if a.sla_kept is None else f"{100 * a.sla_kept:.1f}",
        )
        for a in [*agents, total]
    ]
    name = f"agents-{form.cleaned_data['date_from']:%Y%m%d}-{form.cleaned_data['date_to']:%Y%m%d}.csv"
    return streamed_csv(name, AGENT_CSV_HEADER, rows)
