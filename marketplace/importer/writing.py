"""Step 3: writing, in bulk queries, inside the transaction ``load_marketplace`` opens; and what a
database refusal at that point means."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F

from marketplace.importer.checking import (
    Known,
    KnownContract,
    KnownFeedback,
    KnownPeriod,
    KnownUser,
)
from marketplace.importer.fields import (
    FREELANCER_FIELDS,
)
from marketplace.importer.problems import (
    CONTRACTS_PER_CHUNK,
    DATABASE,
    SECTIONS,
    WRITE_BATCH,
    Problem,
)
from marketplace.importer.reading import Document
from marketplace.models import (
    Agency,
    AgencyMembership,
    Client,
    Contract,
    Feedback,
    Freelancer,
    TopRatedPeriod,
)

# --- Step 3: writing ------------------------------------------------------------------------


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self):
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class Summary:
    tallies: dict[str, Tally] = field(
        default_factory=lambda: {kind: Tally() for kind in ("users", *SECTIONS[:5], "feedback", SECTIONS[5])}
    )
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False


class _DryRun(Exception):
    def __init__(self, summary):
        self.summary = summary


def _in_chunks(values: Iterable) -> Iterator[list]:
    # SQLite caps the parameters of one statement; PostgreSQL takes the bigger chunks.
    size = min(connection.features.max_query_params or 5000, 5000) - 10
    values = sorted(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _fetch(queryset, lookup: str, values: Iterable) -> list:
    rows = []
    for chunk in _in_chunks(set(values)):
        rows.extend(queryset.filter(**{f"{lookup}__in": chunk}))
    return rows


@dataclass
class _Existing:
    """The rows the file's keys name, fetched once per kind (in chunks of the parameter limit)."""

    freelancers: dict[str, Freelancer]
    users: dict[str, Any]
    agencies: dict[str, Agency]
    clients: dict[str, Client]
    contracts: dict[str, Contract]
    memberships: dict[tuple[int, int], AgencyMembership]
    periods: dict[tuple[str, str], dict[dt.date, TopRatedPeriod]]

    @classmethod
    def fetch(cls, doc: Document) -> _Existing:
        def referenced(kind, sections):
            keys = set()
            for section in sections:
                keys |= doc.keys(section, kind)
            return keys

        freelancer_ids = doc.keys("freelancers", "public_id") | referenced(
            "freelancer", ("memberships", "contracts", "top_rated_periods")
        )
        agency_ids = doc.keys("agencies", "public_id") | referenced(
            "agency", ("memberships", "contracts", "top_rated_periods")
        )
        client_ids = doc.keys("clients", "public_id") | doc.keys("contracts", "client")
        freelancers = {
            f.public_id: f for f in _fetch(Freelancer.objects.select_related("user"), "public_id", freelancer_ids)
        }
        users = {
            u.username: u
            for u in _fetch(
                get_user_model().objects.annotate(freelancer_public_id=F("freelancer__public_id")),
                "username",
                doc.keys("freelancers", "username"),
            )
        }
        agencies = {a.public_id: a for a in _fetch(Agency.objects.all(), "public_id", agency_ids)}
        clients = {c.public_id: c for c in _fetch(Client.objects.all(), "public_id", client_ids)}
        contracts = {
            c.number: c
            for c in _fetch(Contract.objects.select_related("feedback"), "number", doc.keys("contracts", "number"))
        }
        member_agencies = [agencies[a].pk for a in doc.keys("memberships", "agency") if a in agencies]
        member_freelancers = {freelancers[f].pk for f in doc.keys("memberships", "freelancer") if f in freelancers}
        memberships = {
            (m.agency_id, m.freelancer_id): m
            for m in _fetch(AgencyMembership.objects.all(), "agency_id", member_agencies)
            if m.freelancer_id in member_freelancers
        }
        periods: dict[tuple[str, str], dict[dt.date, TopRatedPeriod]] = defaultdict(dict)
        for kind, rows in (("freelancer", freelancers), ("agency", agencies)):
            public_ids = {rows[p].pk: p for p in doc.keys("top_rated_periods", kind) if p in rows}
            for period in _fetch(TopRatedPeriod.objects.all(), f"{kind}_id", public_ids):
                periods[(kind, public_ids[getattr(period, f"{kind}_id")])][period.started_on] = period
        return cls(freelancers, users, agencies, clients, contracts, memberships, dict(periods))

    def known(self) -> Known:
        def feedback_of(contract):
            feedback = _feedback_of(contract)
            return feedback and KnownFeedback(feedback.hidden_on_profile, feedback.hidden_at)

        return Known(
            freelancers={p: f.user_id for p, f in self.freelancers.items()},
            users={
                name: KnownUser(u.pk, u.freelancer_public_id, u.is_staff or u.is_superuser)
                for name, u in self.users.items()
            },
            agencies=set(self.agencies),
            clients=set(self.clients),
            contracts={
                n: KnownContract(c.started_on, c.ended_on, c.last_payment_on, feedback_of(c))
                for n, c in self.contracts.items()
            },
            periods={
                subject: [KnownPeriod(p.started_on, p.ended_on, p.loss_reason) for p in by_start.values()]
                for subject, by_start in self.periods.items()
            },
        )


