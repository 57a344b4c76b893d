"""The marketplace's JSON export, loaded all or nothing (the format: docs/marketplace-import.md).

Three steps. `parse` turns the text into Python values. Two pure checks collect every problem, each
with its JSON path: `read_document` looks at the file alone, `check_against_database` at the file and
a plain snapshot (`Known`) of the rows the database already holds under the same keys. Only when
both find nothing does `load_marketplace` write, in one transaction, with bulk queries; a database
refusal at that point rolls everything back and is reported like any other problem.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils.dateparse import parse_datetime

from marketplace.models import (
    AccountStatus,
    Agency,
    AgencyMembership,
    AgencyRole,
    Client,
    Contract,
    Feedback,
    Freelancer,
    LossReason,
    Platform,
    TopRatedPeriod,
)

SECTIONS = ("freelancers", "agencies", "memberships", "clients", "contracts", "top_rated_periods")
CONTRACTS_PER_CHUNK = 1000
WRITE_BATCH = 1000
TOP_LEVEL = "(top level)"
DATABASE = "(database)"


# --- Problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self):
        return f"{self.path}: {self.message}" if self.path else self.message


class ImportRefused(Exception):
    """The file was not imported; `problems` says why, each with its JSON path."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sort_problems(problems)
        super().__init__(self.summary)

    @property
    def summary(self) -> str:
        count = len(self.problems)
        return f"{count} error{'' if count == 1 else 's'}; nothing was imported."


_ITEM_PATH = re.compile(r"^(\w+)(?:\[(\d+)\])?")


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """File order: section by section, item by item (stable, so an item keeps its own order)."""

    def position(problem):
        match = _ITEM_PATH.match(problem.path)
        if match and match[1] in SECTIONS:
            return SECTIONS.index(match[1]) + 1, int(match[2]) if match[2] else -1
        return 0, 0

    return sorted(problems, key=position)


def _key_path(path: str, name: str) -> str:
    return f"{path}.{name}" if re.fullmatch(r"\w+", name) else f"{path}[{json.dumps(name)}]"


# --- Parsing ----------------------------------------------------------------------------------


class _Object(dict):
    """A JSON object that remembers the keys it was given more than once (json keeps the last)."""

    duplicate_keys: tuple[str, ...] = ()


def _object_from_pairs(pairs):
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen, again = set(), []
        for key, _ in pairs:
            if key in seen and key not in again:
                again.append(key)
            seen.add(key)
        obj.duplicate_keys = tuple(again)
    return obj


