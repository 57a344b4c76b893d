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
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction

from jss import engine, selectors
from jss.models import JssExclusion, ScoreSnapshot, SubjectKind
from marketplace.models import Client, Contract, Feedback

FREELANCER = SubjectKind.FREELANCER.value
AGENCY = SubjectKind.AGENCY.value
KINDS = (FREELANCER, AGENCY)
KIND_CODES = {FREELANCER: 0, AGENCY: 1}  # how the scratch table spells the kind (an integer sorts fast)

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
# A big hash join and hash aggregates: give the one statement room instead of spilling to disk.
POSTGRES_WORK_MEM = "256MB"


@dataclass(frozen=True)
class SubjectScore:
    """One subject's score on the update's as_of: its score, window, detail as JSON text, and the no-harm
    decisions of its exclusions (contract id -> 'excluded' / 'kept_no_harm')."""

    kind: str
    subject_id: int
    score: int | None
    window: str | None
    detail_json: str
    decisions: dict


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _day(value: date):
    # psycopg adapts dates; SQLite stores them as ISO text, which compares correctly as text.
    return connection.ops.adapt_datefield_value(value)


def scratch_table(update_id: int) -> str:
    return f"jss_tally_{int(update_id)}"


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


class DetailWriter:
    """``engine.from_tallies`` as JSON text, fast: the same scoring functions, with each window's text, each
    fraction's 28-digit text and each weight's text worked out once per update and reused (a scheduled
    update writes ~1 KB of detail for every subject, so this is where its Python time goes). The property
    tests hold it equal to ``engine.compute``."""

    def __init__(self, as_of: date):
        self.as_of = as_of
        starts = engine._starts(as_of)
        self.window_heads = [
            f'"{name}":{{"start":"{start.isoformat()}","contracts":'
            for (name, _), start in zip(engine.WINDOWS, starts, strict=True)
        ]
        self.head = f'{{"algorithm_version":{engine.ALGORITHM_VERSION},"as_of":"{as_of.isoformat()}","score":'
        self.fractions: dict[tuple[int, int], tuple[str, int]] = {}
        self.weights: dict[int, str] = {}

    def _fraction(self, fraction) -> tuple[str, int | None]:
        """('"33.33…"', 33) for a score fraction, ('null', None) for none."""
        if fraction is None:
            return "null", None
        known = self.fractions.get(fraction)
        if known is None:
            value = engine._decimal(fraction)
            known = self.fractions[fraction] = (f'"{value}"', engine.round_half_up(value))
        return known

    def _weight(self, quarters: int) -> str:
        text = self.weights.get(quarters)
        if text is None:
            text = self.weights[quarters] = engine._weight_text(quarters)
        return text

    def detail(self, tallies, left_out: list[tuple[int, str]]) -> tuple[int | None, str | None, str]:
        """(score, window, detail as JSON text) for a subject without exclusions."""
        scores = engine._scores(tallies)
        window, current = engine._displayed(scores)
        unrounded, score = self._fraction(current)
        parts = [
            self.head,
            "null" if score is None else str(score),
            ',"window":',
            "null" if window is None else f'"{window}"',
            ',"unrounded":',
            unrounded,
            ',"windows":{',
        ]
        weight = self._weight
        for band, (head, tally) in enumerate(zip(self.window_heads, tallies, strict=True)):
            contracts, clients, positive, negative, total = tally
            qualifies = contracts >= 2 and clients >= 2
            parts.append(
                f'{"," if band else ""}{head}{contracts},"clients":{clients},'
                f'"qualifies":{"true" if qualifies else "false"},"positive_weight":"{weight(positive)}",'
                f'"negative_weight":"{weight(negative)}","total_weight":"{weight(total)}",'
                f'"score":{self._fraction(scores[engine.WINDOWS[band][0]])[0]}}}'
            )
        trending = scores[engine.TRENDING]
        parts.append(
            f',"trending":{{"of":["3m","6m"],"qualifies":{"false" if trending is None else "true"},'
            f'"score":{self._fraction(trending)[0]}}}}},"left_out":['
        )
        parts.append(",".join(f'{{"contract_id":{cid},"reason":"{reason}"}}' for cid, reason in left_out))
        parts.append('],"exclusions":[]}')
        return score, window, "".join(parts)


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


