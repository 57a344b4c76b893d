"""Step 2: the file against the database: a plain snapshot (``Known``) of the rows already stored under
the same keys, and every problem the file would cause against them."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from marketplace.importer.fields import (
    AGENCY_FIELDS,
    CLIENT_FIELDS,
    CONTRACT_FIELDS,
    FREELANCER_FIELDS,
    _Field,
    _shown,
)
from marketplace.importer.problems import (
    Problem,
)
from marketplace.importer.reading import Document, Record
from marketplace.models import (
    LossReason,
)

# --- Step 2: the file against the database -------------------------------------------------------


@dataclass(frozen=True)
class KnownUser:
    id: int
    freelancer: str | None  # public_id of the freelancer whose login it is
    staff: bool


@dataclass(frozen=True)
class KnownFeedback:
    hidden_on_profile: bool
    hidden_at: dt.datetime | None


@dataclass(frozen=True)
class KnownContract:
    started_on: dt.date
    ended_on: dt.date | None
    last_payment_on: dt.date | None
    feedback: KnownFeedback | None = None


@dataclass(frozen=True)
class KnownPeriod:
    started_on: dt.date
    ended_on: dt.date | None
    loss_reason: str | None


@dataclass
class Known:
    """What the database holds under the file's keys, as plain values."""

    freelancers: dict[str, int] = field(default_factory=dict)  # public_id → user id
    users: dict[str, KnownUser] = field(default_factory=dict)  # username → account
    agencies: set[str] = field(default_factory=set)
    clients: set[str] = field(default_factory=set)
    contracts: dict[str, KnownContract] = field(default_factory=dict)
    periods: dict[tuple[str, str], list[KnownPeriod]] = field(default_factory=dict)


def _missing_for_new(record: Record, fields: dict[str, _Field], what: str, problems):
    for name, spec in fields.items():
        if spec.required and name not in record.values and name not in record.invalid:
            problems.append(Problem(f"{record.path}.{name}", f"missing required field (to create {what})"))


def _merged(record: Record, name: str, stored):
    """The value a row will have: the file's when it gives one, else the database's."""
    return record.values[name] if name in record.values else stored


def _check_order(record, earlier, later, stored_earlier, stored_later, problems):
    if earlier in record.invalid or later in record.invalid:
        return
    first, second = _merged(record, earlier, stored_earlier), _merged(record, later, stored_later)
    if first is None or second is None or second >= first:
        return
    if later in record.values:
        where = "" if earlier in record.values else ", in the database"
        problems.append(
            Problem(f"{record.path}.{later}", f"must be on or after {earlier} ({first.isoformat()}{where})")
        )
    else:
        problems.append(
            Problem(f"{record.path}.{earlier}", f"must be on or before {later} ({second.isoformat()}, in the database)")
        )


def check_against_database(doc: Document, known: Known) -> list[Problem]:
    """Problems that need the database's keys: references, rows to create, logins, merged values. One check
    per section of the file, in the file's order."""
    problems: list[Problem] = []
    references = _References(doc, known, problems)
    _check_freelancers(doc, known, problems)
    _check_new_agencies_and_clients(doc, known, problems)
    for record in doc.memberships:
        references.check(record, "agency", "agency")
        references.check(record, "freelancer", "freelancer")
    _check_contracts(doc, known, references, problems)
    _check_periods(doc, known, references, problems)
    return problems


class _References:
    """Checks that a record's reference to a freelancer, agency or client names one in the file or the
    database."""

    def __init__(self, doc: Document, known: Known, problems: list[Problem]):
        self.problems = problems
        self.in_file = {
            "freelancer": doc.keys("freelancers", "public_id"),
            "agency": doc.keys("agencies", "public_id"),
            "client": doc.keys("clients", "public_id"),
        }
        self.in_database = {"freelancer": known.freelancers.keys(), "agency": known.agencies, "client": known.clients}

    def check(self, record: Record, name: str, kind: str) -> None:
        public_id = record.values.get(name)
        if public_id is not None and public_id not in self.in_file[kind] and public_id not in self.in_database[kind]:
            self.problems.append(
                Problem(
                    f"{record.path}.{name}", f"unknown {kind} {_shown(public_id)} (not in the file or the database)"
                )
            )


def _check_freelancers(doc: Document, known: Known, problems: list[Problem]) -> None:
    """A new freelancer has every field; a login (username) belongs to nobody else."""
    for record in doc.freelancers:
        public_id = record.get("public_id")
        if public_id is None:
            continue
        user_id = known.freelancers.get(public_id)
        if user_id is None:
            _missing_for_new(record, FREELANCER_FIELDS, f"freelancer {_shown(public_id)}", problems)
        username = record.get("username")
        holder = known.users.get(username) if username is not None else None
        if holder is None or holder.id == user_id:
            continue
        path = f"{record.path}.username"
        if holder.freelancer is not None:
            problems.append(
                Problem(path, f"{_shown(username)} is already the login of freelancer {_shown(holder.freelancer)}")
            )
        elif user_id is not None:
            problems.append(Problem(path, f"{_shown(username)} is already taken by another account"))
        elif holder.staff:
            problems.append(Problem(path, f"{_shown(username)} is a staff account; a freelancer cannot use it"))