def parse(text: str) -> Any:
    """JSON text → Python values; numbers with a fraction become exact Decimals (money, ratings)."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=Decimal, object_pairs_hook=_object_from_pairs)
    except json.JSONDecodeError as exc:
        raise ImportRefused(
            [Problem("", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]
        ) from None
    except RecursionError:
        raise ImportRefused([Problem("", "invalid JSON: nested too deeply")]) from None


def read_file(path: str | Path) -> Any:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportRefused([Problem(str(path), "file not found")]) from None
    except IsADirectoryError:
        raise ImportRefused([Problem(str(path), "is a directory, not a JSON file")]) from None
    except OSError as exc:
        raise ImportRefused([Problem(str(path), f"cannot be read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused([Problem(str(path), f"is not UTF-8 text (bad byte at offset {exc.start})")]) from None
    try:
        return parse(text)
    except ImportRefused as refused:
        raise ImportRefused([Problem(str(path), p.message) for p in refused.problems]) from None


# --- Field values -----------------------------------------------------------------------------


class _Invalid(Exception):
    """A value that does not fit its field; the message is what the person fixing the file reads."""


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | Decimal | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _shown(value) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False) if not isinstance(value, Decimal) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(max_length: int | None = None, *, blank: bool = True) -> Callable[[Any], str]:
    def convert(value):
        if not isinstance(value, str):
            raise _Invalid(f"must be a string (got {_kind(value)})")
        if "\x00" in value:
            raise _Invalid("must not contain NUL characters")
        if not blank and not value.strip():
            raise _Invalid("must not be empty")
        if max_length is not None and len(value) > max_length:
            raise _Invalid(f"must be at most {max_length} characters (got {len(value)})")
        return value

    return convert


_SLUG = re.compile(r"^[-a-zA-Z0-9_]+\Z")
_DIGITS = re.compile(r"^[0-9]+\Z")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DECIMAL_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?\Z")
CENT = Decimal("0.01")
_username_validator = UnicodeUsernameValidator()


def _public_id(value) -> str:
    text = _text(64, blank=False)(value)
    if not _SLUG.match(text):
        raise _Invalid(f"must be a slug: letters, digits, - and _ only (got {_shown(text)})")
    return text


def _username(value) -> str:
    text = _text(150, blank=False)(value)
    try:
        _username_validator(text)
    except ValidationError:
        raise _Invalid(f"must be letters, digits and @ . + - _ only (got {_shown(text)})") from None
    return text


def _email(value) -> str:
    text = _text(254, blank=False)(value)
    try:
        validate_email(text)
    except ValidationError:
        raise _Invalid(f"must be an email address (got {_shown(text)})") from None
    return text


def _contract_number(value) -> str:
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        raise _Invalid(f'must be a string of digits, in quotes (got the number {value})')
    text = _text(20, blank=False)(value)
    if not _DIGITS.match(text):
        raise _Invalid(f"must be digits only (got {_shown(text)})")
    return text


def _reference(kind: str) -> Callable[[Any], str]:
    def convert(value):
        if not isinstance(value, str) or not value:
            raise _Invalid(f"must be the public_id of a {kind}, as a string (got {_kind(value)})")
        return value

    return convert


def _boolean(value) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false (got {_shown(value)})")
    return value


def _whole(low: int, high: int) -> Callable[[Any], int]:
    def convert(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"must be a whole number {low}–{high} (got {_kind(value)} {_shown(value)})")
        if not low <= value <= high:
            raise _Invalid(f"must be {low}–{high} (got {value})")
        return value

    return convert


def _choice(values: Iterable[str]) -> Callable[[Any], str]:
    allowed = tuple(values)

    def convert(value):
        if value not in allowed or not isinstance(value, str):
            raise _Invalid(f"must be one of {', '.join(allowed)} (got {_shown(value)})")
        return value

    return convert


def _date(value) -> dt.date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise _Invalid(f"must be a date YYYY-MM-DD (got {_shown(value)})")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"is not a real date (got {_shown(value)})") from None


def _timestamp(value) -> dt.datetime:
    example = "e.g. 2025-03-01T12:00:00Z"
    if not isinstance(value, str):
        raise _Invalid(f"must be a date-time string, {example} (got {_kind(value)})")
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise _Invalid(f"must be a date-time, {example} (got {_shown(value)})")
    if moment.tzinfo is None:
        raise _Invalid(f"must include a time zone, {example} (got {_shown(value)})")
    return moment


def _decimal(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise _Invalid(f"must be a number or a string like \"12.50\" (got {_kind(value)})")
    if isinstance(value, float):
        value = repr(value)  # data parsed without `parse`: the shortest text that gives this float back
    elif isinstance(value, str):
        if not _DECIMAL_TEXT.match(value.strip()):
            raise _Invalid(f"must be a number like \"12.50\" (got {_shown(value)})")
        value = value.strip()
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _Invalid(f"must be a number (got {_shown(value)})") from None
    if not number.is_finite():
        raise _Invalid(f"must be a finite number (got {_shown(value)})")
    if number != number.quantize(CENT):
        raise _Invalid(f"must have at most 2 decimal places (got {number})")
    return number


def _money(value) -> Decimal:
    amount = _decimal(value)
    if amount < 0:
        raise _Invalid(f"must not be negative (got {amount})")
    if amount >= Decimal("10000000000"):
        raise _Invalid(f"must be less than 10000000000 (got {amount})")
    return amount.quantize(CENT)


def _rating(value) -> Decimal:
    rating = _decimal(value)
    if not Decimal("1.00") <= rating <= Decimal("5.00"):
        raise _Invalid(f"must be 1.00–5.00 (got {rating})")
    return rating.quantize(CENT)


@dataclass(frozen=True)
class _Field:
    convert: Callable[[Any], Any]
    required: bool = False  # to create a row; an update may leave any field but the key out
    nullable: bool = False


FREELANCER_FIELDS = {
    "public_id": _Field(_public_id),
    "username": _Field(_username, required=True),
    "email": _Field(_email, required=True),
    "name": _Field(_text(200, blank=False), required=True),
    "account_status": _Field(_choice(AccountStatus.values)),
    "profile_completeness": _Field(_whole(0, 100)),
    "tos_violation_on": _Field(_date, nullable=True),
}
AGENCY_FIELDS = {
    "public_id": _Field(_public_id),
    "name": _Field(_text(200, blank=False), required=True),
    "account_status": _Field(_choice(AccountStatus.values)),
}
MEMBERSHIP_FIELDS = {
    "agency": _Field(_reference("agency")),
    "freelancer": _Field(_reference("freelancer")),
    "role": _Field(_choice(AgencyRole.values)),
}
CLIENT_FIELDS = {
    "public_id": _Field(_public_id),
    "name": _Field(_text(200, blank=False), required=True),
    "flagged": _Field(_boolean),
    "suspended_for_tos": _Field(_boolean),
}
CONTRACT_FIELDS = {
    "number": _Field(_contract_number),
    "title": _Field(_text(300, blank=False), required=True),
    "freelancer": _Field(_reference("freelancer"), required=True),
    "agency": _Field(_reference("agency"), nullable=True),
    "client": _Field(_reference("client"), required=True),
    "platform": _Field(_choice(Platform.values)),
    "started_on": _Field(_date, required=True),
    "ended_on": _Field(_date, nullable=True),
    "last_payment_on": _Field(_date, nullable=True),
    "total_charged": _Field(_money),
    "is_special_offer": _Field(_boolean),
    "disputed": _Field(_boolean),
}
FEEDBACK_FIELDS = {
    "public_rating": _Field(_rating, nullable=True),
    "public_comment": _Field(_text()),
    "freelancer_response": _Field(_text()),
    "private_score": _Field(_whole(0, 10), nullable=True),
    "hidden_on_profile": _Field(_boolean),
    "hidden_at": _Field(_timestamp, nullable=True),
}
TOP_RATED_PERIOD_FIELDS = {
    "freelancer": _Field(_reference("freelancer"), nullable=True),
    "agency": _Field(_reference("agency"), nullable=True),
    "started_on": _Field(_date),
    "ended_on": _Field(_date, nullable=True),
    "loss_reason": _Field(_choice(LossReason.values), nullable=True),
}
KEY_FIELDS = {
    "freelancers": ("public_id",),
    "agencies": ("public_id",),
    "memberships": ("agency", "freelancer"),
    "clients": ("public_id",),
    "contracts": ("number",),
    "top_rated_periods": ("started_on",),
}


# --- Step 1: the file alone ---------------------------------------------------------------------


@dataclass
class Record:
    """One item of the file: the fields it gave that are valid, converted, and the ones that were not."""

    path: str
    values: dict[str, Any] = field(default_factory=dict)
    invalid: set[str] = field(default_factory=set)
    feedback: Record | None = None

    def get(self, name, default=None):
        return self.values.get(name, default)

    @property
    def subject(self) -> tuple[str, str] | None:
        """A Top Rated period's ("freelancer" | "agency", public_id), when exactly one is given."""
        given = [(kind, self.values[kind]) for kind in ("freelancer", "agency") if self.values.get(kind) is not None]
        return given[0] if len(given) == 1 else None


