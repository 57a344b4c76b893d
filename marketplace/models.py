"""The marketplace's data as PerkDesk receives it: people, agencies, clients, contracts, feedback and
Top Rated history. PerkDesk never edits feedback text; it only hides it on the profile."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

# A row about a scored subject belongs to a freelancer or to an agency, never both, never neither.
EXACTLY_ONE_SUBJECT = Q(freelancer__isnull=False, agency__isnull=True) | Q(
    freelancer__isnull=True, agency__isnull=False
)


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    SUSPENDED = "suspended", "Suspended"


class Freelancer(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="freelancer")
    name = models.CharField(max_length=200)
    public_id = models.SlugField(max_length=64, unique=True)
    account_status = models.CharField(max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    profile_completeness = models.PositiveSmallIntegerField(
        default=100, validators=[MaxValueValidator(100)], help_text="Percent, 0–100."
    )
    tos_violation_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(profile_completeness__gte=0, profile_completeness__lte=100),
                name="freelancer_profile_completeness_0_100",
            ),
            models.CheckConstraint(
                condition=Q(account_status__in=AccountStatus.values), name="freelancer_account_status_valid"
            ),
        ]

    def __str__(self):
        return self.name


class Agency(models.Model):
    name = models.CharField(max_length=200)
    public_id = models.SlugField(max_length=64, unique=True)
    account_status = models.CharField(max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    members = models.ManyToManyField(Freelancer, through="AgencyMembership", related_name="agencies")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"
        constraints = [
            models.CheckConstraint(
                condition=Q(account_status__in=AccountStatus.values), name="agency_account_status_valid"
            ),
        ]

    def __str__(self):
        return self.name


class AgencyRole(models.TextChoices):
    OWNER = "owner", "Owner"
    BUSINESS_MANAGER = "business_manager", "Business manager"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


# The policy: "For agencies, the request must be submitted by the agency owner, business manager, or agency admin."
AGENCY_REQUESTER_ROLES = (AgencyRole.OWNER, AgencyRole.BUSINESS_MANAGER, AgencyRole.ADMIN)


class AgencyMembership(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    freelancer = models.ForeignKey(Freelancer, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=AgencyRole.choices, default=AgencyRole.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "freelancer"], name="membership_unique_per_agency"),
            models.CheckConstraint(condition=Q(role__in=AgencyRole.values), name="membership_role_valid"),
        ]

    def __str__(self):
        return f"{self.freelancer} — {self.get_role_display()} of {self.agency}"


class Client(models.Model):
    name = models.CharField(max_length=200)
    public_id = models.SlugField(max_length=64, unique=True)
    flagged = models.BooleanField(default=False)
    suspended_for_tos = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        indexes = [
            # The few flagged or suspended clients, read by every chunk of the JSS update.
            models.Index(
                fields=["id"], condition=Q(flagged=True) | Q(suspended_for_tos=True), name="client_flagged_or_tos"
            ),
        ]

    def __str__(self):
        return self.name


class Platform(models.TextChoices):
    UPWORK = "upwork", "Upwork"
    ELANCE = "elance", "Elance"


# What the scheduled JSS update reads of each contract besides its subject and client (the indexes below).
JSS_FACTS = [
    "id",
    "started_on",
    "ended_on",
    "last_payment_on",
    "total_charged",
    "disputed",
    "feedback_public_rating",
    "feedback_private_score",
]


class Contract(models.Model):
    number = models.CharField(
        "Contract ID",
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[0-9]+$", "A Contract ID is digits only.")],
    )
    title = models.CharField(max_length=300)
    freelancer = models.ForeignKey(Freelancer, on_delete=models.PROTECT, related_name="contracts")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="contracts")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="contracts")
    platform = models.CharField(max_length=16, choices=Platform.choices, default=Platform.UPWORK)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True, help_text="Empty while the contract is active.")
    last_payment_on = models.DateField(null=True, blank=True)
    total_charged = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    is_special_offer = models.BooleanField(
        "Special Offer", default=False, help_text='Part of the "Reduced Fees with New Clients" promotion.'
    )
    disputed = models.BooleanField(default=False)
    # The contract's Feedback facts that the JSS reads, copied onto the contract by the database itself
    # (migration 0002's triggers, on PostgreSQL and SQLite) whatever writes either row, so that the scheduled
    # update reads a chunk of subjects from one covering index instead of joining the feedback. Whatever a
    # save() writes here is replaced by the feedback's values. Staff-only, never shown: Feedback is the source.
    feedback_public_rating = models.DecimalField(max_digits=3, decimal_places=2, null=True, editable=False)
    feedback_private_score = models.PositiveSmallIntegerField(null=True, editable=False)

    class Meta:
        ordering = ["-started_on", "number"]
        constraints = [
            models.CheckConstraint(condition=Q(number__regex=r"^[0-9]+$"), name="contract_number_digits"),
            models.CheckConstraint(condition=Q(total_charged__gte=0), name="contract_total_charged_not_negative"),
            models.CheckConstraint(condition=Q(platform__in=Platform.values), name="contract_platform_valid"),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="contract_ends_after_start",
            ),
        ]
        indexes = [
            # Eligibility and the JSS read a subject's contracts by end date.
            models.Index(fields=["freelancer", "ended_on"], name="contract_freelancer_ended"),
            models.Index(fields=["agency", "ended_on"], name="contract_agency_ended"),
            # The scheduled JSS update reads each chunk of subjects in (subject, client) order from these,
            # index-only on PostgreSQL (INCLUDE is PostgreSQL's; SQLite gets the plain index).
            models.Index(
                fields=["freelancer", "client"],
                include=JSS_FACTS,
                condition=Q(agency__isnull=True),
                name="contract_jss_freelancer",
            ),
            models.Index(
                fields=["agency", "client"],
                include=JSS_FACTS,
                condition=Q(agency__isnull=False),
                name="contract_jss_agency",
            ),
        ]

    def __str__(self):
        return f"{self.number} — {self.title}"

    @property
    def is_active(self) -> bool:
        return self.ended_on is None


class Feedback(models.Model):
    contract = models.OneToOneField(Contract, on_delete=models.CASCADE, related_name="feedback")
    public_rating = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("1.00")), MaxValueValidator(Decimal("5.00"))],
    )
    public_comment = models.TextField(blank=True, default="")
    freelancer_response = models.TextField(blank=True, default="")
    private_score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10)], help_text="0–10, never shown publicly."
    )
    hidden_on_profile = models.BooleanField(default=False)
    hidden_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "feedback"
        constraints = [
            models.CheckConstraint(
                condition=Q(public_rating__isnull=True) | Q(public_rating__gte=1, public_rating__lte=5),
                name="feedback_public_rating_1_5",
            ),
            models.CheckConstraint(
                condition=Q(private_score__isnull=True) | Q(private_score__gte=0, private_score__lte=10),
                name="feedback_private_score_0_10",
            ),
            models.CheckConstraint(
                condition=Q(hidden_on_profile=False) | Q(hidden_at__isnull=False),
                name="feedback_hidden_has_time",
            ),
        ]

    def __str__(self):
        return f"Feedback on {self.contract.number}"

    @property
    def is_empty(self) -> bool:
        return self.public_rating is None and self.private_score is None


class LossReason(models.TextChoices):
    JSS_DIP = "jss_dip", "JSS dip"
    SUSPENSION = "suspension", "Suspension"
    TOS_VIOLATION = "tos_violation", "Terms of Service violation"
    OTHER = "other", "Other"


class TopRatedPeriod(models.Model):
    freelancer = models.ForeignKey(
        Freelancer, on_delete=models.CASCADE, null=True, blank=True, related_name="top_rated_periods"
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.CASCADE, null=True, blank=True, related_name="top_rated_periods"
    )
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True, help_text="Empty while the status is current.")
    loss_reason = models.CharField(max_length=16, choices=LossReason.choices, null=True, blank=True)

    class Meta:
        ordering = ["-started_on"]
        constraints = [
            models.CheckConstraint(
                condition=EXACTLY_ONE_SUBJECT,
                name="top_rated_exactly_one_subject",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True, loss_reason__isnull=True)
                | Q(ended_on__isnull=False, loss_reason__isnull=False),
                name="top_rated_loss_reason_iff_ended",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="top_rated_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(loss_reason__isnull=True) | Q(loss_reason__in=LossReason.values),
                name="top_rated_loss_reason_valid",
            ),
            # A subject is Top Rated at most once at a time.
            models.UniqueConstraint(
                fields=["freelancer"],
                condition=Q(ended_on__isnull=True, freelancer__isnull=False),
                name="top_rated_one_current_per_freelancer",
            ),
            models.UniqueConstraint(
                fields=["agency"],
                condition=Q(ended_on__isnull=True, agency__isnull=False),
                name="top_rated_one_current_per_agency",
            ),
        ]
        indexes = [
            models.Index(fields=["freelancer", "-started_on"], name="top_rated_freelancer_recent"),
            models.Index(fields=["agency", "-started_on"], name="top_rated_agency_recent"),
        ]

    def __str__(self):
        subject = self.freelancer or self.agency
        until = self.ended_on.isoformat() if self.ended_on else "now"
        return f"{subject}: Top Rated {self.started_on.isoformat()} – {until}"

    @property
    def is_current(self) -> bool:
        return self.ended_on is None
