"""Marketplace rows for JSS tests, bulk-inserted from engine facts so hypothesis can make many quickly.

Contracts and feedback are imported data (no service makes them), so tests write them directly; perk
exclusions are made the way the app makes them: an applied request and its exclusion."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from jss.engine import ContractFacts
from jss.models import JssExclusion
from marketplace.models import Agency, AgencyMembership, Client, Contract, Feedback, Freelancer
from requests_app.models import RemovalRequest

_serial = itertools.count(1)


@dataclass
class ClientSpec:
    flagged: bool = False
    suspended_for_tos: bool = False


@dataclass
class ContractSpec:
    """One contract of a subject; ``client`` indexes the world's clients."""

    client: int
    started_on: dt.date
    ended_on: dt.date | None = None
    last_payment_on: dt.date | None = None
    total_charged: Decimal = Decimal("100.00")
    disputed: bool = False
    public_rating: Decimal | None = None
    private_score: int | None = None
    has_feedback_row: bool = True


@dataclass
class SubjectSpec:
    agency: bool
    contracts: list[ContractSpec]
    exclusions: list[int] = field(default_factory=list)  # indexes into contracts, in creation order


@dataclass
class Built:
    """What was inserted: each subject's (kind, id), its facts as the engine sees them, its exclusions."""

    subjects: list[tuple[str, int]]
    facts: dict[tuple[str, int], list[ContractFacts]]
    exclusions: dict[tuple[str, int], list[int]]
    requests: dict[int, int]  # contract id -> applied request id


def build_world(clients: list[ClientSpec], subjects: list[SubjectSpec], *, excluded_at=None) -> Built:
    User = get_user_model()
    tag = next(_serial)
    client_rows = Client.objects.bulk_create(
        Client(
            name=f"Client {tag}-{i}",
            public_id=f"c{tag}-{i}",
            flagged=spec.flagged,
            suspended_for_tos=spec.suspended_for_tos,
        )
        for i, spec in enumerate(clients)
    )
    users = User.objects.bulk_create(
        User(username=f"u{tag}-{i}", email=f"u{tag}-{i}@example.com", password="!") for i in range(len(subjects))
    )
    freelancers = Freelancer.objects.bulk_create(
        Freelancer(user=user, name=f"Freelancer {tag}-{i}", public_id=f"f{tag}-{i}") for i, user in enumerate(users)
    )
    agencies = {}
    for i, spec in enumerate(subjects):
        if spec.agency:
            agencies[i] = Agency.objects.create(name=f"Agency {tag}-{i}", public_id=f"a{tag}-{i}")
            AgencyMembership.objects.create(agency=agencies[i], freelancer=freelancers[i], role="owner")

    contracts, specs, owners = [], [], []
    for i, spec in enumerate(subjects):
        for j, c in enumerate(spec.contracts):
            contracts.append(
                Contract(
                    number=f"{tag:04d}{i:04d}{j:04d}",
                    title=f"Job {j}",
                    freelancer=freelancers[i],
                    agency=agencies.get(i),
                    client=client_rows[c.client],
                    started_on=c.started_on,
                    ended_on=c.ended_on,
                    last_payment_on=c.last_payment_on,
                    total_charged=c.total_charged,
                    disputed=c.disputed,
                )
            )
            specs.append(c)
            owners.append(i)
    contracts = Contract.objects.bulk_create(contracts)
    Feedback.objects.bulk_create(
        Feedback(contract=row, public_rating=c.public_rating, private_score=c.private_score)
        for row, c in zip(contracts, specs, strict=True)
        if c.has_feedback_row
    )

    by_subject: dict[int, list[Contract]] = {}
    for row, owner in zip(contracts, owners, strict=True):
        by_subject.setdefault(owner, []).append(row)
    built = Built(subjects=[], facts={}, exclusions={}, requests={})
    excluded_at = excluded_at or timezone.now() - dt.timedelta(days=30)
    for i, spec in enumerate(subjects):
        key = ("agency", agencies[i].pk) if spec.agency else ("freelancer", freelancers[i].pk)
        built.subjects.append(key)
        rows = by_subject.get(i, [])
        built.facts[key] = [
            ContractFacts(
                contract_id=row.pk,
                client_id=row.client_id,
                started_on=c.started_on,
                ended_on=c.ended_on,
                last_payment_on=c.last_payment_on,
                total_charged=c.total_charged,
                disputed=c.disputed,
                client_flagged=clients[c.client].flagged,
                client_suspended_for_tos=clients[c.client].suspended_for_tos,
                public_rating=c.public_rating if c.has_feedback_row else None,
                private_score=c.private_score if c.has_feedback_row else None,
            )
            for row, c in zip(rows, spec.contracts, strict=True)
        ]
        order = []
        for n, index in enumerate(spec.exclusions):
            row = rows[index]
            request = applied_request(row, freelancers[i].user, at=excluded_at + dt.timedelta(minutes=n))
            built.requests[row.pk] = request.pk
            order.append(row.pk)
        built.exclusions[key] = order
    return built


def applied_request(contract: Contract, requester, *, at) -> RemovalRequest:
    """An applied request and its exclusion, as ``apply_exclusion`` leaves them."""
    n = next(_serial)
    request = RemovalRequest.objects.create(
        ticket_number=f"{(n * 7919 + 314159) % 900_000_000 + 100_000_000:09d}",
        contract=contract,
        freelancer=contract.freelancer,
        agency=contract.agency,
        requested_by=requester,
        scope="jss_only",
        status="applied",
        submitted_at=at - dt.timedelta(days=2),
        sla_due_at=at + dt.timedelta(days=5),
        decided_at=at - dt.timedelta(days=1),
        applied_at=at,
    )
    request.exclusion = JssExclusion.objects.create(contract=contract, created_at=at)
    request.save(update_fields=["exclusion"])
    return request
