from django.contrib import admin

from jss.models import JssExclusion, ScoreSnapshot, ScoreUpdate
from perkdesk.marketplace.admin import ReadOnlyAdminMixin


@admin.register(JssExclusion)
class JssExclusionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("contract", "removal_request", "created_at")
    search_fields = ("=contract__number", "=removal_request__ticket_number")
    list_select_related = ("contract", "removal_request")

    def get_actions(self, request):
        return {}  # not even "delete selected": exclusions are permanent


@admin.register(ScoreSnapshot)
class ScoreSnapshotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "as_of", "score", "window", "algorithm_version")
    list_filter = ("as_of", "window")
    search_fields = ("freelancer__name", "agency__name")
    list_select_related = ("freelancer", "agency")


@admin.register(ScoreUpdate)
class ScoreUpdateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("as_of", "started_at", "finished_at", "forced", "chunks", "subjects", "snapshots_written")
