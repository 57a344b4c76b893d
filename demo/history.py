"""The demo world of SPEC §2: accounts, work histories, Top Rated periods and a queue with tickets in
every status. Idempotent: rows are keyed by username, public_id and contract number, and ticket
histories are made once, through the real services, so they look exactly like production ones."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from marketplace.models import (
    Agency,
    AgencyMembership,
    Client,
    Contract,
    Feedback,
    Freelancer,
    TopRatedPeriod,
)
from outbox.models import EmailDelivery
from outbox.services import record_as_sent
from perkdesk.queueing import held_back
from requests_app import services
from requests_app.models import RemovalRequest

PASSWORD = "perkdesk"

CLIENTS = [
    ("northwind", "Northwind Traders", False, False),
    ("blue-harbor", "Blue Harbor Media", False, False),
    ("kestrel", "Kestrel Analytics", False, False),
    ("lumen-health", "Lumen Health", False, False),
    ("orchard-pine", "Orchard & Pine", False, False),
    ("atlas-freight", "Atlas Freight", False, False),
    ("riverbend", "Riverbend Studio", False, False),
    ("solace-labs", "Solace Labs", False, False),
    ("quantum-ledger", "Quantum Ledger", True, False),  # flagged
    ("grayline", "Grayline Imports", False, True),  # suspended for ToS
]

STAFF = [
    ("agent", "Avery", "Agent", "Support agents", False),
    ("agent2", "Sam", "Rivera", "Support agents", False),
    ("lead", "Lee", "Lead", "Support leads", False),
    ("admin", "Ada", "Admin", None, True),
]

GOOD = [
    "Outstanding work, delivered ahead of schedule. Would hire again.",
    "Clear communication and excellent quality throughout.",
    "A real professional. Solved problems we did not know we had.",
    "Great experience; thorough, fast and friendly.",
    "Exactly what we needed. Thanks!",
]


@dataclass(frozen=True)
class Job:
    number: str
    title: str
    client: str
    started_days_ago: int
    length_days: int | None  # None: still active
    charged: str
    rating: str | None = "5.00"
    private: int | None = 10
    comment: str | None = None
    response: str = ""
    platform: str = "upwork"
    special_offer: bool = False
    agency: str | None = None
    disputed: bool = False


def _steady_history(prefix, titles, clients, start=700, step=45, charged="1850.00", long_term=False):
    """A run of good, ended contracts, one every `step` days, across several clients. `long_term`: each ran
    for six months or more (paid 191, 282 or 373 days: a JSS weight of 3.5 to 5.5 instead of 1.5), the
    history of a Top Rated freelancer whose score one bad job does not sink below 90."""
    jobs = []
    for i, title in enumerate(titles):
        jobs.append(
            Job(
                number=f"{prefix}{i:03d}",
                title=title,
                client=clients[i % len(clients)],
                started_days_ago=start - i * step,
                length_days=(191 + (i % 3) * 91) if long_term else 30 + (i % 3) * 20,
                charged=charged,
                private=9 + (i % 2),
                comment=GOOD[i % len(GOOD)],
            )
        )
    return jobs


TITLES = [
    "Landing page redesign",
    "Shopify theme fixes",
    "API integration",
    "Data pipeline clean-up",
    "Marketing site build",
    "Mobile app bug bash",
    "Analytics dashboard",
    "Checkout performance audit",
    "Email template set",
    "CRM migration",
    "Accessibility review",
    "Search feature",
]

PEOPLE = {
    # username: (first, last, public_id, account_status, profile %, top rated, jobs)
    "alice": (
        "Alice",
        "Nguyen",
        "alice-nguyen",
        "active",
        100,
        "current",
        [
            *_steady_history(
                "3184", TITLES[:9], ["northwind", "blue-harbor", "kestrel", "lumen-health"], long_term=True
            ),
            Job(
                "31849001",
                "Brand refresh — logo and guidelines",
                "orchard-pine",
                120,
                60,
                "2400.00",
                "3.75",
                5,
                "Talented, but the final files came late and needed rework.",
                "Thanks for the feedback — the delay came from two extra rounds of revisions.",
            ),
            Job(
                "31849002",
                "WordPress maintenance retainer",
                "atlas-freight",
                700,
                690,
                "14200.00",
                "5.00",
                10,
                "Reliable for almost two years. Highly recommended.",
            ),
            Job(
                "31849003",
                "Conversion copy for pricing page",
                "riverbend",
                70,
                20,
                "450.00",
                "4.80",
                9,
                "Sharp copy, quick turnaround.",
            ),
            Job("31849004", "Landing page A/B variants", "solace-labs", 25, None, "900.00", None, None),
            Job(
                "31849005",
                "Legacy PHP fixes (Elance)",
                "kestrel",
                2900,
                40,
                "650.00",
                "4.20",
                7,
                "Fixed most of the issues.",
                platform="elance",
            ),
        ],
    ),
    "bob": (
        "Bob",
        "Okafor",
        "bob-okafor",
        "active",
        100,
        "lost_jss_dip",
        [
            *_steady_history("5521", TITLES[:6], ["kestrel", "riverbend", "northwind"], start=600, step=60),
            Job(
                "55219001",
                "Inventory sync script",
                "atlas-freight",
                80,
                35,
                "1200.00",
                "2.50",
                3,
                "Script broke our stock counts twice. Had to hire someone else to finish.",
            ),
            Job("55219002", "Report automation", "blue-harbor", 50, 20, "300.00", "4.00", 6, "Okay."),
        ],
    ),
    "carol": (
        "Carol",
        "Diaz",
        "carol-diaz",
        "suspended",
        100,
        "lost_suspension",
        [
            *_steady_history("6630", TITLES[:4], ["lumen-health", "orchard-pine"], start=500, step=70),
            Job("66309001", "Video editing package", "riverbend", 90, 30, "700.00", "3.00", 4, "Missed the brief."),
        ],
    ),
    "dave": (
        "Dave",
        "Kowalski",
        "dave-kowalski",
        "active",
        100,
        None,
        [
            Job("72049001", "Personal consulting call series", "kestrel", 200, 30, "400.00", "5.00", 9, GOOD[0]),
        ],
    ),
    "erin": (
        "Erin",
        "Walsh",
        "erin-walsh",
        "active",
        100,
        "current",
        [
            *_steady_history("7311", TITLES[:3], ["northwind", "solace-labs"], start=400, step=90),
        ],
    ),
    "frank": (
        "Frank",
        "Moreau",
        "frank-moreau",
        "active",
        80,
        None,
        [
            Job("81109001", "Excel macro", "northwind", 150, 10, "120.00", "4.50", 8, "Good job."),
            Job("81109002", "Slide deck polish", "blue-harbor", 60, 15, "200.00", "3.50", 6, "Fine, some typos."),
        ],
    ),
    "grace": (
        "Grace",
        "Liu",
        "grace-liu",
        "active",
        100,
        "current",
        [
            *_steady_history(
                "9043",
                TITLES[:12],
                ["northwind", "kestrel", "lumen-health", "riverbend"],
                start=720,
                step=50,
                long_term=True,
            ),
            Job(
                "90439001",
                "Onboarding flow prototype",
                "atlas-freight",
                100,
                40,
                "1500.00",
                "3.20",
                4,
                "Prototype did not match the brief.",
            ),
            Job(
                "90439002",
                "Landing page for new client (Special Offer)",
                "solace-labs",
                40,
                14,
                "600.00",
                "3.60",
                5,
                "Slow to respond at the start.",
                special_offer=True,
            ),
        ],
    ),
}

# Extra Top Rated freelancers whose tickets fill the agents' queue.
QUEUE_PEOPLE = {
    "henry": ("Henry", "Adeyemi", "henry-adeyemi", "1201"),
    "irene": ("Irene", "Petrova", "irene-petrova", "1202"),
    "jack": ("Jack", "Murphy", "jack-murphy", "1203"),
    "kim": ("Kim", "Tanaka", "kim-tanaka", "1204"),
    "leo": ("Leo", "Fischer", "leo-fischer", "1205"),
}

AGENCY = ("brightline-studio", "Brightline Studio")
AGENCY_MEMBERS = [("dave", "owner"), ("erin", "member"), ("alice", "member")]
# Long engagements (a JSS weight of up to 8 each) and one disappointed client: the agency stays above 90.
AGENCY_JOBS = [
    Job("64020001", "E-commerce platform rebuild", "northwind", 500, 400, "18500.00", "5.00", 10, GOOD[2], agency="x"),
    Job("64020002", "Mobile app v2", "lumen-health", 380, 300, "12400.00", "4.90", 9, GOOD[1], agency="x"),
    Job("64020003", "Design system", "kestrel", 260, 200, "7600.00", "5.00", 10, GOOD[3], agency="x"),
    Job(
        "64020004",
        "Data warehouse setup",
        "atlas-freight",
        150,
        60,
        "900.00",
        "3.90",
        6,
        "Delivered, but communication was patchy.",
        agency="x",
    ),
    Job("64020005", "Marketing site for launch", "riverbend", 75, 30, "3100.00", "5.00", 10, GOOD[4], agency="x"),
    Job(
        "64020006", "Support and hosting retainer", "blue-harbor", 700, 690, "21000.00", "5.00", 10, GOOD[0], agency="x"
    ),
    Job("64020007", "Analytics platform", "solace-labs", 600, 450, "16800.00", "4.80", 9, GOOD[3], agency="x"),
]


class DemoBuilder:
    def __init__(self, *, today=None, stdout=None):
        self.now = timezone.now()
        self.today = today or timezone.localdate(self.now)
        self.stdout = stdout
        self.clients = {}
        self.users = {}
        self.freelancers = {}

    def days_ago(self, days):
        return self.today - dt.timedelta(days=days)

    def outcome_at_update(self, removal_request, outcome, days_ago):
        """The scheduled update of ``days_ago`` judged this ticket's exclusion: jss records it, and the ticket
        takes it at that past moment (the announcement after commit then finds it recorded)."""
        from jss import services as jss_services

        with transaction.atomic():
            changes = jss_services.record_outcomes(
                {removal_request.contract_id: outcome}, as_of=self.days_ago(days_ago), now=self.at(days_ago, 3)
            )
            services.record_jss_outcomes(changes, now=self.at(days_ago, 3))

    def at(self, days_ago, hour=10):
        day = self.days_ago(days_ago)
        return timezone.make_aware(dt.datetime(day.year, day.month, day.day, hour, 0))

    # --- people -----------------------------------------------------------------------------
    def user(self, username, first, last, *, staff=False, superuser=False, group=None):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username,
            defaults=dict(
                first_name=first,
                last_name=last,
                email=f"{username}@perkdesk.example",
                is_staff=staff or superuser,
                is_superuser=superuser,
            ),
        )
        if created:
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        if group:
            user.groups.add(Group.objects.get(name=group))
        self.users[username] = user
        return user

    def freelancer(self, username, first, last, public_id, status="active", completeness=100):
        user = self.user(username, first, last)
        freelancer, _ = Freelancer.objects.update_or_create(
            public_id=public_id,
            defaults=dict(user=user, name=f"{first} {last}", account_status=status, profile_completeness=completeness),
        )
        self.freelancers[username] = freelancer
        return freelancer

    def top_rated(self, *, freelancer=None, agency=None, state):
        subject = dict(freelancer=freelancer) if freelancer else dict(agency=agency)
        if state is None or TopRatedPeriod.objects.filter(**subject).exists():
            return
        if state == "current":
            TopRatedPeriod.objects.create(**subject, started_on=self.days_ago(420))
        elif state == "lost_jss_dip":
            TopRatedPeriod.objects.create(
                **subject, started_on=self.days_ago(380), ended_on=self.days_ago(5), loss_reason="jss_dip"
            )
        elif state == "lost_suspension":
            TopRatedPeriod.objects.create(
                **subject, started_on=self.days_ago(300), ended_on=self.days_ago(12), loss_reason="suspension"
            )

    def job(self, freelancer, job, agency=None):
        started = self.days_ago(job.started_days_ago)
        ended = started + dt.timedelta(days=job.length_days) if job.length_days is not None else None
        if ended is not None and ended > self.today:
            ended = self.today - dt.timedelta(days=1)
        last_payment = ended or self.days_ago(3)
        contract, _ = Contract.objects.update_or_create(
            number=job.number,
            defaults=dict(
                title=job.title,
                freelancer=freelancer,
                agency=agency,
                client=self.clients[job.client],
                platform=job.platform,
                started_on=started,
                ended_on=ended,
                last_payment_on=last_payment,
                total_charged=Decimal(job.charged),
                is_special_offer=job.special_offer,
                disputed=job.disputed,
            ),
        )
        if ended is not None and (job.rating is not None or job.private is not None):
            Feedback.objects.get_or_create(
                contract=contract,
                defaults=dict(
                    public_rating=Decimal(job.rating) if job.rating else None,
                    public_comment=job.comment or "",
                    freelancer_response=job.response,
                    private_score=job.private,
                ),
            )
        return contract

    # --- the whole world ---------------------------------------------------------------------
    def build(self):
        for public_id, name, flagged, tos in CLIENTS:
            self.clients[public_id], _ = Client.objects.update_or_create(
                public_id=public_id, defaults=dict(name=name, flagged=flagged, suspended_for_tos=tos)
            )
        for username, first, last, group, superuser in STAFF:
            self.user(username, first, last, staff=True, superuser=superuser, group=group)
        for username, (first, last, public_id, status, completeness, top, jobs) in PEOPLE.items():
            freelancer = self.freelancer(username, first, last, public_id, status, completeness)
            self.top_rated(freelancer=freelancer, state=top)
            for job in jobs:
                self.job(freelancer, job)
        agency, _ = Agency.objects.update_or_create(public_id=AGENCY[0], defaults=dict(name=AGENCY[1]))
        for username, role in AGENCY_MEMBERS:
            AgencyMembership.objects.update_or_create(
                agency=agency, freelancer=self.freelancers[username], defaults=dict(role=role)
            )
        self.top_rated(agency=agency, state="current")
        for i, job in enumerate(AGENCY_JOBS):
            member = self.freelancers[["dave", "erin", "alice"][i % 3]]
            self.job(member, job, agency=agency)
        for username, (first, last, public_id, prefix) in QUEUE_PEOPLE.items():
            freelancer = self.freelancer(username, first, last, public_id)
            self.top_rated(freelancer=freelancer, state="current")
            for job in _steady_history(
                prefix,
                TITLES[:8],
                ["northwind", "kestrel", "riverbend", "lumen-health"],
                start=650,
                step=55,
                long_term=True,
            ):
                self.job(freelancer, job)
            self.job(
                freelancer,
                Job(
                    f"{prefix}9001",
                    "Rushed prototype",
                    "orchard-pine",
                    60,
                    20,
                    "800.00",
                    "3.40",
                    4,
                    "Rushed and buggy.",
                ),
            )

    def tickets(self):
        """A queue with every status, made once through the services with past clocks."""
        if RemovalRequest.objects.exists():
            return
        agent, agent2, lead = self.users["agent"], self.users["agent2"], self.users["lead"]
        u = self.users

        def submit(username, number, scope, days_ago, hour=9):
            return services.submit_request(
                requester=u[username], contract_number=number, scope=scope, now=self.at(days_ago, hour)
            )

        # alice: an old request, rejected as a duplicate of nothing special — final, does not count.
        r = submit("alice", "3184003", "jss_only", 200)
        services.reject_request(
            r,
            agent=agent,
            reason="not_eligible",
            now=self.at(199),
            message="This contract had no feedback problems worth removing; please choose another.",
        )
        # bob: asked while still Top Rated, then withdrew it himself.
        r = submit("bob", "55219002", "jss_only", 20)
        services.withdraw_request(r, requester=u["bob"], now=self.at(19))
        # grace: applied a month ago (counted: she is in her cooldown), excluded at the last update.
        r = submit("grace", "90439001", "hide_profile_and_jss", 33)
        services.claim_request(r, agent=agent, now=self.at(33, 11))
        # Applied on its own past day below, as the worker would have (seed holds queued work back).
        services.approve_request(r, agent=agent, now=self.at(32))
        services.apply_exclusion(r.pk, now=self.at(32, 11))
        self.outcome_at_update(r, "excluded", 20)
        # leo: applied five months ago; the no-harm rule kept it in his score.
        r = submit("leo", "1205000", "jss_only", 150)
        services.approve_request(r, agent=agent2, now=self.at(148))
        services.apply_exclusion(r.pk, now=self.at(148, 11))
        self.outcome_at_update(r, "kept_no_harm", 132)
        # kim: approved two days ago; the message to apply it was lost, the sweep will apply it.
        r = submit("kim", "12049001", "hide_profile_and_jss", 3)
        services.claim_request(r, agent=agent2, now=self.at(3, 11))
        services.approve_request(r, agent=agent2, now=self.at(2))
        # irene: breached — submitted nine days ago, claimed, still waiting.
        r = submit("irene", "12029001", "jss_only", 9)
        services.claim_request(r, agent=agent, now=self.at(8))
        services.add_note(
            r,
            agent=agent,
            now=self.at(8, 11),
            message="Client account under review; waiting for Trust & Safety before deciding.",
        )
        # henry: at risk — submitted six days ago, nobody has picked it up.
        submit("henry", "12019001", "hide_profile_and_jss", 6)
        # jack: fresh this morning.
        submit("jack", "12039001", "jss_only", 0, hour=max(0, min(8, timezone.localtime(self.now).hour - 1)))
        _ = lead


def seed(*, stdout=None):
    """Build the demo (idempotent). Queued work is held back: an approved ticket stays approved until the
    sweep applies it (as after a lost message), and the history's emails are recorded as sent, not sent."""
    builder = DemoBuilder(stdout=stdout)
    with held_back():
        with transaction.atomic():
            builder.build()
        builder.tickets()
        record_as_sent(EmailDelivery.objects.filter(sent_at__isnull=True).values_list("pk", flat=True))
        # Scores for the demo: a forced scheduled JSS update for today, once (a rerun finds it and writes nothing).
        from jss import services as jss_services
        from jss.models import ScoreUpdate

        if not ScoreUpdate.objects.filter(as_of=builder.today).exists():
            jss_services.run_update(as_of=builder.today, force=True, now=builder.now)
    return builder
