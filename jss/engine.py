"""Job Success Score, algorithm version 1 (SPEC §5): pure functions over contract facts.

No Django, no ORM, no clock: callers pass the contracts and ``as_of``. Weights are kept
as integer quarter units (1.25 == 5 quarters) and window scores as exact integer
fractions, so sums, comparisons and ties are exact; Decimal appears only at the edges
(``weight()``, ``JssResult.unrounded``, ``detail``).
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal

ALGORITHM_VERSION = 1

POSITIVE = "positive"
NEGATIVE = "negative"
NEUTRAL = "neutral"

ACTIVE_NEVER_PAID = "active_never_paid"
NO_FEEDBACK = "no_feedback"
ZERO_CHARGED_POSITIVE = "zero_charged_positive"
FLAGGED_CLIENT = "flagged_client"

EXCLUDED = "excluded"
KEPT_NO_HARM = "kept_no_harm"

TRENDING = "trending"
# Calendar windows, shortest first: each holds every contract of the ones before it.
WINDOWS: tuple[tuple[str, int], ...] = (("3m", 3), ("6m", 6), ("12m", 12), ("24m", 24))
# Candidates for the displayed score in tie-break order: on equal scores the first wins.
DISPLAY_ORDER: tuple[str, ...] = ("24m", "12m", "6m", TRENDING)

LONG_TERM_DAYS = 90
NO_PAYMENT_NEGATIVE_DAYS = 180
WEIGHT_STEP_DAYS = 91

_MAX_WEIGHT_QUARTERS = 32  # a weight of at most 8
_FOUR = Decimal("4.0")
_FOUR_AND_A_HALF = Decimal("4.5")
_SMALL_JOB = Decimal(250)
_MEDIUM_JOB = Decimal(1000)
_ZERO = Decimal(0)
# A private context, so a caller's decimal.getcontext() changes cannot alter a score.
_DECIMAL = Context(prec=28, rounding=ROUND_HALF_EVEN)
_QUARTER_DIVISOR = Decimal(4)


@dataclass(frozen=True, slots=True)
class ContractFacts:
    """What the score needs to know about one contract (SPEC §5).

    No Feedback row = ``public_rating`` and ``private_score`` both None."""

    contract_id: int
    client_id: int
    started_on: date
    ended_on: date | None = None
    last_payment_on: date | None = None
    total_charged: Decimal = _ZERO
    disputed: bool = False
    client_flagged: bool = False
    client_suspended_for_tos: bool = False
    public_rating: Decimal | None = None
    private_score: int | None = None


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """One window's figures; for ``trending`` the counts are the 6m window's (which
    holds the 3m one) and the weights are None."""

    name: str
    start: date | None
    contracts: int
    clients: int
    qualifies: bool
    positive_weight: Decimal | None
    negative_weight: Decimal | None
    total_weight: Decimal | None
    score: Decimal | None


@dataclass(frozen=True)
class JssResult:
    """``score`` is ``unrounded`` (28 significant digits) rounded half up; ``window`` the
    one that won; ``decisions`` maps each exclusion's contract id to 'excluded' or
    'kept_no_harm'. ``detail`` is JSON-ready: algorithm_version, as_of, score, window,
    unrounded, windows (3m/6m/12m/24m: start, contracts, clients, qualifies,
    positive_weight, negative_weight, total_weight, score; trending: of, qualifies,
    score), left_out [{contract_id, reason}] and exclusions [{contract_id, decision,
    score_with, score_without}] in the order they were taken."""

    score: int | None
    window: str | None
    unrounded: Decimal | None
    detail: dict = field(repr=False)
    decisions: dict[int, str] = field(default_factory=dict)
    stored: dict = field(default_factory=dict, repr=False)  # what a snapshot keeps: ``stored_detail``
    # The first date after as_of on which the passing of time alone could change the score or the stored
    # detail (``stable_until``); ``NEVER`` when no date can.
    stable_until: date | None = None


# --- per-contract rules -------------------------------------------------------------


def reference_date(c: ContractFacts) -> date | None:
    """``ended_on``; while active, ``last_payment_on``; None if active and never paid."""
    return c.ended_on if c.ended_on is not None else c.last_payment_on


def is_long_term(c: ContractFacts) -> bool:
    return c.last_payment_on is not None and (c.last_payment_on - c.started_on).days >= LONG_TERM_DAYS


def outcome(c: ContractFacts, as_of: date) -> str:
    """'positive', 'negative' or 'neutral'; the first matching rule wins."""
    private = c.private_score
    public = c.public_rating
    if (
        c.disputed
        or (private is not None and private <= 6)
        or (public is not None and public < _FOUR)
        or (
            c.ended_on is None
            and c.last_payment_on is not None
            and (as_of - c.last_payment_on).days >= NO_PAYMENT_NEGATIVE_DAYS
        )
    ):
        return NEGATIVE
    if (
        (private is not None and private >= 9)
        or (private is None and public is not None and public >= _FOUR_AND_A_HALF)
        or is_long_term(c)
    ):
        return POSITIVE
    return NEUTRAL


def _assess(c: ContractFacts, as_of: date) -> tuple[str | None, str | None]:
    """(left-out reason or None, outcome), in the spec's order. The first two reasons do
    not depend on the outcome, which is then not worked out (None)."""
    if c.ended_on is None and c.last_payment_on is None:
        return ACTIVE_NEVER_PAID, None
    if c.ended_on is not None and c.public_rating is None and c.private_score is None and not is_long_term(c):
        return NO_FEEDBACK, None
    result = outcome(c, as_of)
    if result == POSITIVE:
        if c.total_charged == _ZERO:
            return ZERO_CHARGED_POSITIVE, result
    elif c.client_flagged or c.client_suspended_for_tos:
        return FLAGGED_CLIENT, result
    return None, result


def left_out_reason(c: ContractFacts, as_of: date) -> str | None:
    """Why the contract counts nowhere, or None when it counts: 'active_never_paid',
    'no_feedback', 'zero_charged_positive' or 'flagged_client' (a flagged or
    ToS-suspended client)."""
    return _assess(c, as_of)[0]


def _weight_quarters(c: ContractFacts) -> int:
    total = c.total_charged
    quarters = 4 if total <= _SMALL_JOB else 5 if total <= _MEDIUM_JOB else 6
    if c.last_payment_on is not None:
        days = (c.last_payment_on - c.started_on).days
        if days >= WEIGHT_STEP_DAYS:
            quarters += 4 * (days // WEIGHT_STEP_DAYS)
    return min(quarters, _MAX_WEIGHT_QUARTERS)


def _quarters(quarters: int) -> Decimal:
    return _DECIMAL.divide(Decimal(quarters), _QUARTER_DIVISOR)


def weight(c: ContractFacts) -> Decimal:
    """1 / 1.25 / 1.5 by amount charged, +1 per full 91 days from start to last
    payment, at most 8."""
    return _quarters(_weight_quarters(c))


# --- windows ------------------------------------------------------------------------


def window_start(as_of: date, months: int) -> date:
    """``as_of`` moved back ``months`` calendar months, day clamped to month end."""
    return add_months(as_of, -months)


def add_months(day: date, months: int) -> date:
    """``day`` moved ``months`` calendar months (back when negative), day clamped to the month's end (as
    PostgreSQL's ``date + interval 'n months'``)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month0 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- how long a score stays the same ------------------------------------------------------------------

