"""Synthetic marketplace data for benchmarks (``generate_bench_data``): deterministic and bulk-loaded.

Rows are made in Python from one seeded ``random.Random`` and written with COPY on PostgreSQL (or
``executemany`` on SQLite), never through model instances. The shape is a plausible marketplace: subjects
with a varying number of contracts over the last three years, mostly good feedback, some active work,
flagged clients, disputes, contracts without feedback, and a few applied perk exclusions.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from bench.bulkload import BulkWriter, reset_sequences
from jss.models import JssExclusion
from marketplace.models import Agency, AgencyMembership, Client, Contract, Feedback, Freelancer
from requests_app.models import RemovalRequest

CONTRACT_NUMBER_BASE = 70_000_000
HISTORY_DAYS = 3 * 365  # reference dates spread over three years: a third fall outside the 24-month window


class BenchDataError(Exception):
    pass


@dataclass
class BenchPlan:
    contracts: int
    clients: int
    subjects: int
    agencies: int
    seed: int = 1
    as_of: dt.date = field(default_factory=timezone.localdate)
    exclusions_per_thousand_subjects: int = 2

    @classmethod
    def for_size(cls, contracts, *, clients=None, per_subject=20, agency_share=0.1, seed=1, as_of=None):
        subjects = max(2, contracts // per_subject)
        return cls(
            contracts=contracts,
            clients=clients or max(2, contracts // 10),
            subjects=subjects,
            agencies=max(1, int(subjects * agency_share)),
            seed=seed,
            as_of=as_of or timezone.localdate(),
        )


@dataclass
class BenchCounts:
    users: int = 0
    freelancers: int = 0
    agencies: int = 0
    memberships: int = 0
    clients: int = 0
    contracts: int = 0
    feedback: int = 0
    exclusions: int = 0


def _next_id(model) -> int:
    last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


def _check_feedback_copies() -> None:
    """The bulk load wrote each contract's copy of its feedback itself (its triggers were off): it must be
    what the triggers would have written."""
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM marketplace_contract c LEFT JOIN marketplace_feedback f ON f.contract_id = c.id "
            f"WHERE c.feedback_public_rating {differs} f.public_rating OR c.feedback_private_score {differs} "
            "f.private_score"
        )
        wrong = cursor.fetchone()[0]
    if wrong:
        raise BenchDataError(f"bench data: {wrong} contracts whose copy of their feedback is wrong")


def generate(plan: BenchPlan, *, progress=None) -> BenchCounts:
    """Insert the planned world. Refuses a database that already has contracts (bench data starts clean)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    if Contract.objects.exists():
        raise BenchDataError("this database already has contracts: use a fresh bench database")
    if plan.agencies >= plan.subjects:
        raise BenchDataError("there must be more subjects than agencies")
    rng = random.Random(plan.seed)
    counts = BenchCounts()
    say = progress or (lambda message: None)
    as_of = plan.as_of
    now = timezone.make_aware(dt.datetime(as_of.year, as_of.month, as_of.day, 12, 0))
    n_freelancers = plan.subjects - plan.agencies

    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor if connection.vendor == "postgresql" else django_cursor
        writer = BulkWriter(cursor)
        if connection.vendor == "postgresql":
            # COPY as a bulk load does: no row triggers (the contracts are written with their copy of the
            # feedback already; _check_feedback_copies proves it below), no foreign-key checks row by row.
            cursor.execute("SET LOCAL session_replication_role = replica")
        user0, freelancer0 = _next_id(User), _next_id(Freelancer)
        agency0, client0, membership0 = _next_id(Agency), _next_id(Client), _next_id(AgencyMembership)
        contract0, feedback0 = _next_id(Contract), _next_id(Feedback)

        writer.write(
            User._meta.db_table,
            (
                "id",
                "password",
                "is_superuser",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_staff",
                "is_active",
                "date_joined",
            ),
            (
                (
                    user0 + i,
                    "!",
                    False,
                    f"bench{plan.seed}-{i}",
                    "Bench",
                    f"Freelancer {i}",
                    f"bench{plan.seed}-{i}@bench.example",
                    False,
                    True,
                    now,
                )
                for i in range(n_freelancers)
            ),
        )
        counts.users = n_freelancers
        statuses = ["active"] * 97 + ["inactive", "suspended", "suspended"]
        writer.write(
            Freelancer._meta.db_table,
            ("id", "user_id", "name", "public_id", "account_status", "profile_completeness", "tos_violation_on"),
            (
                (
                    freelancer0 + i,
                    user0 + i,
                    f"Bench Freelancer {i}",
                    f"bench-{plan.seed}-f{i}",
                    rng.choice(statuses),
                    100 if rng.random() < 0.8 else rng.randint(60, 99),
                    None,
                )
                for i in range(n_freelancers)
            ),
        )
        counts.freelancers = n_freelancers
        writer.write(
            Agency._meta.db_table,
            ("id", "name", "public_id", "account_status"),
            ((agency0 + i, f"Bench Agency {i}", f"bench-{plan.seed}-a{i}", "active") for i in range(plan.agencies)),
        )
        counts.agencies = plan.agencies

        # Each agency has 2-5 members drawn from the freelancers; the first is its owner.
        members: list[list[int]] = []
        membership_rows = []
        for a in range(plan.agencies):
            team = rng.sample(range(n_freelancers), k=min(n_freelancers, rng.randint(2, 5)))
            members.append([freelancer0 + f for f in team])
            for k, f in enumerate(team):
                membership_rows.append(
                    (membership0 + len(membership_rows), agency0 + a, freelancer0 + f, "owner" if k == 0 else "member")
                )
        writer.write(AgencyMembership._meta.db_table, ("id", "agency_id", "freelancer_id", "role"), membership_rows)
        counts.memberships = len(membership_rows)

        flags = [(rng.random() < 0.01, rng.random() < 0.005) for _ in range(plan.clients)]
        writer.write(
            Client._meta.db_table,
            ("id", "name", "public_id", "flagged", "suspended_for_tos"),
            (
                (client0 + i, f"Bench Client {i}", f"bench-{plan.seed}-c{i}", flagged, suspended)
                for i, (flagged, suspended) in enumerate(flags)
            ),
        )
        counts.clients = plan.clients
        say(f"people: {n_freelancers} freelancers, {plan.agencies} agencies, {plan.clients} clients")

        # Subjects get a varying share of the contracts (up to twice the mean). Contracts arrive over time from
        # every subject at once, as a marketplace's do: a subject's contracts are spread over the whole table.
        shares = [rng.randint(1, 39) for _ in range(plan.subjects)]
        bounds, running = [], 0
        for share in shares:
            running += share
            bounds.append(running)
        feedback_rows: list[tuple] = []
        ended_with_feedback: dict[int, int] = {}  # subject index -> an ended contract with feedback

        def contracts():
            for j in range(plan.contracts):
                s = bisect.bisect_right(bounds, rng.randrange(running))
                contract_id = contract0 + j
                if s < n_freelancers:
                    freelancer_id, agency_id = freelancer0 + s, None
                else:
                    team = members[s - n_freelancers]
                    freelancer_id, agency_id = team[j % len(team)], agency0 + s - n_freelancers
                length = int(rng.expovariate(1 / 60)) if rng.random() < 0.8 else rng.randint(90, 700)
                ref = as_of - dt.timedelta(days=rng.randint(0, HISTORY_DAYS))
                active = rng.random() < 0.1
                if active:
                    ended_on = None
                    roll = rng.random()
                    last_payment_on = (
                        None
                        if roll < 0.03
                        else (as_of - dt.timedelta(days=rng.randint(0, 400) if roll < 0.2 else rng.randint(0, 60)))
                    )
                    started_on = (last_payment_on or as_of) - dt.timedelta(days=length)
                else:
                    ended_on = ref
                    started_on = ref - dt.timedelta(days=length)
                    roll = rng.random()
                    last_payment_on = (
                        None
                        if roll < 0.03
                        else (ended_on if roll < 0.8 else started_on + dt.timedelta(days=rng.randint(0, length)))
                    )
                roll = rng.random()
                if roll < 0.02:
                    charged = Decimal("0.00")
                elif roll < 0.25:
                    charged = Decimal(rng.randint(500, 25_000)) / 100
                elif roll < 0.6:
                    charged = Decimal(rng.randint(25_001, 100_000)) / 100
                else:
                    charged = Decimal(rng.randint(100_001, 5_000_000)) / 100
                copied = (None, None)  # the contract's copy of its feedback (marketplace migration 0002)
                if ended_on is not None and rng.random() < 0.88:
                    rating = None
                    if rng.random() < 0.75:
                        rating = Decimal(rng.choice([500, 500, 500, 490, 475, 450, 425, 400, 350, 300, 200, 100])) / 100
                    private = rng.choice([10, 10, 10, 9, 9, 8, 7, 6, 4, 2]) if rng.random() < 0.7 else None
                    feedback_rows.append((feedback0 + len(feedback_rows), contract_id, rating, "", "", private, False))
                    copied = (rating, private)
                    if (rating is not None or private is not None) and s not in ended_with_feedback:
                        ended_with_feedback[s] = contract_id
                client_id = client0 + rng.randrange(plan.clients)
                yield (
                    contract_id,
                    str(CONTRACT_NUMBER_BASE + j),
                    f"Bench contract {j}",
                    freelancer_id,
                    agency_id,
                    client_id,
                    "elance" if rng.random() < 0.03 else "upwork",
                    started_on,
                    ended_on,
                    last_payment_on,
                    charged,
                    False,
                    rng.random() < 0.01,
                    *copied,
                )
                if j and j % 500_000 == 0:
                    say(f"contracts: {j} made")

        writer.write(
            Contract._meta.db_table,
            (
                "id",
                "number",
                "title",
                "freelancer_id",
                "agency_id",
                "client_id",
                "platform",
                "started_on",
                "ended_on",
                "last_payment_on",
                "total_charged",
                "is_special_offer",
                "disputed",
                "feedback_public_rating",
                "feedback_private_score",
            ),
            contracts(),
        )
        counts.contracts = plan.contracts
        writer.write(
            Feedback._meta.db_table,
            (
                "id",
                "contract_id",
                "public_rating",
                "public_comment",
                "freelancer_response",
                "private_score",
                "hidden_on_profile",
            ),
            feedback_rows,
        )
        counts.feedback = len(feedback_rows)
        counts.exclusions = _exclusions(
            writer, plan, rng, ended_with_feedback, n_freelancers, freelancer0, user0, members, agency0, now
        )
        reset_sequences(
            cursor,
            [User, Freelancer, Agency, AgencyMembership, Client, Contract, Feedback, RemovalRequest, JssExclusion],
        )
    _check_feedback_copies()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # As autovacuum leaves a settled table: statistics, and the visibility map that lets the JSS
            # update read its covering indexes without visiting the table.
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
    say(f"contracts: {counts.contracts} made, {counts.feedback} with a feedback row")
    return counts


