"""PostgreSQL: score a chunk and write its snapshots in one INSERT ... SELECT over the chunk's tally."""

from __future__ import annotations

from datetime import date, datetime

from django.db import connection

from jss import engine
from jss.batch.common import AGENCY, FIGURE_COLUMNS, WINDOW_COUNT, _q
from jss.batch.tallies import _tune_statement, tally_sql
from jss.models import ScoreSnapshot


def _layers(source: str, steps: list[list[str]]) -> str:
    """Each step's columns computed once over the previous step (OFFSET 0 keeps PostgreSQL from inlining
    them into every later use)."""
    sql = source
    for number, columns in enumerate(steps):
        sql = f"SELECT l{number}.*, {', '.join(columns)} FROM ({sql}) l{number} OFFSET 0"
    return sql


def snapshot_upsert_sql(source: str, kind: str, as_of: date):
    """(sql, params) of one statement that scores every row of ``source`` (a tally: subject, the
    FIGURE_COLUMNS, left_out, stable_until) and upserts its snapshot, leaving unchanged rows alone; it returns (subjects
    scored, rows written).

    The engine's numbers, exactly, in numeric arithmetic: each window's score is the fraction
    100 * (positive - negative) / all (clamped), trending (3m + 6m) / 2 as one fraction; the displayed one
    is the first of 24m, 12m, 6m, trending that qualifies and is at least every later one (fractions
    compared by cross-multiplying); the score is that fraction rounded half up, div(2 num + den, 2 den).
    (The engine rounds its 28-digit quotient instead; the two agree while a denominator is below 10^26,
    and a denominator is at most 2 x 32^2 x contracts^2.) The detail is ``engine.stored_detail``'s."""
    table = _q(ScoreSnapshot._meta.db_table)
    window = _q("window")
    subject_column = "agency_id" if kind == AGENCY else "freelancer_id"
    names = [name for name, _ in engine.WINDOWS] + [engine.TRENDING]  # index i in the column names below
    fractions = []
    for band in range(WINDOW_COUNT):
        fractions.append(
            (f"(n{band} >= 2 AND k{band} >= 2)", f"100 * GREATEST(LEAST(p{band} - m{band}, t{band}), 0)", f"t{band}")
        )
    fractions.append(
        (
            "(n0 >= 2 AND k0 >= 2 AND n1 >= 2 AND k1 >= 2)",
            "100 * (GREATEST(LEAST(p0 - m0, t0), 0)::numeric * t1 + GREATEST(LEAST(p1 - m1, t1), 0)::numeric * t0)",
            "2 * t0::numeric * t1",
        )
    )
    order = [names.index(name) for name in engine.DISPLAY_ORDER]

    def at_least_all_later(position: int) -> str:
        """The window at ``position`` in the display order qualifies and is >= every later one that does: it
        is the displayed one if no earlier one was."""
        i = order[position]
        tests = [f"q_{i}"] + [f"(NOT q_{j} OR num_{i} * den_{j} >= num_{j} * den_{i})" for j in order[position + 1 :]]
        return " AND ".join(tests)

    steps = [
        [
            column
            for i, (qualifies, num, den) in enumerate(fractions)
            if i in order
            for column in (
                f"{qualifies} AS q_{i}",
                f"CASE WHEN {qualifies} THEN ({num})::numeric END AS num_{i}",
                f"CASE WHEN {qualifies} THEN ({den})::numeric END AS den_{i}",
            )
        ],
        [
            "CASE "
            + " ".join(f"WHEN {at_least_all_later(position)} THEN {position}" for position in range(len(order)))
            + " END AS shown"
        ],
    ]
    score = "CASE x.shown " + " ".join(
        f"WHEN {position} THEN div(2 * num_{i} + den_{i}, 2 * den_{i})::int" for position, i in enumerate(order)
    )
    score += " END"
    win = "CASE x.shown " + " ".join(f"WHEN {p} THEN '{name}'" for p, name in enumerate(engine.DISPLAY_ORDER))
    win += " END"
    # The stored detail as JSON text in one format() call, stored as it is in the json column (PostgreSQL
    # checks it is JSON; see ScoreSnapshot.detail). Every %%s below is a format() placeholder.
    parts = ",".join(f'"{name}":[%%s,%%s,%%s,%%s,%%s]' for name, _ in engine.WINDOWS)
    template = '{"windows":{' + parts + '},"left_out":[%%s]}'
    values = [f"x.{column}" for column in FIGURE_COLUMNS] + ["COALESCE(x.left_out, '')"]
    detail = f"format('{template}', {', '.join(values)})::json"
    sql = f"""
WITH scored AS ({_layers(source, steps)}),
written AS (
    INSERT INTO {table} ({subject_column}, as_of, score, {window}, detail, algorithm_version, computed_at,
        stable_until)
    SELECT x.subject, %(as_of)s, {score}, {win}, {detail}, {engine.ALGORITHM_VERSION}, %(now)s, x.stable_until
    FROM scored x
    ON CONFLICT ({subject_column}, as_of) DO UPDATE SET score = excluded.score, {window} = excluded.{window},
        detail = excluded.detail, algorithm_version = excluded.algorithm_version, computed_at = excluded.computed_at,
        stable_until = excluded.stable_until
    WHERE ({table}.score, {table}.{window}, {table}.detail::text, {table}.algorithm_version, {table}.stable_until)
        IS DISTINCT FROM (excluded.score, excluded.{window}, excluded.detail::text, excluded.algorithm_version,
        excluded.stable_until)
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM scored), (SELECT COUNT(*) FROM written)
"""
    return sql, {"as_of": as_of}


def score_and_write_in_sql(
    kind: str,
    first: int,
    last: int,
    as_of: date,
    *,
    now: datetime,
    skip: set[int],
    subjects: list[int] | None = None,
) -> tuple[int, int]:
    """PostgreSQL: score the chunk's subjects (but ``skip``; only ``subjects`` if given) straight from their
    contracts and upsert their snapshots in one statement. Returns (subjects scored, rows written)."""
    columns = ", ".join(("subject", *FIGURE_COLUMNS, "left_out", "stable_until"))
    tallies, params = tally_sql(as_of, kind=kind, first=first, last=last, subjects=subjects)
    source = f"SELECT {columns} FROM ({tallies}) t WHERE NOT (subject = ANY(%(skip)s))"
    sql, upsert_params = snapshot_upsert_sql(source, kind, as_of)
    params.update(upsert_params, now=now, skip=sorted(skip))
    with connection.cursor() as cursor:
        _tune_statement(cursor)
        cursor.execute(sql, params)
        scored, written = cursor.fetchone()
    return int(scored), int(written)
