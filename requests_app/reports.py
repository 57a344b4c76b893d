"""The figures of /desk/: each one is a SQL aggregate over the tickets, never a loop over them in Python.

Counts name a non-null column the query already reads (``Count("sla_due_at")``, not ``Count("pk")``) so
PostgreSQL answers from the covering indexes of migration 0004 without visiting the table.

Definitions (shown on the page too):

- **At risk** and **breached**: ``domain.is_at_risk`` / ``domain.is_breached`` (as SQL in ``selectors``): open,
  at most ``PERK_SLA_DAYS - PERK_SLA_WARNING_DAYS`` days (48 hours by default) before ``sla_due_at``, or past
  it. The sweep alerts the leads on the same definition.
- **SLA compliance** over the last N days: of the requests whose deadline fell in those days and that were
  not rejected or withdrawn (the perk owed them an exclusion), the share applied by ``sla_due_at``
  (``submitted_at`` + ``PERK_SLA_DAYS``). A request still open past its deadline counts as late.
- **Time to decision**: ``decided_at`` − ``submitted_at`` of the requests approved or rejected in the window.
  The median is PostgreSQL's ``percentile_cont(0.5)``; SQLite (development only) has no percentile
  function, so there SQL groups the durations into whole minutes and Python finds the median of those
  few hundred groups.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, Func, IntegerField, Q
from django.db.models.functions import TruncDate

from requests_app.models import OPEN, DeskDay, JssOutcome, RemovalRequest, Status
from requests_app.selectors import at_risk_q, at_risk_window, breached_q

__all__ = ["at_risk_q", "at_risk_window", "breached_q"]  # the one definition, for the admin and the desk

WINDOWS = (30, 90)
WEEKS = 12
URGENT_LIMIT = 25


def open_requests():
    return RemovalRequest.objects.filter(status__in=OPEN)


# --- the queues -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    submitted_unassigned: int
    mine: int
    approved_waiting: int
    waiting_on_freelancer: int
    at_risk: int
    breached: int
    open: int


def queue_counts(*, user, now) -> QueueCounts:
    """Every queue in one aggregate over the open tickets (a partial index keeps that set small)."""
    row = open_requests().aggregate(
        submitted_unassigned=Count("sla_due_at", filter=Q(status=Status.SUBMITTED, assigned_to__isnull=True)),
        mine=Count("sla_due_at", filter=Q(assigned_to_id=user.pk)),
        approved_waiting=Count("sla_due_at", filter=Q(status=Status.APPROVED)),
        # Paused: counted apart, never at risk or breached (their deadline moves on when the freelancer replies).
        waiting_on_freelancer=Count("sla_due_at", filter=Q(status=Status.WAITING_ON_FREELANCER)),
        at_risk=Count("sla_due_at", filter=at_risk_q(now)),
        breached=Count("sla_due_at", filter=breached_q(now)),
        open=Count("sla_due_at"),
    )
    return QueueCounts(**row)


def urgent_tickets(*, now, breached: bool, limit=URGENT_LIMIT):
    """The most urgent breached (or at-risk) tickets, soonest deadline first. The few ids are picked first, from
    the running-tickets index alone, and only they are joined: PostgreSQL misjudges how many tickets are at risk
    (status and deadline together) and would otherwise join every one of them before keeping 25."""
    urgent = (
        RemovalRequest.objects.filter(breached_q(now) if breached else at_risk_q(now))
        .order_by("sla_due_at", "pk")
        .values("pk")[:limit]
    )
    return list(
        RemovalRequest.objects.filter(pk__in=urgent)
        .select_related("contract", "freelancer", "agency", "assigned_to")
        .only(
            "ticket_number",
            "status",
            "sla_due_at",
            "submitted_at",
            "contract__number",
            "freelancer__name",
            "agency__name",
            "assigned_to__username",
            "assigned_to__first_name",
            "assigned_to__last_name",
        )
        .order_by("sla_due_at", "pk")[:limit]
    )


# --- SLA compliance and time to decision ------------------------------------------------------------


@dataclass(frozen=True)
class Compliance:
    days: int
    due: int
    on_time: int

    @property
    def share(self) -> float | None:
        return self.on_time / self.due if self.due else None


def _on_time_q() -> Q:
    return Q(status=Status.APPLIED, applied_at__lte=F("sla_due_at"))


def _owed_q() -> Q:
    # Rejected and withdrawn requests were never owed an exclusion. A ticket waiting on the freelancer has no
    # deadline yet (its clock is paused; the reply moves sla_due_at on by the time waited), so it is left out
    # until it runs again: the compliance figures never count the paused time.
    return Q(status__in=[Status.SUBMITTED, Status.APPROVED, Status.APPLIED])


def sla_compliance(*, now, windows=WINDOWS, deadline_weeks=None) -> list[Compliance]:
    """Compliance over each window, summed from the per-week groups of ``by_deadline_week``."""
    rows = by_deadline_week(now=now, windows=windows) if deadline_weeks is None else deadline_weeks
    return [
        Compliance(
            days=days,
            due=sum(row[f"due_{days}"] for row in rows.values()),
            on_time=sum(row[f"on_time_{days}"] for row in rows.values()),
        )
        for days in windows
    ]


class Median(Aggregate):
    """PostgreSQL's exact median; over an interval it returns an interval."""

    function = "percentile_cont"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


