"""What the perk would do to a contract's subject score, computed live with the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import timezone

from jss import engine, selectors


@dataclass(frozen=True)
class RemovalPreview:
    """What the perk would do to one contract's subject score, computed live with the engine.

    ``current_score``/``current_window``: the subject's JSS now, with its existing exclusions judged by the
    no-harm rule. ``score_without``/``window_without``: the JSS with this contract taken out (after the
    exclusions created before it). ``kept_by_no_harm``: taking it out would lower the JSS, so the no-harm rule
    keeps it in and the score stays ``current_score``. ``already_excluded``: the perk was already used on it.
    """

    as_of: date
    current_score: int | None
    current_window: str | None
    score_without: int | None
    window_without: str | None
    kept_by_no_harm: bool
    already_excluded: bool
    # The engine's unrounded figures, for display only (one decimal where rounding hides a difference).
    current_unrounded: Decimal | None = field(default=None, compare=False)
    without_unrounded: Decimal | None = field(default=None, compare=False)

    @property
    def rounding_hides_the_difference(self) -> bool:
        """Both scores round to the same whole number though they differ, so a no-harm verdict ("would lower")
        next to two equal figures needs one decimal to make sense."""
        return (
            self.current_score is not None
            and self.current_score == self.score_without
            and self.current_unrounded is not None
            and self.without_unrounded is not None
            and self.current_unrounded != self.without_unrounded
        )

    @property
    def score_after(self) -> int | None:
        """The JSS once the perk is applied: the score without it, unless the no-harm rule keeps it in."""
        return self.current_score if self.kept_by_no_harm else self.score_without


def preview_removal(contract, *, as_of: date | None = None) -> RemovalPreview:
    """The subject's JSS with and without ``contract`` on ``as_of`` (default today), from its contracts and
    existing exclusions (not from snapshots). Three queries."""
    as_of = as_of or timezone.localdate()
    subject = {"freelancer_id": contract.freelancer_id, "agency_id": contract.agency_id}
    facts = selectors.contract_facts(**subject)
    existing = selectors.exclusion_order(**subject, as_of=as_of)
    return removal_preview(facts, existing, contract.pk, as_of=as_of)


def preview_removals(contracts, *, as_of: date | None = None) -> dict[int, RemovalPreview]:
    """``preview_removal`` for many contracts (a contracts page): two queries per subject, not per contract."""
    as_of = as_of or timezone.localdate()
    by_subject: dict[tuple, list[int]] = {}
    for contract in contracts:
        key = (None, contract.agency_id) if contract.agency_id is not None else (contract.freelancer_id, None)
        by_subject.setdefault(key, []).append(contract.pk)
    previews = {}
    for (freelancer_id, agency_id), contract_ids in by_subject.items():
        facts = selectors.contract_facts(freelancer_id=freelancer_id, agency_id=agency_id)
        existing = selectors.exclusion_order(freelancer_id=freelancer_id, agency_id=agency_id, as_of=as_of)
        current = engine.compute(facts, as_of=as_of, exclusions=existing)
        for contract_id in contract_ids:
            previews[contract_id] = removal_preview(facts, existing, contract_id, as_of=as_of, current=current)
    return previews


def removal_preview(
    facts: list[engine.ContractFacts],
    existing: list[int],
    contract_id: int,
    *,
    as_of: date,
    current: engine.JssResult | None = None,
) -> RemovalPreview:
    """The pure part of ``preview_removal``: the engine's own no-harm trial for ``contract_id``.

    A new exclusion is taken after the existing ones (it would be created last); an existing one keeps its
    place. Either way the trial is the engine's: the score with the exclusions applied before it, against
    the score with this contract out as well."""
    already_excluded = contract_id in existing
    current = current or engine.compute(facts, as_of=as_of, exclusions=existing)
    order = existing if already_excluded else [*existing, contract_id]
    judged = current if already_excluded else engine.compute(facts, as_of=as_of, exclusions=order)
    applied_before = set()
    for earlier in order:
        if earlier == contract_id:
            break
        if judged.decisions[earlier] == engine.EXCLUDED:
            applied_before.add(earlier)
    out = applied_before | {contract_id}
    without = engine.compute([c for c in facts if c.contract_id not in out], as_of=as_of)
    return RemovalPreview(
        as_of=as_of,
        current_score=current.score,
        current_window=current.window,
        score_without=without.score,
        window_without=without.window,
        kept_by_no_harm=judged.decisions[contract_id] == engine.KEPT_NO_HARM,
        already_excluded=already_excluded,
        current_unrounded=current.unrounded,
        without_unrounded=without.unrounded,
    )
