"""Reads shared by views, admin and tasks: the one place that decides joins and scoping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, Value, When, Window
from django.db.models.functions import RowNumber

from marketplace.models import (
    AGENCY_REQUESTER_ROLES,
    Agency,
    AgencyMembership,
    Client,
    Contract,
    Freelancer,
    Platform,
    TopRatedPeriod,
)
from requests_app import domain
from requests_app.eligibility import EligibilityFacts
from requests_app.models import OPEN, SLA_RUNNING, EventKind, RemovalRequest, RequestEvent, Status

# What a freelancer may read of their ticket's timeline; everything else is the support team's.
PUBLIC_EVENT_KINDS = (
    EventKind.SUBMITTED,
    EventKind.INFO_REQUESTED,
    EventKind.REPLIED,
    EventKind.APPROVED,
    EventKind.REJECTED,
    EventKind.WITHDRAWN,
    EventKind.APPLIED,
    EventKind.JSS_OUTCOME,
)
COUNTED = (Status.APPROVED, Status.APPLIED)


def freelancer_for_user(user) -> Freelancer | None:
    if not user.is_authenticated:
        return None
    return Freelancer.objects.filter(user=user).first()


# --- tickets ------------------------------------------------------------------------------------


def requests_visible_to(user) -> QuerySet[RemovalRequest]:
    """Support staff (who may view the queue) see every ticket; anyone else sees their own (``requests_of``)."""
    if user.is_staff and user.has_perm("requests_app.view_removalrequest"):
        return RemovalRequest.objects.select_related("contract", "contract__client", "agency", "freelancer")
    return requests_of(user)


def requests_of(user, *, freelancer=None) -> QuerySet[RemovalRequest]:
    """The tickets of a person's own contracts, and those of the agencies they act for now (owner, business
    manager, admin). Access follows the current role, not who filed: an owner whose membership ends, or who
    becomes a plain member, loses the agency's tickets they filed, their screenshots, withdraw and reply.
    Every freelancer-side ticket page (detail, screenshot, withdraw, reply) reads through this."""
    qs = RemovalRequest.objects.select_related("contract", "contract__client", "agency", "freelancer")
    freelancer = freelancer or freelancer_for_user(user)
    if freelancer is None:
        return qs.none()
    scope = Q(freelancer=freelancer, agency__isnull=True) | Q(
        agency__memberships__freelancer=freelancer,
        agency__memberships__role__in=AGENCY_REQUESTER_ROLES,
    )
    return qs.filter(scope).distinct()


def request_for_owner(user, ticket_number) -> RemovalRequest | None:
    """A ticket its owner may act on (withdraw), or None: staff are not owners."""
    return requests_of(user).filter(ticket_number=ticket_number).first()


def request_for_viewer(user, ticket_number) -> RemovalRequest | None:
    """A ticket the user may read (owner or staff), or None; the caller answers 404 either way."""
    return (
        requests_visible_to(user)
        .select_related("requested_by", "exclusion")
        .filter(ticket_number=ticket_number)
        .first()
    )


def public_timeline(removal_request) -> list[RequestEvent]:
    """The events a freelancer sees: public ones of the public kinds, never notes, claims or emails."""
    return list(
        removal_request.events.filter(public=True, kind__in=PUBLIC_EVENT_KINDS)
        .select_related("actor")
        .order_by("created_at", "id")
    )


# --- contracts and agencies -----------------------------------------------------------------------


def contract_for_number(contract_number) -> Contract | None:
    number = str(contract_number or "").strip()
    if not (number.isascii() and number.isdigit()):
        return None
    return (
        Contract.objects.select_related("freelancer", "agency", "client", "feedback", "jss_exclusion")
        .filter(number=number)
        .first()
    )


def memberships_of(freelancer) -> dict[int, AgencyMembership]:
    """The freelancer's agency memberships keyed by agency id, with the agency loaded."""
    if freelancer is None:
        return {}
    rows = AgencyMembership.objects.filter(freelancer=freelancer).select_related("agency").order_by("agency__name")
    return {m.agency_id: m for m in rows}


