"""A freelancer's side: is the perk usable on this contract, file a request, withdraw it."""

import datetime as dt
import logging
import secrets
from contextlib import contextmanager

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from requests_app import domain, selectors
from requests_app.domain import InvalidInput, NotPermitted
from requests_app.eligibility import EligibilityReport, NotEligible, Reason, evaluate
from requests_app.emails import owe_request_email
from requests_app.models import EventKind, RemovalRequest, Status, private_storage
from requests_app.screenshots import check_screenshot
from requests_app.services.common import (
    lock_request,
    now_or,
    policy,
    record_event,
    save_transition,
)

logger = logging.getLogger(__name__)
TICKET_ATTEMPTS = 8


def check_eligibility(*, requester, contract_number, agency=None, has_screenshot=False, now=None) -> EligibilityReport:
    today = timezone.localdate(now_or(now))
    facts, _ = selectors.eligibility_facts(
        requester=requester, contract_number=contract_number, agency=agency, has_screenshot=has_screenshot, today=today
    )
    return evaluate(facts, policy())


def _new_ticket_number() -> str:
    # Random, not sequential: a ticket number reveals nothing about volume or other tickets.
    return f"{secrets.randbelow(900_000_000) + 100_000_000:09d}"


REQUEST_OPEN = Reason(
    "request_open",
    "You already have a feedback removal request in progress. Only one job can be removed at a time; "
    "you can ask again once that request is finished.",
)


def submit_request(*, requester, contract_number, scope, agency=None, screenshot=None, now=None) -> RemovalRequest:
    """Store a request whole with its ticket number, or refuse it with every reason and store nothing."""
    now = now_or(now)
    if scope not in domain.SCOPES:
        raise ValueError(f"scope must be one of {', '.join(domain.SCOPES)}")  # the form offers only these
    checked = check_screenshot(screenshot) if screenshot else None
    with _screenshot_stored_whole_or_not(checked) as attach, transaction.atomic():
        facts, contract = selectors.eligibility_facts(
            requester=requester,
            contract_number=contract_number,
            agency=agency,
            has_screenshot=checked is not None,
            today=timezone.localdate(now),
        )
        report = evaluate(facts, policy())
        if not report.eligible:
            raise NotEligible.from_report(report)
        assert contract is not None  # an eligible request is about a contract that exists
        removal_request = RemovalRequest(
            contract=contract,
            freelancer=contract.freelancer,
            agency=contract.agency,
            requested_by=requester,
            scope=scope,
            is_special_offer=contract.is_special_offer,
            status=Status.SUBMITTED,
            submitted_at=now,
            sla_due_at=now + dt.timedelta(days=settings.PERK_SLA_DAYS),
        )
        if checked is not None:
            attach(removal_request)
        _insert_with_ticket_number(removal_request)
        event = record_event(
            removal_request,
            EventKind.SUBMITTED,
            actor=requester,
            now=now,
            message=_submitted_message(removal_request),
            data={"scope": removal_request.scope, "contract": contract.number},
        )
        owe_request_email(removal_request, "submitted", event=event, now=now)
    logger.info(
        "removal request submitted", extra={"ticket": removal_request.ticket_number, "contract": contract.number}
    )
    return removal_request


@contextmanager
def _screenshot_stored_whole_or_not(checked):
    """Yields ``attach(removal_request)``: it stores the checked screenshot under a random name in
    PRIVATE_MEDIA_ROOT (resolved now, not when the model class was built), points the row at it and returns
    the name it replaced. If the block fails (a refusal, a lost race, a rollback) the stored file is removed:
    nothing is half-written."""
    storage = private_storage()
    stored = []

    def attach(removal_request):
        name = storage.save(f"screenshots/{checked.random_name()}", ContentFile(checked.content))
        stored.append(name)
        previous = removal_request.screenshot.name
        removal_request.screenshot.name = name
        removal_request.screenshot_content_type = checked.content_type
        return previous

    try:
        yield attach
    except BaseException:
        for name in stored:
            storage.delete(name)
        raise


def _submitted_message(removal_request):
    scope = domain.SCOPE_LABELS[removal_request.scope]
    return f"Request received for contract {removal_request.contract.number} ({scope})."


