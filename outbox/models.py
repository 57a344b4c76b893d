"""One row per email owed: ticket emails, SLA alerts, status-loss notices (STYLE.md: one outbox).

The row is written in the transaction that makes the email owed, with the message already rendered; it is
sent after commit, outside every transaction, and marked sent. What is owed is what has no ``sent_at``."""

from django.db import models
from django.db.models import Q


class About(models.TextChoices):
    """What an email is about. The outbox sits below every app, so it names the row, never links to it."""

    REMOVAL_REQUEST = "removal_request", "Removal request"
    TOP_RATED_EVALUATION = "top_rated_evaluation", "Top Rated evaluation"


class EmailDelivery(models.Model):
    about_type = models.CharField(max_length=32, choices=About.choices)
    about_id = models.BigIntegerField()
    kind = models.CharField(max_length=32, help_text="Which email: submitted, sla_at_risk, status_loss, ...")
    # What made it owed (the event or evaluation id): one email per occasion and recipient, however often asked.
    occasion = models.BigIntegerField()
    recipient = models.EmailField()
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # A sender holds the row from here until it is sent or fails; another sender waits out the lease.
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "email deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["about_type", "about_id", "kind", "occasion", "recipient"], name="email_delivery_once"
            ),
            models.CheckConstraint(condition=Q(about_type__in=About.values), name="email_delivery_about_valid"),
        ]
        indexes = [
            models.Index(fields=["about_type", "about_id"], name="email_delivery_about"),
            # The sweep's look for what is owed: the unsent rows only.
            models.Index(fields=["created_at"], condition=Q(sent_at__isnull=True), name="email_delivery_owed"),
        ]

    def __str__(self):
        return f"{self.kind} to {self.recipient} ({'sent' if self.sent_at else 'owed'})"