# "No date": the passing of time alone never changes this score (a snapshot stores it as this date, so that
# NULL can keep meaning "not known": rescore).
NEVER = date.max


def contract_stable_until(c: ContractFacts, as_of: date) -> date | None:
    """The first date after ``as_of`` on which the passing of time alone could change what ``c`` gives a
    score on ``as_of`` (its outcome, whether it is left out and why, which windows hold it), or None.

    - the no-payment rule: an active paid contract turns negative on ``last_payment_on`` + 180 days;
    - a counted contract (not left out) whose reference date is after ``as_of`` enters on that date;
    - a counted contract in the 24-month window leaves the smallest window holding it (W months) on its
      reference date moved forward W calendar months, clamped to the month's end (but after ``as_of``):
      exactly the first such day, or (when the clamp bites) the day before it. Early is safe: it only costs
      a rescore.

    A left-out contract's windows do not matter; its reason can only change through the no-payment rule
    (a contract never paid or without feedback stays left out whatever the date)."""
    events: list[date] = []
    if c.ended_on is None and c.last_payment_on is not None:
        turns_negative = c.last_payment_on + timedelta(days=NO_PAYMENT_NEGATIVE_DAYS)
        if turns_negative > as_of:
            events.append(turns_negative)
    if left_out_reason(c, as_of) is None:
        d = reference_date(c)
        assert d is not None  # an active contract never paid is left out
        if d > as_of:
            events.append(d)
        else:
            for (_, months), start in zip(WINDOWS, _starts(as_of), strict=True):
                if d > start:
                    # It is in the window on as_of, so it leaves after as_of (add_months is then a day early).
                    events.append(max(add_months(d, months), as_of + timedelta(days=1)))
                    break
    return min(events, default=None)


