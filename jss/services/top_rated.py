"""The weekly Top Rated evaluation: gather each subject's facts in a few set-based queries, decide with the
pure rules (``jss.top_rated``), record one ``TopRatedEvaluation`` per subject, open and close
``TopRatedPeriod``s, and email the status-loss notice after commit."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from jss import top_rated
from jss.models import ScoreSnapshot, ScoreUpdate, TopRatedEvaluation
from marketplace.models import (
    AGENCY_REQUESTER_ROLES,
    Agency,
    AgencyMembership,
    Contract,
    Freelancer,
    TopRatedPeriod,
)
from outbox.models import About
from outbox.services import Email, owe_emails

logger = logging.getLogger(__name__)

LOSS_SUBJECTS = {
    "jss_dip": "Your Top Rated status has ended: Job Success Score",
    "suspension": "Your Top Rated status has ended: account suspended",
    "tos_violation": "Your Top Rated status has ended: Terms of Service",
    "other": "Your Top Rated status has ended",
}


@dataclass(frozen=True)
class EvaluationResult:
    """``outcome``: 'evaluated', 'done' (this as_of was already evaluated) or 'no_scores' (no finished JSS
    update yet: nobody is judged on missing scores)."""

    outcome: str
    as_of: date
    evaluated: int = 0
    opened: int = 0
    closed: int = 0


def evaluate_top_rated(*, as_of: date | None = None, now=None) -> EvaluationResult:
    """Evaluate every subject with a JSS (and every current Top Rated one) on ``as_of``. Idempotent per
    ``as_of``: the evaluation rows are unique per subject and day, so a rerun finds them and stops."""
    now = now or timezone.now()
    as_of = as_of or timezone.localdate(now)
    if TopRatedEvaluation.objects.filter(evaluated_on=as_of).exists():
        return EvaluationResult("done", as_of)
    if not ScoreUpdate.objects.filter(as_of__lte=as_of, finished_at__isnull=False).exists():
        return EvaluationResult("no_scores", as_of)
    try:
        with transaction.atomic():
            result = _evaluate(as_of, now)
    except IntegrityError:
        return EvaluationResult("done", as_of)  # a concurrent run of the same as_of got there first
    logger.info(
        "top rated evaluated",
        extra={"as_of": as_of.isoformat(), "opened": result.opened, "closed": result.closed},
    )
    return result


def _evaluate(as_of: date, now) -> EvaluationResult:
    facts = _gather(as_of)
    evaluations, opened_for, closed = [], [], defaultdict(list)
    current = _current_periods(as_of)
    for (kind, subject_id), subject_facts in facts.items():
        decision = top_rated.decide(subject_facts, as_of=as_of)
        evaluation = TopRatedEvaluation(
            freelancer_id=subject_id if kind == top_rated.FREELANCER else None,
            agency_id=subject_id if kind == top_rated.AGENCY else None,
            evaluated_on=as_of,
            score=subject_facts.score,
            weeks_at_90=decision.weeks_at_90,
            weeks_on_record=decision.weeks_on_record,
            top_rated=decision.top_rated,
            failed=list(decision.failed),
        )
        if decision.opens:
            evaluation.change = "opened"
            opened_for.append(evaluation)
        elif decision.closes:
            evaluation.change = "closed"
            evaluation.period_id = current[(kind, subject_id)]
            closed[decision.loss_reason].append(evaluation.period_id)
        evaluations.append(evaluation)

    periods = TopRatedPeriod.objects.bulk_create(
        TopRatedPeriod(freelancer_id=e.freelancer_id, agency_id=e.agency_id, started_on=as_of) for e in opened_for
    )
    for evaluation, period in zip(opened_for, periods, strict=True):
        evaluation.period_id = period.pk
    for reason, period_ids in closed.items():
        TopRatedPeriod.objects.filter(pk__in=period_ids, ended_on__isnull=True).update(
            ended_on=as_of, loss_reason=reason
        )
    TopRatedEvaluation.objects.bulk_create(evaluations, batch_size=2000)
    owe_status_loss_notices(as_of, now=now)
    return EvaluationResult(
        "evaluated", as_of, evaluated=len(evaluations), opened=len(periods), closed=sum(map(len, closed.values()))
    )


def _current_periods(as_of: date) -> dict[tuple[str, int], int]:
    rows = TopRatedPeriod.objects.filter(ended_on__isnull=True, started_on__lte=as_of)
    current = {}
    for pk, freelancer_id, agency_id in rows.values_list("pk", "freelancer_id", "agency_id"):
        if agency_id is not None:
            current[(top_rated.AGENCY, agency_id)] = pk
        else:
            current[(top_rated.FREELANCER, freelancer_id)] = pk
    return current


def _gather(as_of: date) -> dict[tuple[str, int], top_rated.TopRatedFacts]:
    """Every subject's facts on ``as_of``, a fixed number of queries whatever the number of subjects."""
    F_, A_ = top_rated.FREELANCER, top_rated.AGENCY
    scores: dict[tuple[str, int], int | None] = {}
    for kind, column in ((F_, "freelancer"), (A_, "agency")):
        latest = ScoreSnapshot.objects.filter(**{column: OuterRef(column)}, as_of__lte=as_of).order_by("-as_of")
        rows = ScoreSnapshot.objects.filter(
            **{f"{column}__isnull": False}, as_of=Subquery(latest.values("as_of")[:1])
        ).values_list(f"{column}_id", "score")
        scores.update({(kind, subject_id): score for subject_id, score in rows})
    current = _current_periods(as_of)
    subjects = set(scores) | set(current)

    since = as_of - timedelta(weeks=top_rated.WEEKS)
    history = {}
    earlier = TopRatedEvaluation.objects.filter(evaluated_on__gt=since, evaluated_on__lt=as_of)
    for freelancer_id, agency_id, at_90, on_record in (
        earlier.values("freelancer_id", "agency_id")
        .annotate(at_90=Count("pk", filter=Q(score__gte=top_rated.JSS_THRESHOLD)), on_record=Count("pk"))
        .values_list("freelancer_id", "agency_id", "at_90", "on_record")
    ):
        key = (A_, agency_id) if agency_id is not None else (F_, freelancer_id)
        history[key] = (at_90, on_record)

    earnings_start = top_rated.earnings_start(as_of)
    reference = Coalesce("ended_on", "last_payment_on")
    contracts = {}
    for kind, column, base in (
        (F_, "freelancer_id", Contract.objects.filter(agency__isnull=True)),
        (A_, "agency_id", Contract.objects.filter(agency__isnull=False)),
    ):
        rows = (
            base.alias(reference=reference)
            .values(column)
            .annotate(
                first=Min("started_on"),
                charged=Sum("total_charged", filter=Q(reference__gt=earnings_start, reference__lte=as_of), default=0),
            )
            .values_list(column, "first", "charged")
        )
        contracts.update({(kind, subject_id): (first, charged) for subject_id, first, charged in rows})

    freelancers = {
        pk: (status, tos, completeness)
        for pk, status, tos, completeness in Freelancer.objects.values_list(
            "pk", "account_status", "tos_violation_on", "profile_completeness"
        )
    }
    agencies = {
        pk: (status, members, tos)
        for pk, status, members, tos in Agency.objects.annotate(
            member_count=Count("memberships", distinct=True),
            latest_tos=Subquery(
                AgencyMembership.objects.filter(agency=OuterRef("pk"), freelancer__tos_violation_on__isnull=False)
                .order_by(F("freelancer__tos_violation_on").desc())
                .values("freelancer__tos_violation_on")[:1]
            ),
        ).values_list("pk", "account_status", "member_count", "latest_tos")
    }

    facts = {}
    for kind, subject_id in subjects:
        at_90, on_record = history.get((kind, subject_id), (0, 0))
        first, charged = contracts.get((kind, subject_id), (None, 0))
        common = dict(
            kind=kind,
            score=scores.get((kind, subject_id)),
            earlier_at_90=at_90,
            earlier_on_record=on_record,
            currently_top_rated=(kind, subject_id) in current,
            first_contract_started_on=first,
            charged_12_months=charged,
        )
        if kind == F_:
            status, tos, completeness = freelancers[subject_id]
            facts[(kind, subject_id)] = top_rated.TopRatedFacts(
                **common, account_status=status, tos_violation_on=tos, profile_completeness=completeness
            )
        else:
            status, members, tos = agencies[subject_id]
            facts[(kind, subject_id)] = top_rated.TopRatedFacts(
                **common, account_status=status, members=members, tos_violation_on=tos
            )
    return facts


