"""A snapshot's ``detail`` in words and tables, for the people who read it (agents in the admin).

Pure: the detail dict and the contract numbers in, display rows out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from jss import engine

WINDOW_LABELS = {
    "3m": "3 months",
    "6m": "6 months",
    "12m": "12 months",
    "24m": "24 months",
    engine.TRENDING: "Trending: (3 months + 6 months) / 2",
}
REASON_LABELS = {
    engine.ACTIVE_NEVER_PAID: "Still active and never paid",
    engine.NO_FEEDBACK: "Ended without feedback (and not long-term)",
    engine.ZERO_CHARGED_POSITIVE: "Positive outcome on a $0 contract",
    engine.FLAGGED_CLIENT: "Not positive, from a flagged or ToS-suspended client",
}
DECISION_LABELS = {
    engine.EXCLUDED: "Excluded",
    engine.KEPT_NO_HARM: "Kept: removing it would lower the score (no-harm rule)",
}


def short(value: str | None) -> str:
    """A 28-digit score as people read it: two decimals."""
    if value is None:
        return "—"
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class WindowRow:
    name: str
    label: str
    start: str | None
    contracts: int
    clients: int
    qualifies: bool
    positive: str | None
    negative: str | None
    total: str | None
    score: str
    exact: str | None
    shown: bool


@dataclass(frozen=True)
class ContractRow:
    contract_id: int
    number: str
    text: str
    score_with: str = ""
    score_without: str = ""


@dataclass(frozen=True)
class Explanation:
    score: int | None
    window: str | None
    window_label: str
    unrounded: str | None
    windows: tuple[WindowRow, ...]
    left_out: tuple[ContractRow, ...]
    exclusions: tuple[ContractRow, ...]


def contract_ids(detail: dict) -> set[int]:
    ids = {item["contract_id"] for item in detail.get("left_out", ())}
    return ids | {item["contract_id"] for item in detail.get("exclusions", ())}


def explain(detail: dict, numbers: dict[int, str] | None = None) -> Explanation | None:
    """``numbers``: contract id -> Contract ID (number) for the contracts the detail names."""
    if not detail or "windows" not in detail:
        return None
    numbers = numbers or {}
    windows = []
    for name in ("3m", "6m", "12m", "24m", engine.TRENDING):
        figures = detail["windows"].get(name, {})
        windows.append(
            WindowRow(
                name=name,
                label=WINDOW_LABELS[name],
                start=figures.get("start"),
                contracts=figures.get("contracts", 0) if name != engine.TRENDING else 0,
                clients=figures.get("clients", 0) if name != engine.TRENDING else 0,
                qualifies=bool(figures.get("qualifies")),
                positive=figures.get("positive_weight"),
                negative=figures.get("negative_weight"),
                total=figures.get("total_weight"),
                score=short(figures.get("score")),
                exact=figures.get("score"),
                shown=name == detail.get("window"),
            )
        )
    left_out = tuple(
        ContractRow(item["contract_id"], numbers.get(item["contract_id"], "?"), REASON_LABELS.get(item["reason"], ""))
        for item in detail.get("left_out", ())
    )
    exclusions = tuple(
        ContractRow(
            item["contract_id"],
            numbers.get(item["contract_id"], "?"),
            DECISION_LABELS.get(item["decision"], item["decision"]),
            short(item.get("score_with")),
            short(item.get("score_without")),
        )
        for item in detail.get("exclusions", ())
    )
    window = detail.get("window")
    return Explanation(
        score=detail.get("score"),
        window=window,
        window_label=WINDOW_LABELS.get(window, "no window qualifies"),
        unrounded=detail.get("unrounded"),
        windows=tuple(windows),
        left_out=left_out,
        exclusions=exclusions,
    )
