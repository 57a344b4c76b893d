"""`manage.py load_marketplace FILE.json`: the marketplace's export, all or nothing.

The format and the rules are in docs/marketplace-import.md; the work is in marketplace.importer."""

from django.core.management.base import BaseCommand, CommandError

from marketplace.importer import ImportRefused, load_marketplace_file


class Command(BaseCommand):
    help = (
        "Load the marketplace's JSON export (docs/marketplace-import.md). All or nothing: when anything is "
        "wrong every problem is listed with its JSON path, nothing is written and the exit status is 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the JSON file to load")
        parser.add_argument(
            "--dry-run", action="store_true", help="check everything and report the counts, but write nothing"
        )

    def handle(self, *args, file, dry_run, verbosity, **options):
        def progress(kind, done, total):
            # One line per chunk of 1,000 contracts, only for files big enough to wait on.
            if total > 1000 or verbosity >= 2:
                self.stderr.write(f"{kind}: {done:,} / {total:,} ({done * 100 // total}%)", style_func=lambda x: x)

        try:
            summary = load_marketplace_file(file, dry_run=dry_run, progress=progress if verbosity >= 1 else None)
        except ImportRefused as refused:
            for problem in refused.problems:
                self.stderr.write(str(problem))
            raise CommandError(refused.summary, returncode=1) from None

        if verbosity >= 1:
            for note in summary.notes:
                self.stdout.write(f"note: {note}")
            if dry_run:
                self.stdout.write(f"{file} is valid; dry run, nothing was written. It would give:")
            else:
                self.stdout.write(self.style.SUCCESS(f"Imported {file}:"))
            for kind, tally in summary.tallies.items():
                self.stdout.write(f"  {kind}: {tally}")