class WholeMinutesBetween(Func):
    """SQLite only: whole minutes from the first timestamp to the second."""

    template = "CAST(ROUND((julianday(%(expressions)s)) * 86400) AS INTEGER) / 60"
    arg_joiner = ") - julianday("
    output_field = IntegerField()


@dataclass(frozen=True)
class DecisionTime:
    days: int
    decided: int
    median: dt.timedelta | None


def decision_times(*, now, windows=WINDOWS) -> list[DecisionTime]:
    longest = max(windows)
    decided = RemovalRequest.objects.filter(decided_at__gt=now - dt.timedelta(days=longest), decided_at__lte=now)
    since = {days: Q(decided_at__gt=now - dt.timedelta(days=days)) for days in windows}
    if connection.vendor == "postgresql":
        duration = ExpressionWrapper(F("decided_at") - F("submitted_at"), output_field=DurationField())
        figures = {}
        for days in windows:
            figures[f"n_{days}"] = Count("decided_at", filter=since[days])
            figures[f"median_{days}"] = Median(duration, filter=since[days], output_field=DurationField())
        row = decided.aggregate(**figures)
        return [DecisionTime(days, row[f"n_{days}"], row[f"median_{days}"]) for days in windows]
    # Portable fallback: a histogram of whole minutes from SQL; Python only reads the (few) groups.
    groups = list(
        decided.annotate(minutes=WholeMinutesBetween("decided_at", "submitted_at"))
        .values("minutes")
        .annotate(**{f"n_{days}": Count("decided_at", filter=since[days]) for days in windows})
        .order_by("minutes")
    )
    result = []
    for days in windows:
        histogram = [(g["minutes"], g[f"n_{days}"]) for g in groups if g[f"n_{days}"]]
        total = sum(n for _, n in histogram)
        minutes = median_of_histogram(histogram, total)
        result.append(DecisionTime(days, total, None if minutes is None else dt.timedelta(minutes=minutes)))
    return result


