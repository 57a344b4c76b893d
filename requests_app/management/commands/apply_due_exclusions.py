"""Run the sweep by hand: apply approved requests still waiting, send again the emails and notices that never
went, raise the SLA alerts, say what happened."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from perkdesk.ops import heartbeats
from requests_app.services.applying import sweep


class Command(BaseCommand):
    help = (
        "Apply every approved request that is still waiting (e.g. after a lost queue message), send again the "
        "ticket emails and status-loss notices that never went, and send the SLA alerts that are due to the "
        "support leads. The same work the 15-minute beat sweep does; safe to run at any time, also while "
        "workers run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            help="Pretend it is this moment (ISO 8601, e.g. 2026-12-01T09:00:00+00:00) when judging the SLA.",
        )

    def handle(self, *args, now=None, verbosity=1, **options):
        moment = None
        if now:
            moment = parse_datetime(now)
            if moment is None:
                raise CommandError(f"--now must be an ISO 8601 date and time, not {now!r}.")
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
        report = sweep(now=moment)
        heartbeats.record(heartbeats.SWEEP, data=report.counts())  # the desk shows when it last ran
        lines = [
            ("Applied", report.applied),
            ("At-risk alerts sent to the leads for", report.at_risk),
            ("Breach alerts sent to the leads for", report.breached),
        ]
        for label, tickets in lines:
            if tickets:
                self.stdout.write(self.style.SUCCESS(f"{label} {_tickets(tickets)}: {', '.join(tickets)}"))
        if report.failed:
            raise CommandError(
                f"Could not apply {_tickets(report.failed)}: {', '.join(report.failed)} (see the log for why)."
            )
        if report.emails:
            emails = ", ".join(report.emails)
            self.stdout.write(
                self.style.SUCCESS(f"Emails that never went, queued again ({len(report.emails)}): {emails}")
            )
        if not any(tickets for _, tickets in lines) and not report.emails:
            self.stdout.write("Nothing to do: no approved request is waiting, nothing is owed, no SLA alert is due.")


def _tickets(tickets):
    return f"{len(tickets)} ticket" + ("" if len(tickets) == 1 else "s")
