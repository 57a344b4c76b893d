from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.formats import date_format

from jss import chart, explain, selectors
from jss.models import JssExclusion, ScoreSnapshot, ScoreUpdate, ScoreUpdateChunk, TopRatedEvaluation
from marketplace import admin as marketplace_admin
from marketplace.admin import ReadOnlyAdminMixin
from marketplace.models import Agency, Freelancer


def jss_panel(*, freelancer_id=None, agency_id=None):
    """The JSS history chart (server-rendered SVG) and the latest detail, readable: four queries."""
    subject = {"freelancer_id": freelancer_id, "agency_id": agency_id}
    history = selectors.score_history(**subject)
    latest = selectors.latest_snapshot(**subject) if history else None
    detail = latest.full_detail if latest is not None else {}
    numbers = selectors.contract_numbers(explain.contract_ids(detail)) if explain.contract_ids(detail) else {}
    context = {
        "chart": chart.build_chart(history),
        "history_len": len(history),
        "latest": latest,
        "explanation": explain.explain(detail, numbers),
        "evaluation": selectors.latest_evaluation(**subject),
        "subject_kind": "agency" if agency_id is not None else "freelancer",
    }
    return render_to_string("admin/marketplace/jss_panel.html", context)


class JssMedia:
    css = {"all": ("jss/admin.css",)}


# The freelancer and agency pages get their JSS section here: marketplace sits below jss and never imports it.
JSS_SECTION = ("Job Success Score", {"fields": ("job_success_score",)})

admin.site.unregister(Freelancer)
admin.site.unregister(Agency)


@admin.register(Freelancer)
class FreelancerAdmin(marketplace_admin.FreelancerAdmin):
    readonly_fields = (*marketplace_admin.FreelancerAdmin.readonly_fields, "job_success_score")
    fieldsets = [*marketplace_admin.FreelancerAdmin.fieldsets, JSS_SECTION]
    Media = JssMedia

    @admin.display(description="History and latest detail")
    def job_success_score(self, obj):
        return jss_panel(freelancer_id=obj.pk)


@admin.register(Agency)
class AgencyAdmin(marketplace_admin.AgencyAdmin):
    readonly_fields = (*marketplace_admin.AgencyAdmin.readonly_fields, "job_success_score")
    fieldsets = [*marketplace_admin.AgencyAdmin.fieldsets, JSS_SECTION]
    Media = JssMedia

    @admin.display(description="History and latest detail")
    def job_success_score(self, obj):
        return jss_panel(agency_id=obj.pk)


@admin.register(JssExclusion)
class JssExclusionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("contract", "created_at", "outcome", "outcome_as_of")
    list_filter = ("outcome",)
    search_fields = ("=contract__number",)
    list_select_related = ("contract",)

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
    list_display = (
        "as_of",
        "run",
        "started_at",
        "finished_at",
        "chunks",
        "subjects",
        "subjects_scored",
        "snapshots_written",
    )
    list_select_related = ("incremental_from",)

    @admin.display(description="Run")
    def run(self, obj):
        """Full or incremental (and from which update), so an operator sees what each night did."""
        if obj.incremental_from_id:
            return f"incremental from {date_format(obj.incremental_from.as_of)}"
        return "full, forced" if obj.forced else "full"


@admin.register(ScoreUpdateChunk)
class ScoreUpdateChunkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("update", "kind", "first_subject", "last_subject", "subjects", "snapshots_written", "finished_at")
    list_filter = ("kind", ("finished_at", admin.EmptyFieldListFilter))
    list_select_related = ("update",)


@admin.register(TopRatedEvaluation)
class TopRatedEvaluationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "evaluated_on", "score", "weeks_at_90", "top_rated", "change")
    list_filter = ("evaluated_on", "top_rated", "change")
    search_fields = ("freelancer__name", "agency__name", "freelancer__public_id", "agency__public_id")
    list_select_related = ("freelancer", "agency")
