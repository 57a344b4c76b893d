"""Every write of a removal request goes through these services (STYLE.md: a transition, written once).

Each transition: lock the row, check the table in ``domain``, save, write the ``RequestEvent`` in the
same transaction, and queue the task and the email with ``on_commit``.
"""

from requests_app.domain import InvalidInput, InvalidTransition, NotPermitted, Refused
from requests_app.eligibility import NotEligible
from requests_app.services.applying import (
    apply_exclusion,
    record_jss_outcomes,
    sweep,
)
from requests_app.services.common import queue_failures
from requests_app.services.decisions import (
    add_note,
    approve_request,
    claim_request,
    reassign_request,
    reject_request,
    request_info,
)
from requests_app.services.submission import check_eligibility, reply_to_request, submit_request, withdraw_request

__all__ = [
    "InvalidTransition",
    "NotEligible",
    "InvalidInput",
    "NotPermitted",
    "Refused",
    "queue_failures",
    "add_note",
    "apply_exclusion",
    "approve_request",
    "check_eligibility",
    "claim_request",
    "reassign_request",
    "record_jss_outcomes",
    "reject_request",
    "reply_to_request",
    "request_info",
    "submit_request",
    "sweep",
    "withdraw_request",
]
