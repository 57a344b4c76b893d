"""The removal request's vocabulary and status flow, as plain data (SPEC §3, §6).

Pure: no Django, no database, no clock. Services check every transition against
``TRANSITIONS`` through ``next_status`` before they save anything, so the table is
enforced, not merely offered to the UI; the admin asks ``allowed_actions`` what to offer.

Every status, scope, reason and threshold is defined here once; models, forms, admin, reports and the
sweep take them from here.
"""

from datetime import datetime, timedelta

# --- refusals -----------------------------------------------------------------
# One hierarchy for every business refusal, so callers (admin, views) catch ``Refused`` and show its
# message. ``ValueError`` is left to programming errors.


class Refused(Exception):
    """The service refused: the message says why, in words an agent or a freelancer can act on."""


class NotPermitted(Refused):
    """The acting user may not do this (a service-level check behind the admin's own)."""


class InvalidInput(Refused):
    """What was asked breaks a rule of its own (a note with no text, an unknown reason, a too-long message)."""


# --- statuses ---------------------------------------------------------------

SUBMITTED = "submitted"
WAITING_ON_FREELANCER = "waiting_on_freelancer"
APPROVED = "approved"
APPLIED = "applied"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"

STATUSES = (SUBMITTED, WAITING_ON_FREELANCER, APPROVED, APPLIED, REJECTED, WITHDRAWN)
STATUS_LABELS = {
    SUBMITTED: "Submitted",
    WAITING_ON_FREELANCER: "Waiting on freelancer",
    APPROVED: "Approved",
    APPLIED: "Applied",
    REJECTED: "Rejected",
    WITHDRAWN: "Withdrawn",
}

# A request in an open status blocks another one for the same contract/subject.
OPEN_STATUSES = (SUBMITTED, WAITING_ON_FREELANCER, APPROVED)
# The 7-day clock runs in these; while a ticket waits on the freelancer it is paused (and its deadline moves on
# by the time waited when they reply), so a waiting ticket is never at risk or breached.
SLA_RUNNING_STATUSES = (SUBMITTED, APPROVED)
# There is no undo: nothing leaves a final status.
FINAL_STATUSES = (APPLIED, REJECTED, WITHDRAWN)

# --- actions and the transition table ---------------------------------------

APPROVE = "approve"
REJECT = "reject"
WITHDRAW = "withdraw"
APPLY = "apply"
REQUEST_INFO = "request_info"
REPLY = "reply"

ACTIONS = (APPROVE, REJECT, REQUEST_INFO, REPLY, WITHDRAW, APPLY)

TRANSITIONS = {
    (SUBMITTED, APPROVE): APPROVED,
    (SUBMITTED, REJECT): REJECTED,
    (SUBMITTED, REQUEST_INFO): WAITING_ON_FREELANCER,
    (SUBMITTED, WITHDRAW): WITHDRAWN,
    (WAITING_ON_FREELANCER, REPLY): SUBMITTED,
    # An agent may still close a waiting ticket (a duplicate, say); the sweep does with no_reply.
    (WAITING_ON_FREELANCER, REJECT): REJECTED,
    (WAITING_ON_FREELANCER, WITHDRAW): WITHDRAWN,
    (APPROVED, APPLY): APPLIED,
}

# "it can no longer be <participle>" — the participle of each action.
_ACTION_PARTICIPLES = {
    APPROVE: "approved",
    REJECT: "rejected",
    REQUEST_INFO: "asked a question",
    REPLY: "replied to",
    WITHDRAW: "withdrawn",
    APPLY: "applied",
}


class InvalidTransition(Refused):
    """An action that the status flow does not allow from the request's current status."""

    def __init__(self, current, action):
        self.current = current
        self.action = action
        super().__init__(self._describe(current, action))

    @staticmethod
    def _describe(current, action):
        if action not in ACTIONS:
            return f"{action!r} is not an action on a removal request."
        if current not in STATUSES:
            return f"{current!r} is not a removal request status."
        done = _ACTION_PARTICIPLES[action]
        if action == REPLY:
            return "This request is not waiting for your reply; there is nothing to answer."
        if current == WAITING_ON_FREELANCER:
            return f"This request is waiting on the freelancer's reply; it cannot be {done} until they answer."
        if current == SUBMITTED:
            return f"This request has not been approved yet; it cannot be {done}."
        if TRANSITIONS.get((SUBMITTED, action)) == current or (current, action) == (APPLIED, APPLY):
            return f"This request was already {current}; it cannot be {done} again."
        return f"This request was already {current}; it can no longer be {done}."


