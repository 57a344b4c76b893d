"""Parsing the file and checking each field's value (the format: docs/marketplace-import.md)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.dateparse import parse_datetime

from marketplace.importer.problems import (
    ImportRefused,
    Problem,
)
from marketplace.models import (
    AccountStatus,
    AgencyRole,
    LossReason,
    Platform,
)

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
        raise _Invalid(f"must be a string of digits, in quotes (got the number {value})")
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
        raise _Invalid(f'must be a number or a string like "12.50" (got {_kind(value)})')
    if isinstance(value, float):
        value = repr(value)  # data parsed without `parse`: the shortest text that gives this float back
    elif isinstance(value, str):
        if not _DECIMAL_TEXT.match(value.strip()):
            raise _Invalid(f'must be a number like "12.50" (got {_shown(value)})')
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
