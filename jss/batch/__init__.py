"""Set-based scoring for the scheduled JSS update, one chunk of subjects at a time.

A chunk is a range of subject ids of one kind. Its contracts are read from one range of a covering index
(``contract_jss_freelancer`` / ``contract_jss_agency``, which hold every fact the score reads, the
feedback's included), in (subject, client) order, so the figures of each window are summed per subject in
one streaming pass with no join and no sort (``tallies.tally_sql``). Chunks share nothing: any number of
workers, against the primary or its read replicas, score them side by side (docs/capacity.md).

On PostgreSQL a chunk is then scored and its snapshots upserted in one INSERT ... SELECT
(``postgres.snapshot_upsert_sql``: exact numeric arithmetic); elsewhere the engine's own scoring turns the
same figures into scores (``engine.from_tallies``). The few subjects with perk exclusions are scored by
``engine.compute`` itself (the no-harm rule needs each contract). A snapshot keeps the stored detail
(``engine.stored_detail``); property tests hold every path equal to ``engine.compute``.

Nothing here makes a model instance per contract or runs a query per subject: a chunk is a fixed handful
of queries whatever its size, and the number of chunks stops growing with the marketplace
(``plan_chunks``). Works on PostgreSQL and SQLite.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from jss.batch.common import (  # noqa: F401
    AGENCY,
    FIGURE_COLUMNS,
    FIGURES,
    FREELANCER,
    KINDS,
    REASONS,
    WINDOW_COUNT,
    SubjectScore,
    _day,
    _postgres,
    _q,
)
from jss.batch.exclusions import engine_scores, exclusions_in_range, facts_of  # noqa: F401
from jss.batch.incremental import carry_forward, dirty_subjects  # noqa: F401
from jss.batch.postgres import score_and_write_in_sql, snapshot_upsert_sql  # noqa: F401
from jss.batch.snapshots import write_snapshots  # noqa: F401
from jss.batch.tallies import (  # noqa: F401
    _tune_statement,
    decode_left_out,
    plan_chunks,
    read_tallies,
    result_from_row,
    tallies_from_row,
    tally_sql,
)


def score_range(
    kind: str,
    first: int,
    last: int,
    as_of: date,
    *,
    using: str = DEFAULT_DB_ALIAS,
    subjects: list[int] | None = None,
) -> list[SubjectScore]:
    """Every subject of ``kind`` with ids first..last (of ``subjects`` if given) that has a contract, scored
    on ``as_of``: the figures summed in SQL on the database ``using`` (the primary or a read replica), the
    scores by the engine's functions here; the subjects with perk exclusions by the engine from the primary."""
    exclusions = exclusions_in_range(kind, first, last, as_of)
    scores = []
    for row in read_tallies(kind, first, last, as_of, using=using, subjects=subjects):
        subject_id = int(row[0])
        if subject_id in exclusions:
            continue
        result = result_from_row(row, as_of)
        detail = json.dumps(result.stored, separators=(",", ":"))
        scores.append(SubjectScore(kind, subject_id, result.score, result.window, detail, {}, result.stable_until))
    return scores + engine_scores(kind, exclusions, as_of)


def score_and_write(
    kind: str,
    first: int,
    last: int,
    as_of: date,
    *,
    now: datetime,
    method: str | None = None,
    subjects: list[int] | None = None,
    replica_lsn: str = "",
) -> tuple[int, int, dict[int, str]]:
    """Score one chunk and upsert its snapshots. Returns (subjects scored, rows written, the no-harm
    decision of each perk exclusion of its subjects: contract id -> 'excluded' / 'kept_no_harm').

    ``method`` 'sql' (PostgreSQL's default): the figures are turned into scores and detail by the database,
    in one statement; 'python' (SQLite's, and whenever ``JSS_UPDATE_READ_DATABASE`` names a read replica):
    the figures are read (from the replica) and scored by the engine here, and only the snapshots are
    written to the primary. Subjects with perk exclusions are always scored by ``engine.compute`` (the
    no-harm rule needs every contract). With ``subjects``, only those of the chunk's subjects are scored (the
    incremental update's dirty ones; a subject with perk exclusions is always among them)."""
    replica = getattr(settings, "JSS_UPDATE_READ_DATABASE", "") or ""
    if replica and replica_lsn and not replica_caught_up(replica, replica_lsn):
        replica = ""  # the replica is behind the update's plan: read from the primary this time
    method = method or ("sql" if _postgres() and not replica else "python")
    if method == "python":
        scores = score_range(kind, first, last, as_of, using=replica or DEFAULT_DB_ALIAS, subjects=subjects)
        return len(scores), write_snapshots(kind, as_of, scores, now=now), _decisions(scores)
    exclusions = exclusions_in_range(kind, first, last, as_of)
    scored, written = score_and_write_in_sql(kind, first, last, as_of, now=now, skip=set(exclusions), subjects=subjects)
    rest = engine_scores(kind, exclusions, as_of)
    return scored + len(rest), written + write_snapshots(kind, as_of, rest, now=now), _decisions(rest)


def score_and_write_incremental(
    kind: str,
    first: int,
    last: int,
    as_of: date,
    *,
    now: datetime,
    base_as_of: date,
    since: int,
    upto: int,
    method: str | None = None,
    replica_lsn: str = "",
) -> tuple[int, int, int, dict[int, str]]:
    """The incremental update's chunk (``jss.batch.incremental``): score the dirty subjects as
    ``score_and_write`` does, copy every other base snapshot of the chunk to ``as_of``. Returns (subjects with a
    snapshot on ``as_of``: scored + carried, subjects scored, rows written: scored rows inserted or changed +
    rows carried, the no-harm decisions). A fixed number of queries, whatever the chunk's size."""
    dirty = dirty_subjects(kind, first, last, as_of, base_as_of=base_as_of, since=since, upto=upto)
    scored, written, decisions = (0, 0, {})
    if dirty:
        scored, written, decisions = score_and_write(
            kind, first, last, as_of, now=now, method=method, subjects=dirty, replica_lsn=replica_lsn
        )
    carried = carry_forward(kind, first, last, as_of, base_as_of=base_as_of, dirty=dirty, now=now)
    return scored + carried, scored, written + carried, decisions


REPLICA_WAIT_SECONDS = 30.0


def replica_caught_up(using: str, lsn: str, *, wait: float = REPLICA_WAIT_SECONDS) -> bool:
    """Whether the database ``using`` has replayed the primary's WAL up to ``lsn`` (waiting up to ``wait``
    seconds for it). A database that is not in recovery is a primary: it has everything. Not PostgreSQL: True."""
    db = connections[using]
    if db.vendor != "postgresql":
        return True
    deadline = time.monotonic() + wait
    while True:
        with transaction.atomic(using=using), db.cursor() as cursor:
            cursor.execute(
                "SELECT NOT pg_is_in_recovery() OR COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", [lsn]
            )
            if cursor.fetchone()[0]:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _decisions(scores: list[SubjectScore]) -> dict[int, str]:
    return {contract_id: decision for s in scores for contract_id, decision in s.decisions.items()}
