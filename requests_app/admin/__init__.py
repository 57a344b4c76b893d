"""The agents' queue: removal requests in the admin.

Everything here reads, or calls a service. Nothing on these pages can change a ticket's fields directly:
the change page is read-only for every user (superusers too), there is no add or delete, and each action
(claim, approve, reject, note, reassign) re-checks the ticket through the services one by one and reports
each refusal with its ticket number.

The admin is split by page: ``queue`` (the changelist, filters, bulk actions), ``ticket`` (the ticket page
and its buttons) and ``forms``; the queries they share are in ``requests_app.selectors``.
"""

from django.contrib import admin

from marketplace.admin import ReadOnlyAdminMixin
from requests_app.admin import events  # noqa: F401 - registers the timeline's admin
from requests_app.admin.queue import AssigneeFilter, QueueAdminMixin, QueueStatusFilter, SlaFilter
from requests_app.admin.ticket import TicketPagesMixin
from requests_app.models import RemovalRequest


@admin.register(RemovalRequest)
class RemovalRequestAdmin(QueueAdminMixin, TicketPagesMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "ticket",
        "who",
        "contract_number",
        "scope_label",
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
    search_help_text = "Ticket number or Contract ID (exact), freelancer name or email, agency or client name."
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
