"""Reads of JSS data shared by services, tasks, admin and the public pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from jss.engine import ContractFacts
from jss.models import JssExclusion, ScoreSnapshot
from marketplace.models import Contract

# The columns ContractFacts is made of, in its field order; no Feedback row reads as two NULLs.
FACT_COLUMNS = (
    "id",
    "client_id",
    "started_on",
    "ended_on",
    "last_payment_on",
    "total_charged",
    "disputed",
    "client__flagged",
    "client__suspended_for_tos",
    "feedback__public_rating",
    "feedback__private_score",
)


def subject_contracts(*, freelancer_id=None, agency_id=None) -> Q:
    """A JSS subject's own contracts: the agency's, or the freelancer's without an agency (SPEC §5)."""
    if agency_id is not None:
        return Q(agency_id=agency_id)
    return Q(freelancer_id=freelancer_id, agency__isnull=True)


def contract_facts(*, freelancer_id=None, agency_id=None) -> list[ContractFacts]:
    """Every contract of one subject as engine facts, in one query and without model instances."""
    rows = Contract.objects.filter(subject_contracts(freelancer_id=freelancer_id, agency_id=agency_id))
    return [ContractFacts(*row) for row in rows.order_by("id").values_list(*FACT_COLUMNS)]


def exclusion_order(*, freelancer_id=None, agency_id=None, as_of=None) -> list[int]:
    """The subject's perk exclusions as contract ids, in the order they were created (the no-harm rule's
    order); with ``as_of``, only those created by that day."""
    subject = subject_contracts(freelancer_id=freelancer_id, agency_id=agency_id)
    contracts = Contract.objects.filter(subject).values("id")
    rows = JssExclusion.objects.filter(contract_id__in=contracts)
    if as_of is not None:
        rows = rows.filter(created_at__date__lte=as_of)
    return list(rows.order_by("created_at", "id").values_list("contract_id", flat=True))


def latest_scores(freelancer_ids: Iterable[int] = (), agency_ids: Iterable[int] = ()) -> dict:
    """The latest ScoreSnapshot of each given subject, keyed ('freelancer', id) / ('agency', id), in one query.

    Subjects never scored are absent. ``detail`` is deferred: profiles need the score, window and date."""
    freelancer_ids, agency_ids = list(freelancer_ids), list(agency_ids)
    if not freelancer_ids and not agency_ids:
        return {}
    latest_freelancer = ScoreSnapshot.objects.filter(freelancer_id=OuterRef("freelancer_id")).order_by("-as_of")
    latest_agency = ScoreSnapshot.objects.filter(agency_id=OuterRef("agency_id")).order_by("-as_of")
    wanted = Q(pk__in=[])
    if freelancer_ids:
        wanted |= Q(freelancer_id__in=freelancer_ids, as_of=Subquery(latest_freelancer.values("as_of")[:1]))
    if agency_ids:
        wanted |= Q(agency_id__in=agency_ids, as_of=Subquery(latest_agency.values("as_of")[:1]))
    scores: dict[tuple[str, int], ScoreSnapshot] = {}
    for snapshot in ScoreSnapshot.objects.filter(wanted).defer("detail"):
        if snapshot.freelancer_id is not None:
            scores[("freelancer", snapshot.freelancer_id)] = snapshot
        elif snapshot.agency_id is not None:
            scores[("agency", snapshot.agency_id)] = snapshot
    return scores


def score_history(*, freelancer_id=None, agency_id=None, limit=60) -> list[tuple]:
    """A subject's last ``limit`` scores as (as_of, score, window), oldest first (the admin chart)."""
    subject = Q(agency_id=agency_id) if agency_id is not None else Q(freelancer_id=freelancer_id)
    rows = ScoreSnapshot.objects.filter(subject).order_by("-as_of").values_list("as_of", "score", "window")[:limit]
    return list(reversed(rows))


def latest_snapshot(*, freelancer_id=None, agency_id=None) -> ScoreSnapshot | None:
    subject = Q(agency_id=agency_id) if agency_id is not None else Q(freelancer_id=freelancer_id)
    return ScoreSnapshot.objects.filter(subject).order_by("-as_of").first()


def contract_numbers(contract_ids) -> dict[int, str]:
    return dict(Contract.objects.filter(pk__in=list(contract_ids)).values_list("pk", "number"))


def latest_evaluation(*, freelancer_id=None, agency_id=None):
    from jss.models import TopRatedEvaluation

    subject = Q(agency_id=agency_id) if agency_id is not None else Q(freelancer_id=freelancer_id)
    return TopRatedEvaluation.objects.filter(subject).order_by("-evaluated_on").first()


def next_update_on(*, now) -> date:
    """The day of the next scheduled JSS update, as beat will run it: the nightly run (at the hour of the
    ``jss-scheduled-update`` beat entry) starts an update once JSS_UPDATE_EVERY_DAYS have passed since the last."""
    from jss.models import ScoreUpdate

    schedule = settings.CELERY_BEAT_SCHEDULE["jss-scheduled-update"]["schedule"]
    run_hour = min(getattr(schedule, "hour", {0}))
    today = timezone.localdate(now)
    first_possible = today if timezone.localtime(now).hour < run_hour else today + timedelta(days=1)
    last = ScoreUpdate.objects.order_by("-as_of").values_list("as_of", flat=True).first()
    if last is None:
        return first_possible
    return max(last + timedelta(days=settings.JSS_UPDATE_EVERY_DAYS), first_possible)


@dataclass(frozen=True)
class PublishedScore:
    """What a freelancer may see of a subject's JSS: the latest published snapshot (never a live figure, which
    would let one contract's private feedback be inferred) and when the next scheduled update comes."""

    score: int | None
    as_of: date | None
    next_update_on: date

    @property
    def has_score(self) -> bool:
        return self.score is not None


def published_scores(keys: Iterable[tuple[str, int]], *, now) -> dict[tuple[str, int], PublishedScore]:
    """The published JSS of each ('freelancer' | 'agency', id) subject: two queries whatever their number."""
    keys = list(keys)
    latest = latest_scores(
        freelancer_ids=[pk for kind, pk in keys if kind == "freelancer"],
        agency_ids=[pk for kind, pk in keys if kind == "agency"],
    )
    upcoming = next_update_on(now=now)
    published = {}
    for key in keys:
        snapshot = latest.get(key)
        published[key] = PublishedScore(
            score=snapshot.score if snapshot else None,
            as_of=snapshot.as_of if snapshot else None,
            next_update_on=upcoming,
        )
    return published
