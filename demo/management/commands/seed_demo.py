from django.core.management.base import BaseCommand

from demo.history import PASSWORD, seed

LOGINS = [
    ("agent", "Support agent: works the queue in /admin/ and /desk/"),
    ("lead", "Support lead: also reassigns and sees reports"),
    ("admin", "Superuser"),
    ("alice", "Top Rated freelancer, eligible"),
    ("bob", "lost Top Rated for a JSS dip 5 days ago: needs a screenshot"),
    ("carol", "suspended"),
    ("dave", "owner of the Top Rated agency Brightline Studio"),
    ("erin", "plain member of that agency"),
    ("frank", "not Top Rated"),
    ("grace", "in a cooldown, with a Special Offer contract still open to her"),
]


class Command(BaseCommand):
    help = "Load the demo accounts, work histories and ticket queue (idempotent)."

    def handle(self, *args, **options):
        seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {PASSWORD}):"))
        for username, what in LOGINS:
            self.stdout.write(f"  {username:<6} {what}")
