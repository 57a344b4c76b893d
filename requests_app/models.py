"""Feedback removal tickets and their timeline."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q

from jss.models import Outcome as JssOutcome
from requests_app import domain


class PrivateStorage(FileSystemStorage):
    """Screenshots: outside every web root, with no public URL; they are served by a permission-checked view.
    The folder is read from PRIVATE_MEDIA_ROOT each time it is used, not when the model class is built."""

    @property
    def base_location(self):
        return settings.PRIVATE_MEDIA_ROOT

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Screenshots have no public URL; use the requests_app:request_screenshot view.")


def private_storage():
    return PrivateStorage()


# The vocabulary is domain's; these are its values and labels as model choices, nothing more.
class Status(models.TextChoices):
    SUBMITTED = domain.SUBMITTED, domain.STATUS_LABELS[domain.SUBMITTED]
    WAITING_ON_FREELANCER = domain.WAITING_ON_FREELANCER, domain.STATUS_LABELS[domain.WAITING_ON_FREELANCER]
    APPROVED = domain.APPROVED, domain.STATUS_LABELS[domain.APPROVED]
    APPLIED = domain.APPLIED, domain.STATUS_LABELS[domain.APPLIED]
    REJECTED = domain.REJECTED, domain.STATUS_LABELS[domain.REJECTED]
    WITHDRAWN = domain.WITHDRAWN, domain.STATUS_LABELS[domain.WITHDRAWN]


class Scope(models.TextChoices):
    JSS_ONLY = domain.JSS_ONLY, domain.SCOPE_LABELS[domain.JSS_ONLY]
    HIDE_PROFILE_AND_JSS = domain.HIDE_PROFILE_AND_JSS, domain.SCOPE_LABELS[domain.HIDE_PROFILE_AND_JSS]


class RejectionReason(models.TextChoices):
    NOT_ELIGIBLE = domain.NOT_ELIGIBLE, domain.REJECTION_REASONS[domain.NOT_ELIGIBLE][0]
    SCREENSHOT_INVALID = domain.SCREENSHOT_INVALID, domain.REJECTION_REASONS[domain.SCREENSHOT_INVALID][0]
    DUPLICATE = domain.DUPLICATE, domain.REJECTION_REASONS[domain.DUPLICATE][0]
    NO_REPLY = domain.NO_REPLY, domain.REJECTION_REASONS[domain.NO_REPLY][0]
    OTHER = domain.OTHER, domain.REJECTION_REASONS[domain.OTHER][0]


OPEN = [Status(status) for status in domain.OPEN_STATUSES]
SLA_RUNNING = [Status(status) for status in domain.SLA_RUNNING_STATUSES]


class RemovalRequest(models.Model):
    ticket_number = models.CharField(max_length=9, unique=True, editable=False)
    contract = models.ForeignKey("marketplace.Contract", on_delete=models.PROTECT, related_name="removal_requests")
    freelancer = models.ForeignKey("marketplace.Freelancer", on_delete=models.PROTECT, related_name="removal_requests")
    agency = models.ForeignKey(
        "marketplace.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="removal_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="removal_requests_made"
    )
    scope = models.CharField(max_length=32, choices=Scope.choices)
    is_special_offer = models.BooleanField("Special Offer", default=False)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.SUBMITTED)
    submitted_at = models.DateTimeField()
    sla_due_at = models.DateTimeField()
    # Set while the ticket waits on the freelancer (the SLA clock is paused from here); cleared by the reply.
    waiting_since = models.DateTimeField(null=True, blank=True, editable=False)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="assigned_requests"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="decided_requests"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=32, choices=RejectionReason.choices, null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    jss_outcome = models.CharField(max_length=16, choices=JssOutcome.choices, default=JssOutcome.PENDING)
    screenshot = models.FileField(storage=private_storage, upload_to="screenshots/", null=True, blank=True)
    screenshot_content_type = models.CharField(max_length=64, blank=True, default="")
    # The exclusion this request made, set when it is applied. The link lives here, not on the exclusion:
    # jss sits below requests_app and knows nothing of tickets (SPEC §3 "Dependencies").
    exclusion = models.OneToOneField(
        "jss.JssExclusion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="removal_request",
    )

    class Meta:
        ordering = ["-submitted_at"]
        permissions = [
            ("claim_removalrequest", "Can claim removal requests"),
            ("add_note_removalrequest", "Can add internal notes to removal requests"),
            ("approve_removalrequest", "Can approve removal requests"),
            ("reject_removalrequest", "Can reject removal requests"),
            ("reassign_removalrequest", "Can reassign removal requests"),
            ("view_reports", "Can see support reports"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(ticket_number__regex=r"^[0-9]{9}$"), name="request_ticket_9_digits"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="request_status_valid"),
            models.CheckConstraint(condition=Q(scope__in=Scope.values), name="request_scope_valid"),
            models.CheckConstraint(condition=Q(jss_outcome__in=JssOutcome.values), name="request_jss_outcome_valid"),
            models.CheckConstraint(
                condition=~Q(status=Status.REJECTED) | Q(rejection_reason__isnull=False),
                name="request_rejected_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.APPLIED) | Q(applied_at__isnull=False), name="request_applied_has_time"
            ),
            models.CheckConstraint(
                condition=Q(status=Status.WAITING_ON_FREELANCER, waiting_since__isnull=False)
                | (~Q(status=Status.WAITING_ON_FREELANCER) & Q(waiting_since__isnull=True)),
                name="request_waiting_has_since",
            ),
            # One open regular request per subject (the agency for agency contracts, else the freelancer).
            models.UniqueConstraint(
                fields=["freelancer"],
                condition=Q(status__in=OPEN, is_special_offer=False, agency__isnull=True),
                name="request_one_open_regular_per_freelancer",
            ),
            models.UniqueConstraint(
                fields=["agency"],
                condition=Q(status__in=OPEN, is_special_offer=False, agency__isnull=False),
                name="request_one_open_regular_per_agency",
            ),
            models.UniqueConstraint(
                fields=["contract"], condition=Q(status__in=OPEN), name="request_one_open_per_contract"
            ),
            models.UniqueConstraint(
                fields=["contract"], condition=Q(status=Status.APPLIED), name="request_one_applied_per_contract"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "sla_due_at"], name="request_queue_sla"),
            models.Index(fields=["assigned_to", "status"], name="request_assignee_status"),
            models.Index(fields=["freelancer", "-submitted_at"], name="request_freelancer_recent"),
            models.Index(fields=["agency", "-submitted_at"], name="request_agency_recent"),
            models.Index(fields=["-submitted_at"], name="request_submitted_desc"),
            # The agents' queue (bench/admin_queue.py): open tickets by deadline, the small set every default
            # view and SLA filter reads; a final status newest first.
            models.Index(fields=["sla_due_at", "id"], condition=Q(status__in=OPEN), name="request_open_by_deadline"),
            # /desk/'s queue counts: every open ticket's status, assignee and deadline from the index alone.
            models.Index(
                fields=["status", "assigned_to", "sla_due_at"], condition=Q(status__in=OPEN), name="request_open_counts"
            ),
            models.Index(fields=["status", "-submitted_at", "-id"], name="request_status_recent"),
            # At risk and breached (the SLA filters, the desk's lists): the running tickets in deadline order, so
            # a page of them is the index's first rows, not a sort of every match.
            models.Index(
                fields=["sla_due_at", "id"], condition=Q(status__in=SLA_RUNNING), name="request_running_by_deadline"
            ),
            # The sweep's reminders and no_reply rejections: the few tickets waiting on a freelancer.
            models.Index(
                fields=["waiting_since"],
                condition=Q(status=Status.WAITING_ON_FREELANCER),
                name="request_waiting_since",
            ),
            # /desk/ reports read only the index (PostgreSQL INCLUDE; plain indexes elsewhere).
            models.Index(fields=["sla_due_at"], include=["status", "applied_at"], name="request_deadline_cover"),
            models.Index(fields=["decided_at"], include=["submitted_at"], name="request_decided_cover"),
            models.Index(
                fields=["applied_at"],
                include=["jss_outcome"],
                condition=Q(status=Status.APPLIED),
                name="request_applied_cover",
            ),
        ]

    def __str__(self):
        return f"Ticket {self.ticket_number}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def is_final(self) -> bool:
        return self.status in domain.FINAL_STATUSES

    @property
    def subject(self):
        return self.agency or self.freelancer


class EventKind(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    CLAIMED = "claimed", "Claimed"
    REASSIGNED = "reassigned", "Reassigned"
    NOTE_ADDED = "note_added", "Note added"
    INFO_REQUESTED = "info_requested", "Question to the freelancer"
    REPLIED = "replied", "Freelancer replied"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    APPLIED = "applied", "Applied"
    EMAIL_SENT = "email_sent", "Email sent"
    SLA_AT_RISK = "sla_at_risk", "SLA at risk"
    SLA_BREACHED = "sla_breached", "SLA breached"
    JSS_OUTCOME = "jss_outcome", "JSS outcome"


class RequestEvent(models.Model):
    """Append-only: events are written by services and never edited (PostgreSQL refuses UPDATE and DELETE)."""

    request = models.ForeignKey(RemovalRequest, on_delete=models.PROTECT, related_name="events")
    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="request_events"
    )
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    message = models.TextField(blank=True, default="")  # for people: code never parses it
    data = models.JSONField(default=dict, blank=True)  # the event's facts: an email's kind, a reason, an outcome
    public = models.BooleanField(default=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="event_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["request", "created_at"], name="event_request_time"),
            # The sweep's look for emails owed by recent events (``owed_emails``): a range, not a scan.
            models.Index(fields=["created_at"], name="event_time"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.request_id}"


class DeskDay(models.Model):
    """The /desk/ reports' figures of one closed UTC day, as the tickets give them (``requests_app.reports``):
    a rollup, never the source. The sweep rebuilds the last ``desk_days.KEPT_DAYS`` closed days on every run;
    a transition that changes a day already here rebuilds that day in its own transaction. Days not here (today,
    days closed since the last sweep) are read from the tickets."""

    day = models.DateField(primary_key=True)
    submitted = models.PositiveIntegerField(default=0)  # by submitted_at
    applied = models.PositiveIntegerField(default=0)  # applied, by applied_at, with their JSS outcomes
    excluded = models.PositiveIntegerField(default=0)
    kept_no_harm = models.PositiveIntegerField(default=0)
    pending = models.PositiveIntegerField(default=0)
    due = models.PositiveIntegerField(default=0)  # owed an exclusion (submitted, approved, applied), by sla_due_at
    on_time = models.PositiveIntegerField(default=0)  # of those, applied by sla_due_at

    class Meta:
        ordering = ["day"]

    def __str__(self):
        return f"Desk figures of {self.day}"
