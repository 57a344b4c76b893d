import datetime as dt

from django.core.management.base import BaseCommand

from jss import services


class Command(BaseCommand):
    help = "Run the weekly Top Rated evaluation for --as-of (default today): open and close Top Rated periods."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD, default today")

    def handle(self, *args, as_of, **options):
        result = services.evaluate_top_rated(as_of=as_of)
        if result.outcome == "done":
            self.stdout.write(f"Top Rated was already evaluated on {result.as_of}; nothing changed.")
        elif result.outcome == "no_scores":
            self.stdout.write(f"No finished JSS update on or before {result.as_of}: run recalculate_jss first.")
        else:
            self.stdout.write(
                f"Top Rated evaluation of {result.as_of}: {result.evaluated} subjects, "
                f"{result.opened} became Top Rated, {result.closed} lost the status."
            )