def _feedback_of(contract: Contract) -> Feedback | None:
    try:
        return contract.feedback
    except Feedback.DoesNotExist:
        return None


class _Upserts:
    """New and changed rows of one model. Each changed row is written with exactly the fields that
    changed, so a concurrent change to another field of it (say feedback hidden by the perk) stays."""

    def __init__(self, model, tally: Tally, *, key: str | None = None):
        self.model, self.tally, self.key = model, tally, key
        self.new: list = []
        self.changed: dict[frozenset[str], list] = defaultdict(list)

    def create(self, obj):
        self.new.append(obj)
        return obj

    def update(self, obj, values: dict[str, Any]):
        changed = frozenset(name for name, value in values.items() if getattr(obj, name) != value)
        for name in changed:
            setattr(obj, name, values[name])
        if changed:
            self.changed[changed].append(obj)
        else:
            self.tally.unchanged += 1
        return obj

    def save(self):
        # Updates first: a Top Rated period is closed before its successor opens.
        for fields, objs in self.changed.items():
            self.model.objects.bulk_update(objs, sorted(fields), batch_size=WRITE_BATCH)
            self.tally.updated += len(objs)
        if self.new:
            self.model.objects.bulk_create(self.new, batch_size=WRITE_BATCH)
            self.tally.created += len(self.new)
            self._fill_primary_keys()
        self.new, self.changed = [], defaultdict(list)

    def _fill_primary_keys(self):
        # Backends that cannot return ids from a bulk insert: read them back by the natural key.
        missing = [obj for obj in self.new if obj.pk is None]
        if not missing or self.key is None:
            return
        ids = {}
        for chunk in _in_chunks(getattr(obj, self.key) for obj in missing):
            ids.update(self.model.objects.filter(**{f"{self.key}__in": chunk}).values_list(self.key, "pk"))
        for obj in missing:
            obj.pk = ids[getattr(obj, self.key)]


def _subset(values: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: values[name] for name in names if name in values}


def _user_values(values: dict[str, Any]) -> dict[str, Any]:
    account = _subset(values, ("username", "email"))
    if "name" in values:
        first, _, last = values["name"].strip().partition(" ")
        account.update(first_name=first[:150], last_name=last.strip()[:150])
    return account


ProgressCallback = Callable[[str, int, int], None]


def _write(doc: Document, existing: _Existing, progress: ProgressCallback | None) -> Summary:
    summary = Summary()
    tallies = summary.tallies
    User = get_user_model()

    users = _Upserts(User, tallies["users"], key="username")
    login_of = {}
    for record in doc.freelancers:
        public_id, wanted = record.values["public_id"], _user_values(record.values)
        freelancer = existing.freelancers.get(public_id)
        user = freelancer.user if freelancer else existing.users.get(record.values["username"])
        if user is None:
            user = users.create(User(**wanted))
            user.set_unusable_password()
        elif wanted:
            users.update(user, wanted)
        login_of[public_id] = user
    users.save()

    freelancer_fields = [name for name in FREELANCER_FIELDS if name not in ("public_id", "username", "email")]
    freelancer_ids = {p: f.pk for p, f in existing.freelancers.items()}
    freelancers = _Upserts(Freelancer, tallies["freelancers"], key="public_id")
    created = []
    for record in doc.freelancers:
        public_id, values = record.values["public_id"], _subset(record.values, freelancer_fields)
        if public_id in existing.freelancers:
            freelancers.update(existing.freelancers[public_id], values)
        else:
            created.append(freelancers.create(Freelancer(public_id=public_id, user=login_of[public_id], **values)))
    freelancers.save()
    freelancer_ids.update((f.public_id, f.pk) for f in created)

    def upsert_by_public_id(section, model, names, stored):
        batch, ids, created = _Upserts(model, tallies[section], key="public_id"), {}, []
        for record in getattr(doc, section):
            public_id, values = record.values["public_id"], _subset(record.values, names)
            if public_id in stored:
                batch.update(stored[public_id], values)
            else:
                created.append(batch.create(model(public_id=public_id, **values)))
        batch.save()
        ids.update((p, obj.pk) for p, obj in stored.items())
        ids.update((obj.public_id, obj.pk) for obj in created)
        return ids

    agency_ids = upsert_by_public_id("agencies", Agency, ("name", "account_status"), existing.agencies)
    memberships = _Upserts(AgencyMembership, tallies["memberships"])
    for record in doc.memberships:
        pair = agency_ids[record.values["agency"]], freelancer_ids[record.values["freelancer"]]
        values = _subset(record.values, ("role",))
        if pair in existing.memberships:
            memberships.update(existing.memberships[pair], values)
        else:
            memberships.create(AgencyMembership(agency_id=pair[0], freelancer_id=pair[1], **values))
    memberships.save()
    client_ids = upsert_by_public_id("clients", Client, ("name", "flagged", "suspended_for_tos"), existing.clients)

    _write_contracts(doc, existing, summary, progress, freelancer_ids, agency_ids, client_ids)

    periods = _Upserts(TopRatedPeriod, tallies["top_rated_periods"])
    subject_ids = {"freelancer": freelancer_ids, "agency": agency_ids}
    for record in doc.top_rated_periods:
        kind, public_id = record.subject
        values = _subset(record.values, ("ended_on", "loss_reason"))
        stored = existing.periods.get((kind, public_id), {}).get(record.values["started_on"])
        if stored is not None:
            periods.update(stored, values)
        else:
            periods.create(
                TopRatedPeriod(
                    **{f"{kind}_id": subject_ids[kind][public_id]}, started_on=record.values["started_on"], **values
                )
            )
    periods.save()
    return summary


