"""Who may ask for a contract's feedback to be removed (SPEC §4): one rule, one code.

Pure: no Django, no ORM, no clock. The facts are gathered from the database elsewhere
(``requests_app.services``) into an ``EligibilityFacts``; ``evaluate`` turns them into an
``EligibilityReport`` that lists every failing rule, in ``CODES`` order.

How the rules play together
---------------------------
* **Whose contract.** A contract with an agency belongs to the requester only through a
  membership in that agency (any role); ``is_own_contract`` is then ignored. A contract
  without an agency belongs to the requester when they are its freelancer. When the
  contract is unknown or not theirs the report is built only from facts about the
  requester, so an unknown contract and someone else's contract give the same answer:
  ``account_inactive`` (the requester's own account only), ``not_your_contract`` with
  "We could not find a contract with ID <n> among your contracts." and ``perk_closed``.
  Nothing about the contract, its agency or its subject is evaluated or revealed.
* **Agency roles.** A member of the contract's agency whose role is not owner,
  business manager or admin gets ``agency_role_required`` and, since the contract is
  their agency's, every other rule is still checked so they can tell the right person
  everything at once.
* **Top Rated status** yields at most one status code:
  Top Rated now → none; lost for ``suspension``/``tos_violation`` →
  ``status_lost_suspension``; lost for ``jss_dip`` more than ``grace_days`` ago →
  ``grace_expired``; lost for ``jss_dip`` within ``grace_days`` (inclusive) → the grace
  window, which needs a screenshot (``screenshot_required``); never Top Rated, or lost
  for ``other`` → ``not_top_rated``, or ``agency_not_top_rated`` for an agency contract
  (the person's own status does not count). The specific codes replace the generic ones
  for agencies too.
* **Special Offer contracts** skip ``request_open`` for the subject's *other* open
  requests (a request already open for this very contract still refuses), and skip
  both cooldowns.
* **Cooldown.** It runs from the previous counted request's submission date: the
  request may be sent on or after that date plus ``cooldown_months`` calendar months
  (day clamped to the month's end: 30 November + 3 months = 28/29 February), and once
  ``cooldown_jobs`` Upwork contracts of the subject have ended since.
"""

import calendar
import datetime
from dataclasses import dataclass

from requests_app.domain import Refused
from requests_app.formatting import format_date

CODES = (
    "account_inactive",
    "not_your_contract",
    "agency_role_required",
    "agency_not_top_rated",
    "contract_not_ended",
    "elance_contract",
    "no_feedback",
    "already_removed",
    "request_open",
    "not_top_rated",
    "status_lost_suspension",
    "grace_expired",
    "screenshot_required",
    "cooldown_months",
    "cooldown_jobs",
    "perk_closed",
)

ACTIVE = "active"
AGENCY_ROLES = ("owner", "business_manager", "admin", "member")
# Roles that may submit a request for an agency's contract (policy: "the agency owner,
# business manager, or agency admin").
AGENCY_ROLES_ALLOWED = ("owner", "business_manager", "admin")
PLATFORMS = ("upwork", "elance")
LOSS_REASONS = ("jss_dip", "suspension", "tos_violation", "other")
LOSS_REASONS_WITHOUT_GRACE = ("suspension", "tos_violation")

# The policy's own words for an account that is not active.
_ACCOUNT_NOT_ACTIVE_DETAIL = (
    "This might be due to no account activity (earnings, payments, contracts, etc.) or "
    "because we had to suspend it. When we suspend an account we send an email explaining "
    "the reason and whether or not you can take steps to reverse the suspension. Please "
    "review that email for more details."
)


