"""Writing snapshots: one upsert statement per chunk, leaving unchanged rows alone."""

from __future__ import annotations

from datetime import date, datetime

from django.db import connection

from jss import engine
from jss.batch.common import (
    AGENCY,
    SubjectScore,
    _postgres,
    _q,
)
from jss.models import ScoreSnapshot


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
            f'"window":{"null" if s.window is None else chr(34) + s.window + chr(34)},"detail":{s.detail_json},'
            f'"stable":{"null" if s.stable_until is None else chr(34) + s.stable_until.isoformat() + chr(34)}}}'
            for s in scores
        )
        + "]"
    )
    table = _q(ScoreSnapshot._meta.db_table)
    window = _q("window")
    changed = (
        f"({table}.score, {table}.{window}, {table}.detail::text, {table}.algorithm_version, {table}.stable_until) "
        f"IS DISTINCT FROM "
        f"(EXCLUDED.score, EXCLUDED.{window}, EXCLUDED.detail::text, EXCLUDED.algorithm_version, "
        f"EXCLUDED.stable_until)"
        if _postgres()
        else " OR ".join(
            f"{table}.{column} IS NOT excluded.{column}"
            for column in ("score", window, "detail", "algorithm_version", "stable_until")
        )
    )
    if _postgres():
        source = (
            f"SELECT r.subject, %s, r.score, r.{window}, r.detail, %s, %s, r.stable "
            f"FROM json_to_recordset(%s::json) "
            f"AS r(subject bigint, score integer, {window} text, detail json, stable date)"
        )
        params = [as_of, engine.ALGORITHM_VERSION, now, payload]
    else:
        source = (
            "SELECT json_extract(value, '$.subject'), %s, json_extract(value, '$.score'), "
            "json_extract(value, '$.window'), json_extract(value, '$.detail'), %s, %s, json_extract(value, '$.stable') "
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
        f"INSERT INTO {table} ({subject_column}, as_of, score, {window}, detail, algorithm_version, computed_at, "
        f"stable_until) {source} "
        f"ON CONFLICT ({subject_column}, as_of) DO UPDATE SET score = excluded.score, "
        f"{window} = excluded.{window}, detail = excluded.detail, algorithm_version = excluded.algorithm_version, "
        f"computed_at = excluded.computed_at, stable_until = excluded.stable_until WHERE {changed}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)
