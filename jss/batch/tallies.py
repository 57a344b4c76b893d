"""The per-subject figures, in SQL: the tally pass, its scratch table, the chunk plan, reading rows back."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection, transaction

from jss import engine
from jss.batch.common import (
    AGENCY,
    FIGURE_COLUMNS,
    FIGURES,
    FREELANCER,
    KIND_CODES,
    POSTGRES_WORK_MEM,
    REASONS,
    WINDOW_COUNT,
    _day,
    _postgres,
    _q,
    scratch_table,
)
from marketplace.models import Client, Contract, Feedback

# --- the per-subject figures, in SQL ------------------------------------------------------------------


def tally_sql(as_of: date, *, kind: str | None = None, first: int | None = None, last: int | None = None):
    """(sql, params) selecting one row per subject: kind (0 freelancer, 1 agency), subject, the
    FIGURE_COLUMNS and ``left_out`` (a comma-separated list of contract_id * 8 + reason code). Every subject
    with at least one contract has a row. With ``kind``/``first``/``last`` only those subjects are read.

    Each contract gets one integer key ``k`` in a single CASE (SPEC §5 in the engine's order, evaluated once,
    in the parallel scan): a left-out contract is -(id * 8 + reason); a counted contract in the 24-month window
    is (client * 16 + band * 3 + outcome) * 64 + weight in quarters (band 0 = within 3 months ... 3 = within
    24; outcome 0 negative, 1 neutral, 2 positive); any other contract is NULL. Subjects are keyed the same
    way (freelancer id * 2, agency id * 2 + 1), so the one big sort compares two integers. Contracts are
    grouped by subject and key, then by subject, where each window's sums and distinct clients are read off
    the keys. CASE takes an unknown (NULL) test as false, as the engine's None checks do."""
    contract, feedback, client = (_q(m._meta.db_table) for m in (Contract, Feedback, Client))
    starts = engine._starts(as_of)
    postgres = _postgres()
    paid = (
        "(c.last_payment_on - c.started_on)"
        if postgres
        else "CAST(julianday(c.last_payment_on) - julianday(c.started_on) AS INTEGER)"
    )
    long_term = f"({paid} IS NOT NULL AND {paid} >= %(long_term)s)"
    flagged = f"c.client_id IN (SELECT id FROM {client} WHERE flagged OR suspended_for_tos)"
    ref = "COALESCE(c.ended_on, c.last_payment_on)"
    least = "LEAST" if postgres else "MIN"
    quarters = f"""{least}(
        CASE WHEN c.total_charged <= %(small)s THEN 4 WHEN c.total_charged <= %(medium)s THEN 5 ELSE 6 END
        + CASE WHEN {paid} >= %(step)s THEN 4 * ({paid} / %(step)s) ELSE 0 END,
        %(most)s)"""

    def counted(outcome: int) -> str:
        return f"""(CASE
            WHEN {ref} > %(as_of)s OR {ref} <= %(s24)s THEN NULL
            WHEN {ref} > %(s3)s THEN (c.client_id * 16 + {outcome}) * 64 + {quarters}
            WHEN {ref} > %(s6)s THEN (c.client_id * 16 + {3 + outcome}) * 64 + {quarters}
            WHEN {ref} > %(s12)s THEN (c.client_id * 16 + {6 + outcome}) * 64 + {quarters}
            ELSE (c.client_id * 16 + {9 + outcome}) * 64 + {quarters}
        END)"""

    key = f"""CASE
        WHEN c.ended_on IS NULL AND c.last_payment_on IS NULL THEN -(c.id * 8 + 1)
        WHEN c.ended_on IS NOT NULL AND f.public_rating IS NULL AND f.private_score IS NULL AND NOT {long_term}
            THEN -(c.id * 8 + 2)
        WHEN c.disputed OR f.private_score <= 6 OR f.public_rating < 4.0
            OR (c.ended_on IS NULL AND c.last_payment_on <= %(unpaid)s)
            THEN CASE WHEN {flagged} THEN -(c.id * 8 + 4) ELSE {counted(0)} END
        WHEN f.private_score >= 9 OR (f.private_score IS NULL AND f.public_rating >= 4.5) OR {long_term}
            THEN CASE WHEN c.total_charged = 0 THEN -(c.id * 8 + 3) ELSE {counted(2)} END
        ELSE CASE WHEN {flagged} THEN -(c.id * 8 + 4) ELSE {counted(1)} END
    END"""
    as_int = "::int" if postgres else ""
    left_out = (
        "string_agg(CAST(lo AS text), ',') FILTER (WHERE lo IS NOT NULL)"
        if postgres
        else "group_concat(lo, ',') FILTER (WHERE lo IS NOT NULL)"
    )
    where, params = "", {}
    if kind == FREELANCER:
        where = "WHERE c.agency_id IS NULL AND c.freelancer_id BETWEEN %(first)s AND %(last)s"
    elif kind == AGENCY:
        where = "WHERE c.agency_id BETWEEN %(first)s AND %(last)s"
    if kind is not None:
        params.update(first=first, last=last)
    params.update(
        as_of=_day(as_of),
        s3=_day(starts[0]),
        s6=_day(starts[1]),
        s12=_day(starts[2]),
        s24=_day(starts[3]),
        unpaid=_day(as_of - timedelta(days=engine.NO_PAYMENT_NEGATIVE_DAYS)),
        long_term=engine.LONG_TERM_DAYS,
        step=engine.WEIGHT_STEP_DAYS,
        small=int(engine._SMALL_JOB),
        medium=int(engine._MEDIUM_JOB),
        most=engine._MAX_WEIGHT_QUARTERS,
    )
    figures = []
    for band in range(WINDOW_COUNT):
        inside = f"cell < {3 * (band + 1)}"  # this window holds the cells of bands 0 .. band
        figures += [
            f"COALESCE(SUM(cnt) FILTER (WHERE {inside}), 0){as_int} AS n{band}",
            f"COUNT(*) FILTER (WHERE new_client AND {inside}) AS k{band}",
            f"COALESCE(SUM(pos) FILTER (WHERE {inside}), 0){as_int} AS p{band}",
            f"COALESCE(SUM(neg) FILTER (WHERE {inside}), 0){as_int} AS m{band}",
            f"COALESCE(SUM(qs) FILTER (WHERE {inside}), 0){as_int} AS t{band}",
        ]
    distinct = "IS DISTINCT FROM" if postgres else "IS NOT"
    # Rows arrive sorted by subject and key, so by client and then band: a client's first row is its
    # earliest band, and "a client not seen before" counts the distinct clients of every window.
    sql = f"""
SELECT sk %% 2 AS kind, sk / 2 AS subject, {", ".join(figures)}, {left_out} AS left_out
FROM (
    SELECT sk, cnt, cell, pos, neg, qs, lo,
        client {distinct} LAG(client) OVER (PARTITION BY sk ORDER BY k) AS new_client
    FROM (
        SELECT sk, k, cnt,
            CASE WHEN k >= 0 THEN k / 64 %% 16 END AS cell,
            CASE WHEN k >= 0 THEN k / 1024 END AS client,
            CASE WHEN k >= 0 AND k / 64 %% 16 %% 3 = 2 THEN cnt * (k %% 64) ELSE 0 END AS pos,
            CASE WHEN k >= 0 AND k / 64 %% 16 %% 3 = 0 THEN cnt * (k %% 64) ELSE 0 END AS neg,
            CASE WHEN k >= 0 THEN cnt * (k %% 64) ELSE 0 END AS qs,
            CASE WHEN k < 0 THEN -k END AS lo
        FROM (
            SELECT
                CASE WHEN c.agency_id IS NULL THEN c.freelancer_id * 2 ELSE c.agency_id * 2 + 1 END AS sk,
                {key} AS k,
                COUNT(*){as_int} AS cnt
            FROM {contract} c
            LEFT JOIN {feedback} f ON f.contract_id = c.id
            {where}
            GROUP BY 1, 2
        ) keyed
    ) cells
) firsts
GROUP BY sk
"""
    return sql, params