def agencies_user_may_act_for(user, *, freelancer=None):
    """Agencies whose contracts this person may ask about (owner, business manager, admin), by name."""
    freelancer = freelancer or freelancer_for_user(user)
    return [m.agency for m in memberships_of(freelancer).values() if m.role in AGENCY_REQUESTER_ROLES]


def contracts_of(freelancer, memberships) -> QuerySet[Contract]:
    """A person's contracts page: their own contracts, those they worked on for an agency they still
    belong to, and every contract of the agencies they may act for. Active first, then most recent."""
    agency_ids = [m.agency_id for m in memberships.values() if m.role in AGENCY_REQUESTER_ROLES]
    scope = Q(freelancer=freelancer, agency__isnull=True) | Q(freelancer=freelancer, agency_id__in=list(memberships))
    if agency_ids:
        scope |= Q(agency_id__in=agency_ids)
    return (
        Contract.objects.filter(scope)
        .select_related("client", "agency", "feedback", "jss_exclusion")
        # Active contracts first (no end date), then the most recently ended.
        .order_by(F("ended_on").desc(nulls_first=True), "-started_on", "number")
    )


# --- eligibility facts ------------------------------------------------------------------------------


def subject_filter(*, freelancer_id, agency_id, prefix="") -> Q:
    """The rows belonging to a JSS subject: the agency's contracts, or the freelancer's own (agency-less)."""
    if agency_id is not None:
        return Q(**{f"{prefix}agency_id": agency_id})
    return Q(**{f"{prefix}freelancer_id": freelancer_id, f"{prefix}agency__isnull": True})


def subject_key(contract) -> tuple[str, int]:
    if contract.agency_id is not None:
        return ("agency", contract.agency_id)
    return ("freelancer", contract.freelancer_id)


def latest_period_state(periods: Iterable[dict], *, today) -> tuple[bool, dt.date | None, str | None]:
    """(Top Rated on `today`, status loss date, loss reason) from a subject's period rows
    (``started_on``, ``ended_on``, ``loss_reason``): the latest period begun by then decides."""
    begun = [p for p in periods if p["started_on"] <= today]
    if not begun:
        return False, None, None
    # Current (open) periods first, then the latest end, then the latest start.
    latest = max(begun, key=lambda p: (p["ended_on"] is None, p["ended_on"] or dt.date.min, p["started_on"]))
    if latest["ended_on"] is None or latest["ended_on"] > today:
        return True, None, None
    return False, latest["ended_on"], latest["loss_reason"]


# The tickets the rules read (open or applied), and what they read of each.
RULES_READ = (*OPEN, Status.APPLIED)
TICKET_ROW_FIELDS = ("ticket_number", "contract_id", "status", "is_special_offer", "submitted_at")


@dataclass(frozen=True)
class TicketRow:
    ticket_number: str
    contract_id: int
    status: str
    is_special_offer: bool
    submitted_on: dt.date


@dataclass
class SubjectState:
    """What the rules need to know about one JSS subject, whichever of its contracts is asked about."""

    top_rated_now: bool = False
    status_lost_on: dt.date | None = None
    status_loss_reason: str | None = None
    # The subject's submitted, approved and applied tickets.
    tickets: list[TicketRow] = field(default_factory=list)
    last_counted_on: dt.date | None = None
    upwork_jobs_ended_since: int = 0


def subject_states(keys: Iterable[tuple[str, int]], *, today) -> dict[tuple[str, int], SubjectState]:
    """Eligibility state of several subjects at once: three queries however many subjects and contracts."""
    keys = set(keys)
    states = {key: SubjectState() for key in keys}
    if not keys:
        return states
    freelancer_ids = [pk for kind, pk in keys if kind == "freelancer"]
    agency_ids = [pk for kind, pk in keys if kind == "agency"]
    _add_periods(states, freelancer_ids=freelancer_ids, agency_ids=agency_ids, today=today)
    subjects = Q(freelancer_id__in=freelancer_ids, agency__isnull=True) | Q(agency_id__in=agency_ids)
    for ticket in RemovalRequest.objects.filter(subjects, status__in=RULES_READ).values(
        "freelancer_id", "agency_id", *TICKET_ROW_FIELDS
    ):
        _add_ticket(states[_subject_key(ticket)], ticket)
    _add_upwork_jobs_ended_since(states, today=today)
    return states