def median_of_histogram(histogram, total):
    """The median of ``total`` values given as sorted (value, count) pairs; None when there are none."""
    if not total:
        return None
    middle = [(total - 1) // 2, total // 2]  # the one or two middle positions, 0-based
    found = []
    seen = 0
    for value, count in histogram:
        while middle and middle[0] < seen + count:
            found.append(value)
            middle.pop(0)
        seen += count
    return sum(found) / len(found)


# --- outcomes and throughput ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcomes:
    days: int
    applied: int
    excluded: int
    kept_no_harm: int
    pending: int


def outcomes(*, now, windows=WINDOWS, applied_weeks=None) -> list[Outcomes]:
    """What the JSS update decided for the requests applied in each window, from ``by_applied_week``."""
    rows = by_applied_week(now=now, windows=windows) if applied_weeks is None else applied_weeks

    def total(name):
        return sum(row[name] for row in rows.values())

    return [
        Outcomes(
            days=days,
            applied=total(f"applied_{days}"),
            excluded=total(f"{JssOutcome.EXCLUDED}_{days}"),
            kept_no_harm=total(f"{JssOutcome.KEPT_NO_HARM}_{days}"),
            pending=total(f"{JssOutcome.PENDING}_{days}"),
        )
        for days in windows
    ]


@dataclass(frozen=True)
class Week:
    starts_on: dt.date
    submitted: int = 0
    applied: int = 0
    due: int = 0
    on_time: int = 0

    @property
    def compliance(self) -> float | None:
        return self.on_time / self.due if self.due else None


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _per_day(queryset, column, where: Q, **counts) -> dict[dt.date, dict]:
    """One GROUP BY UTC day over the rows ``where`` selects: {day: {count name: value}}."""
    rows = (
        queryset.order_by()
        .filter(where)
        .annotate(day=TruncDate(column, tzinfo=dt.UTC))
        .values("day")
        .annotate(**counts)
    )
    return {_as_date(row.pop("day")): row for row in rows}


def _per_week(days: dict[dt.date, dict]) -> dict[dt.date, dict]:
    """Per-day figures summed into their ISO weeks (Monday first): {monday: {count name: value}}."""
    weeks: dict[dt.date, dict] = {}
    for day, row in days.items():
        week = weeks.setdefault(week_start(day), dict.fromkeys(row, 0))
        for name, value in row.items():
            week[name] = week.get(name, 0) + value
    return weeks


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _stored_and_live(column, *, since, now, desk_days, live_days=()) -> tuple[list[DeskDay], Q]:
    """Split (since, now] into the closed days the rollup holds without a gap after ``since``'s own day (which is
    partial), and the rest as a filter on ``column``: that first day, each of ``live_days`` (a window's partial
    first day), and everything after the last stored day, today included."""
    first = since.astimezone(dt.UTC).date() + dt.timedelta(days=1)
    today = now.astimezone(dt.UTC).date()
    stored = []
    day = first
    while day < today and day in desk_days:
        stored.append(desk_days[day])
        day += dt.timedelta(days=1)
    after = day  # the first day not read from the rollup
    live = Q(**{f"{column}__gt": since, f"{column}__lt": _midnight(min(first, after))})
    live |= Q(**{f"{column}__gte": _midnight(after), f"{column}__lte": now})
    for edge in live_days:
        if first <= edge < after:
            live |= Q(**{f"{column}__gte": _midnight(edge), f"{column}__lt": _midnight(edge + dt.timedelta(days=1))})
    return [row for row in stored if row.day not in live_days], live


def _window_starts(now, windows) -> dict[int, dt.date]:
    """Each window's first (partial) day: the days after it lie wholly inside the window."""
    return {days: (now - dt.timedelta(days=days)).astimezone(dt.UTC).date() for days in windows}


def _reach(now, windows, weeks) -> dt.datetime:
    """From when the grouped queries read: the longest window or the first charted week, whichever is older."""
    first = dt.datetime.combine(first_week(now, weeks), dt.time.min, tzinfo=dt.UTC)
    return min(now - dt.timedelta(days=max(windows)), first)


def first_week(now, weeks=WEEKS) -> dt.date:
    return week_start(now.date()) - dt.timedelta(weeks=weeks - 1)


def by_deadline_week(*, now, windows=WINDOWS, weeks=WEEKS, desk_days=None) -> dict[dt.date, dict]:
    """Requests owed an exclusion, grouped by the week of their deadline: due and on time per week and per
    window. One query feeds both the compliance figures and the weekly compliance chart: over the tickets of
    the days ``desk_days`` (the rollup, {day: DeskDay}) does not hold, added to the days it holds."""
    counts = {"due": Count("sla_due_at"), "on_time": Count("sla_due_at", filter=_on_time_q())}
    for days in windows:
        since = Q(sla_due_at__gt=now - dt.timedelta(days=days))
        counts[f"due_{days}"] = Count("sla_due_at", filter=since)
        counts[f"on_time_{days}"] = Count("sla_due_at", filter=since & _on_time_q())
    starts = _window_starts(now, windows)
    stored, live = _stored_and_live(
        "sla_due_at", since=_reach(now, windows, weeks), now=now, desk_days=desk_days or {}, live_days=starts.values()
    )
    per_day = _per_day(RemovalRequest.objects.filter(_owed_q()), "sla_due_at", live, **counts)
    for row in stored:
        if row.due:
            per_day[row.day] = {"due": row.due, "on_time": row.on_time}
            for days, start in starts.items():
                inside = row.day > start
                per_day[row.day] |= {f"due_{days}": row.due * inside, f"on_time_{days}": row.on_time * inside}
    return _per_week(per_day)


APPLIED_OUTCOMES = (JssOutcome.EXCLUDED, JssOutcome.KEPT_NO_HARM, JssOutcome.PENDING)


def by_applied_week(*, now, windows=WINDOWS, weeks=WEEKS, desk_days=None) -> dict[dt.date, dict]:
    """Applied requests grouped by the week they were applied, with each window's JSS outcomes (the rollup's
    days from ``desk_days``, the others from the tickets)."""
    counts = {"applied": Count("applied_at")}
    for days in windows:
        since = Q(applied_at__gt=now - dt.timedelta(days=days))
        counts[f"applied_{days}"] = Count("applied_at", filter=since)
        for outcome in APPLIED_OUTCOMES:
            counts[f"{outcome}_{days}"] = Count("applied_at", filter=since & Q(jss_outcome=outcome))
    starts = _window_starts(now, windows)
    stored, live = _stored_and_live(
        "applied_at", since=_reach(now, windows, weeks), now=now, desk_days=desk_days or {}, live_days=starts.values()
    )
    per_day = _per_day(RemovalRequest.objects.filter(status=Status.APPLIED), "applied_at", live, **counts)
    for row in stored:
        if row.applied:
            per_day[row.day] = {"applied": row.applied}
            for days, start in starts.items():
                inside = row.day > start
                per_day[row.day][f"applied_{days}"] = row.applied * inside
                for outcome in APPLIED_OUTCOMES:
                    per_day[row.day][f"{outcome}_{days}"] = getattr(row, str(outcome)) * inside
    return _per_week(per_day)


def submitted_per_week(*, now, weeks=WEEKS, desk_days=None) -> dict[dt.date, dict]:
    """Requests submitted in each of the last ``weeks`` weeks (after the first Monday's midnight)."""
    start = _midnight(first_week(now, weeks))
    stored, live = _stored_and_live("submitted_at", since=start, now=now, desk_days=desk_days or {})
    per_day = _per_day(RemovalRequest.objects, "submitted_at", live, submitted=Count("submitted_at"))
    per_day |= {row.day: {"submitted": row.submitted} for row in stored if row.submitted}
    return _per_week(per_day)


def stored_desk_days(*, now, windows=WINDOWS, weeks=WEEKS) -> dict[dt.date, DeskDay]:
    """The rollup's closed days the reports can read, in one query."""
    since = min(_reach(now, windows, weeks), _midnight(first_week(now, weeks)))
    return {
        row.day: row
        for row in DeskDay.objects.filter(
            day__gte=since.astimezone(dt.UTC).date(), day__lt=now.astimezone(dt.UTC).date()
        )
    }


def day_figures(days) -> dict[dt.date, dict]:
    """Every figure of the rollup (``DeskDay``) for whole UTC days, from the tickets: three grouped queries."""
    days = sorted(set(days))
    figures: dict[dt.date, dict] = {day: dict.fromkeys(DESK_DAY_FIGURES, 0) for day in days}

    runs: list[list[dt.date]] = []  # consecutive days as one range: the sweep's hundred days are one range scan
    for day in days:
        if runs and day == runs[-1][1] + dt.timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])

    def whole(column):
        where = Q(pk__in=[])
        for first, last in runs:
            where |= Q(**{f"{column}__gte": _midnight(first), f"{column}__lt": _midnight(last + dt.timedelta(days=1))})
        return where

    for queryset, column, counts in (
        (RemovalRequest.objects, "submitted_at", {"submitted": Count("submitted_at")}),
        (
            RemovalRequest.objects.filter(status=Status.APPLIED),
            "applied_at",
            {
                "applied": Count("applied_at"),
                **{str(o): Count("applied_at", filter=Q(jss_outcome=o)) for o in APPLIED_OUTCOMES},
            },
        ),
        (
            RemovalRequest.objects.filter(_owed_q()),
            "sla_due_at",
            {"due": Count("sla_due_at"), "on_time": Count("sla_due_at", filter=_on_time_q())},
        ),
    ):
        if days:
            for day, row in _per_day(queryset, column, whole(column), **counts).items():
                figures[day].update(row)
    return figures