def _tune_statement(cursor):
    if _postgres():
        cursor.execute(f"SET LOCAL work_mem = '{POSTGRES_WORK_MEM}'")
        cursor.execute("SET LOCAL jit = off")  # compiling this statement costs more than it saves


def build_scratch(update_id: int, as_of: date) -> None:
    """Sum every subject's figures into the update's scratch table, in one statement (parallel on
    PostgreSQL). Call inside a transaction."""
    table = _q(scratch_table(update_id))
    sql, params = tally_sql(as_of)
    with connection.cursor() as cursor:
        _tune_statement(cursor)
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        unlogged = "UNLOGGED " if _postgres() else ""  # scratch: rebuilt, never recovered
        cursor.execute(f"CREATE {unlogged}TABLE {table} AS {sql}", params)
        cursor.execute(f"CREATE INDEX {_q(scratch_table(update_id) + '_subject')} ON {table} (kind, subject)")


def drop_scratch(update_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_q(scratch_table(update_id))}")


def scratch_exists(update_id: int) -> bool:
    with connection.cursor() as cursor:
        if _postgres():
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [scratch_table(update_id)])
        else:
            cursor.execute(
                "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = %s", [scratch_table(update_id)]
            )
        return bool(cursor.fetchone()[0])


def plan_chunks(update_id: int, chunk_size: int) -> list[tuple[str, int, int, int]]:
    """(kind, first subject id, last subject id, subjects) for chunks of ``chunk_size`` subjects, in one
    query over the scratch table."""
    table = _q(scratch_table(update_id))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT kind, MIN(subject), MAX(subject), COUNT(*)
            FROM (
                SELECT kind, subject, (ROW_NUMBER() OVER (PARTITION BY kind ORDER BY subject) - 1) / %s AS chunk
                FROM {table}
            ) numbered
            GROUP BY kind, chunk
            ORDER BY kind, MIN(subject)
            """,
            [int(chunk_size)],
        )
        kinds = {code: kind for kind, code in KIND_CODES.items()}
        return [(kinds[kind], int(first), int(last), int(count)) for kind, first, last, count in cursor.fetchall()]


def read_tallies(
    update_id: int | None, kind: str, first: int, last: int, as_of: date, *, bigger_than: int | None = None
) -> list[tuple]:
    """The chunk's rows: from the scratch table when there is one, else summed straight from its subjects'
    contracts (the same SQL, limited to the chunk: slower on a big table, right either way). With
    ``bigger_than``, only the subjects whose 24-month weight exceeds it."""
    columns = ", ".join(("subject", *FIGURE_COLUMNS, "left_out"))
    big = "" if bigger_than is None else f" AND t3 > {int(bigger_than)}"
    with connection.cursor() as cursor:
        if update_id is not None and scratch_exists(update_id):
            cursor.execute(
                f"SELECT {columns} FROM {_q(scratch_table(update_id))} "
                f"WHERE kind = %s AND subject BETWEEN %s AND %s{big}",
                [KIND_CODES[kind], first, last],
            )
            return cursor.fetchall()
        sql, params = tally_sql(as_of, kind=kind, first=first, last=last)
        with transaction.atomic():
            _tune_statement(cursor)
            cursor.execute(f"SELECT {columns} FROM ({sql}) chunk WHERE true{big}", params)
            return cursor.fetchall()


def decode_left_out(text: str | None) -> list[tuple[int, str]]:
    if not text:
        return []
    pairs = []
    for item in str(text).split(","):
        value = int(item)
        pairs.append((value >> 3, REASONS[value & 7]))
    return pairs


def tallies_from_row(row: tuple) -> list[tuple[int, int, int, int, int]]:
    figures = row[1 : 1 + len(FIGURE_COLUMNS)]
    width = len(FIGURES)
    return [tuple(int(value) for value in figures[band * width : (band + 1) * width]) for band in range(WINDOW_COUNT)]


def result_from_row(row: tuple, as_of: date) -> engine.JssResult:
    return engine.from_tallies(tallies_from_row(row), decode_left_out(row[-1]), as_of=as_of)
