"""The scheduled JSS update: start it when due, score its chunks, finish it (SPEC §5, §6)."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from jss import batch, signals
from jss.models import JssExclusion, JssSubjectChange, Outcome, ScoreUpdate, ScoreUpdateChunk
from perkdesk.queueing import queue_after_commit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateStart:
    """What ``start_scheduled_update`` did: ``started`` a new run, ``resumed`` an unfinished one, or nothing
    (``not_due`` / ``done`` / ``running``). ``chunk_ids`` are the chunks left to score."""

    outcome: str
    update: ScoreUpdate | None = None
    chunk_ids: tuple[int, ...] = ()
    subjects: int = 0


def update_is_due(as_of: date, last_as_of: date | None) -> bool:
    """Due when JSS_UPDATE_EVERY_DAYS have passed since the last update (a missed night catches up)."""
    return last_as_of is None or (as_of - last_as_of).days >= settings.JSS_UPDATE_EVERY_DAYS


def change_watermark() -> int:
    """The highest change-log id, every change up to it committed (0 when the log is empty). On PostgreSQL the
    log is locked in SHARE mode until the caller's transaction ends: the writers still running (their log rows
    may hold lower ids than one already committed) are waited for, and new ones wait the few milliseconds it
    takes to plan the update; so every change up to the watermark is seen by the chunks that read later."""
    table = connection.ops.quote_name(JssSubjectChange._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        return int(cursor.fetchone()[0])


def wal_position() -> str:
    """PostgreSQL: the primary's current WAL position (taken after ``change_watermark``: every change up to the
    watermark is before it); '' elsewhere or on a server in recovery."""
    if connection.vendor != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_current_wal_lsn()::text END")
        return cursor.fetchone()[0] or ""


def incremental_base(as_of: date, *, full: bool) -> ScoreUpdate | None:
    """The update an incremental run on ``as_of`` builds on, or None for a full run: the latest update before
    ``as_of``, finished, with a known watermark, and no update on or after ``as_of`` (a day rescored or filled in
    behind a later one runs full: the change log it would need may be pruned). ``full`` or
    ``JSS_UPDATE_INCREMENTAL`` off: always None."""
    if full or not settings.JSS_UPDATE_INCREMENTAL:
        return None
    if ScoreUpdate.objects.filter(as_of__gte=as_of).exists():
        return None
    base = ScoreUpdate.objects.filter(as_of__lt=as_of).order_by("-as_of").first()
    if base is None or base.finished_at is None or base.change_watermark is None:
        return None
    return base


def start_scheduled_update(
    *, as_of: date | None = None, force: bool = False, now=None, queue: bool = True, full: bool = False
) -> UpdateStart:
    """Start the scheduled JSS update for ``as_of`` (default today) when it is due or ``force``d: split the
    subjects into ranges of ids (``batch.plan_chunks``: ``JSS_UPDATE_CHUNK_SIZE`` ids a chunk, at most
    ``JSS_UPDATE_MAX_CHUNKS`` chunks) and, with ``queue``, send each chunk to the Celery workers once this
    commits; each chunk reads and scores its own subjects' contracts. An unfinished update (a lost message,
    a crashed worker) is resumed instead. One ``ScoreUpdate`` per ``as_of``: a forced run on a day that was
    already scored rescores it in full, and rows that come out the same are left alone.

    The run is incremental (``incremental_base``: only the subjects whose score can have changed are scored,
    the others' snapshots carried forward) unless ``full``, ``JSS_UPDATE_INCREMENTAL`` is off, or there is no
    finished earlier update with a change-log watermark to build on."""
    now = now or timezone.now()
    as_of = as_of or timezone.localdate(now)
    resumed = [_resume(update, queue=queue) for update in ScoreUpdate.objects.filter(finished_at__isnull=True)]
    for start in resumed:
        if start.update is not None and start.update.as_of == as_of and not force:
            return start
    try:
        with transaction.atomic():
            update = ScoreUpdate.objects.select_for_update().filter(as_of=as_of).first()
            if update is not None and not force:
                return UpdateStart("done" if update.finished_at else "running", update)
            if update is None:
                last = ScoreUpdate.objects.filter(as_of__lt=as_of).order_by("-as_of").values_list("as_of", flat=True)
                if not force and not update_is_due(as_of, last.first()):
                    return UpdateStart("not_due")
                base = incremental_base(as_of, full=full)
                update = ScoreUpdate.objects.create(as_of=as_of, started_at=now, forced=force)
            else:
                update.chunk_rows.all().delete()
                update.started_at, update.finished_at, update.forced = now, None, True
                base = None  # a day scored again is scored in full
            update.incremental_from = base
            update.change_watermark = change_watermark()
            update.planned_lsn = wal_position()
            plan = batch.plan_chunks(settings.JSS_UPDATE_CHUNK_SIZE, settings.JSS_UPDATE_MAX_CHUNKS)
            chunks = ScoreUpdateChunk.objects.bulk_create(
                ScoreUpdateChunk(update=update, kind=kind, first_subject=first, last_subject=last, subjects=count)
                for kind, first, last, count in plan
            )
            update.chunks = len(chunks)
            update.subjects = sum(chunk.subjects for chunk in chunks)
            update.snapshots_written = 0
            update.subjects_scored = 0
            update.save(
                update_fields=[
                    "started_at",
                    "finished_at",
                    "forced",
                    "chunks",
                    "subjects",
                    "snapshots_written",
                    "subjects_scored",
                    "incremental_from",
                    "change_watermark",
                    "planned_lsn",
                ]
            )
            chunk_ids = tuple(chunk.pk for chunk in chunks)
            if queue:
                _queue_chunks(update.pk, chunk_ids)
    except IntegrityError:
        # Another beat delivery created this as_of's update a moment ago: that run goes ahead.
        return UpdateStart("running")
    logger.info(
        "jss update started",
        extra={"as_of": as_of.isoformat(), "subjects": update.subjects, "incremental": update.incremental},
    )
    return UpdateStart("started", update, chunk_ids, update.subjects)


def _resume(update: ScoreUpdate, *, queue: bool) -> UpdateStart:
    chunk_ids = tuple(update.chunk_rows.filter(finished_at__isnull=True).values_list("pk", flat=True))
    if queue:
        with transaction.atomic():
            _queue_chunks(update.pk, chunk_ids)
    return UpdateStart("resumed", update, chunk_ids, update.subjects)


def _queue_chunks(update_id: int, chunk_ids) -> None:
    from jss import tasks

    if not chunk_ids:
        queue_after_commit(tasks.finish_update, update_id)
    for chunk_id in chunk_ids:
        queue_after_commit(tasks.score_update_chunk, chunk_id)


def score_chunk(chunk_id: int, *, now=None, queue: bool = True) -> int | None:
    """Score one chunk, upsert its snapshots and record its perk exclusions' outcomes (announced with
    ``jss.signals.outcomes_changed`` once this commits); the last chunk to finish closes the update. A chunk
    already finished (a redelivery) does nothing and returns None; otherwise the snapshots written."""
    now = now or timezone.now()
    chunk = ScoreUpdateChunk.objects.select_related("update__incremental_from").filter(pk=chunk_id).first()
    if chunk is None or chunk.finished_at is not None or chunk.update.finished_at is not None:
        return None
    as_of = chunk.update.as_of
    base = chunk.update.incremental_from
    with transaction.atomic():
        if base is not None and base.change_watermark is not None and chunk.update.change_watermark is not None:
            subjects, scored, written, decisions = batch.score_and_write_incremental(
                chunk.kind,
                chunk.first_subject,
                chunk.last_subject,
                as_of,
                now=now,
                base_as_of=base.as_of,
                since=base.change_watermark,
                upto=chunk.update.change_watermark,
                replica_lsn=chunk.update.planned_lsn,
            )
        else:  # a full run (or its base was deleted under it: full is always right)
            subjects, written, decisions = batch.score_and_write(
                chunk.kind,
                chunk.first_subject,
                chunk.last_subject,
                as_of,
                now=now,
                replica_lsn=chunk.update.planned_lsn,
            )
            scored = subjects
        record_outcomes(decisions, as_of=as_of, now=now)
        update = ScoreUpdate.objects.select_for_update().get(pk=chunk.update_id)
        marked = ScoreUpdateChunk.objects.filter(pk=chunk.pk, finished_at__isnull=True).update(
            finished_at=now, subjects=subjects, subjects_scored=scored, snapshots_written=written
        )
        last_one = marked and update.finished_at is None
        last_one = last_one and not update.chunk_rows.filter(finished_at__isnull=True).exists()
    if queue and last_one:
        # The last chunk closes the update itself, at once: a finishing task would wait in the queue behind
        # the outcome emails the chunks have just sent. If this fails, the next nightly run finishes it.
        finish_update(update.pk, now=now)
    return written


def finish_update(update_id: int, *, now=None) -> bool:
    """Once every chunk is scored: close the ScoreUpdate with its counts. Runs any number of times."""
    now = now or timezone.now()
    with transaction.atomic():
        update = ScoreUpdate.objects.select_for_update().filter(pk=update_id).first()
        if update is None or update.finished_at is not None:
            return False
        totals = update.chunk_rows.aggregate(
            chunks=Count("pk"),
            unfinished=Count("pk", filter=Q(finished_at__isnull=True)),
            subjects=Sum("subjects"),
            scored=Sum("subjects_scored"),
            written=Sum("snapshots_written"),
        )
        if totals["unfinished"]:
            return False
        update.finished_at = now
        update.chunks = totals["chunks"]
        update.subjects = totals["subjects"] or 0
        update.subjects_scored = totals["scored"] or 0
        update.snapshots_written = totals["written"] or 0
        update.save(update_fields=["finished_at", "chunks", "subjects", "subjects_scored", "snapshots_written"])
        prune_change_log()
    logger.info(
        "jss update finished",
        extra={"as_of": update.as_of.isoformat(), "subjects": update.subjects, "written": update.snapshots_written},
    )
    return True


def prune_change_log() -> int:
    """Delete the change-log rows no incremental run can need (two queries): those up to the watermark of the
    finished update before the latest finished one (one generation kept as a margin). An incremental run builds
    on the latest finished update and reads only rows after its watermark. Returns the rows deleted."""
    finished = ScoreUpdate.objects.filter(finished_at__isnull=False, change_watermark__isnull=False)
    marks = [mark for mark in finished.order_by("-as_of").values_list("change_watermark", flat=True)[:2] if mark]
    if len(marks) < 2:
        return 0
    deleted, _ = JssSubjectChange.objects.filter(id__lte=min(marks)).delete()
    return deleted


def record_outcomes(decisions: dict[int, str], *, as_of: date, now=None) -> list[tuple[int, str, date]]:
    """Write this update's verdict (contract id -> 'excluded' / 'kept_no_harm') onto the perk exclusions, in
    the caller's transaction and a fixed number of queries, and announce the outcomes that changed with
    ``jss.signals.outcomes_changed`` once it commits. A rerun of the same verdict (a forced update, a
    redelivered chunk) changes nothing and announces nothing. Returns the changes."""
    if not decisions:
        return []
    unknown = set(decisions.values()) - {Outcome.EXCLUDED, Outcome.KEPT_NO_HARM}
    if unknown:
        raise ValueError(f"not an update verdict: {sorted(unknown)}")  # a programming error, not a business rule
    current = dict(
        JssExclusion.objects.select_for_update()
        .filter(contract_id__in=list(decisions))
        .order_by("contract_id")
        .values_list("contract_id", "outcome")
    )
    changes: list[tuple[int, str, date]] = []
    by_outcome: dict[str, list[int]] = {}
    for contract_id, outcome in current.items():
        by_outcome.setdefault(decisions[contract_id], []).append(contract_id)
        if decisions[contract_id] != outcome:
            changes.append((contract_id, decisions[contract_id], as_of))
    for outcome, contract_ids in by_outcome.items():
        JssExclusion.objects.filter(contract_id__in=contract_ids).exclude(outcome=outcome, outcome_as_of=as_of).update(
            outcome=outcome, outcome_as_of=as_of
        )
    if changes:
        transaction.on_commit(lambda: _announce(changes))
    return changes


def create_exclusion(*, contract_id: int, now) -> JssExclusion:
    """Take a contract out of its subject's JSS for good (the perk applied); the same exclusion when it
    already exists. Called inside the caller's transaction."""
    exclusion, _ = JssExclusion.objects.get_or_create(contract_id=contract_id, defaults={"created_at": now})
    return exclusion


