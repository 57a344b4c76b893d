"""Step 1: the file alone. Every record read and checked; every problem collected with its path."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from marketplace.importer.fields import (
    AGENCY_FIELDS,
    CLIENT_FIELDS,
    CONTRACT_FIELDS,
    FEEDBACK_FIELDS,
    FREELANCER_FIELDS,
    KEY_FIELDS,
    MEMBERSHIP_FIELDS,
    TOP_RATED_PERIOD_FIELDS,
    _Invalid,
    _kind,
    _shown,
)
from marketplace.importer.problems import (
    SECTIONS,
    TOP_LEVEL,
    Problem,
    _key_path,
)

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
    """Every problem visible in the file alone: shapes, types, formats, ranges, choices, duplicates. One reader
    per section, in the file's order."""
    doc = Document()
    if not isinstance(data, dict):
        doc.problems.append(Problem(TOP_LEVEL, f"must be a JSON object with the lists {', '.join(SECTIONS)}"))
        return doc
    _check_top_level(data, doc.problems)
    sections = _Sections(data, doc.problems)
    _read_subjects(doc, sections)
    _read_memberships(doc, sections)
    _read_contracts(doc, sections)
    _read_periods(doc, sections)
    return doc


def _check_top_level(data: dict, problems: list[Problem]) -> None:
    for name in getattr(data, "duplicate_keys", ()):
        problems.append(Problem(name, "given more than once at the top level"))
    for name in data:
        if name not in SECTIONS:
            close = difflib.get_close_matches(name, SECTIONS, n=1, cutoff=0.75)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            problems.append(Problem(name, f"unknown field{hint}; the file holds {', '.join(SECTIONS)}"))


class _Sections:
    """The file's lists, each item with its JSON path; a section that is not a list is a problem."""

    def __init__(self, data: dict, problems: list[Problem]):
        self.data = data
        self.problems = problems

    def items(self, section: str) -> list[tuple[str, Any]]:
        value = self.data.get(section, [])
        if not isinstance(value, list):
            self.problems.append(Problem(section, f"must be a list (got {_kind(value)})"))
            return []
        return [(f"{section}[{i}]", item) for i, item in enumerate(value)]


def _read_subjects(doc: Document, sections: _Sections) -> None:
    """Freelancers, agencies and clients: each public_id (and login) once."""
    problems = doc.problems
    for section, fields in (
        ("freelancers", FREELANCER_FIELDS),
        ("agencies", AGENCY_FIELDS),
        ("clients", CLIENT_FIELDS),
    ):
        ids, usernames = _Seen(), _Seen()
        for path, item in sections.items(section):
            record = _read_object(item, path, fields, problems)
            if record is None:
                continue
            getattr(doc, section).append(record)
            if _require_keys(record, KEY_FIELDS[section], problems):
                public_id = record.values["public_id"]
                ids.check(public_id, f"{path}.public_id", problems, f"duplicate {_shown(public_id)}")
            if record.get("username") is not None:
                username = record.values["username"]
                usernames.check(username, f"{path}.username", problems, f"duplicate {_shown(username)}")


def _read_memberships(doc: Document, sections: _Sections) -> None:
    pairs = _Seen()
    for path, item in sections.items("memberships"):
        record = _read_object(item, path, MEMBERSHIP_FIELDS, doc.problems)
        if record is None:
            continue
        doc.memberships.append(record)
        if _require_keys(record, KEY_FIELDS["memberships"], doc.problems):
            agency, freelancer = record.values["agency"], record.values["freelancer"]
            pairs.check(
                (agency, freelancer),
                path,
                doc.problems,
                f"duplicate membership of {_shown(freelancer)} in {_shown(agency)}",
            )


def _read_contracts(doc: Document, sections: _Sections) -> None:
    """Contracts, each number once, and the feedback inside each."""
    problems = doc.problems
    numbers = _Seen()
    for path, item in sections.items("contracts"):
        record = _read_object(item, path, CONTRACT_FIELDS, problems, extra=("feedback",))
        if record is None:
            continue
        doc.contracts.append(record)
        if _require_keys(record, KEY_FIELDS["contracts"], problems):
            number = record.values["number"]
            numbers.check(number, f"{path}.number", problems, f"duplicate {_shown(number)}")
        if "feedback" in item:
            feedback_path = f"{path}.feedback"
            if item["feedback"] is None:
                problems.append(Problem(feedback_path, "must be an object (leave it out when there is no feedback)"))
            else:
                record.feedback = _read_object(item["feedback"], feedback_path, FEEDBACK_FIELDS, problems)


def _read_periods(doc: Document, sections: _Sections) -> None:
    """Top Rated periods: exactly one subject each, and one period per subject and start."""
    problems = doc.problems
    periods = _Seen()
    for path, item in sections.items("top_rated_periods"):
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
            started = record.values["started_on"]
            periods.check(
                (kind, public_id, started),
                f"{path}.started_on",
                problems,
                f"duplicate period of {kind} {_shown(public_id)} starting {started.isoformat()}",
            )