def _insert_with_ticket_number(removal_request):
    """Insert, retrying on a ticket number collision. Losing a race for "one open request" (the partial
    unique constraints) becomes the ``request_open`` refusal, never a 500."""
    for _ in range(TICKET_ATTEMPTS):
        removal_request.ticket_number = _new_ticket_number()
        try:
            with transaction.atomic():
                removal_request.save(force_insert=True)
            return
        except IntegrityError as exc:
            removal_request.pk = None
            violated = _violated_constraint(exc)
            if violated == "ticket_number":
                continue
            if violated == "open_request":
                raise NotEligible([REQUEST_OPEN]) from exc
            raise
    raise RuntimeError("could not find a free ticket number")


OPEN_REQUEST_CONSTRAINTS = (
    "request_one_open_regular_per_freelancer",
    "request_one_open_regular_per_agency",
    "request_one_open_per_contract",
)
# SQLite names the columns of a violated unique index, not the index.
_SQLITE_OPEN_REQUEST_COLUMNS = tuple(
    f"requests_app_removalrequest.{column}" for column in ("freelancer_id", "agency_id", "contract_id")
)


def _violated_constraint(exc) -> str | None:
    """ "ticket_number", "open_request" or None (anything else is a bug and must surface as one)."""
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None) or ""
    text = str(exc)
    if "ticket_number" in name or "UNIQUE constraint failed: requests_app_removalrequest.ticket_number" in text:
        return "ticket_number"
    if name in OPEN_REQUEST_CONSTRAINTS or (
        "UNIQUE constraint failed" in text and any(column in text for column in _SQLITE_OPEN_REQUEST_COLUMNS)
    ):
        return "open_request"
    return None


REPLY_MAX_CHARS = 5000


def reply_to_request(removal_request, *, requester, message, screenshot=None, now=None) -> RemovalRequest:
    """The freelancer answers the agent's question, with text and optionally a new screenshot (checked like any
    other): the ticket goes back to ``submitted`` and its deadline moves on by the time it waited."""
    now = now_or(now)
    if not selectors.requests_of(requester).filter(pk=removal_request.pk).exists():
        raise NotPermitted("Only the person who asked, or whoever now acts for the contract, can reply.")
    message = (message or "").strip()
    if not message:
        raise InvalidInput("Your reply needs some text.")
    if len(message) > REPLY_MAX_CHARS:
        raise InvalidInput(f"A reply can be at most {REPLY_MAX_CHARS} characters.")
    checked = check_screenshot(screenshot) if screenshot else None
    with _screenshot_stored_whole_or_not(checked) as attach, transaction.atomic():
        locked = lock_request(removal_request)
        locked.status = domain.next_status(locked.status, domain.REPLY)
        waited = max(now - locked.waiting_since, dt.timedelta(0))
        paused_deadline = locked.sla_due_at
        locked.sla_due_at += waited
        locked.waiting_since = None
        fields = ["status", "sla_due_at", "waiting_since"]
        if checked is not None:
            previous = attach(locked)
            fields += ["screenshot", "screenshot_content_type"]
            if previous:
                # The new screenshot replaces the old one; the old file goes once the reply is stored.
                transaction.on_commit(lambda: private_storage().delete(previous))
        save_transition(locked, fields, moved_from=paused_deadline)
        record_event(
            locked,
            EventKind.REPLIED,
            actor=requester,
            now=now,
            message=message,
            data={
                "paused_seconds": int(waited.total_seconds()),
                "sla_due_at": locked.sla_due_at.isoformat(),
                "screenshot": checked is not None,
            },
        )
    logger.info("freelancer replied", extra={"ticket": locked.ticket_number})
    return locked


def withdraw_request(removal_request, *, requester, now=None) -> RemovalRequest:
    now = now_or(now)
    if not selectors.requests_of(requester).filter(pk=removal_request.pk).exists():
        raise NotPermitted("Only the person who asked, or the contract's owner, can withdraw this request.")
    with transaction.atomic():
        locked = lock_request(removal_request)
        locked.status = domain.next_status(locked.status, domain.WITHDRAW)
        locked.waiting_since = None
        save_transition(locked, ["status", "waiting_since"])
        record_event(locked, EventKind.WITHDRAWN, actor=requester, now=now, message="You withdrew this request.")
    return locked
