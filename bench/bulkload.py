"""Bulk loading of generated rows, for the benchmark data (``generate_bench_data``, ``bench/queue_data.py``):
COPY on PostgreSQL, ``executemany`` in batches elsewhere. Rows carry their ids, so the id sequences are moved
past them afterwards. No model instances, no signals: only for data made to be measured."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager

from django.db import connection, transaction

BATCH = 20_000


class BulkWriter:
    def __init__(self, cursor):
        self.cursor = cursor
        self.postgres = connection.vendor == "postgresql"

    def write(self, target, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
        """Write ``rows`` (tuples in ``columns`` order) into ``target``, a model or a table name; returns how
        many were written."""
        table = target._meta.db_table if hasattr(target, "_meta") else target
        written = 0
        if self.postgres:
            with self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    written += 1
            return written
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                self.cursor.executemany(sql, batch)
                written += len(batch)
                batch = []
        if batch:
            self.cursor.executemany(sql, batch)
            written += len(batch)
        return written


def reset_sequences(cursor, models) -> None:
    """After rows were written with explicit ids: the next id each table hands out follows its largest."""
    if connection.vendor != "postgresql":
        return
    for model in models:
        table = model._meta.db_table
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))"
        )


@contextmanager
def timeline_unguarded():
    """For bench data only: inside this block (one transaction) the timeline's append-only trigger is off,
    so a bench can reset the events it made itself. A real database never loses a timeline event."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE requests_app_requestevent DISABLE TRIGGER request_event_append_only")
        yield
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE requests_app_requestevent ENABLE TRIGGER request_event_append_only")
