"""A ticket's page in the admin and its buttons (claim, approve, reject, note, reassign): POST only, one
service call each."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jss.services import preview_removal
from requests_app import domain, selectors, services
from requests_app.admin.forms import ApproveForm, AskForm, NoteForm, ReassignForm, RejectForm
from requests_app.admin.queue import REFUSALS, sla_state
from requests_app.eligibility import evaluate
from requests_app.models import RemovalRequest, RequestEvent, Status
from requests_app.services.common import QUEUE_DOWN_WARNING, policy, queue_failures
from requests_app.services.decisions import display_name


class TicketPagesMixin:
    """The change-page half of ``RemovalRequestAdmin``."""

    # --- the ticket page ---

    def get_object(self, request, object_id, from_field=None):
        return selectors.ticket_page(object_id)

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
            "ask": domain.REQUEST_INFO in allowed and self.has_reject_permission(request),
            "reject": domain.REJECT in allowed and self.has_reject_permission(request),
            "note": self.has_note_permission(request),
            "reassign": ticket.is_open and self.has_reassign_permission(request),
        }
        can["claim"] = can["claim"] and ticket.assigned_to_id is None
        can["reassign_any"] = self.has_reassign_permission(request)
        context = selectors.ticket_context(
            ticket, today=timezone.localdate(now), with_facts=ticket.status == Status.SUBMITTED
        )
        return {
            "is_nav_sidebar_enabled": False,
            "subtitle": None,
            "reply_days": settings.PERK_REPLY_DAYS,
            "ticket": ticket,
            "sla_css": css,
            "sla_text": sla_text,
            "can": can,
            "eligibility": self.eligibility_now(context) if context.facts is not None else None,
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
            # A missing Feedback row raises RelatedObjectDoesNotExist, an AttributeError: getattr's default.
            "feedback": getattr(ticket.contract, "feedback", None),
            "other_tickets": context.other_tickets,
            "screenshot_is_image": ticket.screenshot_content_type in ("image/png", "image/jpeg"),
            "screenshot_url": f"/requests/{ticket.ticket_number}/screenshot/" if ticket.screenshot else "",
            "rejection_label": domain.REJECTION_REASONS[ticket.rejection_reason][0] if ticket.rejection_reason else "",
            "scope_label": domain.SCOPE_LABELS.get(ticket.scope, ticket.scope),
            "urls": {
                name: self._url(name, ticket) for name in ("claim", "approve", "ask", "reject", "note", "reassign")
            },
        }

    @staticmethod
    def eligibility_now(context):
        """The rules as they stand now for the person who asked. This open ticket is itself an open request
        for its contract, so ``request_open`` always fires because of it and is left out: the database allows
        no other open request for the contract, and evaluate() only looks at the subject's other requests when
        the contract has none open."""
        report = evaluate(context.facts, policy())
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
            ("ask", self.ask_view),
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

    def _not_now(self, request, ticket, doing):
        """A decision page opened for a ticket whose status no longer offers it: say so on the ticket page."""
        self.message_user(
            request,
            f"Ticket {ticket.ticket_number} is {ticket.get_status_display().lower()}; "
            f"only a submitted ticket can {doing}.",
        )
        return self._back(ticket)

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
        """GET (or a POST without ``confirm``): what the approval will do, that it cannot be undone, and an
        optional public message; the confirmed POST approves."""
        ticket = self._ticket_for(request, object_id, self.has_approve_permission)
        if request.method != "POST" and domain.APPROVE not in domain.allowed_actions(ticket.status):
            return self._not_now(request, ticket, "be approved")
        form = ApproveForm(request.POST if request.method == "POST" and "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            message = form.public_message()
            return self._run(
                request,
                ticket,
                "approved",
                lambda: services.approve_request(ticket, agent=request.user, message=message),
            )
        selected = self._selected(RemovalRequest.objects.filter(pk=ticket.pk))
        return self._pick_page(request, selected, form, kind="approve", bulk=False)

    def ask_view(self, request, object_id):
        """Ask the freelancer a question: the ticket waits on them, its SLA paused, until they reply."""
        ticket = self._ticket_for(request, object_id, self.has_reject_permission)
        if request.method != "POST" and domain.REQUEST_INFO not in domain.allowed_actions(ticket.status):
            return self._not_now(request, ticket, "get a question")
        form = AskForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            return self._run(
                request,
                ticket,
                "is waiting on the freelancer's reply",
                lambda: services.request_info(ticket, agent=request.user, message=form.cleaned_data["message"]),
            )
        selected = self._selected(RemovalRequest.objects.filter(pk=ticket.pk))
        return self._pick_page(request, selected, form, kind="ask", bulk=False)

    def reject_view(self, request, object_id):
        ticket = self._ticket_for(request, object_id, self.has_reject_permission)
        if request.method != "POST" and domain.REJECT not in domain.allowed_actions(ticket.status):
            return self._not_now(request, ticket, "be rejected")
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