def add_months(day, months):
    """``day`` moved ``months`` calendar months on, the day clamped to the month's end."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class Policy:
    """The policy numbers of SPEC §2 (``PERK_COOLDOWN_MONTHS`` ... ``PERK_END_DATE``)."""

    cooldown_months: int = 3
    cooldown_jobs: int = 10
    grace_days: int = 14
    end_date: datetime.date | None = None

    def __post_init__(self):
        for name in ("cooldown_months", "cooldown_jobs", "grace_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Policy.{name} must be a whole number ≥ 0, not {value!r}.")
        if isinstance(self.end_date, datetime.datetime) or not (
            self.end_date is None or isinstance(self.end_date, datetime.date)
        ):
            raise ValueError(f"Policy.end_date must be a date or None, not {self.end_date!r}.")

    @classmethod
    def from_settings(cls, settings):
        """Read ``PERK_*`` from any settings-like object (e.g. ``django.conf.settings``)."""
        end_date = getattr(settings, "PERK_END_DATE", None)
        if isinstance(end_date, str):
            end_date = datetime.date.fromisoformat(end_date) if end_date.strip() else None
        elif isinstance(end_date, datetime.datetime):
            end_date = end_date.date()
        return cls(
            cooldown_months=getattr(settings, "PERK_COOLDOWN_MONTHS", cls.cooldown_months),
            cooldown_jobs=getattr(settings, "PERK_COOLDOWN_JOBS", cls.cooldown_jobs),
            grace_days=getattr(settings, "PERK_GRACE_DAYS", cls.grace_days),
            end_date=end_date,
        )


@dataclass(frozen=True)
class EligibilityFacts:
    """Everything the rules need, read from the database by the caller.

    Only ``today`` is required (the rules never read a clock); every other default
    describes a perfectly eligible Top Rated freelancer asking about their own ended
    Upwork contract with feedback, so a test states only what differs.

    The *subject* is the contract's agency when ``agency_contract``, otherwise the
    freelancer; the ``subject_*``, ``status_*``, cooldown and job facts are about it.
    """

    today: datetime.date
    contract_found: bool = True
    contract_number: str = ""
    # The requester is the contract's freelancer and the contract has no agency.
    is_own_contract: bool = True
    agency_contract: bool = False
    # The requester's role in the contract's agency; None = no membership.
    requester_agency_role: str | None = None
    requester_account_status: str = ACTIVE
    # None when the contract has no agency.
    agency_account_status: str | None = None
    contract_ended: bool = True
    platform: str = "upwork"
    # A public rating or a private score is present.
    has_feedback: bool = True
    # The contract has an exclusion or an applied request.
    already_removed: bool = False
    is_special_offer: bool = False
    # The subject has a submitted/approved request that is not for a Special Offer.
    subject_open_regular_request: bool = False
    # This contract has a submitted/approved request.
    contract_open_request: bool = False
    subject_top_rated_now: bool = True
    # The latest Top Rated period's ``ended_on`` when not Top Rated now.
    status_lost_on: datetime.date | None = None
    status_loss_reason: str | None = None
    has_screenshot: bool = False
    # The previous counted request (non-special-offer, approved or applied) of the subject.
    last_counted_request_submitted_on: datetime.date | None = None
    # The subject's Upwork contracts ended after that submission date.
    upwork_jobs_ended_since: int = 0

    def __post_init__(self):
        # A wrong enumeration value would silently pass or fail a rule: refuse it loudly.
        if self.requester_agency_role not in (None, *AGENCY_ROLES):
            raise ValueError(f"Unknown agency role {self.requester_agency_role!r}.")
        if self.platform not in PLATFORMS:
            raise ValueError(f"Unknown platform {self.platform!r}.")
        if self.status_loss_reason not in (None, *LOSS_REASONS):
            raise ValueError(f"Unknown Top Rated loss reason {self.status_loss_reason!r}.")
        if self.upwork_jobs_ended_since < 0:
            raise ValueError("upwork_jobs_ended_since cannot be negative.")


@dataclass(frozen=True)
class EligibilityReport:
    """The outcome of ``evaluate``.

    ``reasons`` are in ``CODES`` order. ``cooldown_ends_on`` is the first day a request
    is allowed again, set only while ``cooldown_months`` refuses; ``jobs_needed`` is how
    many more Upwork contracts must end, non-zero only while ``cooldown_jobs`` refuses.
    ``in_grace_window``: the subject lost Top Rated for a JSS dip within the grace days.
    """

    reasons: tuple[Reason, ...] = ()
    cooldown_ends_on: datetime.date | None = None
    jobs_needed: int = 0
    in_grace_window: bool = False

    @property
    def eligible(self):
        return not self.reasons

    def codes(self):
        return tuple(reason.code for reason in self.reasons)

    def messages(self):
        return tuple(reason.message for reason in self.reasons)

    @property
    def cooldown_summary(self):
        """One sentence for both cooldowns, e.g. for the form; "" when neither refuses."""
        jobs = _jobs_phrase(self.jobs_needed)
        if self.cooldown_ends_on and self.jobs_needed:
            when = format_date(self.cooldown_ends_on)
            return f"You can request another removal from {when} and after {jobs}."
        if self.cooldown_ends_on:
            return f"You can request another removal from {format_date(self.cooldown_ends_on)}."
        if self.jobs_needed:
            return f"You can request another removal after {jobs}."
        return ""


class NotEligible(Refused):
    """A request refused by the eligibility rules; ``reasons`` says why, every one."""

    def __init__(self, reasons, report=None):
        self.reasons = tuple(reasons)
        self.report = report
        super().__init__(str(self))

    @classmethod
    def from_report(cls, report):
        return cls(report.reasons, report=report)

    def codes(self):
        return tuple(reason.code for reason in self.reasons)

    def __str__(self):
        if not self.reasons:
            return "Not eligible."
        return "Not eligible: " + " ".join(f"[{reason.code}] {reason.message}" for reason in self.reasons)


def _jobs_phrase(count):
    noun = "contract" if count == 1 else "contracts"
    return f"{count} more completed Upwork {noun}"


def _contract_label(facts):
    number = str(facts.contract_number).strip()
    return f"contract {number}" if number else "this contract"


def _not_your_contract(facts):
    number = str(facts.contract_number).strip()
    if number:
        message = f"We could not find a contract with ID {number} among your contracts."
    else:
        message = "We could not find that contract among your contracts."
    return Reason("not_your_contract", message)


def _belongs_to_requester(facts):
    if not facts.contract_found:
        return False
    if facts.agency_contract:
        return facts.requester_agency_role is not None
    return facts.is_own_contract


def _account_reason(facts, *, include_agency):
    requester_inactive = facts.requester_account_status != ACTIVE
    agency_inactive = (
        include_agency
        and facts.agency_contract
        and facts.agency_account_status is not None
        and facts.agency_account_status != ACTIVE
    )
    if requester_inactive and agency_inactive:
        opening = "Our records show your account and your agency's account are not active."
    elif requester_inactive:
        opening = "Our records show your account is not active."
    elif agency_inactive:
        opening = "Our records show your agency's account is not active."
    else:
        return None
    return Reason("account_inactive", f"{opening} {_ACCOUNT_NOT_ACTIVE_DETAIL}")


def _perk_closed_reason(facts, policy):
    if policy.end_date is not None and facts.today > policy.end_date:
        return Reason(
            "perk_closed",
            f"The feedback removal perk ended on {format_date(policy.end_date)}. New requests are no longer accepted.",
        )
    return None


def _status_reasons(facts, policy, *, agency):
    """At most one Top Rated status reason, and whether the subject is in its grace window."""
    you_were, your = ("your agency was", "Your agency's") if agency else ("you were", "Your")
    if facts.subject_top_rated_now:
        return [], False

    lost_on = facts.status_lost_on
    loss_reason = facts.status_loss_reason
    if lost_on is not None and loss_reason in LOSS_REASONS_WITHOUT_GRACE:
        return [
            Reason(
                "status_lost_suspension",
                f"You can't request to have feedback removed because {you_were} removed from "
                "the Top Rated program due to a suspension or Terms of Service violation.",
            )
        ], False

    if lost_on is not None and loss_reason == "jss_dip":
        last_day = lost_on + datetime.timedelta(days=policy.grace_days)
        if (facts.today - lost_on).days > policy.grace_days:
            return [
                Reason(
                    "grace_expired",
                    f"{your} Top Rated status was lost on {format_date(lost_on)} after a dip in "
                    f"the Job Success Score. A removal could be requested for {policy.grace_days} "
                    f"days after that, until {format_date(last_day)}, and that window has closed.",
                )
            ], False
        if facts.has_screenshot:
            return [], True
        return [
            Reason(
                "screenshot_required",
                f"{your} Top Rated status was lost on {format_date(lost_on)} after a dip in the "
                f"Job Success Score, so a removal can still be requested until "
                f"{format_date(last_day)}. Please attach a screenshot of the email you received "
                "confirming you have lost your Top Rated status.",
            )
        ], True

    # Never Top Rated, or lost for another reason: no grace window.
    if agency:
        return [
            Reason(
                "agency_not_top_rated",
                "Your agency is not Top Rated, so feedback can't be removed from its contracts. "
                "If you personally are Top Rated but your agency is not, you can't remove "
                "feedback from contracts of that agency.",
            )
        ], False
    return [
        Reason(
            "not_top_rated",
            "Feedback removal is a perk of the Top Rated program, and you are not Top Rated "
            "at the moment. You can use this perk as long as you are Top Rated.",
        )
    ], False


def _cooldown(facts, policy, *, agency):
    """The cooldown reasons, the first allowed day (if still ahead) and the jobs still needed."""
    previous = facts.last_counted_request_submitted_on
    if facts.is_special_offer or previous is None:
        return [], None, 0
    reasons = []
    ends_on = add_months(previous, policy.cooldown_months)
    if facts.today < ends_on:
        months = "month" if policy.cooldown_months == 1 else "months"
        reasons.append(
            Reason(
                "cooldown_months",
                f"You can request another removal from {format_date(ends_on)}: at least "
                f"{policy.cooldown_months} {months} must pass after the previous request, "
                f"submitted on {format_date(previous)}.",
            )
        )
    else:
        ends_on = None
    jobs_needed = max(0, policy.cooldown_jobs - facts.upwork_jobs_ended_since)
    if jobs_needed:
        who = "Your agency needs" if agency else "You need"
        reasons.append(
            Reason(
                "cooldown_jobs",
                f"{who} {_jobs_phrase(jobs_needed)} before another removal can be requested: "
                f"at least {policy.cooldown_jobs} new jobs on Upwork must be completed after "
                f"the previous request, submitted on {format_date(previous)}.",
            )
        )
    return reasons, ends_on, jobs_needed


def evaluate(facts, policy=None):
    """Every rule of SPEC §4 over ``facts``; returns an ``EligibilityReport``.

    All failing rules are reported, in ``CODES`` order. See the module docstring for how
    the rules interact (ownership, agency roles, Top Rated status, Special Offers).
    """
    policy = Policy() if policy is None else policy
    found = []

    if not _belongs_to_requester(facts):
        # Only the requester's own facts: unknown and someone else's contract look alike.
        found = [
            _account_reason(facts, include_agency=False),
            _not_your_contract(facts),
            _perk_closed_reason(facts, policy),
        ]
        return EligibilityReport(reasons=_in_code_order(found))

    agency = facts.agency_contract
    contract = _contract_label(facts)
    found.append(_account_reason(facts, include_agency=True))

    if agency and facts.requester_agency_role not in AGENCY_ROLES_ALLOWED:
        found.append(
            Reason(
                "agency_role_required",
                "For agencies, the request must be submitted by the agency owner, business "
                "manager, or agency admin. Please ask one of them to send it.",
            )
        )

    if not facts.contract_ended:
        found.append(
            Reason(
                "contract_not_ended",
                f"{contract.capitalize()} is still active. You can request feedback removal once it has ended.",
            )
        )
    if facts.platform == "elance":
        found.append(
            Reason(
                "elance_contract",
                f"{contract.capitalize()} was done on Elance. Jobs performed on Elance are not eligible.",
            )
        )
    if not facts.has_feedback:
        found.append(
            Reason(
                "no_feedback",
                f"{contract.capitalize()} has no public or private feedback to remove.",
            )
        )
    if facts.already_removed:
        found.append(
            Reason(
                "already_removed",
                f"The feedback of {contract} has already been removed from the Job Success "
                "Score. A removal is permanent, so there is nothing more to request.",
            )
        )

    if facts.contract_open_request:
        found.append(
            Reason(
                "request_open",
                f"A feedback removal request for {contract} is already in progress. You can "
                "follow it from your tickets.",
            )
        )
    elif facts.subject_open_regular_request and not facts.is_special_offer:
        who = "Your agency already has" if agency else "You already have"
        found.append(
            Reason(
                "request_open",
                f"{who} a feedback removal request in progress. Only one job's feedback can be "
                "removed at a time; a new request can be sent once that one is finished.",
            )
        )

    status_reasons, in_grace = _status_reasons(facts, policy, agency=agency)
    found.extend(status_reasons)

    cooldown_reasons, cooldown_ends_on, jobs_needed = _cooldown(facts, policy, agency=agency)
    found.extend(cooldown_reasons)

    found.append(_perk_closed_reason(facts, policy))

    return EligibilityReport(
        reasons=_in_code_order(found),
        cooldown_ends_on=cooldown_ends_on,
        jobs_needed=jobs_needed,
        in_grace_window=in_grace,
    )


def _in_code_order(reasons):
    present = [reason for reason in reasons if reason is not None]
    return tuple(sorted(present, key=lambda reason: CODES.index(reason.code)))