@dataclass
class Document:
    freelancers: list[Record] = field(default_factory=list)
    agencies: list[Record] = field(default_factory=list)
    memberships: list[Record] = field(default_factory=list)
    clients: list[Record] = field(default_factory=list)
    contracts: list[Record] = field(default_factory=list)
    top_rated_periods: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def keys(self, section: str, name: str) -> set[str]:
        return {rec.values[name] for rec in getattr(self, section) if rec.values.get(name) is not None}


def _read_object(item, path, fields, problems, *, extra=()) -> Record | None:
    if not isinstance(item, dict):
        problems.append(Problem(path, f"must be an object (got {_kind(item)})"))
        return None
    record = Record(path)
    for name in getattr(item, "duplicate_keys", ()):
        problems.append(Problem(_key_path(path, name), "given more than once in the same object"))
    for name, value in item.items():
        if name in extra:
            continue
        spec = fields.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, [*fields, *extra], n=1, cutoff=0.75)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            problems.append(Problem(_key_path(path, name), f"unknown field{hint}"))
            continue
        if value is None:
            if spec.nullable:
                record.values[name] = None
            else:
                record.invalid.add(name)
                problems.append(Problem(_key_path(path, name), "must not be null (leave the field out instead)"))
            continue
        try:
            record.values[name] = spec.convert(value)
        except _Invalid as exc:
            record.invalid.add(name)
            problems.append(Problem(_key_path(path, name), str(exc)))
    return record


