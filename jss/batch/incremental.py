"""The incremental scheduled update: one chunk scores only its dirty subjects and carries the rest forward.

A subject is dirty when its score's inputs or the date could have changed it since the base update (the
previous finished one): a change-log row (``JssSubjectChange``, written by database triggers) after the base's
watermark and up to this update's; no base snapshot whose ``stable_until`` is after this as_of (NULL, not
known, counts as due; an older algorithm version too); or a perk exclusion (the no-harm rule is the engine's
and is decided again at every update). The dirty subjects are scored as a full update scores them; every other
subject's base snapshot is copied to the new as_of in one INSERT ... SELECT. A subject whose figures did not
change and whose date rule did not fall due has, by ``engine.stable_until``, the same score and stored detail
on both dates: the result equals a full rescore (tests/jss/test_incremental.py). A subject whose contracts all
vanished is dirty and gets no snapshot, as in a full run. A chunk run again copies nothing twice (ON CONFLICT
DO NOTHING) and its scored rows are upserts.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from django.db import connection

from jss import engine
from jss.batch.common import AGENCY, _day, _postgres, _q
from jss.models import JssExclusion, JssSubjectChange, ScoreSnapshot
from marketplace.models import Contract


def _subject_column(kind: str) -> str:
    return "agency_id" if kind == AGENCY else "freelancer_id"


def _in(column: str, name: str) -> str:
    """``column`` is one of the list parameter ``name`` (an array on PostgreSQL, JSON text on SQLite)."""
    if _postgres():
        return f"{column} = ANY(%({name})s::bigint[])"
    return f"{column} IN (SELECT value FROM json_each(%({name})s))"


def _list(values) -> object:
    return sorted(values) if _postgres() else json.dumps(sorted(values))


def dirty_subjects(
    kind: str, first: int, last: int, as_of: date, *, base_as_of: date, since: int, upto: int
) -> list[int]:
    """The subjects of ``kind`` with ids first..last to score again (one query): logged as changed after the
    base's watermark ``since`` (and up to ``upto``), or whose base snapshot is due (``stable_until`` on or
    before ``as_of``, unknown, or of another algorithm version), or with a perk exclusion."""
    column = _subject_column(kind)
    log, snapshots = _q(JssSubjectChange._meta.db_table), _q(ScoreSnapshot._meta.db_table)
    exclusions, contracts = _q(JssExclusion._meta.db_table), _q(Contract._meta.db_table)
    with_agency = "IS NOT NULL" if kind == AGENCY else "IS NULL"
    sql = f"""
SELECT subject_id FROM {log}
WHERE kind = %(kind)s AND subject_id BETWEEN %(first)s AND %(last)s AND id > %(since)s AND id <= %(upto)s
UNION
SELECT {column} FROM {snapshots}
WHERE {column} BETWEEN %(first)s AND %(last)s AND as_of = %(base)s
    AND (stable_until IS NULL OR stable_until <= %(as_of)s OR algorithm_version <> %(version)s)
UNION
SELECT c.{column} FROM {exclusions} e JOIN {contracts} c ON c.id = e.contract_id
WHERE c.agency_id {with_agency} AND c.{column} BETWEEN %(first)s AND %(last)s
"""
    params = dict(
        kind=kind,
        first=first,
        last=last,
        since=since,
        upto=upto,
        base=_day(base_as_of),
        as_of=_day(as_of),
        version=engine.ALGORITHM_VERSION,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(int(row[0]) for row in cursor.fetchall())


def carry_forward(
    kind: str, first: int, last: int, as_of: date, *, base_as_of: date, dirty: list[int], now: datetime
) -> int:
    """Copy the base snapshots of the chunk's subjects that are not ``dirty`` to ``as_of`` in one INSERT ...
    SELECT; a row already there is left alone (a redelivered chunk). Returns the rows inserted."""
    column = _subject_column(kind)
    table = _q(ScoreSnapshot._meta.db_table)
    window = _q("window")
    columns = f"{column}, as_of, score, {window}, detail, algorithm_version, computed_at, stable_until"
    sql = f"""
INSERT INTO {table} ({columns})
SELECT {column}, %(as_of)s, score, {window}, detail, algorithm_version, %(now)s, stable_until
FROM {table}
WHERE {column} BETWEEN %(first)s AND %(last)s AND as_of = %(base)s AND NOT ({_in(column, "dirty")})
ON CONFLICT ({column}, as_of) DO NOTHING
"""
    params = dict(
        first=first,
        last=last,
        base=_day(base_as_of),
        as_of=_day(as_of),
        now=connection.ops.adapt_datetimefield_value(now),
        dirty=_list(dirty),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)