def next_status(current, action):
    """The status ``action`` leads to from ``current``; raises ``InvalidTransition`` otherwise."""
    try:
        return TRANSITIONS[(current, action)]
    except (KeyError, TypeError):
        raise InvalidTransition(current, action) from None


def can_transition(current, action):
    return (current, action) in TRANSITIONS


def allowed_actions(current):
    """The actions possible from ``current``, in ``ACTIONS`` order (empty for a final status)."""
    return tuple(action for action in ACTIONS if (current, action) in TRANSITIONS)


# --- rejection reasons (SPEC §6) ---------------------------------------------

NOT_ELIGIBLE = "not_eligible"
SCREENSHOT_INVALID = "screenshot_invalid"
DUPLICATE = "duplicate"
NO_REPLY = "no_reply"
OTHER = "other"

# code -> (label for agents, canned message to the freelancer)
REJECTION_REASONS = {
    NOT_ELIGIBLE: (
        "Not eligible",
        (
            "We reviewed your request and this contract does not meet the eligibility "
            "requirements of the Top Rated feedback removal perk, so its feedback stays in "
            "your Job Success Score."
        ),
    ),
    SCREENSHOT_INVALID: (
        "Screenshot invalid",
        (
            "The screenshot you attached does not show the email confirming you have lost "
            "your Top Rated status. If you are still within two weeks of your status loss "
            "date, please submit a new request with a screenshot of that email."
        ),
    ),
    DUPLICATE: (
        "Duplicate request",
        (
            "This request repeats another feedback removal request for the same contract, "
            "so we closed it. We will continue with the other request."
        ),
    ),
    NO_REPLY: (
        "No reply",
        (
            "We asked you a question about this request and did not hear back within the time we could "
            "wait, so we closed it. Nothing was removed. You are welcome to send a new request."
        ),
    ),
    OTHER: (
        "Other",
        (
            "We could not accept your feedback removal request. Please read the note from "
            "our support team for the details."
        ),
    ),
}
REJECTION_REASON_CHOICES = tuple((code, label) for code, (label, _) in REJECTION_REASONS.items())
# The reasons an agent picks from; no_reply is the sweep's, after PERK_REPLY_DAYS without an answer.
AGENT_REJECTION_REASONS = tuple(code for code in REJECTION_REASONS if code != NO_REPLY)

# --- approval messages: canned, editable, public ---------------------------------------------------------
APPROVAL_MESSAGES = {
    "standard": ("Standard", ""),
    "hide_note": (
        "Hidden on the profile",
        "The feedback will also be hidden on your public profile once the removal is applied.",
    ),
    "thanks_screenshot": (
        "Thanks for the screenshot",
        "Thank you for the screenshot of your status-loss email: it confirmed you could still use the perk.",
    ),
}

# --- scope --------------------------------------------------------------------

JSS_ONLY = "jss_only"
HIDE_PROFILE_AND_JSS = "hide_profile_and_jss"

SCOPES = (JSS_ONLY, HIDE_PROFILE_AND_JSS)
SCOPE_LABELS = {
    JSS_ONLY: "JSS only",
    HIDE_PROFILE_AND_JSS: "Hide from profile and JSS",
}
SCOPE_CHOICES = tuple((scope, SCOPE_LABELS[scope]) for scope in SCOPES)
SCOPE_SHORT_LABELS = {JSS_ONLY: "JSS only", HIDE_PROFILE_AND_JSS: "Profile + JSS"}  # the queue's narrow column

# --- the 7-day promise ------------------------------------------------------------
# A ticket is *at risk* from PERK_SLA_WARNING_DAYS after submission (when the sweep alerts the leads) until
# its deadline, and *breached* from the deadline on, while it is open. The desk, the queue's filter and the
# sweep use these two definitions and no other.


def at_risk_window(*, sla_days: int, warning_days: int) -> timedelta:
    """How long before the deadline a ticket turns at risk (2 days with the defaults 7 and 5)."""
    return timedelta(days=max(0, sla_days - warning_days))


def is_breached(*, sla_due_at: datetime, now: datetime) -> bool:
    return sla_due_at <= now


def is_at_risk(*, sla_due_at: datetime, now: datetime, window: timedelta) -> bool:
    return now < sla_due_at <= now + window