def _announce(changes: list[tuple[int, str, date]]) -> None:
    for receiver, error in signals.outcomes_changed.send_robust(sender=JssExclusion, changes=changes):
        if isinstance(error, Exception):
            # The outcomes are stored; the receiver's own reconciliation (requests_app's sweep) catches up.
            logger.error("outcomes_changed receiver %s failed", receiver, exc_info=error)


def run_update(
    *, as_of: date | None = None, force: bool = False, now=None, progress=None, jobs: int = 1, full: bool = False
) -> UpdateStart:
    """The whole update in this process (``recalculate_jss``, the benchmark, the demo).
    ``progress(subjects_scored, subjects_total)`` is called after each chunk.

    With ``jobs`` > 1 on PostgreSQL the chunks are scored on that many threads at once, each on its own
    database connection and in its own transaction, as that many Celery workers would (the time is spent in
    the database, so the threads do not wait on each other). Inside an open transaction, or on SQLite, the
    chunks are scored one after another."""
    start = start_scheduled_update(as_of=as_of, force=force, now=now, queue=False, full=full)
    if start.update is None or start.outcome not in ("started", "resumed"):
        return start
    chunks = ScoreUpdateChunk.objects.filter(pk__in=start.chunk_ids).order_by("kind", "first_subject")
    pending = list(chunks.values_list("pk", "subjects"))
    done = start.update.chunk_rows.filter(finished_at__isnull=False).aggregate(n=Sum("subjects"))["n"] or 0
    if progress:
        progress(done, start.update.subjects)
    if jobs > 1 and len(pending) > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        for subjects in _score_on_threads([pk for pk, _ in pending], pending, now=now, jobs=jobs):
            done += subjects
            if progress:
                progress(done, start.update.subjects)
    else:
        for chunk_id, subjects in pending:
            score_chunk(chunk_id, now=now, queue=False)
            done += subjects
            if progress:
                progress(done, start.update.subjects)
    finish_update(start.update.pk, now=now)
    start.update.refresh_from_db()
    return start