def _require_keys(record: Record, names, problems) -> bool:
    missing = [name for name in names if name not in record.values and name not in record.invalid]
    for name in missing:
        problems.append(Problem(f"{record.path}.{name}", "missing required field"))
    return all(record.values.get(name) is not None for name in names)


class _Seen:
    """First path of every key, to name both places of a duplicate."""

    def __init__(self):
        self.first: dict[Any, str] = {}

    def check(self, key, path, problems, message):
        if key in self.first:
            problems.append(Problem(path, f"{message} (also {self.first[key]})"))
        else:
            self.first[key] = path.split(".")[0]


def read_document(data: Any) -> Document:
    """Every problem visible in the file alone: shapes, types, formats, ranges, choices, duplicates."""
    doc = Document()
    problems = doc.problems
    if not isinstance(data, dict):
        problems.append(Problem(TOP_LEVEL, f"must be a JSON object with the lists {', '.join(SECTIONS)}"))
        return doc
    for name in getattr(data, "duplicate_keys", ()):
        problems.append(Problem(name, "given more than once at the top level"))
    for name in data:
        if name not in SECTIONS:
            close = difflib.get_close_matches(name, SECTIONS, n=1, cutoff=0.75)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            problems.append(Problem(name, f"unknown field{hint}; the file holds {', '.join(SECTIONS)}"))

    def items(section):
        value = data.get(section, [])
        if not isinstance(value, list):
            problems.append(Problem(section, f"must be a list (got {_kind(value)})"))
            return []
        return [(f"{section}[{i}]", item) for i, item in enumerate(value)]

    for section, fields in (
        ("freelancers", FREELANCER_FIELDS),
        ("agencies", AGENCY_FIELDS),
        ("clients", CLIENT_FIELDS),
    ):
        ids, usernames = _Seen(), _Seen()
        for path, item in items(section):
            record = _read_object(item, path, fields, problems)
            if record is None:
                continue
            getattr(doc, section).append(record)
            if _require_keys(record, KEY_FIELDS[section], problems):
                ids.check(record.values["public_id"], f"{path}.public_id", problems,
                          f"duplicate {_shown(record.values['public_id'])}")
            if record.get("username") is not None:
                usernames.check(record.values["username"], f"{path}.username", problems,
                                f"duplicate {_shown(record.values['username'])}")

    pairs = _Seen()
    for path, item in items("memberships"):
        record = _read_object(item, path, MEMBERSHIP_FIELDS, problems)
        if record is None:
            continue
        doc.memberships.append(record)
        if _require_keys(record, KEY_FIELDS["memberships"], problems):
            pairs.check((record.values["agency"], record.values["freelancer"]), path, problems,
                        f"duplicate membership of {_shown(record.values['freelancer'])} "
                        f"in {_shown(record.values['agency'])}")

    numbers = _Seen()
    for path, item in items("contracts"):
        record = _read_object(item, path, CONTRACT_FIELDS, problems, extra=("feedback",))
        if record is None:
            continue
        doc.contracts.append(record)
        if _require_keys(record, KEY_FIELDS["contracts"], problems):
            numbers.check(record.values["number"], f"{path}.number", problems,
                          f"duplicate {_shown(record.values['number'])}")
        if "feedback" in item:
            feedback_path = f"{path}.feedback"
            if item["feedback"] is None:
                problems.append(Problem(feedback_path, "must be an object (leave it out when there is no feedback)"))
            else:
                record.feedback = _read_object(item["feedback"], feedback_path, FEEDBACK_FIELDS, problems)

    periods = _Seen()
    for path, item in items("top_rated_periods"):
        record = _read_object(item, path, TOP_RATED_PERIOD_FIELDS, problems)
        if record is None:
            continue
        doc.top_rated_periods.append(record)
        named = [kind for kind in ("freelancer", "agency") if record.get(kind) is not None or kind in record.invalid]
        if len(named) != 1:
            problems.append(Problem(path, "exactly one of freelancer / agency"))
        has_start = _require_keys(record, KEY_FIELDS["top_rated_periods"], problems)
        if has_start and record.subject is not None:
            kind, public_id = record.subject
            periods.check((kind, public_id, record.values["started_on"]), f"{path}.started_on", problems,
                          f"duplicate period of {kind} {_shown(public_id)} starting "
                          f"{record.values['started_on'].isoformat()}")
    return doc


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
        problems.append(Problem(
            f"{record.path}.{later}", f"must be on or after {earlier} ({first.isoformat()}{where})"
        ))
    else:
        problems.append(Problem(
            f"{record.path}.{earlier}", f"must be on or before {later} ({second.isoformat()}, in the database)"
        ))


