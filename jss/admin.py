from django.contrib import admin

from jss.models import JssExclusion, ScoreSnapshot, ScoreUpdate, ScoreUpdateChunk, TopRatedEvaluation
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


@admin.register(ScoreUpdateChunk)
class ScoreUpdateChunkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("update", "kind", "first_subject", "last_subject", "subjects", "snapshots_written", "finished_at")
    list_filter = ("kind", ("finished_at", admin.EmptyFieldListFilter))
    list_select_related = ("update",)


@admin.register(TopRatedEvaluation)
class TopRatedEvaluationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "evaluated_on", "score", "weeks_at_90", "top_rated", "change", "notice_sent_at")
    list_filter = ("evaluated_on", "top_rated", "change")
    search_fields = ("freelancer__name", "agency__name", "freelancer__public_id", "agency__public_id")
    list_select_related = ("freelancer", "agency")