def _add_periods(states, *, freelancer_ids, agency_ids, today) -> None:
    """Each subject's Top Rated state on ``today``: one query."""
    periods: dict[tuple[str, int], list[dict[str, Any]]] = {key: [] for key in states}
    period_scope = Q(freelancer_id__in=freelancer_ids) | Q(agency_id__in=agency_ids)
    for period in TopRatedPeriod.objects.filter(period_scope, started_on__lte=today).values(
        "freelancer_id", "agency_id", "started_on", "ended_on", "loss_reason"
    ):
        periods[_subject_key(period)].append(dict(period))
    for key, rows in periods.items():
        state = states[key]
        state.top_rated_now, state.status_lost_on, state.status_loss_reason = latest_period_state(rows, today=today)


def _add_ticket(state: SubjectState, ticket: Mapping[str, Any]) -> None:
    """One of the subject's submitted, waiting, approved or applied tickets (its TICKET_ROW_FIELDS)."""
    submitted_on = ticket["submitted_at"].date()
    state.tickets.append(
        TicketRow(
            ticket["ticket_number"],
            ticket["contract_id"],
            ticket["status"],
            ticket["is_special_offer"],
            submitted_on,
        )
    )
    if ticket["status"] in COUNTED and not ticket["is_special_offer"]:
        last = state.last_counted_on
        state.last_counted_on = submitted_on if last is None else max(last, submitted_on)


def _add_upwork_jobs_ended_since(states, *, today) -> None:
    """Upwork contracts of each subject ended since its previous counted request: one grouped query, none when
    no subject has a counted request."""
    since = [(key, state.last_counted_on) for key, state in states.items() if state.last_counted_on]
    if not since:
        return
    jobs = Q(pk__in=[])
    for (kind, pk), day in since:
        scope = subject_filter(
            freelancer_id=pk if kind == "freelancer" else None, agency_id=pk if kind == "agency" else None
        )
        jobs |= scope & Q(ended_on__gt=day)
    counts = (
        Contract.objects.filter(jobs, platform=Platform.UPWORK, ended_on__lte=today)
        .values("freelancer_id", "agency_id")
        .annotate(n=Count("id"))
    )
    for count in counts:
        key = _subject_key(count)
        if key in states and states[key].last_counted_on:
            states[key].upwork_jobs_ended_since += count["n"]


def contract_eligibility_facts(
    *, contract, freelancer, memberships, state: SubjectState, today, has_screenshot=False, contract_number=None
) -> EligibilityFacts:
    """The facts about one contract the requester owns, or works on through an agency."""
    role = memberships[contract.agency_id].role if contract.agency_id in memberships else None
    feedback = getattr(contract, "feedback", None) if _loaded(contract, "feedback") else None
    open_here = [t for t in state.tickets if t.status in OPEN and t.contract_id == contract.pk]
    open_elsewhere = [
        t for t in state.tickets if t.status in OPEN and not t.is_special_offer and t.contract_id != contract.pk
    ]
    applied_here = any(t.status == Status.APPLIED and t.contract_id == contract.pk for t in state.tickets)
    return EligibilityFacts(
        today=today,
        contract_number=str(contract_number if contract_number is not None else contract.number).strip(),
        has_screenshot=has_screenshot,
        requester_account_status=freelancer.account_status,
        contract_found=True,
        is_own_contract=contract.agency_id is None and contract.freelancer_id == freelancer.pk,
        agency_contract=contract.agency_id is not None,
        requester_agency_role=role,
        agency_account_status=contract.agency.account_status if contract.agency_id else None,
        contract_ended=contract.ended_on is not None and contract.ended_on <= today,
        platform=contract.platform,
        has_feedback=feedback is not None and not feedback.is_empty,
        already_removed=applied_here or _loaded(contract, "jss_exclusion"),
        is_special_offer=contract.is_special_offer,
        subject_open_regular_request=bool(open_elsewhere),
        contract_open_request=bool(open_here),
        subject_top_rated_now=state.top_rated_now,
        status_lost_on=state.status_lost_on,
        status_loss_reason=state.status_loss_reason,
        last_counted_request_submitted_on=state.last_counted_on,
        upwork_jobs_ended_since=state.upwork_jobs_ended_since,
    )


