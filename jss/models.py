"""Scores and the exclusions that feed them."""

from django.db import models
from django.db.models import Q

from jss import engine
from marketplace.models import EXACTLY_ONE_SUBJECT


class Outcome(models.TextChoices):
    """What the latest scheduled update did with a perk exclusion (SPEC §5, the no-harm rule)."""

    PENDING = "pending", "Pending the next JSS update"
    EXCLUDED = "excluded", "Excluded from the JSS"
    KEPT_NO_HARM = "kept_no_harm", "Kept in the JSS (removing it would lower the score)"


# The only columns of an exclusion that may change after it is made: each scheduled update's verdict.
OUTCOME_FIELDS = frozenset({"outcome", "outcome_as_of"})


class PermanentQuerySet(models.QuerySet):
    def delete(self):
        raise PermissionError("Perk exclusions are permanent and cannot be deleted.")

    def update(self, **kwargs):
        if not kwargs or set(kwargs) - OUTCOME_FIELDS:
            raise PermissionError("Perk exclusions are permanent: only their outcome can be changed.")
        return super().update(**kwargs)


class JssExclusion(models.Model):
    """A contract taken out of its subject's JSS by the perk. Permanent: the policy has no undo, so
    the foreign keys protect it from cascades, and neither the model nor its queryset deletes it. It knows
    nothing of tickets (SPEC §3 "Dependencies"): the ticket points here (``RemovalRequest.exclusion``)."""

    contract = models.OneToOneField("marketplace.Contract", on_delete=models.PROTECT, related_name="jss_exclusion")
    created_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    outcome_as_of = models.DateField(null=True, blank=True, help_text="The scheduled update that decided it.")

    objects = PermanentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(outcome__in=Outcome.values), name="exclusion_outcome_valid")]

    def __str__(self):
        return f"Exclusion of contract {self.contract_id}"

    def delete(self, *args, **kwargs):
        raise PermissionError("Perk exclusions are permanent and cannot be deleted.")


class Window(models.TextChoices):
    SIX = "6m", "6 months"
    TWELVE = "12m", "12 months"
    TWENTY_FOUR = "24m", "24 months"
    TRENDING = "trending", "Trending"


class JSONTextField(models.JSONField):
    """A JSONField kept in PostgreSQL's ``json`` type (the text, checked to be JSON) rather than ``jsonb``.

    For a document written once, read whole and never searched inside: the nightly update writes ~1 KB of
    ``detail`` for every subject, and converting it to jsonb's binary form, then storing that larger form, was
    the largest cost of the write (1.7 s of an 11 s update on 2,000,000 contracts). Other databases keep
    JSONField's own type. ``json`` has no equality operator: compare ``detail::text`` in SQL."""

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def from_db_value(self, value, expression, connection):
        if value is not None and not isinstance(value, str):
            return value  # the driver already decoded a json column
        return super().from_db_value(value, expression, connection)


def _scored_subject(model):
    return models.ForeignKey(
        model,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="score_snapshots",
        db_index=False,
        db_constraint=False,
    )


