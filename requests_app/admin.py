"""The agents' queue: removal requests in the admin.

Everything here reads, or calls a service. Nothing on these pages can change a ticket's fields directly:
the change page is read-only for every user (superusers too), there is no add or delete, and each action
(claim, approve, reject, note, reassign) re-checks the ticket through the services one by one and reports
each refusal with its ticket number.
"""


from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from jss.services import preview_removal
from marketplace.admin import ReadOnlyAdminMixin
from marketplace.models import Agency, Contract, Freelancer
from requests_app import domain, reports, services
from requests_app.formatting import duration_text
from requests_app.models import OPEN, RemovalRequest, RequestEvent, Status
from requests_app.services.common import QUEUE_DOWN_WARNING, queue_failures
from requests_app.services.decisions import display_name

# One bulk action touches at most this many tickets: each is its own locked transaction.
MAX_BULK = 100
# A name search that matches more people than this is too broad to be useful (and to stay on indexes).
MAX_NAME_MATCHES = 500


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
            "display": "Any (searching)" if changelist.query else "Open (submitted or approved)",
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
            return queryset if request.GET.get("q", "").strip() else queryset.filter(status__in=OPEN)
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


# --- forms ------------------------------------------------------------------------------------------


class RejectForm(forms.Form):
    reason = forms.ChoiceField(
        choices=domain.REJECTION_REASON_CHOICES,
        widget=forms.RadioSelect,
        help_text="The freelancer receives the reason's standard message.",
    )
    message = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Message to the freelancer",
        help_text="Added below the standard message. Required for “Other”.",
    )

    def clean(self):
        data = super().clean()
        if data.get("reason") == domain.OTHER and not (data.get("message") or "").strip():
            self.add_error("message", "Tell the freelancer why: “Other” has no standard explanation.")
        return data


class NoteForm(forms.Form):
    message = forms.CharField(
        max_length=5000, widget=forms.Textarea(attrs={"rows": 3}), label="Internal note", strip=True
    )


def queue_workers():
    """Active staff who may work the queue: the choices of a reassignment."""
    User = get_user_model()
    can_claim = Q(groups__permissions__codename="claim_removalrequest") | Q(
        user_permissions__codename="claim_removalrequest"
    )
    ids = User.objects.filter(is_active=True, is_staff=True).filter(can_claim | Q(is_superuser=True)).values("pk")
    return User.objects.filter(pk__in=ids).order_by("first_name", "last_name", "username")


class ReassignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None, required=False, empty_label="— nobody (back to the queue) —")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = queue_workers()
        self.fields["assignee"].label_from_instance = display_name


# --- the admin --------------------------------------------------------------------------------------