def _loaded(contract, relation) -> bool:
    """Whether a reverse one-to-one (loaded by ``select_related``) exists, without another query."""
    try:
        getattr(contract, relation)
    except (Contract.feedback.RelatedObjectDoesNotExist, Contract.jss_exclusion.RelatedObjectDoesNotExist):
        return False
    return True


def eligibility_facts(
    *, requester, contract_number, agency=None, has_screenshot=False, today
) -> tuple[EligibilityFacts, Contract | None]:
    """Everything the pure rules need about one contract, read in a handful of queries."""
    freelancer = freelancer_for_user(requester)
    contract = contract_for_number(contract_number)
    memberships = memberships_of(freelancer) if contract is not None and contract.agency_id else {}
    return _requester_facts(
        freelancer=freelancer,
        contract=contract,
        memberships=memberships,
        agency=agency,
        contract_number=contract_number,
        has_screenshot=has_screenshot,
        today=today,
        state_of=lambda key: subject_states([key], today=today)[key],
    )


def _requester_facts(
    *, freelancer, contract, memberships, agency, contract_number, has_screenshot, today, state_of
) -> tuple[EligibilityFacts, Contract | None]:
    """The facts once the requester, the contract and the memberships are known; ``state_of(subject key)``
    reads the subject's state only when the contract is the requester's to ask about."""
    number = str(contract_number or "").strip()
    belongs = (
        freelancer is not None
        and contract is not None
        and (agency is None or contract.agency_id == agency.pk)
        and (contract.agency_id in memberships if contract.agency_id else contract.freelancer_id == freelancer.pk)
    )
    if not belongs:
        # Unknown and someone else's contract look alike: only facts about the requester are used.
        facts = EligibilityFacts(
            today=today,
            contract_number=number,
            has_screenshot=has_screenshot,
            requester_account_status=freelancer.account_status if freelancer else "inactive",
            contract_found=False,
            is_own_contract=False,
        )
        return facts, None
    facts = contract_eligibility_facts(
        contract=contract,
        freelancer=freelancer,
        memberships=memberships,
        state=state_of(subject_key(contract)),
        today=today,
        has_screenshot=has_screenshot,
        contract_number=number,
    )
    return facts, contract


# --- the 7-day promise: at risk and breached (domain.is_at_risk / is_breached, as SQL) ---------------------


def at_risk_window() -> dt.timedelta:
    return domain.at_risk_window(sla_days=settings.PERK_SLA_DAYS, warning_days=settings.PERK_SLA_WARNING_DAYS)


def at_risk_q(now: dt.datetime) -> Q:
    """Open with the SLA clock running (not waiting on the freelancer), deadline not passed, and within
    ``at_risk_window`` of it: ``domain.is_at_risk``."""
    return Q(status__in=SLA_RUNNING, sla_due_at__gt=now, sla_due_at__lte=now + at_risk_window())


def breached_q(now: dt.datetime) -> Q:
    """Open and the deadline passed: ``domain.is_breached``."""
    return Q(status__in=SLA_RUNNING, sla_due_at__lte=now)


def _subject_key(row: Mapping[str, Any]) -> tuple[str, int]:
    """("agency", id) for a row with an agency, else ("freelancer", id)."""
    if row["agency_id"] is not None:
        return ("agency", row["agency_id"])
    return ("freelancer", row["freelancer_id"])


# --- the agents' queue (requests_app.admin) -------------------------------------------------------------

