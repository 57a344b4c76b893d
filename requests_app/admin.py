from django.contrib import admin

from perkdesk.marketplace.admin import ReadOnlyAdminMixin
from requests_app.models import RemovalRequest, RequestEvent


class RequestEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RequestEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor", "public", "message")


@admin.register(RemovalRequest)
class RemovalRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "ticket_number",
        "contract",
        "freelancer",
        "agency",
        "scope",
        "status",
        "submitted_at",
        "sla_due_at",
    )
    list_filter = ("status", "scope", "is_special_offer")
    search_fields = (
        "=ticket_number",
        "=contract__number",
        "freelancer__name",
        "freelancer__user__email",
        "agency__name",
    )
    list_select_related = ("contract", "freelancer", "agency")
    inlines = [RequestEventInline]
