"""PostgreSQL: score a chunk and write its snapshots in one INSERT ... SELECT (exact integer arithmetic that
writes the engine's 28-digit Decimal texts)."""

from __future__ import annotations

from datetime import date, datetime

from django.db import connection

from jss import engine
from jss.batch.common import (
    AGENCY,
    FIGURE_COLUMNS,
    KIND_CODES,
    REASONS,
    WINDOW_COUNT,
    _q,
    scratch_table,
)
from jss.batch.tallies import (
    _tune_statement,
    tally_sql,
)
from jss.models import ScoreSnapshot

# --- PostgreSQL: score and write a chunk in one statement ------------------------------------------------

# Subjects whose window weights exceed this (in quarters) are scored in Python instead: beyond it a score
# could fall under 1e-6, which Python's Decimal writes in scientific notation. No real subject comes close.
SQL_MAX_QUARTERS = 10**7
_REASON_ARRAY = "ARRAY[" + ", ".join(f"'{REASONS[code]}'" for code in sorted(REASONS)) + "]"


def _weight_sql(quarters: str) -> str:
    return f"(({quarters}) / 4)::text || (ARRAY['', '.25', '.5', '.75'])[({quarters}) %% 4 + 1]"


def _layers(source: str, steps: list[list[str]]) -> str:
    """Each step's columns computed once over the previous step (OFFSET 0 keeps PostgreSQL from inlining
    them into every later use)."""
    sql = source
    for number, columns in enumerate(steps):
        sql = f"SELECT l{number}.*, {', '.join(columns)} FROM ({sql}) l{number} OFFSET 0"
    return sql


