"""The per-subject figures, in SQL: one chunk of subjects at a time, the plan of the chunks, reading rows back."""

from __future__ import annotations

import json
from datetime import date, timedelta

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Max, Min

from jss import engine
from jss.batch.common import (
    AGENCY,
    FIGURE_COLUMNS,
    FIGURES,
    FREELANCER,
    REASONS,
    WINDOW_COUNT,
    _day,
    _postgres,
    _q,
)
from marketplace.models import Agency, Client, Contract, Freelancer

# --- the per-subject figures, in SQL ------------------------------------------------------------------


def tally_sql(as_of: date, *, kind: str, first: int, last: int, subjects: list[int] | None = None):
    """(sql, params) selecting one row per subject of ``kind`` with ids first..last that has a contract:
    subject, the FIGURE_COLUMNS, ``left_out`` and ``stable_until``. With ``subjects``, only those of them
    (the incremental update's dirty subjects: still one range of the index, filtered).

    The chunk's contracts are read in (subject, client) order from the covering index of their kind
    (``contract_jss_freelancer`` / ``contract_jss_agency``: an index-only range scan on PostgreSQL, no join,
    no sort), so the grouping by subject streams. Each contract gets one integer key ``k`` in a single CASE
    (SPEC §5 in the engine's order, evaluated once): a left-out contract is -(id * 8 + reason); a counted
    contract in the 24-month window is (band * 3 + outcome) * 64 + weight in quarters (band 0 = within 3
    months ... 3 = within 24; outcome 0 negative, 1 neutral, 2 positive); any other contract is NULL. The
    contracts are summed per subject, each window over its bands, with the distinct clients of each window
    (a small sort of each subject's own rows). ``left_out`` is the left-out contracts as
    JSON pairs ``[contract_id,"reason"]``, by contract id on PostgreSQL (``decode_left_out``). The
    feedback is read from the contract's copy of it (kept by the database, see marketplace migration 0002).
    CASE takes an unknown (NULL) test as false, as the engine's None checks do.

    ``stable_until`` is ``engine.stable_until`` (9999-12-31 for never), from more aggregates in the same pass:
    the earliest day an active paid contract turns negative (the no-payment rule) over every contract, and
    the earliest day a counted contract (k >= 0, or NULL: outside the 24 months) enters the 24 months or
    leaves its smallest window (its reference date + W months, clamped to the month's end, after as_of). On
    PostgreSQL the months are added per subject (to each band's earliest date), not per contract."""
    contract, client = (_q(m._meta.db_table) for m in (Contract, Client))
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
    rating, private = "c.feedback_public_rating", "c.feedback_private_score"
    quarters = f"""{least}(
        CASE WHEN c.total_charged <= %(small)s THEN 4 WHEN c.total_charged <= %(medium)s THEN 5 ELSE 6 END
        + CASE WHEN {paid} >= %(step)s THEN 4 * ({paid} / %(step)s) ELSE 0 END,
        %(most)s)"""

    def counted(outcome: int) -> str:
        return f"""(CASE
            WHEN {ref} > %(as_of)s OR {ref} <= %(s24)s THEN NULL
            WHEN {ref} > %(s3)s THEN {outcome * 64} + {quarters}
            WHEN {ref} > %(s6)s THEN {(3 + outcome) * 64} + {quarters}
            WHEN {ref} > %(s12)s THEN {(6 + outcome) * 64} + {quarters}
            ELSE {(9 + outcome) * 64} + {quarters}
        END)"""

    key = f"""CASE
        WHEN c.ended_on IS NULL AND c.last_payment_on IS NULL THEN -(c.id * 8 + 1)
        WHEN c.ended_on IS NOT NULL AND {rating} IS NULL AND {private} IS NULL AND NOT {long_term}
            THEN -(c.id * 8 + 2)
        WHEN c.disputed OR {private} <= 6 OR {rating} < 4.0
            OR (c.ended_on IS NULL AND c.last_payment_on <= %(unpaid)s)
            THEN CASE WHEN {flagged} THEN -(c.id * 8 + 4) ELSE {counted(0)} END
        WHEN {private} >= 9 OR ({private} IS NULL AND {rating} >= 4.5) OR {long_term}
            THEN CASE WHEN c.total_charged = 0 THEN -(c.id * 8 + 3) ELSE {counted(2)} END
        ELSE CASE WHEN {flagged} THEN -(c.id * 8 + 4) ELSE {counted(1)} END
    END"""
    as_int = "::int" if postgres else ""
    if postgres:
        unpaid_event = f"c.last_payment_on + {engine.NO_PAYMENT_NEGATIVE_DAYS}"
    else:
        unpaid_event = f"date(c.last_payment_on, '+{engine.NO_PAYMENT_NEGATIVE_DAYS} days')"
    unpaid = f"CASE WHEN c.ended_on IS NULL AND c.last_payment_on > %(unpaid)s THEN {unpaid_event} END"
    if kind == FREELANCER:
        subject, where = "c.freelancer_id", "c.agency_id IS NULL AND c.freelancer_id BETWEEN %(first)s AND %(last)s"
    else:
        subject, where = "c.agency_id", "c.agency_id IS NOT NULL AND c.agency_id BETWEEN %(first)s AND %(last)s"
    if subjects is not None:
        if postgres:
            where += f" AND {subject} = ANY(%(subjects)s::bigint[])"
        else:
            where += f" AND {subject} IN (SELECT value FROM json_each(%(subjects)s))"
    params = dict(
        first=first,
        last=last,
        as_of=_day(as_of),
        s3=_day(starts[0]),
        s6=_day(starts[1]),
        s12=_day(starts[2]),
        s24=_day(starts[3]),
        unpaid=_day(as_of - timedelta(days=engine.NO_PAYMENT_NEGATIVE_DAYS)),
        tomorrow=_day(as_of + timedelta(days=1)),
        long_term=engine.LONG_TERM_DAYS,
        step=engine.WEIGHT_STEP_DAYS,
        small=int(engine._SMALL_JOB),
        medium=int(engine._MEDIUM_JOB),
        most=engine._MAX_WEIGHT_QUARTERS,
    )
    if subjects is not None:
        params["subjects"] = sorted(subjects) if postgres else json.dumps(sorted(subjects))
    # Window w holds the keys of bands 0..w: 0 <= k < (w + 1) * 192 (a band is 3 outcomes of 64 keys).
    figures = []
    for band in range(WINDOW_COUNT):
        inside = f"k >= 0 AND k < {(band + 1) * 192}"
        figures += [
            f"COUNT(*) FILTER (WHERE {inside}) AS n{band}",
            f"COUNT(DISTINCT client) FILTER (WHERE {inside}) AS k{band}",
            f"COALESCE(SUM(k %% 64) FILTER (WHERE {inside} AND k %% 192 >= 128), 0){as_int} AS p{band}",
            f"COALESCE(SUM(k %% 64) FILTER (WHERE {inside} AND k %% 192 < 64), 0){as_int} AS m{band}",
            f"COALESCE(SUM(k %% 64) FILTER (WHERE {inside}), 0){as_int} AS t{band}",
        ]
    reason = "CASE -k %% 8 " + " ".join(f"WHEN {code} THEN '{name}'" for code, name in sorted(REASONS.items())) + " END"
    string_agg = "string_agg" if postgres else "group_concat"
    # In contract id order on PostgreSQL (k = -(id * 8 + reason)), as the engine lists them, so every path writes
    # the same text for the same subject and a rerun leaves the row alone; SQLite's rows are sorted in Python.
    in_order = " ORDER BY k DESC" if postgres else ""
    pair = f"'[' || CAST(-k / 8 AS text) || ',\"' || {reason} || '\"]'"
    left_out = f"{string_agg}({pair}, ','{in_order}) FILTER (WHERE k < 0)"
    # PostgreSQL: ORDER BY + OFFSET 0 keep the key worked out once per contract (not once per use) while the
    # index's order carries through, so the grouping streams without a sort.
    order = " ORDER BY 1 OFFSET 0" if postgres else ""
    never = "DATE '9999-12-31'" if postgres else "'9999-12-31'"
    if postgres:
        # Per subject, not per contract: the earliest reference date of each band (read from the key), moved on
        # by the band's months once (adding months keeps the order), a future date as it is, the unpaid date.
        # Every candidate but the crossings is after as_of already, so one GREATEST clamps them all.
        crossings = ", ".join(
            f"(MIN(d) FILTER (WHERE k >= {band * 192} AND k < {(band + 1) * 192}) + interval '{months} months')::date"
            for band, (_, months) in enumerate(engine.WINDOWS)
        )
        entering = "MIN(d) FILTER (WHERE k IS NULL AND d > %(as_of)s)"
        stable = f"GREATEST(COALESCE(LEAST(MIN(u), {entering}, {crossings}), {never}), %(tomorrow)s)"
        per_contract = f"{unpaid} AS u, {ref} AS d"
    else:
        # SQLite: each contract's own crossing date. '+N months' runs over into the next month there (08-31 + 6
        # months = 03-03): clamped to the month's end.
        def plus(months: int) -> str:
            month_end = f"date({ref}, 'start of month', '+{months + 1} months', '-1 day')"
            return f"MIN(date({ref}, '+{months} months'), {month_end})"

        crossing = f"CASE WHEN {ref} > %(as_of)s THEN {ref} " + " ".join(
            f"WHEN {ref} > %({start})s THEN MAX({plus(months)}, %(tomorrow)s)"
            for start, months in (("s3", 3), ("s6", 6), ("s12", 12), ("s24", 24))
        )
        stable = f"MIN(COALESCE(MIN(u), {never}), COALESCE(MIN(x) FILTER (WHERE k IS NULL OR k >= 0), {never}))"
        per_contract = f"{unpaid} AS u, {crossing} END AS x"
    sql = f"""
SELECT subject, {", ".join(figures)}, {left_out} AS left_out, {stable} AS stable_until
FROM (
    SELECT {subject} AS subject, c.client_id AS client, {key} AS k, {per_contract}
    FROM {contract} c
    WHERE {where}{order}
) keyed
GROUP BY subject
"""
    return sql, params