DESK_DAY_FIGURES = ("submitted", "applied", "excluded", "kept_no_harm", "pending", "due", "on_time")


def weekly(*, now, weeks=WEEKS, deadline_weeks=None, applied_weeks=None, desk_days=None) -> list[Week]:
    """Submitted, applied and SLA compliance per ISO week (Monday first), the last ``weeks`` weeks including
    this one."""
    first = first_week(now, weeks)
    submitted = submitted_per_week(now=now, weeks=weeks, desk_days=desk_days)
    applied = by_applied_week(now=now, weeks=weeks) if applied_weeks is None else applied_weeks
    due = by_deadline_week(now=now, weeks=weeks) if deadline_weeks is None else deadline_weeks
    result = []
    for index in range(weeks):
        day = first + dt.timedelta(weeks=index)
        result.append(
            Week(
                day,
                submitted=submitted.get(day, {}).get("submitted", 0),
                applied=applied.get(day, {}).get("applied", 0),
                due=due.get(day, {}).get("due", 0),
                on_time=due.get(day, {}).get("on_time", 0),
            )
        )
    return result


@dataclass(frozen=True)
class DeskReport:
    compliance: list[Compliance]
    decision_times: list[DecisionTime]
    outcomes: list[Outcomes]
    weeks: list[Week]


