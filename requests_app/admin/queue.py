"""The agents' queue: the changelist, its filters and columns, and the bulk actions."""

import datetime as dt

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from requests_app import domain, reports, selectors, services
from requests_app.admin.forms import ApproveForm, ReassignForm, RejectForm
from requests_app.csv_download import streamed_csv
from requests_app.formatting import duration_text
from requests_app.models import OPEN, RemovalRequest, Status
from requests_app.services.common import QUEUE_DOWN_WARNING, queue_failures
from requests_app.services.decisions import display_name

# One bulk action touches at most this many tickets: each is its own locked transaction.
MAX_BULK = 100
# The list counts its rows up to here and says "more than" beyond: an exact count of a final status is a scan
# of most of the table (77 ms for "applied" at 1,000,000 tickets), and nobody pages 200 pages deep.
COUNT_CAP = 10_000

REFUSALS = (services.Refused,)  # every business refusal (domain.Refused), reported with message_user


# --- how times read ------------------------------------------------------------------------------


def sla_state(ticket, now) -> tuple[str, str]:
    """(badge class, text) of a ticket's SLA: time left, at risk, breached; how long it took once final."""
    if ticket.status == Status.APPLIED and ticket.applied_at:
        took = duration_text(ticket.applied_at - ticket.submitted_at)
        late = ticket.applied_at > ticket.sla_due_at
        return ("bad" if late else "ok"), f"applied in {took}" + (" (late)" if late else "")
    if ticket.status not in OPEN:
        return "muted", "—"
    left = ticket.sla_due_at - now
    if domain.is_breached(sla_due_at=ticket.sla_due_at, now=now):
        return "bad", f"breached {duration_text(-left)} ago"
    at_risk = domain.is_at_risk(sla_due_at=ticket.sla_due_at, now=now, window=reports.at_risk_window())
    return ("warn" if at_risk else "ok"), f"{duration_text(left)} left"


def badge(css, text):
    return format_html('<span class="pd-badge {}">{}</span>', css, text)


# --- filters ----------------------------------------------------------------------------------------


class QueueStatusFilter(admin.SimpleListFilter):
    """Open tickets by default (the work to do); any status on request. A search looks through every status,
    because an agent looking a ticket up by its number wants it whatever became of it."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*Status.choices, (self.ALL, "All")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Any (searching)" if changelist.query else "Open (submitted, waiting or approved)",
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            if request.GET.get("q", "").strip():
                return queryset
            if request.GET.get(SlaFilter.parameter_name) in SlaFilter.RUNNING_ONLY:
                # At risk and breached are running tickets, open already; "open" on top of them makes PostgreSQL
                # misjudge the two status lists together and sort every match instead of reading a page.
                return queryset
            return queryset.filter(status__in=OPEN)
        if value in Status.values:
            return queryset.filter(status=value)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        return [("mine", "Mine"), ("unassigned", "Unassigned")]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            return queryset.filter(assigned_to_id=request.user.pk)
        if self.value() == "unassigned":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


class SlaFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"
    RUNNING_ONLY = ("at_risk", "breached")  # both choices keep only tickets whose SLA clock runs

    def lookups(self, request, model_admin):
        hours = int(reports.at_risk_window().total_seconds() // 3600)
        return [("at_risk", f"At risk (< {hours} h left)"), ("breached", "Breached")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "at_risk":
            return queryset.filter(reports.at_risk_q(now))
        if self.value() == "breached":
            return queryset.filter(reports.breached_q(now))
        return queryset


class QueuePaginator(Paginator):
    """Counts at most ``COUNT_CAP`` + 1 rows, in no order (any rows will do for a count); the pages themselves
    keep the list's order. Beyond the cap the list says "more than" and offers the pages up to it."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap


class ExportChangeList(ChangeList):
    """The changelist's filters, search and ordering without its page: the export reads every row."""

    def get_results(self, request):
        self.result_count = self.full_result_count = None
        self.result_list = []
        self.can_show_all = self.multi_page = False


EXPORT_HEADER = (
    "Ticket",
    "Status",
    "Submitted at (UTC)",
    "SLA due at (UTC)",
    "Freelancer",
    "Agency",
    "Client",
    "Contract ID",
    "Scope",
    "Special Offer",
    "Assignee",
    "Decided at (UTC)",
    "Rejection reason",
    "Applied at (UTC)",
    "JSS outcome",
)


