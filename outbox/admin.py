"""The outbox, read-only, for superusers (an operator asking "did that email go?"); nobody edits it here."""

from django.contrib import admin

from outbox.models import EmailDelivery


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin):
    list_display = ("kind", "recipient", "about_type", "about_id", "created_at", "sent_at", "attempts")
    list_filter = ("kind", "about_type", ("sent_at", admin.EmptyFieldListFilter))
    search_fields = ("=recipient", "=about_id")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in EmailDelivery._meta.fields]

    def get_actions(self, request):
        return {}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