@admin.register(RemovalRequest)
class RemovalRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "ticket",
        "who",
        "contract_number",
        "scope_label",
        "special_offer",
        "status_badge",
        "sla",
        "assignee",
        "age",
    )
    list_display_links = ("ticket",)
    sortable_by = ("ticket", "sla", "age")
    list_filter = (QueueStatusFilter, AssigneeFilter, SlaFilter, "scope", "is_special_offer")
    list_select_related = ("contract", "freelancer", "agency", "assigned_to")
    list_per_page = 50
    list_max_show_all = 200
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice is a full scan each on a big queue
    empty_value_display = "—"
    search_fields = ("ticket_number",)  # shows the search box; get_search_results does the work
    search_help_text = "Ticket number or Contract ID (exact), freelancer name or email, agency name."
    actions = ("claim_selected", "approve_selected", "reject_selected", "reassign_selected")
    change_form_template = "admin/requests_app/removalrequest/change_form.html"

    # --- permissions: view for agents; transitions by custom permission; no add/change/delete ever ---

    def _has(self, request, codename):
        return request.user.is_active and request.user.has_perm(f"requests_app.{codename}")

    def has_claim_permission(self, request):
        return self._has(request, "claim_removalrequest")

    def has_approve_permission(self, request):
        return self._has(request, "approve_removalrequest")

    def has_reject_permission(self, request):
        return self._has(request, "reject_removalrequest")

    def has_note_permission(self, request):
        return self._has(request, "add_note_removalrequest")

    def has_reassign_permission(self, request):
        return self._has(request, "reassign_removalrequest")

    # --- the list ---

    def changelist_view(self, request, extra_context=None):
        # The queue needs the width more than the admin's model menu.
        context = {"is_nav_sidebar_enabled": False, "title": "Removal requests", **(extra_context or {})}
        return super().changelist_view(request, context)

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
        if term.isdigit():
            contracts = list(Contract.objects.filter(number=term).values_list("pk", flat=True)[:1])
            return queryset.filter(Q(ticket_number=term) | Q(contract_id__in=contracts)), False
        if "@" in term:
            users = list(get_user_model().objects.filter(email__iexact=term).values_list("pk", flat=True)[:50])
            freelancers = list(Freelancer.objects.filter(user_id__in=users).values_list("pk", flat=True))
            return queryset.filter(Q(freelancer_id__in=freelancers) | Q(requested_by_id__in=users)), False
        freelancers = list(
            Freelancer.objects.filter(name__icontains=term).values_list("pk", flat=True)[: MAX_NAME_MATCHES + 1]
        )
        agencies = list(
            Agency.objects.filter(name__icontains=term).values_list("pk", flat=True)[: MAX_NAME_MATCHES + 1]
        )
        if len(freelancers) > MAX_NAME_MATCHES or len(agencies) > MAX_NAME_MATCHES:
            messages.warning(request, f"“{term}” matches too many names; type more of the name.")
            return queryset.none(), False
        return queryset.filter(Q(freelancer_id__in=freelancers) | Q(agency_id__in=agencies)), False

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
        return domain.SCOPE_SHORT_LABELS.get(obj.scope, obj.scope)

    @admin.display(description="Special Offer")
    def special_offer(self, obj):
        return badge("info", "Special Offer") if obj.is_special_offer else ""

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

    @admin.action(description="Approve selected tickets", permissions=["approve"])
    def approve_selected(self, request, queryset):
        self._each(
            request, queryset, done_verb="approved", call=lambda t: services.approve_request(t, agent=request.user)
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
        related = ("contract", "freelancer", "agency", "assigned_to")
        return list(queryset.select_related(*related).order_by("pk")[: MAX_BULK + 1])

    def _pick_page(self, request, tickets, form, *, kind, bulk):
        """The page between a click and a reject/reassign: the tickets, and the reason or the person."""
        verb = {"reject": "Reject", "reassign": "Reassign"}[kind]
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
            "reasons": [(code, label, canned) for code, (label, canned) in domain.REJECTION_REASONS.items()],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, f"admin/requests_app/removalrequest/{kind}.html", context)

    # --- the ticket page ---

    def get_object(self, request, object_id, from_field=None):
        if not str(object_id).isdigit():
            return None
        return (
            RemovalRequest.objects.select_related(
                "contract",
                "contract__client",
                "freelancer",
                "freelancer__user",
                "agency",
                "requested_by",
                "assigned_to",
                "decided_by",
            )
            .filter(pk=object_id)
            .first()
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            raise PermissionDenied  # nothing on a ticket is edited through a form, for anybody
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self.ticket_context(request, obj))
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def ticket_context(self, request, ticket):
        now = timezone.now()
        css, sla_text = sla_state(ticket, now)
        allowed = domain.allowed_actions(ticket.status)
        can = {
            "claim": ticket.is_open and self.has_claim_permission(request),
            "approve": domain.APPROVE in allowed and self.has_approve_permission(request),
            "reject": domain.REJECT in allowed and self.has_reject_permission(request),
            "note": self.has_note_permission(request),
            "reassign": ticket.is_open and self.has_reassign_permission(request),
        }
        can["claim"] = can["claim"] and ticket.assigned_to_id is None
        return {
            "is_nav_sidebar_enabled": False,
            "subtitle": None,
            "ticket": ticket,
            "sla_css": css,
            "sla_text": sla_text,
            "can": can,
            "eligibility": self.eligibility_now(ticket, now) if ticket.status == Status.SUBMITTED else None,
            "preview": self.jss_preview(ticket, now),
            "timeline": [
                (event, display_name(event.actor) if event.actor_id else "system")
                for event in RequestEvent.objects.filter(request=ticket)
                .select_related("actor")
                .order_by("created_at", "pk")
            ],
            "names": {
                "requester": display_name(ticket.requested_by),
                "assignee": display_name(ticket.assigned_to) if ticket.assigned_to_id else "",
                "decider": display_name(ticket.decided_by) if ticket.decided_by_id else "",
            },
            "note_form": NoteForm(),
            "screenshot_url": f"/requests/{ticket.ticket_number}/screenshot/" if ticket.screenshot else "",
            "rejection_label": domain.REJECTION_REASONS[ticket.rejection_reason][0] if ticket.rejection_reason else "",
            "scope_label": domain.SCOPE_LABELS.get(ticket.scope, ticket.scope),
            "urls": {name: self._url(name, ticket) for name in ("claim", "approve", "reject", "note", "reassign")},
        }

    @staticmethod
    def eligibility_now(ticket, now):
        """The rules as they stand now for the person who asked. This open ticket is itself an open request
        for its contract, so ``request_open`` always fires because of it and is left out: the database allows
        no other open request for the contract, and evaluate() only looks at the subject's other requests when
        the contract has none open."""
        report = services.check_eligibility(
            requester=ticket.requested_by,
            contract_number=ticket.contract.number,
            agency=ticket.agency,
            has_screenshot=bool(ticket.screenshot),
            now=now,
        )
        return [reason for reason in report.reasons if reason.code != "request_open"]

    @staticmethod
    def jss_preview(ticket, now):
        if ticket.status in (Status.REJECTED, Status.WITHDRAWN):
            return None
        return preview_removal(ticket.contract, as_of=timezone.localdate(now))

    # --- the ticket page's buttons: POST only, one service call each ---

    def get_urls(self):
        views = [
            ("claim", self.claim_view),
            ("approve", self.approve_view),
            ("reject", self.reject_view),
            ("note", self.note_view),
            ("reassign", self.reassign_view),
        ]
        info = self.opts.app_label, self.opts.model_name
        custom = [
            path(f"<int:object_id>/{name}/", self.admin_site.admin_view(view), name="{}_{}_{}".format(*info, name))
            for name, view in views
        ]
        return custom + super().get_urls()

    def _url(self, name, ticket):
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=[ticket.pk])

    def _ticket_for(self, request, object_id, allowed):
        if not allowed(request):
            raise PermissionDenied
        return get_object_or_404(RemovalRequest.objects.select_related("contract"), pk=object_id)

    def _back(self, ticket):
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[ticket.pk])
        )

    def _run(self, request, ticket, done, call):
        with queue_failures() as not_queued:
            try:
                call()
            except REFUSALS as exc:
                self.message_user(request, f"Ticket {ticket.ticket_number}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Ticket {ticket.ticket_number} {done}.", messages.SUCCESS)
        if not_queued:
            self.message_user(request, QUEUE_DOWN_WARNING, messages.WARNING)
        return self._back(ticket)

    def claim_view(self, request, object_id):
        return require_POST(self._claim)(request, object_id)

    def _claim(self, request, object_id):
        ticket = self._ticket_for(request, object_id, self.has_claim_permission)
        return self._run(request, ticket, "claimed", lambda: services.claim_request(ticket, agent=request.user))

    def approve_view(self, request, object_id):
        return require_POST(self._approve)(request, object_id)

    def _approve(self, request, object_id):
        ticket = self._ticket_for(request, object_id, self.has_approve_permission)
        return self._run(request, ticket, "approved", lambda: services.approve_request(ticket, agent=request.user))

    def reject_view(self, request, object_id):
        ticket = self._ticket_for(request, object_id, self.has_reject_permission)
        if request.method != "POST" and domain.REJECT not in domain.allowed_actions(ticket.status):
            self.message_user(
                request, f"Ticket {ticket.ticket_number} is {ticket.status}; only a submitted ticket can be rejected."
            )
            return self._back(ticket)
        form = RejectForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            return self._run(
                request,
                ticket,
                "rejected",
                lambda: services.reject_request(
                    ticket,
                    agent=request.user,
                    reason=form.cleaned_data["reason"],
                    message=form.cleaned_data["message"],
                ),
            )
        return self._pick_page(
            request, self._selected(RemovalRequest.objects.filter(pk=ticket.pk)), form, kind="reject", bulk=False
        )

    def note_view(self, request, object_id):
        return require_POST(self._note)(request, object_id)

    def _note(self, request, object_id):
        ticket = self._ticket_for(request, object_id, self.has_note_permission)
        form = NoteForm(request.POST)
        if not form.is_valid():
            self.message_user(
                request, "The note was not added: it needs some text (at most 5000 characters).", messages.ERROR
            )
            return self._back(ticket)
        message = form.cleaned_data["message"]
        return self._run(
            request,
            ticket,
            "has a new internal note",
            lambda: services.add_note(ticket, agent=request.user, message=message),
        )

    def reassign_view(self, request, object_id):
        ticket = self._ticket_for(request, object_id, self.has_reassign_permission)
        if request.method != "POST" and not ticket.is_open:
            self.message_user(
                request, f"Ticket {ticket.ticket_number} is {ticket.status}; only an open ticket can be reassigned."
            )
            return self._back(ticket)
        form = ReassignForm(
            request.POST if request.method == "POST" else None, initial={"assignee": ticket.assigned_to_id}
        )
        if request.method != "POST" or not form.is_valid():
            selected = self._selected(RemovalRequest.objects.filter(pk=ticket.pk))
            return self._pick_page(request, selected, form, kind="reassign", bulk=False)
        assignee = form.cleaned_data["assignee"]
        return self._run(
            request,
            ticket,
            f"reassigned to {display_name(assignee)}",
            lambda: services.reassign_request(ticket, lead=request.user, assignee=assignee),
        )