def snapshot_upsert_sql(source: str, kind: str, as_of: date):
    """(sql, params) of one statement that scores every row of ``source`` (the scratch table's columns) and
    upserts its snapshot, leaving unchanged rows alone; it returns (subjects scored, rows written, the
    subjects left to Python).

    The engine's numbers, exactly: each window's score is the fraction 100 * (positive - negative) / all
    (clamped), trending (3m + 6m) / 2 as one fraction; the displayed one is the first of 24m, 12m, 6m,
    trending that qualifies and is at least every later one (fractions compared by cross-multiplying); the
    text is Python's Decimal division at 28 significant digits, rounded half even, an exact result written
    without trailing zeros: the quotient scaled by 10^places, and the remainder that decides the rounding;
    the score is that value rounded half up."""
    starts = engine._starts(as_of)
    table = _q(ScoreSnapshot._meta.db_table)
    window = _q("window")
    subject_column = "agency_id" if kind == AGENCY else "freelancer_id"
    names = [name for name, _ in engine.WINDOWS] + [engine.TRENDING]  # index i in the column names below
    fractions = []
    for band in range(WINDOW_COUNT):
        qualifies = f"(n{band} >= 2 AND k{band} >= 2)"
        fractions.append((qualifies, f"100 * GREATEST(LEAST(p{band} - m{band}, t{band}), 0)", f"t{band}"))
    fractions.append(
        (
            "(n0 >= 2 AND k0 >= 2 AND n1 >= 2 AND k1 >= 2)",
            "100 * (GREATEST(LEAST(p0 - m0, t0), 0)::numeric * t1 + GREATEST(LEAST(p1 - m1, t1), 0)::numeric * t0)",
            "2 * t0::numeric * t1",
        )
    )
    count = len(fractions)
    order = [names.index(name) for name in engine.DISPLAY_ORDER]

    def at_least_all_later(position: int) -> str:
        """The window at ``position`` in the display order qualifies and is >= every later one that does (the
        fractions compared exactly, by cross-multiplying): it is the displayed one if no earlier one was."""
        i = order[position]
        tests = [f"q_{i}"] + [f"(NOT q_{j} OR num_{i} * den_{j} >= num_{j} * den_{i})" for j in order[position + 1 :]]
        return " AND ".join(tests)

    power = "(CASE {p} " + " ".join(f"WHEN {places} THEN 1e{places}" for places in range(26, 34)) + " END)"
    steps = [
        [
            column
            for i, (qualifies, num, den) in enumerate(fractions)
            for column in (
                f"{qualifies} AS q_{i}",
                f"CASE WHEN {qualifies} THEN ({num})::numeric END AS num_{i}",
                f"CASE WHEN {qualifies} THEN ({den})::numeric END AS den_{i}",
            )
        ],
        [
            f"(CASE WHEN num_{i} >= 10 * den_{i} THEN 26 WHEN num_{i} >= den_{i} THEN 27 "
            f"WHEN 10 * num_{i} >= den_{i} THEN 28 WHEN 100 * num_{i} >= den_{i} THEN 29 "
            f"WHEN 1000 * num_{i} >= den_{i} THEN 30 WHEN 10000 * num_{i} >= den_{i} THEN 31 "
            f"WHEN 100000 * num_{i} >= den_{i} THEN 32 ELSE 33 END) AS places_{i}"
            for i in range(count)
        ]
        + [
            "CASE "
            + " ".join(
                f"WHEN {at_least_all_later(position)} THEN '{engine.DISPLAY_ORDER[position]}'"
                for position in range(len(order))
            )
            + " END AS win"
        ],
        [f"div(num_{i} * {power.format(p=f'places_{i}')}, den_{i}) AS floor_{i}" for i in range(count)],
        [f"num_{i} * {power.format(p=f'places_{i}')} - floor_{i} * den_{i} AS rest_{i}" for i in range(count)],
        [
            f"floor_{i} + CASE WHEN 2 * rest_{i} > den_{i} OR (2 * rest_{i} = den_{i} AND mod(floor_{i}, 2) = 1) "
            f"THEN 1 ELSE 0 END AS rounded_{i}"
            for i in range(count)
        ],
        [
            f"lpad(rounded_{i}::text, GREATEST(length(rounded_{i}::text), places_{i} + 1), '0') AS digits_{i}"
            for i in range(count)
        ]
        + [
            # The displayed score: its 28-digit value rounded half up to an integer.
            "CASE win "
            + " ".join(
                f"WHEN '{name}' THEN (div(rounded_{i}, {power.format(p=f'places_{i}')}) + CASE WHEN "
                f"2 * mod(rounded_{i}, {power.format(p=f'places_{i}')}) >= {power.format(p=f'places_{i}')} "
                "THEN 1 ELSE 0 END)::int"
                for i, name in enumerate(names)
                if name in engine.DISPLAY_ORDER
            )
            + " END AS score"
        ],
        [
            f"CASE WHEN num_{i} = 0 THEN '0' "
            f"WHEN rest_{i} = 0 THEN rtrim(rtrim(left(digits_{i}, length(digits_{i}) - places_{i}) || '.' || "
            f"right(digits_{i}, places_{i}), '0'), '.') "
            f"ELSE left(digits_{i}, length(digits_{i}) - places_{i}) || '.' || right(digits_{i}, places_{i}) "
            f"END AS text_{i}"
            for i in range(count)
        ],
        ["CASE win " + " ".join(f"WHEN '{name}' THEN text_{i}" for i, name in enumerate(names)) + " END AS unrounded"],
    ]
    # The detail as JSON text in one format() call, stored as it is in the json column (PostgreSQL checks it
    # is JSON; see ScoreSnapshot.detail). Every %%s below is a format() placeholder (%% is psycopg's escape).
    template, values = [], []
    template.append(
        '{"algorithm_version":' + str(engine.ALGORITHM_VERSION) + ',"as_of":"' + as_of.isoformat() + '",'
        '"score":%%s,"window":%%s,"unrounded":%%s,"windows":{'
    )
    values += ["COALESCE(x.score::text, 'null')", "COALESCE('\"' || x.win || '\"', 'null')"]
    values.append("COALESCE('\"' || x.unrounded || '\"', 'null')")
    for band, ((name, _), start) in enumerate(zip(engine.WINDOWS, starts, strict=True)):
        template.append(
            '"' + name + '":{"start":"' + start.isoformat() + '","contracts":%%s,"clients":%%s,"qualifies":%%s,'
            '"positive_weight":"%%s","negative_weight":"%%s","total_weight":"%%s","score":%%s},'
        )
        values += [
            f"x.n{band}",
            f"x.k{band}",
            f"x.q_{band}::text",
            _weight_sql(f"x.p{band}"),
            _weight_sql(f"x.m{band}"),
            _weight_sql(f"x.t{band}"),
            f"COALESCE('\"' || x.text_{band} || '\"', 'null')",
        ]
    template.append('"' + engine.TRENDING + '":{"of":["3m","6m"],"qualifies":%%s,"score":%%s}},"left_out":[%%s],')
    template.append('"exclusions":[]}')
    values += ["x.q_4::text", "COALESCE('\"' || x.text_4 || '\"', 'null')"]
    values.append(
        'COALESCE((SELECT string_agg(format(\'{"contract_id":%%s,"reason":"%%s"}\', v / 8, '
        f"({_REASON_ARRAY})[v %% 8]), ',' ORDER BY v) "
        "FROM unnest(string_to_array(x.left_out, ',')::bigint[]) v), '')"
    )
    detail = f"format('{''.join(template)}', {', '.join(values)})::json"
    sql = f"""
WITH scored AS ({_layers(source, steps)}),
written AS (
    INSERT INTO {table} ({subject_column}, as_of, score, {window}, detail, algorithm_version, computed_at)
    SELECT x.subject, %(as_of)s, x.score, x.win,
        {detail},
        {engine.ALGORITHM_VERSION}, %(now)s
    FROM scored x
    WHERE x.t3 <= {SQL_MAX_QUARTERS}
    ON CONFLICT ({subject_column}, as_of) DO UPDATE SET score = excluded.score, {window} = excluded.{window},
        detail = excluded.detail, algorithm_version = excluded.algorithm_version, computed_at = excluded.computed_at
    WHERE ({table}.score, {table}.{window}, {table}.detail::text, {table}.algorithm_version)
        IS DISTINCT FROM (excluded.score, excluded.{window}, excluded.detail::text, excluded.algorithm_version)
    RETURNING 1
)
SELECT
    (SELECT COUNT(*) FROM scored WHERE t3 <= {SQL_MAX_QUARTERS}),
    (SELECT COUNT(*) FROM written),
    (SELECT array_agg(subject) FROM scored WHERE t3 > {SQL_MAX_QUARTERS})
"""
    return sql, {"as_of": as_of}


