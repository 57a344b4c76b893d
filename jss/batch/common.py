"""What the batch modules share: the subject kinds, the figures' names, one subject's score."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection

from jss import engine
from jss.models import SubjectKind

FREELANCER = SubjectKind.FREELANCER.value
AGENCY = SubjectKind.AGENCY.value
KINDS = (FREELANCER, AGENCY)

# Left-out reasons travel through SQL as small codes.
REASONS = {
    1: engine.ACTIVE_NEVER_PAID,
    2: engine.NO_FEEDBACK,
    3: engine.ZERO_CHARGED_POSITIVE,
    4: engine.FLAGGED_CLIENT,
}
WINDOW_COUNT = len(engine.WINDOWS)
FIGURES = ("n", "k", "p", "m", "t")  # contracts, distinct clients, positive, negative, all weight (quarters)
FIGURE_COLUMNS = tuple(f"{figure}{band}" for band in range(WINDOW_COUNT) for figure in FIGURES)


@dataclass(frozen=True)
class SubjectScore:
    """One subject's score on the update's as_of: its score, window, stored detail as JSON text
    (``engine.stored_detail``), and the no-harm
    decisions of its exclusions (contract id -> 'excluded' / 'kept_no_harm')."""

    kind: str
    subject_id: int
    score: int | None
    window: str | None
    detail_json: str
    decisions: dict
    stable_until: date | None = None  # engine.stable_until


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _day(value: date):
    # psycopg adapts dates; SQLite stores them as ISO text, which compares correctly as text.
    return connection.ops.adapt_datefield_value(value)