class ScoreSnapshot(models.Model):
    # Derived rows, written only by the scheduled update from the subject's own contracts, whose foreign keys
    # (PROTECT) already make the subject exist for as long as it has contracts. So the subject columns carry
    # no database foreign key: one would take a key-share lock on every freelancer and agency row each night
    # to check what the contracts guarantee (1.5 s of an 11 s update on 2,000,000 contracts). Nor single-column
    # indexes: the unique (subject, as_of) pairs below lead with the subject and serve every lookup by it.
    freelancer = _scored_subject("marketplace.Freelancer")
    agency = _scored_subject("marketplace.Agency")
    as_of = models.DateField()
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    window = models.CharField(max_length=16, choices=Window.choices, null=True, blank=True)
    detail = JSONTextField(default=dict, blank=True)
    algorithm_version = models.PositiveSmallIntegerField(default=1)
    computed_at = models.DateTimeField(auto_now=True)
    # The first date on which the passing of time alone could change this score or its detail
    # (``engine.stable_until``; 9999-12-31: never). Until then the incremental update carries the row
    # forward unless the subject's data changed. NULL: not known (rows from before it was kept), rescore.
    stable_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-as_of"]
        get_latest_by = "as_of"
        constraints = [
            models.CheckConstraint(
                condition=EXACTLY_ONE_SUBJECT,
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

    @property
    def full_detail(self) -> dict:
        """The detail as ``engine.compute`` gives it: what is stored (``engine.stored_detail``: the figures and
        decisions only) with everything that follows from them and ``as_of`` worked out again."""
        return engine.expand_detail(self.detail, self.as_of)


class ScoreUpdate(models.Model):
    as_of = models.DateField(unique=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    forced = models.BooleanField(default=False)
    chunks = models.PositiveIntegerField(default=0)
    subjects = models.PositiveIntegerField(default=0)
    snapshots_written = models.PositiveIntegerField(default=0)
    # The highest JssSubjectChange id when the update was planned: every change up to it is in the contracts
    # its chunks read. NULL: not known (an update from before the change log).
    change_watermark = models.BigIntegerField(null=True, blank=True)
    # An incremental run: only the subjects changed since this earlier update (or whose score can change with
    # time) are scored, the others' snapshots are copied from its as_of. NULL: a full run.
    incremental_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=True
    )
    subjects_scored = models.PositiveIntegerField(default=0, help_text="Subjects scored (the rest were carried).")
    # PostgreSQL: the primary's WAL position once every change up to change_watermark was committed. A chunk that
    # reads from a read replica waits until the replica has replayed it (else it reads from the primary): an
    # incremental update must not score a dirty subject from data older than its watermark.
    planned_lsn = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["-as_of"]
        get_latest_by = "as_of"

    def __str__(self):
        return f"JSS update as of {self.as_of}"

    @property
    def incremental(self) -> bool:
        return self.incremental_from_id is not None


class SubjectKind(models.TextChoices):
    FREELANCER = "freelancer", "Freelancers"
    AGENCY = "agency", "Agencies"


class ScoreUpdateChunk(models.Model):
    """One slice of a scheduled update: the subjects of one kind with ids first_subject..last_subject.

    Chunks are rows so the fan-out is recorded in the database: a lost message is found and sent again, a
    redelivered one finds its chunk finished, and the last chunk to finish queues the finishing step."""

    update = models.ForeignKey(ScoreUpdate, on_delete=models.CASCADE, related_name="chunk_rows")
    kind = models.CharField(max_length=16, choices=SubjectKind.choices)
    first_subject = models.BigIntegerField()
    last_subject = models.BigIntegerField()
    subjects = models.PositiveIntegerField(default=0)
    subjects_scored = models.PositiveIntegerField(default=0)
    snapshots_written = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["update", "kind", "first_subject"]
        constraints = [
            models.UniqueConstraint(fields=["update", "kind", "first_subject"], name="chunk_unique_start"),
            models.CheckConstraint(condition=Q(first_subject__lte=models.F("last_subject")), name="chunk_range"),
        ]

    def __str__(self):
        return f"{self.update}: {self.kind} {self.first_subject}–{self.last_subject}"


class JssSubjectChange(models.Model):
    """A subject whose score's inputs changed: written by database triggers (jss migration 0009) on every
    insert, delete or relevant update of a contract (its feedback copy included), a client's flags and a perk
    exclusion, whoever writes them (the ORM, the admin, raw SQL). The incremental update rescores the subjects
    logged after the previous update's ``change_watermark``; finished updates prune what no run needs.
    No foreign keys: a deleted contract's subject is logged too."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=SubjectKind.choices)
    subject_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["kind", "subject_id", "id"], name="subject_change_lookup")]

    def __str__(self):
        return f"{self.kind} {self.subject_id} changed (#{self.id})"


class TopRatedEvaluation(models.Model):
    """What one weekly Top Rated evaluation saw and decided for one subject (SPEC §5).

    These rows are the weekly history the "JSS ≥ 90 in 13 of the last 16 evaluations" rule counts, and the
    record an agent reads when someone asks why their status changed."""

    freelancer = models.ForeignKey(
        "marketplace.Freelancer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="top_rated_evaluations",
    )
    agency = models.ForeignKey(
        "marketplace.Agency", on_delete=models.CASCADE, null=True, blank=True, related_name="top_rated_evaluations"
    )
    evaluated_on = models.DateField()
    score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The JSS the evaluation used.")
    weeks_at_90 = models.PositiveSmallIntegerField(
        default=0, help_text="Evaluations of the last 16 (this one included) with a JSS of 90 or more."
    )
    weeks_on_record = models.PositiveSmallIntegerField(default=0, help_text="Evaluations of the last 16 on record.")
    top_rated = models.BooleanField(help_text="Whether every Top Rated criterion was met.")
    failed = models.JSONField(default=list, blank=True, help_text="The criteria that were not met.")
    change = models.CharField(
        max_length=16,
        choices=[("opened", "Became Top Rated"), ("closed", "Lost Top Rated"), ("", "No change")],
        default="",
        blank=True,
    )
    period = models.ForeignKey(
        "marketplace.TopRatedPeriod",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evaluations",
        help_text="The period this evaluation opened or closed.",
    )

    class Meta:
        ordering = ["-evaluated_on"]
        get_latest_by = "evaluated_on"
        constraints = [
            models.CheckConstraint(
                condition=EXACTLY_ONE_SUBJECT,
                name="evaluation_exactly_one_subject",
            ),
            models.UniqueConstraint(fields=["freelancer", "evaluated_on"], name="evaluation_unique_freelancer_day"),
            models.UniqueConstraint(fields=["agency", "evaluated_on"], name="evaluation_unique_agency_day"),
        ]
        indexes = [models.Index(fields=["evaluated_on"], name="evaluation_day")]

    def __str__(self):
        return f"Top Rated evaluation of {self.freelancer or self.agency} on {self.evaluated_on}"