def desk_report(*, now, rollup=True) -> DeskReport:
    """Every report of /desk/ in five queries: the rollup's closed days (``DeskDay``), then by deadline week, by
    applied week and submitted per week over the tickets of the days it does not hold (today, the windows'
    partial first days, any day the sweep has not built yet), and the medians. ``rollup=False``: every figure
    from the tickets alone (what the rollup must equal)."""
    desk_days = stored_desk_days(now=now) if rollup else {}
    deadline_weeks = by_deadline_week(now=now, desk_days=desk_days)
    applied_weeks = by_applied_week(now=now, desk_days=desk_days)
    return DeskReport(
        compliance=sla_compliance(now=now, deadline_weeks=deadline_weeks),
        decision_times=decision_times(now=now),
        outcomes=outcomes(now=now, applied_weeks=applied_weeks),
        weeks=weekly(now=now, deadline_weeks=deadline_weeks, applied_weeks=applied_weeks, desk_days=desk_days),
    )


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


# --- per agent over a date range (/desk/reports/) ---------------------------------------------------------


@dataclass(frozen=True)
class AgentFigures:
    """One agent's decisions (approvals and rejections) made in a period. ``in_time``: decided by the ticket's
    deadline (``sla_due_at``, which already leaves out any time the ticket waited on the freelancer)."""

    agent_id: int | None  # None: the period's total over every agent
    name: str
    decisions: int
    approved: int
    rejected: int
    median: dt.timedelta | None
    in_time: int

    @property
    def sla_kept(self) -> float | None:
        return self.in_time / self.decisions if self.decisions else None


def _agent_counts() -> dict:
    return {
        "decisions": Count("decided_at"),
        "approved": Count("decided_at", filter=Q(status__in=[Status.APPROVED, Status.APPLIED])),
        "rejected": Count("decided_at", filter=Q(status=Status.REJECTED)),
        "in_time": Count("decided_at", filter=Q(decided_at__lte=F("sla_due_at"))),
    }


def agent_figures(*, start: dt.datetime, end: dt.datetime) -> tuple[list[AgentFigures], AgentFigures]:
    """Per agent and in total, for decisions made in [start, end): two grouped queries on PostgreSQL (the
    medians are ``percentile_cont``), three on SQLite (a histogram of whole minutes per agent)."""
    decided = RemovalRequest.objects.filter(decided_at__gte=start, decided_at__lt=end, decided_by__isnull=False)
    who = ("decided_by_id", "decided_by__username", "decided_by__first_name", "decided_by__last_name")
    counts = _agent_counts()
    postgres = connection.vendor == "postgresql"
    if postgres:
        duration = ExpressionWrapper(F("decided_at") - F("submitted_at"), output_field=DurationField())
        counts["median"] = Median(duration, output_field=DurationField())
    rows = list(decided.order_by().values(*who).annotate(**counts))
    total = decided.order_by().aggregate(**counts)
    if not postgres:
        medians, overall = _medians_by_histogram(decided)
        for row in rows:
            row["median"] = medians.get(row["decided_by_id"])
        total["median"] = overall

    def name(row):
        full = f"{row['decided_by__first_name']} {row['decided_by__last_name']}".strip()
        return full or row["decided_by__username"]

    agents = [
        AgentFigures(
            agent_id=row["decided_by_id"],
            name=name(row),
            decisions=row["decisions"],
            approved=row["approved"],
            rejected=row["rejected"],
            median=row["median"],
            in_time=row["in_time"],
        )
        for row in rows
    ]
    agents.sort(key=lambda figures: (-figures.decisions, figures.name.lower()))
    overall = AgentFigures(
        agent_id=None,
        name="All agents",
        decisions=total["decisions"],
        approved=total["approved"],
        rejected=total["rejected"],
        median=total["median"],
        in_time=total["in_time"],
    )
    return agents, overall


def _medians_by_histogram(decided):
    """SQLite: each agent's and the overall median from SQL groups of (agent, whole minutes)."""
    groups = list(
        decided.annotate(minutes=WholeMinutesBetween("decided_at", "submitted_at"))
        .values("decided_by_id", "minutes")
        .annotate(n=Count("decided_at"))
        .order_by("minutes")
    )
    per_agent: dict[int, list[tuple[int, int]]] = {}
    everyone: dict[int, int] = {}
    for group in groups:
        per_agent.setdefault(group["decided_by_id"], []).append((group["minutes"], group["n"]))
        everyone[group["minutes"]] = everyone.get(group["minutes"], 0) + group["n"]

    def median(histogram):
        minutes = median_of_histogram(histogram, sum(n for _, n in histogram))
        return None if minutes is None else dt.timedelta(minutes=minutes)

    return {agent: median(h) for agent, h in per_agent.items()}, median(sorted(everyone.items()))