def stable_until(contracts: Iterable[ContractFacts], as_of: date) -> date:
    """The first date after ``as_of`` on which the passing of time alone could change a score computed on
    ``as_of`` from ``contracts`` (its windows, stored detail and no-harm decisions included), or ``NEVER``:
    the earliest ``contract_stable_until`` of its contracts. Until that date, with the same contracts, the
    score and stored detail are the same on every day (what the incremental update carries forward)."""
    dates = [d for d in (contract_stable_until(c, as_of) for c in contracts) if d is not None]
    return min(dates, default=NEVER)


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP, context=_DECIMAL))


# A counted contract inside the 24-month window:
# (contract_id, client_id, band, sign, weight in quarters), where band 0 = in every
# window, 1 = from 6m up, 2 = from 12m up, 3 = in 24m only, and sign is +1 / -1 / 0.
_Item = tuple[int, int, int, int, int]
# One calendar window: (contracts, clients, positive, negative, all weight in quarters).
_Tally = tuple[int, int, int, int, int]
# An exact non-negative score as (numerator, denominator), denominator > 0.
_Fraction = tuple[int, int]
_SIGN = {POSITIVE: 1, NEGATIVE: -1, NEUTRAL: 0}


def _prepare(
    contracts: Iterable[ContractFacts], as_of: date, starts: Sequence[date]
) -> tuple[list[_Item], list[tuple[int, str]]]:
    """Each contract's facts, once per call: the counted contracts within the 24m
    window, and the left-out ones with their reason, sorted."""
    start3, start6, start12, start24 = starts
    items: list[_Item] = []
    left_out: list[tuple[int, str]] = []
    for c in contracts:
        reason, result = _assess(c, as_of)
        if reason is not None:
            left_out.append((c.contract_id, reason))
            continue
        d = c.ended_on if c.ended_on is not None else c.last_payment_on
        assert d is not None and result is not None  # _assess leaves out an active contract never paid
        if d > as_of or d <= start24:
            continue
        band = 0 if d > start3 else 1 if d > start6 else 2 if d > start12 else 3
        items.append((c.contract_id, c.client_id, band, _SIGN[result], _weight_quarters(c)))
    left_out.sort()
    return items, left_out


def _tally(items: list[_Item], excluded: set[int] | frozenset[int]) -> list[_Tally]:
    """The 3m, 6m, 12m and 24m windows' figures without the ``excluded`` contracts."""
    counts = [0, 0, 0, 0]
    positive = [0, 0, 0, 0]
    negative = [0, 0, 0, 0]
    total = [0, 0, 0, 0]
    clients: list[set[int]] = [set(), set(), set(), set()]
    for contract_id, client_id, band, sign, quarters in items:
        if contract_id in excluded:
            continue
        counts[band] += 1
        total[band] += quarters
        clients[band].add(client_id)
        if sign > 0:
            positive[band] += quarters
        elif sign < 0:
            negative[band] += quarters
    tallies: list[_Tally] = []
    n = p = m = t = 0
    seen: set[int] = set()
    for band in range(4):
        n += counts[band]
        p += positive[band]
        m += negative[band]
        t += total[band]
        seen |= clients[band]
        tallies.append((n, len(seen), p, m, t))
    return tallies


def _qualifies(tally: _Tally) -> bool:
    return tally[0] >= 2 and tally[1] >= 2


def _window_score(tally: _Tally) -> _Fraction | None:
    if not _qualifies(tally):
        return None
    _, _, positive, negative, total = tally
    net = positive - negative
    # Clamped to 0-100 as the rule says, although net can never exceed total.
    return (100 * min(max(net, 0), total), total)


def _scores(tallies: list[_Tally]) -> dict[str, _Fraction | None]:
    scores = {name: _window_score(tally) for (name, _), tally in zip(WINDOWS, tallies, strict=True)}
    three, six = scores["3m"], scores["6m"]
    if three is not None and six is not None:
        scores[TRENDING] = (
            three[0] * six[1] + six[0] * three[1],
            2 * three[1] * six[1],
        )
    else:
        scores[TRENDING] = None
    return scores


def _displayed(
    scores: dict[str, _Fraction | None],
) -> tuple[str | None, _Fraction | None]:
    best_name: str | None = None
    best: _Fraction | None = None
    for name in DISPLAY_ORDER:
        candidate = scores[name]
        if candidate is not None and (best is None or candidate[0] * best[1] > best[0] * candidate[1]):
            best_name, best = name, candidate
    return best_name, best