# --- the status-loss notice --------------------------------------------------------------------------------


def notice_recipients(evaluation: TopRatedEvaluation) -> list[str]:
    """The freelancer; for an agency, the members who may ask for the perk (owner, business manager,
    admin)."""
    if evaluation.freelancer is not None:
        emails = [evaluation.freelancer.user.email]
    elif evaluation.agency_id is not None:
        emails = list(
            AgencyMembership.objects.filter(agency_id=evaluation.agency_id, role__in=AGENCY_REQUESTER_ROLES)
            .order_by("pk")
            .values_list("freelancer__user__email", flat=True)
        )
    else:
        emails = []
    return [email for email in dict.fromkeys(emails) if email]


def status_loss_notice(evaluation: TopRatedEvaluation) -> Email:
    period = evaluation.period
    assert period is not None and period.ended_on is not None and period.loss_reason is not None  # a closing one
    context = {
        "evaluation": evaluation,
        "subject": evaluation.freelancer or evaluation.agency,
        "is_agency": evaluation.agency_id is not None,
        "period": period,
        "reason": period.loss_reason,
        "reason_label": period.get_loss_reason_display(),
        "failed": [top_rated.CRITERIA[code] for code in evaluation.failed],
        "grace_days": settings.PERK_GRACE_DAYS,
        "grace_until": period.ended_on + timedelta(days=settings.PERK_GRACE_DAYS),
        "site_url": settings.SITE_URL.rstrip("/"),
    }
    return Email(
        subject=LOSS_SUBJECTS.get(period.loss_reason, LOSS_SUBJECTS["other"]),
        text=render_to_string("emails/jss_status_loss.txt", context),
        html=render_to_string("emails/jss_status_loss.html", context),
    )


def owe_status_loss_notices(as_of: date, *, now) -> int:
    """In the evaluation's transaction: the status-loss notice of every subject that lost Top Rated on
    ``as_of``, owed to each recipient in the outbox (which sends it after commit, once; the sweep sends again
    what never went). The grace window asks for a screenshot of it. Returns how many emails are owed."""
    closing = TopRatedEvaluation.objects.filter(evaluated_on=as_of, change="closed", period__isnull=False)
    rows = []
    for evaluation in closing.select_related("freelancer__user", "agency", "period").order_by("pk"):
        email = status_loss_notice(evaluation)
        rows += [
            (About.TOP_RATED_EVALUATION, evaluation.pk, "status_loss", evaluation.pk, recipient, email)
            for recipient in notice_recipients(evaluation)
        ]
    return len(owe_emails(rows, now=now))
