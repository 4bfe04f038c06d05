from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from core.ids import new_id


def new_inbound_notification_id() -> str:
    return new_id("ntf")


class Verdict(models.TextChoices):
    ACCEPTED = "accepted"  # signed, fresh and readable: stored once per provider event, then applied
    DUPLICATE = "duplicate"  # the provider sent an event we already accepted: acknowledged, not applied
    REJECTED = "rejected"  # refused with a 4xx; nothing applied


class Rejection(models.TextChoices):
    UNKNOWN_PROVIDER = "unknown_provider"
    TOO_LARGE = "too_large"
    MISSING_SIGNATURE = "missing_signature"
    INVALID_SIGNATURE = "invalid_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    MALFORMED = "malformed"
    NOT_SUPPORTED = "not_supported"


class Processing(models.TextChoices):
    PENDING = "pending"  # accepted, waiting for the task that applies it
    APPLIED = "applied"  # it changed the payment or dispute it is about
    IGNORED = "ignored"  # it had nothing left to change (already applied, older than the state)
    DEFERRED = "deferred"  # it cannot apply yet (a dispute of a payment whose capture is not in): retried
    FAILED = "failed"  # given up on: an operator must look


OPEN_PROCESSING = (Processing.PENDING, Processing.DEFERRED)


class InboundNotification(models.Model):
    """Every request made to /webhooks/providers/, kept as received for audit: the raw body (up
    to the size cap), its headers, and the verdict. An accepted notification is also the unit of
    work of the task that applies it: one row per (provider, provider event id), so a duplicate
    delivery can never be applied twice."""

    id = models.CharField(primary_key=True, max_length=40, default=new_inbound_notification_id, editable=False)
    provider = models.CharField(max_length=32, help_text="As named in the URL, known or not.")
    received_at = models.DateTimeField(db_default=Now(), editable=False)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField(help_text="The raw body as received (nothing, when it was over the size cap).")
    body_size = models.PositiveIntegerField()
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    rejection = models.CharField(max_length=32, blank=True, default="", choices=Rejection.choices)
    detail = models.CharField(max_length=500, blank=True, default="")
    # What the accepted (and duplicate) notifications say, as the provider's adapter read it.
    event_id = models.CharField(max_length=64, blank=True, default="")
    kind = models.CharField(max_length=32, blank=True, default="")
    payment_reference = models.CharField(max_length=64, blank=True, default="")
    notification = models.JSONField(null=True, blank=True)
    duplicate_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="duplicates")
    # Applying an accepted notification.
    status = models.CharField(max_length=16, blank=True, default="", choices=Processing.choices)
    result = models.CharField(max_length=500, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Deduplication: one accepted notification per provider event, whatever the races.
            models.UniqueConstraint(
                fields=["provider", "event_id"],
                condition=Q(verdict="accepted"),
                name="inbound_notification_event_unique",
            ),
            models.CheckConstraint(condition=Q(verdict__in=Verdict.values), name="inbound_notification_verdict_valid"),
            models.CheckConstraint(
                condition=Q(verdict="rejected", status="", event_id="") & ~Q(rejection="")
                | Q(verdict="accepted", rejection="", duplicate_of__isnull=True) & ~Q(event_id="") & ~Q(status="")
                | Q(verdict="duplicate", rejection="", status="", duplicate_of__isnull=False) & ~Q(event_id=""),
                name="inbound_notification_verdict_fields",
            ),
        ]
        indexes = [
            models.Index(fields=["-received_at"], name="inbound_received_idx"),
            models.Index(
                fields=["next_attempt_at"],
                name="inbound_open_idx",
                condition=Q(status__in=["pending", "deferred"]),
            ),
            models.Index(
                fields=["payment_reference"],
                name="inbound_deferred_payment_idx",
                condition=Q(status="deferred"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id or self.rejection} ({self.verdict})"