def _at_least(a: _Fraction | None, b: _Fraction | None) -> bool:
    """a >= b, where None is lower than any number and None equals None."""
    if b is None:
        return True
    if a is None:
        return False
    return a[0] * b[1] >= b[0] * a[1]


def _decimal(fraction: _Fraction | None) -> Decimal | None:
    if fraction is None:
        return None
    return _DECIMAL.divide(Decimal(fraction[0]), Decimal(fraction[1]))


def _figures(
    tallies: list[_Tally], scores: dict[str, _Fraction | None], starts: Sequence[date]
) -> dict[str, WindowFigures]:
    figures = {}
    for (name, _), tally, start in zip(WINDOWS, tallies, starts, strict=True):
        contracts, clients, positive, negative, total = tally
        figures[name] = WindowFigures(
            name=name,
            start=start,
            contracts=contracts,
            clients=clients,
            qualifies=_qualifies(tally),
            positive_weight=_quarters(positive),
            negative_weight=_quarters(negative),
            total_weight=_quarters(total),
            score=_decimal(scores[name]),
        )
    six = figures["6m"]
    figures[TRENDING] = WindowFigures(
        name=TRENDING,
        start=None,
        contracts=six.contracts,
        clients=six.clients,
        qualifies=scores[TRENDING] is not None,
        positive_weight=None,
        negative_weight=None,
        total_weight=None,
        score=_decimal(scores[TRENDING]),
    )
    return figures


@functools.lru_cache(maxsize=64)
def _starts(as_of: date) -> tuple[date, ...]:
    # A scheduled update scores every subject on the same as_of: work the dates out once.
    return tuple(window_start(as_of, months) for _, months in WINDOWS)


def score_windows(
    contracts: Iterable[ContractFacts], as_of: date, *, excluded: Iterable[int] = ()
) -> dict[str, WindowFigures]:
    """Figures of the 3m, 6m, 12m, 24m and trending windows without the ``excluded``
    contract ids, unconditionally (the no-harm rule is ``compute``'s job)."""
    starts = _starts(as_of)
    items, _ = _prepare(contracts, as_of, starts)
    tallies = _tally(items, frozenset(excluded))
    return _figures(tallies, _scores(tallies), starts)


# --- the score ----------------------------------------------------------------------


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def compute(contracts: Iterable[ContractFacts], *, as_of: date, exclusions: Iterable[int] = ()) -> JssResult:
    """The displayed JSS of one subject's contracts on ``as_of``.

    ``exclusions`` are contract ids in the order their exclusions were created. Each is
    applied only if the unrounded displayed JSS without the contract (given the ones
    applied so far) is >= the JSS with it, None being lower than any number and equal to
    None; otherwise the contract stays in the score (``kept_no_harm``).
    """
    starts = _starts(as_of)
    contracts = list(contracts)
    items, left_out = _prepare(contracts, as_of, starts)
    counted_ids = {item[0] for item in items} if exclusions else set()

    applied: set[int] = set()
    tallies = _tally(items, applied)
    scores = _scores(tallies)
    window, current = _displayed(scores)
    decisions: dict[int, str] = {}
    exclusion_detail = []
    for contract_id in exclusions:
        if contract_id in decisions:
            continue  # one exclusion per contract: a repeat keeps the first decision
        if contract_id not in counted_ids:
            # Unknown, left out or older than 24 months: the score is the same with or
            # without it, so the rule excludes it, harmlessly, and changes nothing.
            decisions[contract_id] = EXCLUDED
            applied.add(contract_id)
            exclusion_detail.append(
                {
                    "contract_id": contract_id,
                    "decision": EXCLUDED,
                    "score_with": _text(_decimal(current)),
                    "score_without": _text(_decimal(current)),
                }
            )
            continue
        trial = applied | {contract_id}
        trial_tallies = _tally(items, trial)
        trial_scores = _scores(trial_tallies)
        trial_window, without = _displayed(trial_scores)
        decision = EXCLUDED if _at_least(without, current) else KEPT_NO_HARM
        exclusion_detail.append(
            {
                "contract_id": contract_id,
                "decision": decision,
                "score_with": _text(_decimal(current)),
                "score_without": _text(_decimal(without)),
            }
        )
        decisions[contract_id] = decision
        if decision == EXCLUDED:
            applied = trial
            tallies, scores, window, current = (
                trial_tallies,
                trial_scores,
                trial_window,
                without,
            )

    return _result(
        as_of,
        starts,
        tallies,
        scores,
        window,
        current,
        left_out,
        exclusion_detail,
        decisions,
        stable_until(contracts, as_of),
    )


