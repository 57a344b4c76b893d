"""The timeline across tickets, for leads: "what did this agent do today?". Read-only (the table is
append-only anyway), filtered by kind, actor and date, each row linked to its ticket's page."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from marketplace.admin import ReadOnlyAdminMixin
from requests_app.models import RequestEvent
from requests_app.services.decisions import display_name


class ActorFilter(admin.SimpleListFilter):
    """The support staff (and "system"): never a distinct over the whole timeline to find who acted."""

    title = "actor"
    parameter_name = "actor"
    SYSTEM = "system"

    def lookups(self, request, model_admin):
        staff = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("first_name", "username")
        return [(self.SYSTEM, "System"), *((str(user.pk), display_name(user)) for user in staff)]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.SYSTEM:
            return queryset.filter(actor__isnull=True)
        if value and value.isdigit():
            return queryset.filter(actor_id=int(value))
        return queryset


@admin.register(RequestEvent)
class RequestEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "ticket", "kind", "who", "visibility", "summary")
    list_display_links = None
    list_filter = ("kind", ActorFilter, ("created_at", admin.DateFieldListFilter), "public")
    list_select_related = ("request", "actor")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    search_fields = ("request__ticket_number",)
    search_help_text = "Ticket number (exact)."
    actions = None

    # Leads only: agents read a ticket's timeline on its page, not everyone's work.
    def has_view_permission(self, request, obj=None):
        user = request.user
        return (
            user.is_active
            and user.has_perm("requests_app.view_requestevent")
            and user.has_perm("requests_app.view_reports")
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(request__ticket_number=term) if term.isdigit() else Q(pk__in=[])), False

    def changelist_view(self, request, extra_context=None):
        context = {"is_nav_sidebar_enabled": False, "title": "Timeline of every ticket", **(extra_context or {})}
        return super().changelist_view(request, context)

    @admin.display(description="Ticket", ordering="request__ticket_number")
    def ticket(self, obj):
        url = reverse("admin:requests_app_removalrequest_change", args=[obj.request_id])
        return format_html('<a href="{}" class="pd-mono">{}</a>', url, obj.request.ticket_number)

    @admin.display(description="By", ordering="actor")
    def who(self, obj):
        return display_name(obj.actor) if obj.actor_id else "System"

    @admin.display(description="Seen by")
    def visibility(self, obj):
        return "freelancer and staff" if obj.public else "staff only"

    @admin.display(description="Message")
    def summary(self, obj):
        return Truncator(obj.message).chars(120)
