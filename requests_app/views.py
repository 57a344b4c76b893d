"""Freelancer pages. Views read through selectors and write through services only."""

import datetime as dt
import os

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from jss import selectors as jss_selectors
from requests_app import domain, selectors, services, throttle
from requests_app.eligibility import EligibilityFacts, Policy, evaluate
from requests_app.forms import SCOPE_HELP, RemovalRequestForm, ReplyForm
from requests_app.models import Status, private_storage
from requests_app.services.common import policy

CONTRACTS_PER_PAGE = 25
SUMMARISED_CODES = ("request_open", "cooldown_months", "cooldown_jobs", "screenshot_required")


@login_required
@require_safe
def my_requests(request):
    tickets = selectors.requests_of(request.user).order_by("-submitted_at")
    return render(
        request,
        "requests_app/my_requests.html",
        {"tickets": tickets, "freelancer": selectors.freelancer_for_user(request.user)},
    )


# --- my contracts ----------------------------------------------------------------------------------


@login_required
@require_safe
def my_contracts(request):
    now = timezone.now()
    today = timezone.localdate(now)
    freelancer = selectors.freelancer_for_user(request.user)
    if freelancer is None:
        return render(request, "requests_app/my_contracts.html", {"freelancer": None})
    memberships = selectors.memberships_of(freelancer)
    page = Paginator(selectors.contracts_of(freelancer, memberships), CONTRACTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    contracts = list(page.object_list)
    # Every subject the person has: a status card for each, whatever page of contracts is shown.
    keys = _subject_keys(freelancer, memberships)
    states = selectors.subject_states(keys, today=today)
    rules = policy()
    rows = _contract_rows(contracts, freelancer, memberships, states, today, rules)
    # The published score only: a live figure per contract would let a client's private feedback be inferred.
    scores = jss_selectors.published_scores(keys, now=now)
    subjects = _subject_summaries(freelancer, memberships, states, scores, today, rules)
    return render(
        request,
        "requests_app/my_contracts.html",
        {"freelancer": freelancer, "rows": rows, "page": page, "subjects": subjects},
    )


def _subject_keys(freelancer, memberships):
    return {("freelancer", freelancer.pk)} | {("agency", agency_id) for agency_id in memberships}


def _contract_rows(contracts, freelancer, memberships, states, today, rules: Policy):
    """Each contract with the rules evaluated for it now (no screenshot attached)."""
    rows = []
    for contract in contracts:
        facts = selectors.contract_eligibility_facts(
            contract=contract,
            freelancer=freelancer,
            memberships=memberships,
            state=states[selectors.subject_key(contract)],
            today=today,
        )
        report = evaluate(facts, rules)
        rows.append(
            {
                "contract": contract,
                "report": report,
                "needs_screenshot_only": report.codes() == ("screenshot_required",),
                "feedback": _feedback(contract),
            }
        )
    return rows


def _feedback(contract):
    try:
        return contract.feedback
    except contract.__class__.feedback.RelatedObjectDoesNotExist:
        return None


def _subject_summaries(freelancer, memberships, states, scores, today, rules: Policy):
    """One line per subject: Top Rated status, the open ticket, the cooldown. It comes from the rules
    evaluated for a fresh regular contract of the subject, so it says what the form would say."""
    summaries = []
    for (kind, pk), state in sorted(states.items(), key=lambda item: item[0][0] != "freelancer"):
        if kind == "agency":
            membership = memberships.get(pk)
            if membership is None:
                continue
            name, role = membership.agency.name, membership.role
            account_status = membership.agency.account_status
        else:
            name, role, account_status = "You", None, freelancer.account_status
        facts = EligibilityFacts(
            today=today,
            requester_account_status=freelancer.account_status,
            agency_contract=kind == "agency",
            is_own_contract=kind == "freelancer",
            requester_agency_role=role,
            agency_account_status=account_status if kind == "agency" else None,
            subject_open_regular_request=any(
                t.status in domain.OPEN_STATUSES and not t.is_special_offer for t in state.tickets
            ),
            subject_top_rated_now=state.top_rated_now,
            status_lost_on=state.status_lost_on,
            status_loss_reason=state.status_loss_reason,
            last_counted_request_submitted_on=state.last_counted_on,
            upwork_jobs_ended_since=state.upwork_jobs_ended_since,
        )
        report = evaluate(facts, rules)
        summaries.append(
            {
                "kind": kind,
                "name": name,
                "role": memberships[pk].get_role_display() if kind == "agency" else "",
                "state": state,
                "grace_ends_on": (
                    state.status_lost_on + dt.timedelta(days=rules.grace_days) if report.in_grace_window else None
                ),
                "open_tickets": [t for t in state.tickets if t.status in domain.OPEN_STATUSES],
                "report": report,
                # The open ticket, the cooldown and the grace window each have their own line on the card.
                "reasons": [r for r in report.reasons if r.code not in SUMMARISED_CODES],
                "score": scores.get((kind, pk)),
            }
        )
    return summaries


# --- the request form ------------------------------------------------------------------------------


@login_required
@never_cache
def new_request(request):
    freelancer = selectors.freelancer_for_user(request.user)
    agencies = selectors.agencies_user_may_act_for(request.user, freelancer=freelancer)
    cooldown_summary = ""
    if request.method == "POST":
        # A body larger than any valid request was refused (413) by perkdesk.middleware.BodySizeGuard.
        allowance = throttle.peek(request.user)
        if not allowance.allowed:
            return _rate_limited(request, allowance)
        form = RemovalRequestForm(request.POST, request.FILES, agencies=agencies)
        counted = bool(request.FILES)
        if counted:
            # Checking a file costs a decode: every attempt that carries one counts, before it is checked and
            # whatever else is wrong with the form.
            allowance = throttle.record(request.user)
            if not allowance.allowed:
                return _rate_limited(request, allowance)
        if form.is_valid():
            if not counted:
                allowance = throttle.record(request.user)
                if not allowance.allowed:
                    return _rate_limited(request, allowance)
            try:
                removal_request = services.submit_request(
                    requester=request.user,
                    contract_number=form.cleaned_data["contract"],
                    scope=form.cleaned_data["scope"],
                    agency=form.cleaned_data["agency"],
                    screenshot=form.checked_screenshot,
                )
            except services.NotEligible as refusal:
                form.add_refusal(refusal)
                cooldown_summary = refusal.report.cooldown_summary if refusal.report else ""
            else:
                messages.success(
                    request,
                    "Your request has been submitted. We will email you as soon as we can.",
                )
                return redirect("requests_app:request_detail", ticket_number=removal_request.ticket_number)
    elif request.method in ("GET", "HEAD"):
        number = "".join(request.GET.get("contract", "").split())[:20]
        initial = {"contract": number}
        contract = selectors.contract_for_number(number) if number else None
        if contract is not None and contract.agency_id and any(a.pk == contract.agency_id for a in agencies):
            initial["agency"] = contract.agency.public_id
        form = RemovalRequestForm(initial=initial, agencies=agencies)
    else:
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    return _render_form(request, form, freelancer, cooldown_summary)


def _perk_options(freelancer):
    """What the perk can do for this person now: the subjects' cards (status, reasons, dates) and the ended
    contracts it can take, each with whether a screenshot must come with it. Evaluated as the service will."""
    if freelancer is None:
        return {"subjects": [], "options": [], "screenshot_for": []}
    now = timezone.now()
    today = timezone.localdate(now)
    memberships = selectors.memberships_of(freelancer)
    keys = _subject_keys(freelancer, memberships)
    states = selectors.subject_states(keys, today=today)
    rules = policy()
    candidates = selectors.contracts_of(freelancer, memberships).filter(ended_on__isnull=False, ended_on__lte=today)
    rows = _contract_rows(candidates, freelancer, memberships, states, today, rules)
    options = [row for row in rows if row["report"].eligible or row["needs_screenshot_only"]]
    scores = jss_selectors.published_scores(keys, now=now)
    subjects = _subject_summaries(freelancer, memberships, states, scores, today, rules)
    return {
        "subjects": subjects,
        "options": options,
        "screenshot_for": [s for s in subjects if s["grace_ends_on"] and s["state"].status_loss_reason],
    }


def _render_form(request, form, freelancer, cooldown_summary, status=200):
    # The number as the service saw it (digits only), never the raw input, in "Nothing was sent for …".
    typed = "".join(str(form["contract"].value() or "").split())
    options = _perk_options(freelancer)
    return render(
        request,
        "requests_app/new_request.html",
        {
            "form": form,
            "chosen": typed,
            "sent_number": typed if typed.isascii() and typed.isdigit() else "",
            **options,
            "chosen_unavailable": bool(typed)
            and not form.errors
            and typed not in {row["contract"].number for row in options["options"]},
            "freelancer": freelancer,
            "cooldown_summary": cooldown_summary,
            "allowance": throttle.peek(request.user),
            "policy": policy(),
            "sla_days": settings.PERK_SLA_DAYS,
            "screenshot_mb": settings.SCREENSHOT_MAX_BYTES // (1024 * 1024),
        },
        status=status,
    )


def _rate_limited(request, allowance):
    response = render(
        request,
        "requests_app/rate_limited.html",
        {"allowance": allowance, "minutes": max(1, round(allowance.retry_after_seconds / 60))},
        status=429,
    )
    response["Retry-After"] = str(allowance.retry_after_seconds)
    return response


# --- one ticket ------------------------------------------------------------------------------------


@login_required
@require_safe
def request_detail(request, ticket_number):
    removal_request = selectors.request_for_viewer(request.user, ticket_number)
    if removal_request is None:
        raise Http404("No such ticket.")
    return _render_detail(request, removal_request)


def _render_detail(request, removal_request, *, reply_form=None, status=200):
    now = timezone.now()
    is_requester_side = not request.user.is_staff or removal_request.requested_by_id == request.user.pk
    timeline = selectors.public_timeline(removal_request)
    published = None
    if removal_request.status == Status.APPLIED:
        key = selectors.subject_key(removal_request.contract)
        published = jss_selectors.published_scores([key], now=now)[key]
    waiting = removal_request.status == Status.WAITING_ON_FREELANCER
    questions = [e for e in timeline if e.kind == "info_requested"]
    return render(
        request,
        "requests_app/request_detail.html",
        {
            "r": removal_request,
            "timeline": timeline,
            "published": published,
            # The update that decided the outcome: a fact on the exclusion, not read back from the timeline.
            "outcome_on": removal_request.exclusion.outcome_as_of if removal_request.exclusion_id else None,
            "can_withdraw": is_requester_side
            and removal_request.status in (Status.SUBMITTED, Status.WAITING_ON_FREELANCER),
            "can_reply": is_requester_side and waiting,
            "question": questions[-1] if waiting and questions else None,
            "reply_by": (
                removal_request.waiting_since + dt.timedelta(days=settings.PERK_REPLY_DAYS) if waiting else None
            ),
            "reply_form": reply_form or ReplyForm(),
            "sla_days": settings.PERK_SLA_DAYS,
            "countdown": (
                _countdown(removal_request.sla_due_at - now)
                if removal_request.status in (Status.SUBMITTED, Status.APPROVED)
                else ""
            ),
            "overdue": removal_request.status in (Status.SUBMITTED, Status.APPROVED)
            and removal_request.sla_due_at < now,
            "scope_help": SCOPE_HELP[removal_request.scope],
        },
        status=status,
    )


@login_required
@require_POST
def reply_to_request(request, ticket_number):
    """The freelancer's answer to the agent's question (SPEC §6: fields ``message``, ``screenshot``)."""
    removal_request = selectors.request_for_owner(request.user, ticket_number)
    if removal_request is None:
        raise Http404("No such ticket.")
    if request.FILES:
        # Checking a file costs a decode: every attempt that carries one counts towards the hourly limit.
        allowance = throttle.record(request.user)
        if not allowance.allowed:
            return _rate_limited(request, allowance)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_detail(request, removal_request, reply_form=form, status=400)
    try:
        services.reply_to_request(
            removal_request,
            requester=request.user,
            message=form.cleaned_data["message"],
            screenshot=form.checked_screenshot,
        )
    except services.NotPermitted:
        raise Http404("No such ticket.") from None
    except services.Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Thank you: your reply was sent. The support team will pick your request up again.")
    return redirect("requests_app:request_detail", ticket_number=ticket_number)


def _countdown(delta):
    """'3 days 4 hours' (or hours and minutes on the last day) until a moment; '' once it has passed."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60

    def unit(n, word):
        return f"{n} {word}{'' if n == 1 else 's'}"

    if days:
        return f"{unit(days, 'day')} {unit(hours, 'hour')}"
    if hours:
        return f"{unit(hours, 'hour')} {unit(minutes, 'minute')}"
    return unit(max(1, minutes), "minute")


@login_required
@require_POST
def withdraw_request(request, ticket_number):
    removal_request = selectors.request_for_owner(request.user, ticket_number)
    if removal_request is None:
        raise Http404("No such ticket.")
    try:
        services.withdraw_request(removal_request, requester=request.user)
    except services.InvalidTransition as exc:
        messages.error(request, str(exc))
    except services.NotPermitted:
        raise Http404("No such ticket.") from None
    else:
        messages.success(request, "You withdrew this request. Nothing will be removed.")
    return redirect("requests_app:request_detail", ticket_number=ticket_number)


@login_required
@require_safe
def request_screenshot(request, ticket_number):
    removal_request = selectors.request_for_viewer(request.user, ticket_number)
    if removal_request is None or not removal_request.screenshot:
        raise Http404("No such screenshot.")
    name = removal_request.screenshot.name
    try:
        handle = private_storage().open(name, "rb")
    except FileNotFoundError:
        raise Http404("No such screenshot.") from None
    extension = os.path.splitext(name)[1].lstrip(".").lower() or "bin"
    response = FileResponse(handle, content_type=removal_request.screenshot_content_type or "application/octet-stream")
    response["Content-Disposition"] = f'inline; filename="screenshot-{removal_request.ticket_number}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
