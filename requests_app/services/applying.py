"""Making an approved request take effect, and what the JSS update later decides about it."""

import logging

from django.db import transaction

from jss.models import JssExclusion
from perkdesk.marketplace.models import Feedback
from requests_app import domain
from requests_app.models import EventKind, RemovalRequest, Status
from requests_app.services.common import email_after_commit, now_or, record_event

logger = logging.getLogger(__name__)


def apply_exclusion(request_id, *, now=None) -> bool:
    """Create the exclusion, hide the feedback when asked, mark the request applied. Runs any number of
    times: returns False when there is nothing (left) to do."""
    now = now_or(now)
    with transaction.atomic():
        locked = RemovalRequest.objects.select_for_update().filter(pk=request_id).first()
        if locked is None or locked.status != Status.APPROVED:
            return False
        locked.status = domain.next_status(locked.status, domain.APPLY)
        locked.applied_at = now
        locked.save(update_fields=["status", "applied_at"])
        JssExclusion.objects.get_or_create(
            contract_id=locked.contract_id, defaults={"removal_request": locked, "created_at": now}
        )
        hidden = False
        if locked.scope == domain.HIDE_PROFILE_AND_JSS:
            hidden = bool(
                Feedback.objects.filter(contract_id=locked.contract_id, hidden_on_profile=False).update(
                    hidden_on_profile=True, hidden_at=now
                )
            )
        message = "The contract is now excluded from your Job Success Score calculations"
        message += (
            "; its feedback is hidden on your profile."
            if hidden or locked.scope == domain.HIDE_PROFILE_AND_JSS
            else "."
        )
        record_event(locked, EventKind.APPLIED, now=now, message=message)
        email_after_commit(locked, "applied")
    logger.info("exclusion applied", extra={"ticket": locked.ticket_number})
    return True


OUTCOME_MESSAGES = {
    "excluded": "At the JSS update of {as_of} the contract was excluded from your score.",
    "kept_no_harm": (
        "At the JSS update of {as_of} the contract stayed in your score, because removing it would have lowered "
        "it (the perk never harms your JSS)."
    ),
}


def record_jss_outcome(request_id, *, outcome, as_of, now=None) -> bool:
    """What the scheduled JSS update decided for an applied request; recorded and emailed once per change."""
    now = now_or(now)
    if outcome not in OUTCOME_MESSAGES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOME_MESSAGES)}")
    with transaction.atomic():
        locked = RemovalRequest.objects.select_for_update().filter(pk=request_id, status=Status.APPLIED).first()
        if locked is None or locked.jss_outcome == outcome:
            return False
        locked.jss_outcome = outcome
        locked.save(update_fields=["jss_outcome"])
        record_event(locked, EventKind.JSS_OUTCOME, now=now, message=OUTCOME_MESSAGES[outcome].format(as_of=as_of))
        email_after_commit(locked, "jss_outcome")
    return True