def score_and_write_in_sql(
    scratch_id: int | None, kind: str, first: int, last: int, as_of: date, *, now: datetime, skip: set[int]
) -> tuple[int, int, list[int]]:
    """PostgreSQL: score the chunk's subjects (but ``skip``) and upsert their snapshots in one statement, from
    the scratch table of update ``scratch_id`` (None: straight from the contracts). Returns (subjects scored,
    rows written, the subjects left to Python because their weights exceed SQL_MAX_QUARTERS)."""
    columns = ", ".join(("subject", *FIGURE_COLUMNS, "left_out"))
    condition = "NOT (subject = ANY(%(skip)s))"
    with connection.cursor() as cursor:
        if scratch_id is not None:
            source = (
                f"SELECT {columns} FROM {_q(scratch_table(scratch_id))} "
                f"WHERE kind = %(kind)s AND subject BETWEEN %(first)s AND %(last)s AND {condition}"
            )
            params = {"kind": KIND_CODES[kind], "first": first, "last": last}
        else:
            tallies, params = tally_sql(as_of, kind=kind, first=first, last=last)
            source = f"SELECT {columns} FROM ({tallies}) t WHERE {condition}"
            _tune_statement(cursor)
        sql, upsert_params = snapshot_upsert_sql(source, kind, as_of)
        params.update(upsert_params, now=now, skip=sorted(skip))
        cursor.execute(sql, params)
        scored, written, big = cursor.fetchone()
    return int(scored), int(written), list(big or [])