def _tune_statement(cursor):
    """PostgreSQL, for this transaction, in one query: no JIT (compiling the statement costs more than it
    saves) and no parallel workers (a chunk is one index range; the update runs chunks side by side)."""
    if cursor.db.vendor == "postgresql":
        cursor.execute(
            "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)"
        )


def plan_chunks(chunk_size: int, max_chunks: int) -> list[tuple[str, int, int, int]]:
    """(kind, first subject id, last subject id, ids in the range) covering every freelancer and agency, in
    two queries (each table's smallest and largest id, from its primary key). Chunks hold ``chunk_size``
    ids, or more when that would make more than ``max_chunks``: the number of chunks, and so of queries,
    stops growing with the marketplace, and each chunk reads one range of the covering index. Ids are
    handed out in order, so a range of ids holds about as many subjects as its width."""
    spans = []
    for kind, model in ((FREELANCER, Freelancer), (AGENCY, Agency)):
        bounds = model.objects.aggregate(low=Min("id"), high=Max("id"))
        if bounds["low"] is not None:
            spans.append((kind, int(bounds["low"]), int(bounds["high"])))
    width = sum(high - low + 1 for _, low, high in spans)
    size = max(int(chunk_size), -(-width // int(max_chunks)) if max_chunks else 0, 1)
    plan = []
    for kind, low, high in spans:
        for first in range(low, high + 1, size):
            last = min(first + size - 1, high)
            plan.append((kind, first, last, last - first + 1))
    return plan


def read_tallies(
    kind: str,
    first: int,
    last: int,
    as_of: date,
    *,
    using: str = DEFAULT_DB_ALIAS,
    subjects: list[int] | None = None,
) -> list[tuple]:
    """The chunk's rows (``tally_sql``): subject, FIGURE_COLUMNS, left_out, stable_until; read from the
    database ``using`` (the primary, or a read replica: ``JSS_UPDATE_READ_DATABASE``)."""
    sql, params = tally_sql(as_of, kind=kind, first=first, last=last, subjects=subjects)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        _tune_statement(cursor)
        cursor.execute(sql, params)
        return cursor.fetchall()


def decode_left_out(text: str | None) -> list[tuple[int, str]]:
    """``left_out`` of a tally row as (contract_id, reason) pairs, sorted as the engine sorts them."""
    if not text:
        return []
    return sorted((int(contract_id), reason) for contract_id, reason in json.loads(f"[{text}]"))


def tallies_from_row(row: tuple) -> list[tuple[int, int, int, int, int]]:
    figures = row[1 : 1 + len(FIGURE_COLUMNS)]
    width = len(FIGURES)
    return [tuple(int(value) for value in figures[band * width : (band + 1) * width]) for band in range(WINDOW_COUNT)]


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)  # SQLite gives ISO text


def result_from_row(row: tuple, as_of: date) -> engine.JssResult:
    return engine.from_tallies(tallies_from_row(row), decode_left_out(row[-2]), as_of=as_of, stable=_date(row[-1]))
