"""Set-based scoring for the scheduled JSS update.

The per-contract rules of SPEC §5 (what is left out, the outcome, the weight, the window a contract falls
in) are database expressions, and each window's figures are summed per subject in one pass over the
contracts. That pass runs once per update into a scratch table (``jss_tally_<update id>``): a marketplace's
contracts are not stored by subject, so reading one chunk of subjects straight from the contracts would
touch most of the table once per chunk (on 2,000,000 contracts, 0.6-1.8 s a chunk against 3-4 s for the
whole pass).

Each chunk of subjects then turns its rows of the scratch table into scores and detail and upserts the
snapshots: on PostgreSQL in one INSERT ... SELECT (``snapshot_upsert_sql``: exact integer arithmetic that
writes the engine's 28-digit Decimal texts), elsewhere with ``DetailWriter`` (the engine's own scoring
functions, ``engine.from_tallies``). The few subjects with perk exclusions are scored by ``engine.compute``
itself (the no-harm rule needs each contract). Property tests hold every path equal to ``engine.compute``.

Nothing here makes a model instance per contract or runs a query per subject: a chunk is a fixed handful
of queries whatever its size. Works on PostgreSQL and SQLite.

The package by concern: ``tallies`` (the figures in SQL and the scratch table), ``detail`` (figures to
score and detail in Python), ``exclusions`` (subjects scored by the engine), ``snapshots`` (the upsert),
``postgres`` (scoring and writing in one statement); a chunk is put together here.
"""

from __future__ import annotations

from datetime import date, datetime

from jss.batch import postgres
from jss.batch.common import (  # noqa: F401
    AGENCY,
    FIGURE_COLUMNS,
    FIGURES,
    FREELANCER,
    KIND_CODES,
    KINDS,
    POSTGRES_WORK_MEM,
    REASONS,
    WINDOW_COUNT,
    SubjectScore,
    _day,
    _postgres,
    _q,
    scratch_table,
)
from jss.batch.detail import DetailWriter  # noqa: F401
from jss.batch.exclusions import engine_scores, exclusions_in_range, facts_of  # noqa: F401
from jss.batch.postgres import (  # noqa: F401
    _REASON_ARRAY,
    SQL_MAX_QUARTERS,
    _layers,
    _weight_sql,
    score_and_write_in_sql,
    snapshot_upsert_sql,
)
from jss.batch.snapshots import write_snapshots  # noqa: F401
from jss.batch.tallies import (  # noqa: F401
    _tune_statement,
    build_scratch,
    decode_left_out,
    drop_scratch,
    plan_chunks,
    read_tallies,
    result_from_row,
    scratch_exists,
    tallies_from_row,
    tally_sql,
)


def score_range(update_id: int | None, kind: str, first: int, last: int, as_of: date) -> list[SubjectScore]:
    """Every subject of ``kind`` with ids first..last that has a contract, scored on ``as_of``."""
    rows = read_tallies(update_id, kind, first, last, as_of)
    exclusions = exclusions_in_range(kind, first, last, as_of)
    writer = DetailWriter(as_of)
    scores = []
    for row in rows:
        subject_id = int(row[0])
        if subject_id in exclusions:
            continue
        left_out = sorted(decode_left_out(row[-1]))
        score, window, detail = writer.detail(tallies_from_row(row), left_out)
        scores.append(SubjectScore(kind, subject_id, score, window, detail, {}))
    return scores + engine_scores(kind, exclusions, as_of)


def score_and_write(
    update_id: int | None, kind: str, first: int, last: int, as_of: date, *, now: datetime, method: str | None = None
) -> tuple[int, int, dict[int, str]]:
    """Score one chunk and upsert its snapshots. Returns (subjects scored, rows written, the no-harm
    decision of each perk exclusion of its subjects: contract id -> 'excluded' / 'kept_no_harm').

    ``method`` 'sql' (PostgreSQL's default): the figures are turned into scores and detail by the database,
    in one statement; 'python' (SQLite's): by ``DetailWriter`` here. Subjects with perk exclusions are
    always scored by ``engine.compute`` (the no-harm rule needs every contract)."""
    method = method or ("sql" if _postgres() else "python")
    scratch_id = update_id if update_id is not None and scratch_exists(update_id) else None
    if method == "python":
        scores = score_range(scratch_id, kind, first, last, as_of)
        return len(scores), write_snapshots(kind, as_of, scores, now=now), _decisions(scores)
    exclusions = exclusions_in_range(kind, first, last, as_of)
    scored, written, big = score_and_write_in_sql(scratch_id, kind, first, last, as_of, now=now, skip=set(exclusions))
    rest = engine_scores(kind, exclusions, as_of)
    if big:  # beyond exact SQL text: the same figures, written by DetailWriter
        writer = DetailWriter(as_of)
        for row in read_tallies(scratch_id, kind, first, last, as_of, bigger_than=postgres.SQL_MAX_QUARTERS):
            if int(row[0]) not in exclusions:
                score, window, detail = writer.detail(tallies_from_row(row), sorted(decode_left_out(row[-1])))
                rest.append(SubjectScore(kind, int(row[0]), score, window, detail, {}))
    return scored + len(rest), written + write_snapshots(kind, as_of, rest, now=now), _decisions(rest)


def _decisions(scores: list[SubjectScore]) -> dict[int, str]:
    return {contract_id: decision for s in scores for contract_id, decision in s.decisions.items()}