def from_tallies(
    tallies: Sequence[tuple[int, int, int, int, int]],
    left_out: Iterable[tuple[int, str]],
    *,
    as_of: date,
    stable: date | None = None,
) -> JssResult:
    """The result of ``compute`` without exclusions, from each window's figures worked out elsewhere (the
    batch update sums them in SQL): ``tallies`` holds the 3m, 6m, 12m and 24m windows as (contracts,
    distinct clients, positive, negative, all weight), weights in quarter units (1.25 == 5); ``left_out``
    holds (contract_id, reason) pairs in any order; ``stable`` the subject's ``stable_until`` worked out with
    the figures (the batch update's tally does)."""
    tallies = [(t[0], t[1], t[2], t[3], t[4]) for t in tallies]
    scores = _scores(tallies)
    window, current = _displayed(scores)
    return _result(as_of, _starts(as_of), tallies, scores, window, current, sorted(left_out), [], {}, stable)


def _result(
    as_of, starts, tallies, scores, window, current, left_out, exclusion_detail, decisions, stable=None
) -> JssResult:
    unrounded = _decimal(current)
    score = None if unrounded is None else round_half_up(unrounded)
    detail = {
        "algorithm_version": ALGORITHM_VERSION,
        "as_of": as_of.isoformat(),
        "score": score,
        "window": window,
        "unrounded": _text(unrounded),
        "windows": _windows_detail(tallies, scores, starts),
        "left_out": [{"contract_id": contract_id, "reason": reason} for contract_id, reason in left_out],
        "exclusions": exclusion_detail,
    }
    return JssResult(
        score=score,
        window=window,
        unrounded=unrounded,
        detail=detail,
        decisions=decisions,
        stored=stored_detail(tallies, left_out, exclusion_detail),
        stable_until=stable,
    )


# --- what a snapshot stores ---------------------------------------------------------


def stored_detail(
    tallies: Sequence[tuple[int, int, int, int, int]],
    left_out: Iterable[tuple[int, str]],
    exclusion_detail: Sequence[dict] = (),
) -> dict:
    """The detail a ``ScoreSnapshot`` keeps: only what cannot be derived. Each calendar window's figures
    as [contracts, clients, positive, negative, all weight in quarters], the left-out contracts as
    [contract_id, reason] and the exclusions' decisions (with the scores they compared). The as_of, the
    window starts, each window's score and whether it qualifies, trending, the displayed score and window
    and the unrounded value follow from these and the snapshot's ``as_of``: ``expand_detail``."""
    stored: dict = {
        "windows": {name: [int(x) for x in tally] for (name, _), tally in zip(WINDOWS, tallies, strict=True)},
        "left_out": [[contract_id, reason] for contract_id, reason in left_out],
    }
    if exclusion_detail:
        stored["exclusions"] = list(exclusion_detail)
    return stored


def expand_detail(stored: dict, as_of: date) -> dict:
    """The full ``JssResult.detail`` of a stored detail (``stored_detail``) on ``as_of``: exactly what
    ``compute`` gave when the snapshot was written. A detail stored whole (before 2026-12-07) is returned
    as it is; an empty one gives {}."""
    if not stored or "algorithm_version" in stored:
        return stored or {}
    tallies = [tuple(stored["windows"][name]) for name, _ in WINDOWS]
    left_out = [(int(contract_id), reason) for contract_id, reason in stored.get("left_out", ())]
    detail = from_tallies(tallies, left_out, as_of=as_of).detail
    detail["exclusions"] = list(stored.get("exclusions", ()))
    return detail


def _weight_text(quarters: int) -> str:
    """Quarter units as a decimal string: 5 -> '1.25', 6 -> '1.5', 12 -> '3'."""
    whole, part = divmod(quarters, 4)
    return f"{whole}{_QUARTER_SUFFIXES[part]}"


_QUARTER_SUFFIXES = ("", ".25", ".5", ".75")


def _windows_detail(tallies: list[_Tally], scores: dict[str, _Fraction | None], starts: Sequence[date]) -> dict:
    windows = {}
    for (name, _), tally, start in zip(WINDOWS, tallies, starts, strict=True):
        contracts, clients, positive, negative, total = tally
        windows[name] = {
            "start": start.isoformat(),
            "contracts": contracts,
            "clients": clients,
            "qualifies": _qualifies(tally),
            "positive_weight": _weight_text(positive),
            "negative_weight": _weight_text(negative),
            "total_weight": _weight_text(total),
            "score": _text(_decimal(scores[name])),
        }
    windows[TRENDING] = {
        "of": ["3m", "6m"],
        "qualifies": scores[TRENDING] is not None,
        "score": _text(_decimal(scores[TRENDING])),
    }
    return windows