def _score_on_threads(chunk_ids: list[int], pending, *, now, jobs: int):
    """Score the chunks on ``jobs`` threads, each with its own database connection, kept from one chunk to
    the next (as a Celery worker keeps its own) and closed when the thread runs out of chunks. Yields each
    chunk's planned subject ids as it finishes; the first failure is raised once every thread has stopped."""
    sizes = dict(pending)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for chunk_id in chunk_ids:
        todo.put(chunk_id)
    finished: queue.SimpleQueue[tuple[int, BaseException | None]] = queue.SimpleQueue()

    def work():
        try:
            while True:
                try:
                    chunk_id = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    score_chunk(chunk_id, now=now, queue=False)
                except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                    finished.put((chunk_id, error))
                    return
                finished.put((chunk_id, None))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, name=f"jss-chunk-{n}") for n in range(min(jobs, len(chunk_ids)))]
    for thread in threads:
        thread.start()
    failure = None
    try:
        for _ in range(len(chunk_ids)):
            while True:
                try:
                    chunk_id, error = finished.get(timeout=1.0)
                    break
                except queue.Empty:
                    if not any(thread.is_alive() for thread in threads):
                        if failure is not None:
                            raise failure from None
                        raise RuntimeError("the chunk threads stopped before scoring every chunk") from None
            if error is not None:
                failure = failure or error
                continue
            yield sizes[chunk_id]
    finally:
        for thread in threads:
            thread.join()
    if failure is not None:
        raise failure
