import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from bench.marketplace_data import BenchDataError, BenchPlan, generate


def bench_database_name() -> str:
    return str(connection.settings_dict["NAME"])


def is_bench_database() -> bool:
    """Bench data goes only into a database named for it, never into a dev or production one."""
    return "bench" in bench_database_name().rsplit("/", 1)[-1].lower()


class Command(BaseCommand):
    help = (
        "Bulk-load a deterministic synthetic marketplace for benchmarks (COPY on PostgreSQL). "
        "Only into an empty database whose name contains 'bench'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--contracts", type=int, default=10_000)
        parser.add_argument("--clients", type=int, default=None, help="default: one per ten contracts")
        parser.add_argument("--per-subject", type=int, default=20, help="mean contracts per subject")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD, default today")
        parser.add_argument(
            "--any-database", action="store_true", help="allow a database not named 'bench' (tests only)"
        )

    def handle(self, *args, contracts, clients, per_subject, seed, as_of, any_database, **options):
        if not any_database and not is_bench_database():
            raise CommandError(f"refusing to load bench data into {bench_database_name()!r}: its name lacks 'bench'")
        if contracts < 2:
            raise CommandError("--contracts must be at least 2")
        plan = BenchPlan.for_size(contracts, clients=clients, per_subject=per_subject, seed=seed, as_of=as_of)
        started = time.perf_counter()
        try:
            counts = generate(plan, progress=lambda message: self.stderr.write(message))
        except BenchDataError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"made {counts.contracts} contracts ({counts.feedback} with feedback), {counts.freelancers} freelancers, "
            f"{counts.agencies} agencies ({counts.memberships} memberships), {counts.clients} clients, "
            f"{counts.exclusions} applied exclusions; seed {plan.seed}, as of {plan.as_of}, in {seconds:.1f} s"
        )
