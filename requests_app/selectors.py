"""Reads shared by views, admin and tasks: the one place that decides joins and scoping."""

from django.db.models import F, Q, QuerySet

from jss.models import JssExclusion
from perkdesk.marketplace.models import (
    AGENCY_REQUESTER_ROLES,
    AgencyMembership,
    Contract,
    Freelancer,
    Platform,
    TopRatedPeriod,
)
from requests_app.eligibility import EligibilityFacts
from requests_app.models import OPEN, RemovalRequest, Status


def freelancer_for_user(user) -> Freelancer | None:
    if not user.is_authenticated:
        return None
    return Freelancer.objects.filter(user=user).first()


def requests_visible_to(user) -> QuerySet[RemovalRequest]:
    """Staff see every ticket; anyone else sees their own (``requests_of``)."""
    if user.is_staff:
        return RemovalRequest.objects.select_related("contract", "contract__client", "agency", "freelancer")
    return requests_of(user)


def requests_of(user) -> QuerySet[RemovalRequest]:
    """The tickets a person filed, their own contracts' tickets, and those of agencies they may act for."""
    qs = RemovalRequest.objects.select_related("contract", "contract__client", "agency", "freelancer")
    freelancer = freelancer_for_user(user)
    scope = Q(requested_by=user)
    if freelancer is not None:
        scope |= Q(freelancer=freelancer, agency__isnull=True)
        scope |= Q(
            agency__memberships__freelancer=freelancer,
            agency__memberships__role__in=AGENCY_REQUESTER_ROLES,
        )
    return qs.filter(scope).distinct()


def contract_for_number(contract_number) -> Contract | None:
    number = str(contract_number or "").strip()
    if not number.isdigit():
        return None
    return Contract.objects.select_related("freelancer", "agency", "client", "feedback").filter(number=number).first()


def subject_filter(*, freelancer_id, agency_id, prefix="") -> Q:
    """The rows belonging to a JSS subject: the agency's contracts, or the freelancer's own (agency-less)."""
    if agency_id is not None:
        return Q(**{f"{prefix}agency_id": agency_id})
    return Q(**{f"{prefix}freelancer_id": freelancer_id, f"{prefix}agency__isnull": True})


def top_rated_state(*, freelancer_id, agency_id, today):
    """(Top Rated on `today`, status loss date, loss reason), from the latest period begun by then."""
    periods = TopRatedPeriod.objects.filter(
        Q(agency_id=agency_id) if agency_id is not None else Q(freelancer_id=freelancer_id),
        started_on__lte=today,
    ).order_by(F("ended_on").desc(nulls_first=True), "-started_on")
    latest = periods.values("ended_on", "loss_reason").first()
    if latest is None:
        return False, None, None
    if latest["ended_on"] is None or latest["ended_on"] > today:
        return True, None, None
    return False, latest["ended_on"], latest["loss_reason"]


def eligibility_facts(
    *, requester, contract_number, agency=None, has_screenshot=False, today
) -> tuple[EligibilityFacts, Contract | None]:
    """Everything the pure rules need, read in a handful of queries."""
    freelancer = freelancer_for_user(requester)
    contract = contract_for_number(contract_number)
    base = dict(
        today=today,
        contract_number=str(contract_number or "").strip(),
        has_screenshot=has_screenshot,
        requester_account_status=freelancer.account_status if freelancer else "inactive",
    )
    if contract is None or freelancer is None or (agency is not None and contract.agency_id != agency.pk):
        return EligibilityFacts(contract_found=False, is_own_contract=False, **base), None

    role = None
    if contract.agency_id is not None:
        role = (
            AgencyMembership.objects.filter(agency_id=contract.agency_id, freelancer=freelancer)
            .values_list("role", flat=True)
            .first()
        )
    subject = subject_filter(freelancer_id=contract.freelancer_id, agency_id=contract.agency_id)
    feedback = getattr(contract, "feedback", None) if hasattr(contract, "feedback") else None
    top_rated_now, lost_on, loss_reason = top_rated_state(
        freelancer_id=contract.freelancer_id, agency_id=contract.agency_id, today=today
    )
    open_requests = list(
        RemovalRequest.objects.filter(status__in=OPEN)
        .filter(subject | Q(contract=contract))
        .values("contract_id", "is_special_offer")
    )
    last_counted = (
        RemovalRequest.objects.filter(subject, is_special_offer=False, status__in=[Status.APPROVED, Status.APPLIED])
        .order_by("-submitted_at")
        .values_list("submitted_at", flat=True)
        .first()
    )
    jobs_since = 0
    if last_counted is not None:
        jobs_since = Contract.objects.filter(
            subject,
            platform=Platform.UPWORK,
            ended_on__gt=last_counted.date(),
            ended_on__lte=today,
        ).count()
    already_removed = (
        JssExclusion.objects.filter(contract=contract).exists()
        or RemovalRequest.objects.filter(contract=contract, status=Status.APPLIED).exists()
    )
    facts = EligibilityFacts(
        contract_found=True,
        is_own_contract=contract.agency_id is None and contract.freelancer_id == freelancer.pk,
        agency_contract=contract.agency_id is not None,
        requester_agency_role=role,
        agency_account_status=contract.agency.account_status if contract.agency_id else None,
        contract_ended=contract.ended_on is not None and contract.ended_on <= today,
        platform=contract.platform,
        has_feedback=feedback is not None and not feedback.is_empty,
        already_removed=already_removed,
        is_special_offer=contract.is_special_offer,
        subject_open_regular_request=any(
            not r["is_special_offer"] and r["contract_id"] != contract.pk for r in open_requests
        ),
        contract_open_request=any(r["contract_id"] == contract.pk for r in open_requests),
        subject_top_rated_now=top_rated_now,
        status_lost_on=lost_on,
        status_loss_reason=loss_reason,
        last_counted_request_submitted_on=last_counted.date() if last_counted else None,
        upwork_jobs_ended_since=jobs_since,
        **base,
    )
    return facts, contract