def _utc(moment):
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def export_line(row):
    """One ticket of ``selectors.queue_export_rows`` as the CSV's columns (``EXPORT_HEADER``)."""
    (ticket, status, submitted, due, freelancer, agency, client, contract, scope, offer) = row[:10]
    first, last, username, decided, reason, applied, outcome = row[10:]
    assignee = f"{first} {last}".strip() or username or ""
    return (
        ticket,
        domain.STATUS_LABELS.get(status, status),
        _utc(submitted),
        _utc(due),
        freelancer,
        agency or "",
        client,
        contract,
        domain.SCOPE_SHORT_LABELS.get(scope, scope),
        "yes" if offer else "no",
        assignee,
        _utc(decided),
        reason or "",
        _utc(applied),
        outcome,
    )


class QueueAdminMixin:
    """The changelist half of ``RemovalRequestAdmin``."""

    change_list_template = "admin/requests_app/removalrequest/change_list.html"
    paginator = QueuePaginator

    # --- the list ---

    def changelist_view(self, request, extra_context=None):
        # The queue needs the width more than the admin's model menu.
        context = {
            "is_nav_sidebar_enabled": False,
            "title": "Removal requests",
            "export_url": self.export_url(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def export_url(self, request):
        """The export of what the list shows now: every filter, the search and the sort, but not the page."""
        params = request.GET.copy()
        for name in ("p", "e", "_changelist_filters"):
            params.pop(name, None)
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_export")
        return f"{url}?{params.urlencode()}" if params else url

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        export = path("export/", self.admin_site.admin_view(self.export_view), name="{}_{}_export".format(*info))
        return [export, *super().get_urls()]

    def get_changelist(self, request, **kwargs):
        return ExportChangeList if getattr(request, "_queue_export", False) else super().get_changelist(request)

    def export_view(self, request):
        """The filtered queue as CSV (agents and leads: whoever may read the queue), streamed in chunks."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        request._queue_export = True
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{url}?e=1")
        rows = (export_line(row) for row in selectors.queue_export_rows(changelist.queryset))
        stamp = timezone.now().astimezone(dt.UTC).strftime("%Y%m%d-%H%M")
        return streamed_csv(f"removal-requests-{stamp}.csv", EXPORT_HEADER, rows)

    def get_ordering(self, request):
        status = request.GET.get(QueueStatusFilter.parameter_name)
        searching = bool(request.GET.get("q", "").strip())
        if status in (None, Status.SUBMITTED, Status.APPROVED) and not (status is None and searching):
            return ("sla_due_at", "pk")  # most urgent first
        return ("-submitted_at", "-pk")  # history: newest first

    def get_search_results(self, request, queryset, search_term):
        """Index-friendly lookups chosen by the shape of the term, never an OR across joined tables."""
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(selectors.queue_search_q(term)), False
        except selectors.SearchTooBroad:
            messages.warning(request, f"“{term}” matches too many names; type more of the name.")
            return queryset.none(), False

    def action_checkbox(self, obj):
        # Django renders this through a form widget and its template, a third of a 100-row page's time.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="Select ticket {}">',
            admin.helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            obj.ticket_number,
        )

    @admin.display(description="Ticket", ordering="ticket_number")
    def ticket(self, obj):
        return format_html('<span class="pd-mono">{}</span>', obj.ticket_number)

    @admin.display(description="Freelancer or agency")
    def who(self, obj):
        if obj.agency_id:
            return format_html('{} <span class="pd-muted">· {}</span>', obj.agency.name, obj.freelancer.name)
        return obj.freelancer.name

    @admin.display(description="Contract ID")
    def contract_number(self, obj):
        return format_html('<span class="pd-mono">{}</span>', obj.contract.number)

    @admin.display(description="Scope")
    def scope_label(self, obj):
        # The Special Offer badge rides in the scope's cell: one column fewer, so the queue fits 1280 px.
        scope = domain.SCOPE_SHORT_LABELS.get(obj.scope, obj.scope)
        if obj.is_special_offer:
            return format_html("{}<br>{}", scope, badge("info", "Special Offer"))
        return scope

    @admin.display(description="Status")
    def status_badge(self, obj):
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="SLA", ordering="sla_due_at")
    def sla(self, obj):
        css, text = sla_state(obj, timezone.now())
        return badge(css, text) if css != "muted" else text

    @admin.display(description="Assignee")
    def assignee(self, obj):
        return display_name(obj.assigned_to) if obj.assigned_to_id else mark_safe('<span class="pd-muted">—</span>')

    @admin.display(description="Age", ordering="-submitted_at")
    def age(self, obj):
        return format_html(
            '<span title="Submitted {}">{}</span>',
            timezone.localtime(obj.submitted_at).strftime("%Y-%m-%d %H:%M"),
            duration_text(timezone.now() - obj.submitted_at),
        )

    # --- bulk actions: one service call (one locked transaction) per ticket ---

    @staticmethod
    def _targets(request, queryset):
        """The tickets the agent ticked. Django narrows them to the list's current filters; a ticket that
        left the filter since the page was drawn (decided by someone else) must be reported, not dropped."""
        if request.POST.get("select_across") == "1":
            return queryset
        ids = [pk for pk in request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME) if str(pk).isdigit()]
        return RemovalRequest.objects.filter(pk__in=ids)

    def _each(self, request, queryset, *, done_verb, call, to=""):
        tickets = list(self._targets(request, queryset).order_by("pk")[: MAX_BULK + 1])
        if len(tickets) > MAX_BULK:
            self.message_user(
                request, f"Select at most {MAX_BULK} tickets at a time; nothing was changed.", messages.ERROR
            )
            return
        done = []
        with queue_failures() as not_queued:
            for ticket in tickets:
                try:
                    call(ticket)
                except REFUSALS as exc:
                    self.message_user(
                        request, f"Ticket {ticket.ticket_number} not {done_verb}: {exc}", messages.WARNING
                    )
                else:
                    done.append(ticket.ticket_number)
        if done:
            noun = "ticket" if len(done) == 1 else "tickets"
            self.message_user(
                request,
                f"{done_verb[:1].upper()}{done_verb[1:]} {len(done)} {noun}{to}: {', '.join(done)}.",
                messages.SUCCESS,
            )
        if not_queued:
            self.message_user(request, QUEUE_DOWN_WARNING, messages.WARNING)

    @admin.action(description="Claim selected tickets", permissions=["claim"])
    def claim_selected(self, request, queryset):
        self._each(request, queryset, done_verb="claimed", call=lambda t: services.claim_request(t, agent=request.user))

    @admin.action(description="Approve selected tickets…", permissions=["approve"])
    def approve_selected(self, request, queryset):
        form = ApproveForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            message = form.public_message()
            self._each(
                request,
                queryset,
                done_verb="approved",
                call=lambda t: services.approve_request(t, agent=request.user, message=message),
            )
            return None
        return self._pick_page(
            request, self._selected(self._targets(request, queryset)), form, kind="approve", bulk=True
        )

    @admin.action(description="Reject selected tickets…", permissions=["reject"])
    def reject_selected(self, request, queryset):
        form = RejectForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason, message = form.cleaned_data["reason"], form.cleaned_data["message"]
            self._each(
                request,
                queryset,
                done_verb="rejected",
                call=lambda t: services.reject_request(t, agent=request.user, reason=reason, message=message),
            )
            return None
        return self._pick_page(
            request, self._selected(self._targets(request, queryset)), form, kind="reject", bulk=True
        )

    @admin.action(description="Reassign selected tickets…", permissions=["reassign"])
    def reassign_selected(self, request, queryset):
        form = ReassignForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            assignee = form.cleaned_data["assignee"]
            self._each(
                request,
                queryset,
                done_verb="reassigned",
                to=f" to {display_name(assignee)}",
                call=lambda t: services.reassign_request(t, lead=request.user, assignee=assignee),
            )
            return None
        return self._pick_page(
            request, self._selected(self._targets(request, queryset)), form, kind="reassign", bulk=True
        )

    @staticmethod
    def _selected(queryset):
        return selectors.tickets_with_rows(queryset, limit=MAX_BULK)

    def _pick_page(self, request, tickets, form, *, kind, bulk):
        """The page between a click and a reject/reassign: the tickets, and the reason or the person."""
        verb = {"approve": "Approve", "ask": "Ask about", "reject": "Reject", "reassign": "Reassign"}[kind]
        context = {
            **self.admin_site.each_context(request),
            "is_nav_sidebar_enabled": False,
            "opts": self.model._meta,
            "title": f"{verb} tickets" if bulk else f"{verb} ticket {tickets[0].ticket_number}",
            "tickets": tickets[:MAX_BULK],
            "too_many": len(tickets) > MAX_BULK,
            "max_bulk": MAX_BULK,
            "form": form,
            "bulk": bulk,
            "action": f"{kind}_selected",
            "reasons": [(code, *domain.REJECTION_REASONS[code]) for code in domain.AGENT_REJECTION_REASONS],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "approval_messages": [(code, label, text) for code, (label, text) in domain.APPROVAL_MESSAGES.items()],
            "sla_days": settings.PERK_SLA_DAYS,
            "reply_days": settings.PERK_REPLY_DAYS,
            # Acting on a ticket someone else holds: the page says whose, before the agent confirms.
            "held_by_others": [
                t for t in tickets[:MAX_BULK] if t.assigned_to_id is not None and t.assigned_to_id != request.user.pk
            ],
        }
        return TemplateResponse(request, f"admin/requests_app/removalrequest/{kind}.html", context)