def _exclusions(writer, plan, rng, ended_with_feedback, n_freelancers, freelancer0, user0, members, agency0, now):
    """A few subjects used the perk: an applied request and its exclusion, the no-harm rule judges them."""
    wanted = max(1, plan.subjects * plan.exclusions_per_thousand_subjects // 1000)
    chosen = sorted(rng.sample(sorted(ended_with_feedback), k=min(wanted, len(ended_with_feedback))))
    request0, exclusion0 = _next_id(RemovalRequest), _next_id(JssExclusion)
    requests, exclusions = [], []
    for k, s in enumerate(chosen):
        contract_id = ended_with_feedback[s]
        if s < n_freelancers:
            freelancer_id, agency_id = freelancer0 + s, None
        else:
            freelancer_id, agency_id = members[s - n_freelancers][0], agency0 + s - n_freelancers
        submitted = now - dt.timedelta(days=rng.randint(10, 300))  # now: noon on the plan's as_of
        request_id = request0 + k
        requests.append(
            (
                request_id,
                f"{800_000_000 + k:09d}",
                contract_id,
                freelancer_id,
                agency_id,
                user0 + freelancer_id - freelancer0,
                "jss_only",
                False,
                "applied",
                submitted,
                submitted + dt.timedelta(days=7),
                submitted + dt.timedelta(days=1),
                submitted + dt.timedelta(days=1),
                "pending",
                "",
                exclusion0 + k,
            )
        )
        exclusions.append((exclusion0 + k, contract_id, submitted + dt.timedelta(days=1), "pending"))
    # The exclusions first: each ticket points at its own (RemovalRequest.exclusion).
    writer.write(JssExclusion._meta.db_table, ("id", "contract_id", "created_at", "outcome"), exclusions)
    writer.write(
        RemovalRequest._meta.db_table,
        (
            "id",
            "ticket_number",
            "contract_id",
            "freelancer_id",
            "agency_id",
            "requested_by_id",
            "scope",
            "is_special_offer",
            "status",
            "submitted_at",
            "sla_due_at",
            "decided_at",
            "applied_at",
            "jss_outcome",
            "screenshot_content_type",
            "exclusion_id",
        ),
        requests,
    )
    return len(exclusions)