def check_against_database(doc: Document, known: Known) -> list[Problem]:
    """Problems that need the database's keys: references, rows to create, logins, merged values."""
    problems: list[Problem] = []
    in_file = {
        "freelancer": doc.keys("freelancers", "public_id"),
        "agency": doc.keys("agencies", "public_id"),
        "client": doc.keys("clients", "public_id"),
    }
    in_database = {"freelancer": known.freelancers.keys(), "agency": known.agencies, "client": known.clients}

    def check_reference(record, name, kind):
        public_id = record.values.get(name)
        if public_id is not None and public_id not in in_file[kind] and public_id not in in_database[kind]:
            problems.append(Problem(
                f"{record.path}.{name}", f"unknown {kind} {_shown(public_id)} (not in the file or the database)"
            ))

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
            problems.append(Problem(path, f"{_shown(username)} is already the login of freelancer "
                                          f"{_shown(holder.freelancer)}"))
        elif user_id is not None:
            problems.append(Problem(path, f"{_shown(username)} is already taken by another account"))
        elif holder.staff:
            problems.append(Problem(path, f"{_shown(username)} is a staff account; a freelancer cannot use it"))

    for section, fields, kind in (("agencies", AGENCY_FIELDS, "agency"), ("clients", CLIENT_FIELDS, "client")):
        for record in getattr(doc, section):
            public_id = record.get("public_id")
            if public_id is not None and public_id not in in_database[kind]:
                _missing_for_new(record, fields, f"{kind} {_shown(public_id)}", problems)

    for record in doc.memberships:
        check_reference(record, "agency", "agency")
        check_reference(record, "freelancer", "freelancer")

    for record in doc.contracts:
        for kind in ("freelancer", "agency", "client"):
            check_reference(record, kind, kind)
        number = record.get("number")
        if number is None:
            continue
        stored = known.contracts.get(number)
        if stored is None:
            _missing_for_new(record, CONTRACT_FIELDS, f"contract {_shown(number)}", problems)
        started = stored.started_on if stored else None
        _check_order(record, "started_on", "ended_on", started, stored.ended_on if stored else None, problems)
        _check_order(record, "started_on", "last_payment_on", started,
                     stored.last_payment_on if stored else None, problems)
        feedback = record.feedback
        stored_feedback = stored.feedback if stored else None
        if feedback is None or (stored_feedback is not None and stored_feedback.hidden_on_profile):
            continue  # hidden feedback stays hidden whatever the file says (see _write_contracts)
        if feedback.get("hidden_on_profile") is True and "hidden_at" not in feedback.invalid:
            hidden_at = _merged(feedback, "hidden_at", stored_feedback.hidden_at if stored_feedback else None)
            if hidden_at is None:
                problems.append(Problem(f"{feedback.path}.hidden_at", "required when hidden_on_profile is true"))

    current: dict[tuple[str, str], dict[dt.date, str | None]] = defaultdict(dict)
    for subject, stored_periods in known.periods.items():
        for period in stored_periods:
            if period.ended_on is None:
                current[subject][period.started_on] = None
    for record in doc.top_rated_periods:
        for kind in ("freelancer", "agency"):
            check_reference(record, kind, kind)
        subject, started = record.subject, record.get("started_on")
        if subject is None or started is None:
            continue
        stored = next((p for p in known.periods.get(subject, ()) if p.started_on == started), None)
        if {"ended_on", "loss_reason"} & record.invalid:
            continue
        ended = _merged(record, "ended_on", stored.ended_on if stored else None)
        reason = _merged(record, "loss_reason", stored.loss_reason if stored else None)
        where = "" if stored is None else " (the database has it current)"
        if ended is not None and reason is None:
            problems.append(Problem(f"{record.path}.loss_reason",
                                    f"required when ended_on is set: one of {', '.join(LossReason.values)}"))
        if ended is None and reason is not None:
            problems.append(Problem(f"{record.path}.loss_reason",
                                    f"must be null while the period is current (no ended_on){where}"))
        _check_order(record, "started_on", "ended_on", started, stored.ended_on if stored else None, problems)
        if ended is None:
            current[subject][started] = record.path
        else:
            current[subject].pop(started, None)
    for (kind, public_id), periods in current.items():
        if len(periods) < 2:
            continue
        starts = ", ".join(day.isoformat() for day in sorted(periods))
        for path in periods.values():
            if path is not None:
                problems.append(Problem(path, (
                    f"{kind} {_shown(public_id)} would have {len(periods)} current Top Rated periods "
                    f"(started {starts}); only one may be open: give the others ended_on and loss_reason"
                )))
    return problems


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
        yield values[start:start + size]


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
                "username", doc.keys("freelancers", "username"),
            )
        }
        agencies = {a.public_id: a for a in _fetch(Agency.objects.all(), "public_id", agency_ids)}
        clients = {c.public_id: c for c in _fetch(Client.objects.all(), "public_id", client_ids)}
        contracts = {
            c.number: c for c in _fetch(Contract.objects.select_related("feedback"), "number",
                                        doc.keys("contracts", "number"))
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
            periods.create(TopRatedPeriod(
                **{f"{kind}_id": subject_ids[kind][public_id]}, started_on=record.values["started_on"], **values
            ))
    periods.save()
    return summary


def _write_contracts(doc, existing, summary, progress, freelancer_ids, agency_ids, client_ids):
    tallies = summary.tallies
    plain = ("title", "platform", "started_on", "ended_on", "last_payment_on", "total_charged",
             "is_special_offer", "disputed")
    references = (("freelancer", freelancer_ids), ("agency", agency_ids), ("client", client_ids))
    total = len(doc.contracts)
    for start in range(0, total, CONTRACTS_PER_CHUNK):
        chunk = doc.contracts[start:start + CONTRACTS_PER_CHUNK]
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
    (("top_rated_one_current_per_freelancer", "marketplace_topratedperiod.freelancer_id"),
     "a freelancer can have only one current Top Rated period"),
    (("top_rated_one_current_per_agency", "marketplace_topratedperiod.agency_id"),
     "an agency can have only one current Top Rated period"),
    (("top_rated_exactly_one_subject",), "a Top Rated period belongs to exactly one freelancer or agency"),
    (("top_rated_loss_reason_iff_ended",), "an ended Top Rated period needs a loss_reason, a current one none"),
    (("top_rated_ends_after_start",), "a Top Rated period cannot end before it starts"),
    (("membership_unique_per_agency", "marketplace_agencymembership.agency_id"),
     "a freelancer is a member of an agency only once"),
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


def load_marketplace(data: Any, *, dry_run: bool = False, progress: ProgressCallback | None = None) -> Summary:
    """Check `data` (parsed JSON) completely, then write it all in one transaction, or nothing.

    Raises ImportRefused with every problem found; `dry_run` checks and writes, then rolls back."""
    doc = read_document(data)
    try:
        with transaction.atomic():
            existing = _Existing.fetch(doc)
            problems = doc.problems + check_against_database(doc, existing.known())
            if problems:
                raise ImportRefused(problems)
            summary = _write(doc, existing, progress)
            if dry_run:
                summary.dry_run = True
                raise _DryRun(summary)
    except _DryRun as rolled_back:
        return rolled_back.summary
    except (IntegrityError, DataError) as exc:
        raise ImportRefused([describe_refusal(exc)]) from exc
    return summary


def load_marketplace_file(path: str | Path, **options) -> Summary:
    return load_marketplace(read_file(path), **options)
