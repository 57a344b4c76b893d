"""Reads behind the public pages (no login): work histories of freelancers, agencies and clients.

What reaches a template is plain data made here, never a ``Feedback`` row: hidden feedback becomes
``feedback_removed=True`` with no rating, comment or response at all, and the private score is never read
into anything public. Each page costs a fixed number of queries, whatever the number of contracts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from marketplace.models import Agency, AgencyMembership, Client, Contract, Freelancer, TopRatedPeriod

# Only these columns of a Feedback row are ever loaded for a public page.
PUBLIC_FEEDBACK_FIELDS = (
    "feedback__id",
    "feedback__public_rating",
    "feedback__public_comment",
    "feedback__freelancer_response",
    "feedback__hidden_on_profile",
)


@dataclass(frozen=True)
class PublicFeedback:
    rating: Decimal | None
    comment: str
    response: str

    @property
    def stars(self) -> str:
        if self.rating is None:
            return ""
        full = int(self.rating.quantize(Decimal("1"), rounding=ROUND_HALF_UP))
        return "★" * full + "☆" * (5 - full)

    @property
    def is_blank(self) -> bool:
        return self.rating is None and not self.comment


@dataclass(frozen=True)
class WorkItem:
    """One contract as the public sees it."""

    title: str
    started_on: dt.date
    ended_on: dt.date | None
    client: Client
    freelancer: Freelancer
    agency: Agency | None
    feedback: PublicFeedback | None = None
    feedback_removed: bool = False

    @property
    def in_progress(self) -> bool:
        return self.ended_on is None


@dataclass
class WorkHistory:
    subject: Freelancer | Agency | Client
    kind: str  # "freelancer" | "agency" | "client"
    jobs: list[WorkItem]
    top_rated: bool = False
    agency_jobs: list[WorkItem] = field(default_factory=list)  # a freelancer's work done for agencies
    agencies: list[Agency] = field(default_factory=list)
    members: list[AgencyMembership] = field(default_factory=list)

    @property
    def job_count(self) -> int:
        return len(self.jobs)


def _contracts() -> QuerySet[Contract]:
    return (
        Contract.objects.select_related("client", "freelancer", "agency", "feedback")
        .only(
            "title",
            "started_on",
            "ended_on",
            "client__name",
            "client__public_id",
            "freelancer__name",
            "freelancer__public_id",
            "agency__name",
            "agency__public_id",
            *PUBLIC_FEEDBACK_FIELDS,
        )
        .order_by(F("ended_on").desc(nulls_first=True), "-started_on", "-id")
    )


def _item(contract: Contract, *, honour_hiding: bool) -> WorkItem:
    feedback = getattr(contract, "feedback", None) if _has_feedback(contract) else None
    common: dict[str, Any] = dict(
        title=contract.title,
        started_on=contract.started_on,
        ended_on=contract.ended_on,
        client=contract.client,
        freelancer=contract.freelancer,
        agency=contract.agency,
    )
    if feedback is None:
        return WorkItem(**common)
    if honour_hiding and feedback.hidden_on_profile:
        return WorkItem(**common, feedback_removed=True)
    return WorkItem(
        **common,
        feedback=PublicFeedback(
            rating=feedback.public_rating, comment=feedback.public_comment, response=feedback.freelancer_response
        ),
    )


def _has_feedback(contract: Contract) -> bool:
    try:
        contract.feedback  # noqa: B018 - the reverse one-to-one raises when there is none
    except Contract.feedback.RelatedObjectDoesNotExist:
        return False
    return True


def _top_rated(q: Q, today: dt.date) -> bool:
    """Top Rated today: a period begun by today that has not ended by today (docs/decisions.md)."""
    return (
        TopRatedPeriod.objects.filter(q, started_on__lte=today)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=today))
        .exists()
    )


def freelancer_history(freelancer: Freelancer, *, today: dt.date | None = None) -> WorkHistory:
    """Their own contracts (the ones their JSS counts and their job count shows), and, apart, the work they
    did for agencies, which belongs to the agency's history and JSS."""
    today = today or timezone.localdate()
    own: list[WorkItem] = []
    for_agencies: list[WorkItem] = []
    for contract in _contracts().filter(freelancer=freelancer):
        (own if contract.agency_id is None else for_agencies).append(_item(contract, honour_hiding=True))
    agencies = list(
        Agency.objects.filter(memberships__freelancer=freelancer).only("name", "public_id").order_by("name")
    )
    return WorkHistory(
        subject=freelancer,
        kind="freelancer",
        jobs=own,
        agency_jobs=for_agencies,
        agencies=agencies,
        top_rated=_top_rated(Q(freelancer=freelancer), today),
    )


def agency_history(agency: Agency, *, today: dt.date | None = None) -> WorkHistory:
    today = today or timezone.localdate()
    members = list(
        AgencyMembership.objects.filter(agency=agency)
        .select_related("freelancer")
        .only("role", "freelancer__name", "freelancer__public_id")
        .order_by("freelancer__name")
    )
    return WorkHistory(
        subject=agency,
        kind="agency",
        jobs=[_item(contract, honour_hiding=True) for contract in _contracts().filter(agency=agency)],
        members=members,
        top_rated=_top_rated(Q(agency=agency), today),
    )


def client_history(client: Client) -> WorkHistory:
    """The client's contracts with the feedback they gave, shown even where the freelancer's profile hides
    it (the policy: "The feedback will also remain visible in the client's work history")."""
    return WorkHistory(
        subject=client,
        kind="client",
        jobs=[_item(contract, honour_hiding=False) for contract in _contracts().filter(client=client)],
    )
