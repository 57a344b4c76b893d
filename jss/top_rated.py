"""The weekly Top Rated evaluation (SPEC §5) as pure rules: facts in, decision out. No ORM, no clock.

A freelancer is Top Rated when the current JSS is at least 90 and was at least 90 in 13 of the last 16
weekly evaluations (this one included), their first contract started more than 90 days ago, at least
$1,000 was charged in the last 12 months, the account is active, there was no Terms of Service violation
in the last 3 months and the profile is 100 % complete. An agency: the same JSS test, an active agency
account, at least 2 members, no member's ToS violation in 3 months and at least $10,000 charged in 12
months. The subject's own contracts count (an agency's, or the freelancer's without an agency); "charged
in 12 months" sums the total charged of the contracts whose reference date (end, or last payment while
active) falls in the 12 months up to the evaluation.

Weeks without an evaluation on record (before PerkDesk evaluated the subject) are not held against a
subject that is already Top Rated: it earned the status under the marketplace's own evaluations. A subject
that is not Top Rated needs 13 evaluations on record at 90 or more.

When a Top Rated subject fails, the loss reason says who caused it: ``suspension`` (the account is
suspended), ``tos_violation`` (a ToS violation in the last 3 months), ``jss_dip`` (the score: below 90
now or too few weeks at 90), else ``other`` (an inactive account, the profile, the earnings, the first
contract, the members). Only ``jss_dip`` opens the perk's grace window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from jss.engine import window_start

FREELANCER = "freelancer"
AGENCY = "agency"

JSS_THRESHOLD = 90
WEEKS = 16
WEEKS_NEEDED = 13
FIRST_CONTRACT_DAYS = 90
TOS_MONTHS = 3
EARNINGS_MONTHS = 12
MIN_CHARGED = {FREELANCER: Decimal(1000), AGENCY: Decimal(10000)}
MIN_MEMBERS = 2

# Criteria, in the order they are reported.
JSS_BELOW_90 = "jss_below_90"
JSS_HISTORY = "jss_history"
ACCOUNT_SUSPENDED = "account_suspended"
ACCOUNT_INACTIVE = "account_inactive"
TOS_VIOLATION = "tos_violation"
FIRST_CONTRACT_RECENT = "first_contract_recent"
EARNINGS_BELOW_MINIMUM = "earnings_below_minimum"
PROFILE_INCOMPLETE = "profile_incomplete"
TOO_FEW_MEMBERS = "too_few_members"

CRITERIA = {
    JSS_BELOW_90: "The Job Success Score is below 90 (or there is none).",
    JSS_HISTORY: "The Job Success Score was 90 or more in fewer than 13 of the last 16 weekly evaluations.",
    ACCOUNT_SUSPENDED: "The account is suspended.",
    ACCOUNT_INACTIVE: "The account is not active.",
    TOS_VIOLATION: "There was a Terms of Service violation in the last 3 months.",
    FIRST_CONTRACT_RECENT: "The first contract started 90 days ago or less.",
    EARNINGS_BELOW_MINIMUM: "Less than the minimum was charged in the last 12 months.",
    PROFILE_INCOMPLETE: "The profile is not 100% complete.",
    TOO_FEW_MEMBERS: "The agency has fewer than 2 members.",
}

LOSS_SUSPENSION = "suspension"
LOSS_TOS = "tos_violation"
LOSS_JSS_DIP = "jss_dip"
LOSS_OTHER = "other"


@dataclass(frozen=True)
class TopRatedFacts:
    """``earlier_at_90``/``earlier_on_record``: the evaluations of the previous 15 weeks on record, and how
    many had a JSS of 90 or more. ``tos_violation_on`` is the freelancer's, or an agency's latest member's."""

    kind: str
    score: int | None
    earlier_at_90: int = 0
    earlier_on_record: int = 0
    currently_top_rated: bool = False
    account_status: str = "active"
    first_contract_started_on: date | None = None
    charged_12_months: Decimal = Decimal(0)
    tos_violation_on: date | None = None
    profile_completeness: int = 100
    members: int = 0


@dataclass(frozen=True)
class TopRatedDecision:
    top_rated: bool
    failed: tuple[str, ...]
    weeks_at_90: int
    weeks_on_record: int
    opens: bool
    closes: bool
    loss_reason: str | None


def decide(facts: TopRatedFacts, *, as_of: date) -> TopRatedDecision:
    at_90_now = facts.score is not None and facts.score >= JSS_THRESHOLD
    weeks_at_90 = min(facts.earlier_at_90, WEEKS - 1) + at_90_now
    weeks_on_record = min(facts.earlier_on_record, WEEKS - 1) + 1
    unrecorded = WEEKS - weeks_on_record
    history_ok = weeks_at_90 + (unrecorded if facts.currently_top_rated else 0) >= WEEKS_NEEDED

    failed = []
    if not at_90_now:
        failed.append(JSS_BELOW_90)
    if not history_ok:
        failed.append(JSS_HISTORY)
    if facts.account_status == "suspended":
        failed.append(ACCOUNT_SUSPENDED)
    elif facts.account_status != "active":
        failed.append(ACCOUNT_INACTIVE)
    if facts.tos_violation_on is not None and facts.tos_violation_on > window_start(as_of, TOS_MONTHS):
        failed.append(TOS_VIOLATION)
    started = facts.first_contract_started_on
    if started is None or (as_of - started).days <= FIRST_CONTRACT_DAYS:
        failed.append(FIRST_CONTRACT_RECENT)
    if facts.charged_12_months < MIN_CHARGED[facts.kind]:
        failed.append(EARNINGS_BELOW_MINIMUM)
    if facts.kind == FREELANCER and facts.profile_completeness < 100:
        failed.append(PROFILE_INCOMPLETE)
    if facts.kind == AGENCY and facts.members < MIN_MEMBERS:
        failed.append(TOO_FEW_MEMBERS)

    top_rated = not failed
    closes = facts.currently_top_rated and not top_rated
    return TopRatedDecision(
        top_rated=top_rated,
        failed=tuple(failed),
        weeks_at_90=weeks_at_90,
        weeks_on_record=weeks_on_record,
        opens=top_rated and not facts.currently_top_rated,
        closes=closes,
        loss_reason=loss_reason(failed) if closes else None,
    )


def loss_reason(failed) -> str:
    """Who caused the loss: the account (suspension, ToS) before the score, the score before the rest."""
    if ACCOUNT_SUSPENDED in failed:
        return LOSS_SUSPENSION
    if TOS_VIOLATION in failed:
        return LOSS_TOS
    if JSS_BELOW_90 in failed or JSS_HISTORY in failed:
        return LOSS_JSS_DIP
    return LOSS_OTHER


def earnings_start(as_of: date) -> date:
    """Contracts whose reference date is after this day and on or before ``as_of`` count as the last 12
    months' earnings."""
    return window_start(as_of, EARNINGS_MONTHS)