def _check_new_agencies_and_clients(doc: Document, known: Known, problems: list[Problem]) -> None:
    in_database = {"agency": known.agencies, "client": known.clients}
    for section, fields, kind in (("agencies", AGENCY_FIELDS, "agency"), ("clients", CLIENT_FIELDS, "client")):
        for record in getattr(doc, section):
            public_id = record.get("public_id")
            if public_id is not None and public_id not in in_database[kind]:
                _missing_for_new(record, fields, f"{kind} {_shown(public_id)}", problems)


def _check_contracts(doc: Document, known: Known, references: _References, problems: list[Problem]) -> None:
    """References, a new contract's fields, dates in order (with the stored ones), hidden feedback's time."""
    for record in doc.contracts:
        for kind in ("freelancer", "agency", "client"):
            references.check(record, kind, kind)
        number = record.get("number")
        if number is None:
            continue
        stored = known.contracts.get(number)
        if stored is None:
            _missing_for_new(record, CONTRACT_FIELDS, f"contract {_shown(number)}", problems)
        started = stored.started_on if stored else None
        _check_order(record, "started_on", "ended_on", started, stored.ended_on if stored else None, problems)
        _check_order(
            record, "started_on", "last_payment_on", started, stored.last_payment_on if stored else None, problems
        )
        feedback = record.feedback
        stored_feedback = stored.feedback if stored else None
        if feedback is None or (stored_feedback is not None and stored_feedback.hidden_on_profile):
            continue  # hidden feedback stays hidden whatever the file says (see _write_contracts)
        if feedback.get("hidden_on_profile") is True and "hidden_at" not in feedback.invalid:
            hidden_at = _merged(feedback, "hidden_at", stored_feedback.hidden_at if stored_feedback else None)
            if hidden_at is None:
                problems.append(Problem(f"{feedback.path}.hidden_at", "required when hidden_on_profile is true"))


def _check_periods(doc: Document, known: Known, references: _References, problems: list[Problem]) -> None:
    """References, loss reason iff ended, dates in order, and at most one current period per subject once
    the file is merged with the database."""
    current: dict[tuple[str, str], dict[dt.date, str | None]] = defaultdict(dict)
    for subject, stored_periods in known.periods.items():
        for period in stored_periods:
            if period.ended_on is None:
                current[subject][period.started_on] = None
    for record in doc.top_rated_periods:
        for kind in ("freelancer", "agency"):
            references.check(record, kind, kind)
        subject, started = record.subject, record.get("started_on")
        if subject is None or started is None:
            continue
        stored = next((p for p in known.periods.get(subject, ()) if p.started_on == started), None)
        if {"ended_on", "loss_reason"} & record.invalid:
            continue
        ended = _merged(record, "ended_on", stored.ended_on if stored else None)
        _check_loss_reason(
            record,
            ended,
            _merged(record, "loss_reason", stored.loss_reason if stored else None),
            stored_current=stored is not None,
            problems=problems,
        )
        _check_order(record, "started_on", "ended_on", started, stored.ended_on if stored else None, problems)
        if ended is None:
            current[subject][started] = record.path
        else:
            current[subject].pop(started, None)
    _check_one_current_period(current, problems)


def _check_loss_reason(record: Record, ended, reason, *, stored_current: bool, problems: list[Problem]) -> None:
    where = " (the database has it current)" if stored_current else ""
    if ended is not None and reason is None:
        problems.append(
            Problem(
                f"{record.path}.loss_reason", f"required when ended_on is set: one of {', '.join(LossReason.values)}"
            )
        )
    if ended is None and reason is not None:
        problems.append(
            Problem(f"{record.path}.loss_reason", f"must be null while the period is current (no ended_on){where}")
        )


def _check_one_current_period(current: dict[tuple[str, str], dict[dt.date, str | None]], problems) -> None:
    for (kind, public_id), periods in current.items():
        if len(periods) < 2:
            continue
        starts = ", ".join(day.isoformat() for day in sorted(periods))
        for path in periods.values():
            if path is not None:
                problems.append(
                    Problem(
                        path,
                        (
                            f"{kind} {_shown(public_id)} would have {len(periods)} current Top Rated periods "
                            f"(started {starts}); only one may be open: give the others ended_on and loss_reason"
                        ),
                    )
                )
