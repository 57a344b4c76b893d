import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import F, Sum

from jss import services
from jss.models import ScoreUpdateChunk
from jss.progress import ProgressBar


class Command(BaseCommand):
    help = (
        "Run the scheduled JSS update now: every freelancer and agency scored on --as-of (default today), one "
        "snapshot each. Without --force it runs only when JSS_UPDATE_EVERY_DAYS have passed since the last one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD, default today")
        parser.add_argument("--force", action="store_true", help="run even if not due; rescore a day already done")
        parser.add_argument(
            "--full",
            action="store_true",
            help="score every subject, not only those changed since the last update (after a bulk load run "
            "without triggers, or to check the incremental runs)",
        )
        parser.add_argument(
            "--celery",
            action="store_true",
            help="send the chunks to the Celery workers and follow their progress (default: score them here)",
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=1,
            help="score N chunks at once here, each on its own database connection (PostgreSQL; default 1)",
        )

    def handle(self, *args, as_of, force, full, celery, jobs, **options):
        if jobs < 1:
            raise CommandError("--jobs must be at least 1")
        bar = ProgressBar(self.stderr, label="subject ids")  # the chunks are ranges of ids
        started = time.perf_counter()
        if celery:
            start = services.start_scheduled_update(as_of=as_of, force=force, queue=True, full=full)
            if start.update is not None and start.outcome in ("started", "resumed"):
                self._follow(start.update, bar)
        else:
            start = services.run_update(as_of=as_of, force=force, progress=bar, jobs=jobs, full=full)
        seconds = time.perf_counter() - started
        if start.outcome == "not_due":
            self.stdout.write("The JSS update is not due yet (use --force to run it anyway).")
            return
        if start.outcome in ("done", "running"):
            self.stdout.write(f"The JSS update as of {start.update.as_of} is already {start.outcome}.")
            return
        update = start.update
        update.refresh_from_db()
        self.stdout.write(
            f"JSS update as of {update.as_of}: {update.subjects} subjects in {update.chunks} chunks, "
            f"{update.snapshots_written} snapshots written or changed, in {seconds:.1f} s "
            + (
                f"(incremental: {update.subjects_scored} scored, the others carried forward)."
                if update.incremental
                else "(full)."
            )
        )

    def _follow(self, update, bar, *, timeout=6 * 60 * 60):
        deadline = time.monotonic() + timeout
        chunks = ScoreUpdateChunk.objects.filter(update=update)
        width = F("last_subject") - F("first_subject") + 1
        total = chunks.aggregate(ids=Sum(width))["ids"] or 0
        while time.monotonic() < deadline:
            done = chunks.filter(finished_at__isnull=False).aggregate(ids=Sum(width))["ids"] or 0
            bar(done, total)
            update.refresh_from_db(fields=["finished_at"])
            if update.finished_at is not None:
                bar(total, total)
                return
            time.sleep(0.5)
        raise CommandError("the workers did not finish the update in time; it stays queued")
