"""A support queue of N removal requests for ``bench/admin_queue.py``, bulk-loaded (COPY on PostgreSQL,
``executemany`` on SQLite) from one seeded ``random.Random``; no model instances, no services.

The shape is a queue a few years old: one contract and one request per row, ten requests per freelancer
spread over three years, 5 % of freelancers in agencies (their older contracts are the agency's), a few
Special Offers. Only each freelancer's latest request can still be open, so the database's "one open
request" constraints hold: about 0.7 % of the rows are open (fresh, claimed, approved, at risk, breached),
the rest applied (mostly on time, with JSS outcomes), rejected or withdrawn. Every request has its
timeline: submitted, claimed, the decision, applied, JSS outcome.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from bench.bulkload import BulkWriter, reset_sequences
from marketplace.models import Agency, AgencyMembership, Client, Contract, Feedback, Freelancer, TopRatedPeriod
from requests_app.models import RemovalRequest, RequestEvent

PASSWORD = "perkdesk"
PER_FREELANCER = 10
HISTORY = dt.timedelta(days=3 * 365)
SLA = dt.timedelta(days=7)
AGENTS = 20
FIRST = ["Maria", "James", "Aiko", "Omar", "Lena", "Tomas", "Priya", "Chen", "Fatima", "Lucas", "Nora", "Ivan"]
LAST = ["Garcia", "Smith", "Tanaka", "Haddad", "Novak", "Silva", "Patel", "Wei", "Okafor", "Berg", "Rossi", "Kim"]
TICKET_STRIDE = 982_451_653  # a prime: i * stride mod 9e8 is a permutation, so tickets are unique and unordered


@dataclass
class QueueCounts:
    requests: int = 0
    events: int = 0
    freelancers: int = 0
    agencies: int = 0
    contracts: int = 0


def make_staff():
    """``bench_agent0``…``bench_agent19`` (Support agents) and ``bench_lead`` (Support leads)."""
    User = get_user_model()
    agents = Group.objects.get(name="Support agents")
    leads = Group.objects.get(name="Support leads")
    staff = []
    for index in range(AGENTS):
        user = User.objects.create_user(
            f"bench_agent{index}", f"agent{index}@bench.example", PASSWORD, is_staff=True, first_name="Agent"
        )
        user.last_name = str(index)
        user.save(update_fields=["last_name"])
        user.groups.add(agents)
        staff.append(user)
    lead = User.objects.create_user("bench_lead", "lead@bench.example", PASSWORD, is_staff=True, first_name="Lead")
    lead.groups.add(leads)
    return staff, lead


def generate(requests: int, *, seed=1, now=None, progress=print) -> QueueCounts:
    """Insert the queue into an empty database (refuses one that already has requests)."""
    if RemovalRequest.objects.exists() or Contract.objects.exists():
        raise RuntimeError("the bench queue starts from an empty database")
    now = now or timezone.now()
    rng = random.Random(seed)
    freelancers = max(2, requests // PER_FREELANCER)
    agency_every = 20  # one freelancer in 20 works through an agency
    agencies = max(1, freelancers // (agency_every * 5))
    clients = max(10, requests // 100)
    counts = QueueCounts(freelancers=freelancers, agencies=agencies)

    with transaction.atomic():
        staff, _lead = make_staff()
        staff_ids = [user.pk for user in staff]
        User = get_user_model()
        first_user = (User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        with connection.cursor() as cursor:
            writer = BulkWriter(cursor)
            joined = now - HISTORY - dt.timedelta(days=30)
            progress(f"users and freelancers: {freelancers}")
            writer.write(
                User,
                [
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
                ],
                (
                    (
                        first_user + f,
                        "!",
                        False,
                        f"bf{f}",
                        FIRST[f % 12],
                        f"{LAST[(f // 12) % 12]}",
                        f"bf{f}@bench.example",
                        False,
                        True,
                        joined,
                    )
                    for f in range(freelancers)
                ),
            )
            writer.write(
                Freelancer,
                ["id", "user_id", "name", "public_id", "account_status", "profile_completeness"],
                (
                    (f + 1, first_user + f, f"{FIRST[f % 12]} {LAST[(f // 12) % 12]} {f}", f"bf-{f}", "active", 100)
                    for f in range(freelancers)
                ),
            )
            writer.write(
                Agency,
                ["id", "name", "public_id", "account_status"],
                ((a + 1, f"Bench Agency {a}", f"ba-{a}", "active") for a in range(agencies)),
            )
            agency_of = {f: (f // agency_every) % agencies + 1 for f in range(0, freelancers, agency_every)}
            writer.write(
                AgencyMembership,
                ["agency_id", "freelancer_id", "role"],
                ((agency, f + 1, "owner") for f, agency in agency_of.items()),
            )
            writer.write(
                TopRatedPeriod,
                ["freelancer_id", "agency_id", "started_on", "ended_on", "loss_reason"],
                ((f + 1, None, (now - HISTORY).date(), None, None) for f in range(freelancers)),
            )
            writer.write(
                TopRatedPeriod,
                ["freelancer_id", "agency_id", "started_on", "ended_on", "loss_reason"],
                ((None, a + 1, (now - HISTORY).date(), None, None) for a in range(agencies)),
            )
            writer.write(
                Client,
                ["id", "name", "public_id", "flagged", "suspended_for_tos"],
                ((c + 1, f"Bench Client {c}", f"bc-{c}", False, False) for c in range(clients)),
            )

            # One row per request: everything else is derived from it.
            rows = []
            slot = HISTORY / PER_FREELANCER
            for f in range(freelancers):
                offset = slot * rng.random()
                for k in range(PER_FREELANCER):
                    index = f * PER_FREELANCER + k
                    if index >= requests:
                        break
                    submitted = now - offset - slot * k - dt.timedelta(hours=1)
                    agency = agency_of.get(f) if k and f in agency_of else None
                    rows.append(_request_row(rng, index, f, k, submitted, agency, staff_ids, now))
            rng.shuffle(rows)  # ids carry no order, like real tickets decided in any order
            progress(f"contracts and feedback: {len(rows)}")
            counts.contracts = writer.write(
                Contract,
                [
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
                ],
                (
                    (
                        r["id"],
                        str(50_000_000 + r["id"]),
                        f"Bench job {r['id']}",
                        r["freelancer"],
                        r["agency"],
                        r["id"] % clients + 1,
                        "upwork",
                        r["started"],
                        r["ended"],
                        r["ended"],
                        r["charged"],
                        r["special"],
                        False,
                    )
                    for r in rows
                ),
            )
            writer.write(
                Feedback,
                [
                    "contract_id",
                    "public_rating",
                    "public_comment",
                    "freelancer_response",
                    "private_score",
                    "hidden_on_profile",
                    "hidden_at",
                ],
                (
                    (
                        r["id"],
                        r["rating"],
                        "Bench feedback.",
                        "",
                        r["private"],
                        r["status"] == "applied" and r["scope"] == "hide_profile_and_jss",
                        r["applied_at"] if r["status"] == "applied" and r["scope"] == "hide_profile_and_jss" else None,
                    )
                    for r in rows
                ),
            )
            progress(f"requests: {len(rows)}")
            counts.requests = writer.write(
                RemovalRequest,
                [
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
                    "assigned_to_id",
                    "decided_by_id",
                    "decided_at",
                    "rejection_reason",
                    "applied_at",
                    "jss_outcome",
                    "screenshot",
                    "screenshot_content_type",
                    "waiting_since",
                ],
                (
                    (
                        r["id"],
                        r["ticket"],
                        r["id"],
                        r["freelancer"],
                        r["agency"],
                        first_user + r["freelancer"] - 1,
                        r["scope"],
                        r["special"],
                        r["status"],
                        r["submitted"],
                        r["submitted"] + SLA,
                        r["assigned"],
                        r["decided_by"],
                        r["decided_at"],
                        r["reason"],
                        r["applied_at"],
                        r["outcome"],
                        None,
                        "",
                        r["waiting_since"],
                    )
                    for r in rows
                ),
            )
            progress("timelines")
            counts.events = writer.write(
                RequestEvent,
                ["request_id", "created_at", "actor_id", "kind", "message", "public", "data"],
                ((*event, "{}") for r in rows for event in _events(r, first_user)),
            )
            reset_sequences(cursor, [User, Freelancer, Agency, Client, Contract, RemovalRequest])
    if connection.vendor == "postgresql":
        # What autovacuum does to a table in production: statistics, and the visibility map that lets
        # the desk's aggregates read only their covering indexes.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return counts


def _request_row(rng, index, f, k, submitted, agency, staff_ids, now):
    age = now - submitted
    row = {
        "id": index + 1,
        "ticket": f"{(index * TICKET_STRIDE) % 900_000_000 + 100_000_000:09d}",
        "freelancer": f + 1,
        "agency": agency,
        "submitted": submitted,
        "scope": "hide_profile_and_jss" if rng.random() < 0.35 else "jss_only",
        "special": rng.random() < 0.03,
        "ended": (submitted - dt.timedelta(days=rng.randint(3, 60))).date(),
        "charged": Decimal(rng.choice(["180.00", "640.00", "1850.00", "5200.00"])),
        "rating": Decimal(rng.choice(["2.00", "3.50", "4.00", "4.50", "5.00"])),
        "private": rng.randint(2, 10),
        "status": "submitted",
        "assigned": None,
        "decided_by": None,
        "decided_at": None,
        "reason": None,
        "applied_at": None,
        "outcome": "pending",
        "claimed_at": None,
        "waiting_since": None,
    }
    row["started"] = row["ended"] - dt.timedelta(days=rng.randint(20, 400))
    agent = rng.choice(staff_ids)
    roll = rng.random()
    open_for = SLA + dt.timedelta(days=2)
    if k == 0 and age < open_for:
        # The live queue: fresh and unassigned, claimed, approved awaiting the sweep, a few breached.
        if age > dt.timedelta(hours=6) and roll < 0.45:
            row.update(assigned=agent, claimed_at=submitted + dt.timedelta(hours=3))
        elif age > dt.timedelta(days=1) and roll < 0.6:
            decided = submitted + dt.timedelta(hours=rng.randint(4, 20))
            row.update(status="approved", assigned=agent, decided_by=agent, decided_at=decided)
        elif age > dt.timedelta(days=1) and roll < 0.66:
            # Waiting on the freelancer: claimed, a question asked, the SLA clock paused.
            asked = submitted + dt.timedelta(hours=rng.randint(4, 20))
            row.update(
                status="waiting_on_freelancer",
                assigned=agent,
                claimed_at=submitted + dt.timedelta(hours=3),
                waiting_since=asked,
            )
        elif age > SLA and roll < 0.9:
            pass  # breached: nobody got to it
        elif age > dt.timedelta(days=1) and roll < 0.95:
            decided = submitted + dt.timedelta(hours=rng.randint(4, 20))
            row.update(status="rejected", assigned=agent, decided_by=agent, decided_at=decided, reason="not_eligible")
        return row
    decided = submitted + dt.timedelta(hours=rng.randint(2, 100))
    if roll < 0.8:
        late = rng.random() < 0.04
        applied = decided + (
            dt.timedelta(days=rng.randint(7, 12)) if late else dt.timedelta(minutes=rng.randint(1, 30))
        )
        outcome = (
            "pending"
            if now - applied < dt.timedelta(days=14)
            else ("kept_no_harm" if rng.random() < 0.12 else "excluded")
        )
        row.update(
            status="applied", assigned=agent, decided_by=agent, decided_at=decided, applied_at=applied, outcome=outcome
        )
        if rng.random() < 0.5:
            row["claimed_at"] = submitted + dt.timedelta(hours=1)
    elif roll < 0.95:
        reason = rng.choice(["not_eligible", "screenshot_invalid", "duplicate", "not_eligible"])
        row.update(status="rejected", assigned=agent, decided_by=agent, decided_at=decided, reason=reason)
    else:
        row["status"] = "withdrawn"
    return row


def _events(r, first_user):
    request, requester = r["id"], first_user + r["freelancer"] - 1
    yield request, r["submitted"], requester, "submitted", "Request received (bench).", True
    if r["claimed_at"]:
        yield request, r["claimed_at"], r["assigned"], "claimed", "Claimed.", False
    if r["waiting_since"]:
        yield request, r["waiting_since"], r["assigned"], "info_requested", "Could you send the screenshot?", True
    if r["status"] in ("approved", "applied"):
        yield request, r["decided_at"], r["decided_by"], "approved", "Approved.", True
    elif r["status"] == "rejected":
        yield request, r["decided_at"], r["decided_by"], "rejected", "Rejected.", True
    elif r["status"] == "withdrawn":
        yield (
            request,
            r["submitted"] + dt.timedelta(hours=5),
            requester,
            "withdrawn",
            "You withdrew this request.",
            True,
        )
    if r["status"] == "applied":
        yield request, r["applied_at"], None, "applied", "Applied.", True
        if r["outcome"] != "pending":
            yield request, r["applied_at"] + dt.timedelta(days=10), None, "jss_outcome", "JSS outcome.", True
