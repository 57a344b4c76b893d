"""Marketplace data in the admin: agents read and search it; nobody edits it here. It arrives from the
marketplace through `load_marketplace`, and feedback is the client's words, never ours to change."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from marketplace.models import (
    Agency,
    AgencyMembership,
    Client,
    Contract,
    Feedback,
    Freelancer,
    TopRatedPeriod,
)


class ReadOnlyAdminMixin:
    """View and search only, for every user including superusers."""

    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True


class MembershipInline(ReadOnlyInline):
    model = AgencyMembership
    fields = ("freelancer", "agency", "role")


class TopRatedInline(ReadOnlyInline):
    model = TopRatedPeriod
    fields = ("started_on", "ended_on", "loss_reason")


class FeedbackInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = Feedback
    can_delete = False
    fields = (
        "public_rating",
        "public_comment",
        "freelancer_response",
        "private_score",
        "hidden_on_profile",
        "hidden_at",
    )


def _contracts_link(label, **query):
    url = reverse("admin:marketplace_contract_changelist") + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return format_html('<a href="{}">{}</a>', url, label)


@admin.register(Freelancer)
class FreelancerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "public_id", "account_status", "profile_completeness", "tos_violation_on")
    list_filter = ("account_status",)
    search_fields = ("name", "public_id", "user__username", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("contracts",)
    fieldsets = [
        (None, {"fields": ("user", "name", "public_id", "account_status", "profile_completeness", "tos_violation_on")}),
        ("Work", {"fields": ("contracts",)}),
    ]
    inlines = [MembershipInline, TopRatedInline]

    @admin.display(description="Contracts")
    def contracts(self, obj):
        return _contracts_link("Show this freelancer's contracts", freelancer__id__exact=obj.pk)


@admin.register(Agency)
class AgencyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "public_id", "account_status")
    list_filter = ("account_status",)
    search_fields = ("name", "public_id")
    readonly_fields = ("contracts",)
    fieldsets = [
        (None, {"fields": ("name", "public_id", "account_status")}),
        ("Work", {"fields": ("contracts",)}),
    ]
    inlines = [MembershipInline, TopRatedInline]

    @admin.display(description="Contracts")
    def contracts(self, obj):
        return _contracts_link("Show this agency's contracts", agency__id__exact=obj.pk)


@admin.register(AgencyMembership)
class AgencyMembershipAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("freelancer", "agency", "role")
    list_filter = ("role",)
    search_fields = ("freelancer__name", "agency__name")
    list_select_related = ("freelancer", "agency")


@admin.register(Client)
class ClientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "public_id", "flagged", "suspended_for_tos")
    list_filter = ("flagged", "suspended_for_tos")
    search_fields = ("name", "public_id")


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "title",
        "freelancer",
        "agency",
        "client",
        "platform",
        "started_on",
        "ended_on",
        "total_charged",
        "is_special_offer",
        "disputed",
    )
    list_filter = ("platform", "is_special_offer", "disputed", ("ended_on", admin.EmptyFieldListFilter))
    search_fields = ("=number", "title", "freelancer__name", "agency__name", "client__name")
    list_select_related = ("freelancer", "agency", "client")
    inlines = [FeedbackInline]


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("contract", "public_rating", "private_score", "hidden_on_profile")
    list_filter = ("hidden_on_profile",)
    search_fields = ("=contract__number", "contract__title", "public_comment")
    list_select_related = ("contract",)


@admin.register(TopRatedPeriod)
class TopRatedPeriodAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "started_on", "ended_on", "loss_reason")
    list_filter = ("loss_reason", ("ended_on", admin.EmptyFieldListFilter))
    search_fields = ("freelancer__name", "agency__name")
    list_select_related = ("freelancer", "agency")