# A name search that matches more people than this is too broad to be useful (and to stay on indexes).
MAX_NAME_MATCHES = 500
# A client name whose clients have tickets on more contracts than this is too broad as well.
MAX_CLIENT_CONTRACTS = 5000
TICKET_PAGE_RELATED = (
    "contract",
    "contract__client",
    "contract__feedback",
    "contract__agency",
    "contract__jss_exclusion",
    "freelancer",
    "freelancer__user",
    "agency",
    "requested_by",
    "requested_by__freelancer",
    "assigned_to",
    "decided_by",
)
QUEUE_ROW_RELATED = ("contract", "freelancer", "agency", "assigned_to")


class SearchTooBroad(Exception):
    """A name search matching more than MAX_NAME_MATCHES people or agencies."""


def queue_search_q(term: str) -> Q:
    """The tickets a queue search means, by the shape of the term; index-friendly lookups, never an OR across
    joined tables. A ticket number or Contract ID (digits), an email, or a freelancer, agency or client name.
    A client name becomes the contracts of that client that have a ticket (one indexed join, capped), so the
    queue itself still filters on its own columns."""
    if term.isdigit():
        contracts = list(Contract.objects.filter(number=term).values_list("pk", flat=True)[:1])
        return Q(ticket_number=term) | Q(contract_id__in=contracts)
    if "@" in term:
        users = list(get_user_model().objects.filter(email__iexact=term).values_list("pk", flat=True)[:50])
        freelancers = list(Freelancer.objects.filter(user_id__in=users).values_list("pk", flat=True))
        return Q(freelancer_id__in=freelancers) | Q(requested_by_id__in=users)
    freelancers = list(
        Freelancer.objects.filter(name__icontains=term).values_list("pk", flat=True)[: MAX_NAME_MATCHES + 1]
    )
    agencies = list(Agency.objects.filter(name__icontains=term).values_list("pk", flat=True)[: MAX_NAME_MATCHES + 1])
    clients = list(Client.objects.filter(name__icontains=term).values_list("pk", flat=True)[: MAX_NAME_MATCHES + 1])
    if max(len(freelancers), len(agencies), len(clients)) > MAX_NAME_MATCHES:
        raise SearchTooBroad(term)
    contracts = []
    if clients:
        contracts = list(
            RemovalRequest.objects.filter(contract__client_id__in=clients)
            .order_by()
            .values_list("contract_id", flat=True)
            .distinct()[: MAX_CLIENT_CONTRACTS + 1]
        )
        if len(contracts) > MAX_CLIENT_CONTRACTS:
            raise SearchTooBroad(term)
    return Q(freelancer_id__in=freelancers) | Q(agency_id__in=agencies) | Q(contract_id__in=contracts)


def ticket_page(object_id) -> RemovalRequest | None:
    """One ticket with everything its admin page shows, in one query; None for a bad or unknown id. The
    requester's own freelancer record and their role in the ticket's agency (``requester_role``, None for an
    agency-less ticket or someone no longer a member) come with it: the rules re-checked on the page need them."""
    if not str(object_id).isdigit():
        return None
    role = AgencyMembership.objects.filter(
        freelancer__user_id=OuterRef("requested_by_id"), agency_id=OuterRef("agency_id")
    ).values("role")[:1]
    return (
        RemovalRequest.objects.select_related(*TICKET_PAGE_RELATED)
        .annotate(requester_role=Subquery(role))
        .filter(pk=object_id)
        .first()
    )


OTHER_TICKET_FIELDS = (
    "ticket_number",
    "contract_id",
    "freelancer_id",
    "agency_id",
    "status",
    "submitted_at",
    "rejection_reason",
    "jss_outcome",
    "is_special_offer",
    "contract__number",
    "contract__title",
)


@dataclass(frozen=True)
class TicketContext:
    """The context box of a ticket page: the requester's other tickets (newest first) and, for a ticket
    still waiting for a decision, the facts the eligibility rules would judge today."""

    other_tickets: Sequence[RemovalRequest]
    facts: EligibilityFacts | None


