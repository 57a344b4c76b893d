"""Subjects with perk exclusions: scored by ``engine.compute`` itself (the no-harm rule needs every contract)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from jss import engine, selectors
from jss.batch.common import (
    AGENCY,
    FREELANCER,
    SubjectScore,
)
from jss.models import JssExclusion
from marketplace.models import Contract

# --- subjects with perk exclusions: the engine itself ---------------------------------------------------


def exclusions_in_range(kind: str, first: int, last: int, as_of: date) -> dict[int, list[int]]:
    """Subject id -> its exclusions' contract ids in creation order, for the chunk's subjects (one query).
    Exclusions created after ``as_of`` do not count on that date."""
    rows = JssExclusion.objects.filter(created_at__date__lte=as_of)
    if kind == AGENCY:
        rows = rows.filter(contract__agency__gte=first, contract__agency__lte=last).values_list(
            "contract__agency_id", "contract_id"
        )
    else:
        rows = rows.filter(
            contract__agency__isnull=True, contract__freelancer__gte=first, contract__freelancer__lte=last
        ).values_list("contract__freelancer_id", "contract_id")
    order: dict[int, list[int]] = defaultdict(list)
    for subject_id, contract_id in rows.order_by("created_at", "id"):
        order[subject_id].append(contract_id)
    return order


def facts_of(kind: str, subject_ids: Iterable[int]) -> dict[int, list[engine.ContractFacts]]:
    """Every contract of the given subjects as engine facts (one query, value rows)."""
    subject_ids = list(subject_ids)
    if not subject_ids:
        return {}
    subject_column = "agency_id" if kind == AGENCY else "freelancer_id"
    rows = Contract.objects.filter(**{f"{subject_column}__in": subject_ids})
    if kind == FREELANCER:
        rows = rows.filter(agency__isnull=True)
    facts: dict[int, list[engine.ContractFacts]] = defaultdict(list)
    for subject_id, *values in rows.values_list(subject_column, *selectors.FACT_COLUMNS).iterator(chunk_size=5000):
        facts[subject_id].append(engine.ContractFacts(*values))
    return facts


def engine_scores(kind: str, exclusions: dict[int, list[int]], as_of: date) -> list[SubjectScore]:
    """The subjects with perk exclusions, scored by ``engine.compute`` from their contracts (one query)."""
    scores = []
    for subject_id, contracts in facts_of(kind, exclusions).items():
        result = engine.compute(contracts, as_of=as_of, exclusions=exclusions[subject_id])
        detail = json.dumps(result.stored, separators=(",", ":"))
        scores.append(
            SubjectScore(kind, subject_id, result.score, result.window, detail, result.decisions, result.stable_until)
        )
    return scores