# --- a chunk ----------------------------------------------------------------------------------------------


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


def engine_scores(kind: str, exclusions: dict[int, list[int]], as_of: date) -> list[SubjectScore]:
    """The subjects with perk exclusions, scored by ``engine.compute`` from their contracts (one query)."""
    scores = []
    for subject_id, contracts in facts_of(kind, exclusions).items():
        result = engine.compute(contracts, as_of=as_of, exclusions=exclusions[subject_id])
        detail = json.dumps(result.detail, separators=(",", ":"))
        scores.append(SubjectScore(kind, subject_id, result.score, result.window, detail, result.decisions))
    return scores


def write_snapshots(kind: str, as_of: date, scores: list[SubjectScore], *, now: datetime) -> int:
    """Upsert one snapshot per subject and ``as_of`` in one statement; a row that would not change is left
    alone (a redelivered chunk writes nothing). Returns the rows inserted or changed."""
    if not scores:
        return 0
    subject_column = "agency_id" if kind == AGENCY else "freelancer_id"
    payload = (
        "["
        + ",".join(
            f'{{"subject":{s.subject_id},"score":{"null" if s.score is None else s.score},'
            f'"window":{"null" if s.window is None else chr(34) + s.window + chr(34)},"detail":{s.detail_json}}}'
            for s in scores
        )
        + "]"
    )
    table = _q(ScoreSnapshot._meta.db_table)
    window = _q("window")
    changed = (
        f"({table}.score, {table}.{window}, {table}.detail::text, {table}.algorithm_version) IS DISTINCT FROM "
        f"(EXCLUDED.score, EXCLUDED.{window}, EXCLUDED.detail::text, EXCLUDED.algorithm_version)"
        if _postgres()
        else " OR ".join(
            f"{table}.{column} IS NOT excluded.{column}" for column in ("score", window, "detail", "algorithm_version")
        )
    )
    if _postgres():
        source = (
            f"SELECT r.subject, %s, r.score, r.{window}, r.detail, %s, %s "
            f"FROM json_to_recordset(%s::json) AS r(subject bigint, score integer, {window} text, detail json)"
        )
        params = [as_of, engine.ALGORITHM_VERSION, now, payload]
    else:
        source = (
            "SELECT json_extract(value, '$.subject'), %s, json_extract(value, '$.score'), "
            "json_extract(value, '$.window'), json_extract(value, '$.detail'), %s, %s "
            "FROM json_each(%s) WHERE true"
        )
        ops = connection.ops
        params = [
            ops.adapt_datefield_value(as_of),
            engine.ALGORITHM_VERSION,
            ops.adapt_datetimefield_value(now),
            payload,
        ]
    sql = (
        f"INSERT INTO {table} ({subject_column}, as_of, score, {window}, detail, algorithm_version, computed_at) "
        f"{source} "
        f"ON CONFLICT ({subject_column}, as_of) DO UPDATE SET score = excluded.score, "
        f"{window} = excluded.{window}, detail = excluded.detail, algorithm_version = excluded.algorithm_version, "
        f"computed_at = excluded.computed_at WHERE {changed}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


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
        for row in read_tallies(scratch_id, kind, first, last, as_of, bigger_than=SQL_MAX_QUARTERS):
            if int(row[0]) not in exclusions:
                score, window, detail = writer.detail(tallies_from_row(row), sorted(decode_left_out(row[-1])))
                rest.append(SubjectScore(kind, int(row[0]), score, window, detail, {}))
    return scored + len(rest), written + write_snapshots(kind, as_of, rest, now=now), _decisions(rest)


def _decisions(scores: list[SubjectScore]) -> dict[int, str]:
    return {contract_id: decision for s in scores for contract_id, decision in s.decisions.items()}