def ticket_context(ticket: RemovalRequest, *, today, with_facts: bool, limit: int = 10) -> TicketContext:
    """Read for a ticket loaded by ``ticket_page``: the subject's tickets in one query (every open or applied
    one, which the rules read, and the ``limit`` + 1 newest whatever their status), then the subject's Top Rated
    periods, and the Upwork jobs ended since its last counted request when it has one. Three queries at most."""
    subject = subject_filter(freelancer_id=ticket.freelancer_id, agency_id=ticket.agency_id)
    newest = Window(RowNumber(), order_by=[F("submitted_at").desc(), F("pk").desc()])
    rows = list(
        RemovalRequest.objects.filter(subject)
        .select_related("contract")
        .only(*OTHER_TICKET_FIELDS)
        .annotate(place=Case(When(status__in=RULES_READ, then=Value(0)), default=newest))
        .filter(place__lte=limit + 1)
        .order_by("-submitted_at", "-pk")
    )
    others = [row for row in rows if row.pk != ticket.pk][:limit]
    if not with_facts:
        return TicketContext(others, None)
    contract = ticket.contract
    requester = getattr(ticket.requested_by, "freelancer", None)
    memberships = {}
    role = getattr(ticket, "requester_role", None)  # annotated by ticket_page
    if contract.agency_id is not None and role is not None and requester is not None:
        memberships[contract.agency_id] = AgencyMembership(
            agency_id=contract.agency_id, freelancer=requester, role=role
        )

    def state_of(key):
        states = {key: SubjectState()}
        kind, pk = key
        _add_periods(
            states,
            freelancer_ids=[pk] if kind == "freelancer" else [],
            agency_ids=[pk] if kind == "agency" else [],
            today=today,
        )
        for row in rows:
            if row.status in RULES_READ:
                _add_ticket(states[key], {name: getattr(row, name) for name in TICKET_ROW_FIELDS})
        _add_upwork_jobs_ended_since(states, today=today)
        return states[key]

    facts, _ = _requester_facts(
        freelancer=requester,
        contract=contract,
        memberships=memberships,
        agency=ticket.agency,
        contract_number=contract.number,
        has_screenshot=bool(ticket.screenshot),
        today=today,
        state_of=state_of,
    )
    return TicketContext(others, facts)


def tickets_with_rows(queryset: QuerySet[RemovalRequest], *, limit: int) -> list[RemovalRequest]:
    """The tickets of a pick page (reject, reassign), with what their rows show, at most ``limit`` + 1."""
    return list(queryset.select_related(*QUEUE_ROW_RELATED).order_by("pk")[: limit + 1])


def queue_workers():
    """Active staff who may work the queue: the choices of a reassignment."""
    User = get_user_model()
    can_claim = Q(groups__permissions__codename="claim_removalrequest") | Q(
        user_permissions__codename="claim_removalrequest"
    )
    ids = User.objects.filter(is_active=True, is_staff=True).filter(can_claim | Q(is_superuser=True)).values("pk")
    return User.objects.filter(pk__in=ids).order_by("first_name", "last_name", "username")


# --- the queue's CSV export -------------------------------------------------------------------------------

QUEUE_EXPORT_FIELDS = (
    "ticket_number",
    "status",
    "submitted_at",
    "sla_due_at",
    "freelancer__name",
    "agency__name",
    "contract__client__name",
    "contract__number",
    "scope",
    "is_special_offer",
    "assigned_to__first_name",
    "assigned_to__last_name",
    "assigned_to__username",
    "decided_at",
    "rejection_reason",
    "applied_at",
    "jss_outcome",
)
EXPORT_CHUNK = 2000


def queue_export_rows(queryset: QuerySet[RemovalRequest]) -> Iterator[tuple]:
    """The rows of a (filtered, ordered) queue as tuples of ``QUEUE_EXPORT_FIELDS``, read in chunks through a
    server-side cursor on PostgreSQL: memory stays bounded however many tickets the filters let through.

    Read inside a transaction: outside one, Django declares the cursor WITH HOLD and PostgreSQL builds the
    whole result before the first row; inside, rows flow as they are read, all from one snapshot."""
    with transaction.atomic():
        yield from queryset.values_list(*QUEUE_EXPORT_FIELDS).iterator(chunk_size=EXPORT_CHUNK)
