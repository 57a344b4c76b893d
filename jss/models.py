"""Scores and the exclusions that feed them."""

from django.db import models
from django.db.models import Q


class PermanentQuerySet(models.QuerySet):
    def delete(self):
        raise PermissionError("Perk exclusions are permanent and cannot be deleted.")

    def update(self, **kwargs):
        raise PermissionError("Perk exclusions are permanent and cannot be changed.")


class JssExclusion(models.Model):
    """A contract taken out of its subject's JSS by the perk. Permanent: the policy has no undo, so
    the foreign keys protect it from cascades, and neither the model nor its queryset deletes it."""

    contract = models.OneToOneField("marketplace.Contract", on_delete=models.PROTECT, related_name="jss_exclusion")
    removal_request = models.OneToOneField(
        "requests_app.RemovalRequest", on_delete=models.PROTECT, related_name="jss_exclusion"
    )
    created_at = models.DateTimeField()

    objects = PermanentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Exclusion of contract {self.contract_id}"

    def delete(self, *args, **kwargs):
        raise PermissionError("Perk exclusions are permanent and cannot be deleted.")


class Window(models.TextChoices):
    SIX = "6m", "6 months"
    TWELVE = "12m", "12 months"
    TWENTY_FOUR = "24m", "24 months"
    TRENDING = "trending", "Trending"


class ScoreSnapshot(models.Model):
    freelancer = models.ForeignKey(
        "marketplace.Freelancer", on_delete=models.CASCADE, null=True, blank=True, related_name="score_snapshots"
    )
    agency = models.ForeignKey(
        "marketplace.Agency", on_delete=models.CASCADE, null=True, blank=True, related_name="score_snapshots"
    )
    as_of = models.DateField()
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    window = models.CharField(max_length=16, choices=Window.choices, null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    algorithm_version = models.PositiveSmallIntegerField(default=1)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-as_of"]
        get_latest_by = "as_of"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(freelancer__isnull=False, agency__isnull=True) | Q(freelancer__isnull=True, agency__isnull=False)
                ),
                name="snapshot_exactly_one_subject",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=100), name="snapshot_score_0_100"
            ),
            # Plain (not partial) unique pairs: NULLs never collide, and ON CONFLICT can name them.
            models.UniqueConstraint(fields=["freelancer", "as_of"], name="snapshot_unique_freelancer_as_of"),
            models.UniqueConstraint(fields=["agency", "as_of"], name="snapshot_unique_agency_as_of"),
        ]

    def __str__(self):
        return f"{self.freelancer or self.agency} on {self.as_of}: {self.score if self.score is not None else '—'}"


class ScoreUpdate(models.Model):
    as_of = models.DateField(unique=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    forced = models.BooleanField(default=False)
    chunks = models.PositiveIntegerField(default=0)
    subjects = models.PositiveIntegerField(default=0)
    snapshots_written = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-as_of"]
        get_latest_by = "as_of"

    def __str__(self):
        return f"JSS update as of {self.as_of}"