def _write_contracts(doc, existing, summary, progress, freelancer_ids, agency_ids, client_ids):
    tallies = summary.tallies
    plain = (
        "title",
        "platform",
        "started_on",
        "ended_on",
        "last_payment_on",
        "total_charged",
        "is_special_offer",
        "disputed",
    )
    references = (("freelancer", freelancer_ids), ("agency", agency_ids), ("client", client_ids))
    total = len(doc.contracts)
    for start in range(0, total, CONTRACTS_PER_CHUNK):
        chunk = doc.contracts[start : start + CONTRACTS_PER_CHUNK]
        contracts = _Upserts(Contract, tallies["contracts"], key="number")
        with_feedback = []
        for record in chunk:
            values = _subset(record.values, plain)
            for name, ids in references:
                if name in record.values:
                    public_id = record.values[name]
                    values[f"{name}_id"] = None if public_id is None else ids[public_id]
            stored = existing.contracts.get(record.values["number"])
            if stored is not None:
                contract = contracts.update(stored, values)
            else:
                contract = contracts.create(Contract(number=record.values["number"], **values))
            if record.feedback is not None:
                with_feedback.append((record, contract, stored))
        contracts.save()

        feedback = _Upserts(Feedback, tallies["feedback"])
        for record, contract, stored in with_feedback:
            values = dict(record.feedback.values)
            old = _feedback_of(stored) if stored is not None else None
            if old is None:
                feedback.create(Feedback(contract=contract, **values))
                continue
            if old.hidden_on_profile:
                # Hiding is one-way: feedback PerkDesk (or the marketplace) hid is never shown again by an import.
                if values.pop("hidden_on_profile", True) is False or values.get("hidden_at", True) is None:
                    summary.notes.append(f"{record.feedback.path}: kept hidden; an import never un-hides feedback")
                values.pop("hidden_at", None)
            feedback.update(old, values)
        feedback.save()
        if progress is not None:
            progress("contracts", min(start + CONTRACTS_PER_CHUNK, total), total)


# What each refusal means, found by the constraint's name (PostgreSQL, SQLite CHECK) or by the columns
# SQLite names for a unique index.
_REFUSALS = (
    (
        ("top_rated_one_current_per_freelancer", "marketplace_topratedperiod.freelancer_id"),
        "a freelancer can have only one current Top Rated period",
    ),
    (
        ("top_rated_one_current_per_agency", "marketplace_topratedperiod.agency_id"),
        "an agency can have only one current Top Rated period",
    ),
    (("top_rated_exactly_one_subject",), "a Top Rated period belongs to exactly one freelancer or agency"),
    (("top_rated_loss_reason_iff_ended",), "an ended Top Rated period needs a loss_reason, a current one none"),
    (("top_rated_ends_after_start",), "a Top Rated period cannot end before it starts"),
    (
        ("membership_unique_per_agency", "marketplace_agencymembership.agency_id"),
        "a freelancer is a member of an agency only once",
    ),
    (("contract_ends_after_start",), "a contract cannot end before it starts"),
    (("marketplace_contract_number", "marketplace_contract.number"), "a contract number is used only once"),
    (("public_id",), "a public_id is used only once"),
    (("username",), "a login (username) is used only once"),
    (("feedback_hidden_has_time",), "hidden feedback needs hidden_at"),
    (("marketplace_feedback_contract_id", "marketplace_feedback.contract_id"), "a contract has one feedback"),
)


def describe_refusal(exc: Exception) -> Problem:
    text = str(exc).strip()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    meaning = next((meaning for names, meaning in _REFUSALS if any(name in text for name in names)), None)
    if meaning is None:
        return Problem(DATABASE, f"the database refused the import: {first_line}")
    return Problem(DATABASE, f"the database refused the import: {meaning} [{first_line}]")
