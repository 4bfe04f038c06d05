"""Merchant webhooks: endpoints, one delivery per (event, endpoint), and every attempt made.

The domain events themselves live in `events.DomainEvent`, which is the transactional outbox; the
relay (outbox.relay) publishes them and fans each one out into deliveries here."""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from core.fields import EncryptedTextField
from core.ids import new_id
from events.models import DomainEvent

# The first KiB of an endpoint's answer is kept with each attempt, for people debugging it.
RESPONSE_EXCERPT_MAX_CHARS = 1024


def new_endpoint_id() -> str:
    return new_id("we")


def new_delivery_id() -> str:
    return new_id("whd")


class EndpointStatus(models.TextChoices):
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"


class DisabledReason(models.TextChoices):
    GONE = "gone", "the endpoint answered 410 Gone"
    FAILING = "failing", "every attempt failed for 5 days"
    OPERATOR = "operator", "an operator disabled it"


class WebhookEndpoint(models.Model):
    """A merchant's URL that receives signed events. Nothing is sent to an endpoint that is not
    enabled; a deleted endpoint is kept (its deliveries and attempts are history) but hidden."""

    id = models.CharField(primary_key=True, max_length=40, default=new_endpoint_id, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    url = models.CharField(max_length=2048)
    event_types = models.JSONField(help_text='Event types sent to this endpoint, or ["*"] for all.')
    status = models.CharField(max_length=16, choices=EndpointStatus.choices, default=EndpointStatus.ENABLED)
    disabled_reason = models.CharField(max_length=16, choices=DisabledReason.choices, blank=True, default="")
    # Encrypted at rest, not hashed: signing needs the key itself. Never shown after the answer
    # that created it, never in the admin.
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="The first failed attempt since the last successful one."
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=EndpointStatus.values), name="webhook_endpoint_status_valid"),
            models.CheckConstraint(
                condition=Q(status=EndpointStatus.DISABLED, disabled_reason__in=DisabledReason.values)
                | (~Q(status=EndpointStatus.DISABLED) & Q(disabled_reason="")),
                name="webhook_endpoint_disabled_reason_iff_disabled",
            ),
            models.CheckConstraint(
                condition=Q(previous_secret="", previous_secret_expires_at__isnull=True)
                | (~Q(previous_secret="") & Q(previous_secret_expires_at__isnull=False)),
                name="webhook_endpoint_previous_secret_expires",
            ),
        ]
        indexes = [models.Index(fields=["merchant", "-id"], name="webhook_endpoint_merchant_idx")]
        permissions = [("operate_webhooks", "Can send deliveries again, replay events, enable and disable endpoints")]

    def __str__(self) -> str:
        return f"{self.id} {self.url}"

    def subscribes_to(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event to one endpoint, retried until delivered or given up. A redelivery re-arms the
    same row, so the unique (event, endpoint) constraint holds for good.

    The event's aggregate and sequence are copied here so that "is an earlier event of this
    payment still pending for this endpoint?" is one indexed lookup on this table."""

    id = models.CharField(primary_key=True, max_length=40, default=new_delivery_id, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries")
    # Indexed by the unique (event, endpoint) constraint below.
    event = models.ForeignKey(DomainEvent, on_delete=models.PROTECT, related_name="+", db_index=False)
    event_type = models.CharField(max_length=64)
    aggregate_type = models.CharField(max_length=32)
    aggregate_id = models.CharField(max_length=40)
    sequence = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_default=Now())
    first_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="Start of the current retry window (reset by a redelivery)."
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    # A dispatcher leases the rows it sends, commits, and only then calls the endpoint: no lock is
    # held during the HTTP call, and a dispatcher that dies leaves a lease that simply expires.
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once_per_endpoint"),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.PENDING) | Q(next_attempt_at__isnull=False),
                name="webhook_delivery_pending_has_next_attempt",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=Q(status=DeliveryStatus.PENDING),
            ),
            models.Index(
                fields=["endpoint", "aggregate_type", "aggregate_id", "sequence"],
                name="webhook_delivery_stream_idx",
                condition=Q(status=DeliveryStatus.PENDING),
            ),
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_endpoint_idx"),
            # /metrics counts the deliveries given up (outbox.metrics).
            models.Index(
                fields=["endpoint"], name="webhook_delivery_failed_idx", condition=Q(status=DeliveryStatus.FAILED)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.event_type} -> {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One HTTP request to an endpoint and what came of it. A fact: never changed."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.PROTECT, related_name="attempts")
    attempted_at = models.DateTimeField(db_default=Now(), editable=False)
    delivered = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    response_excerpt = models.CharField(max_length=RESPONSE_EXCERPT_MAX_CHARS, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["attempted_at"], name="webhook_attempt_time_idx")]  # for the purge

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"


class RelayBacklogEvent(DomainEvent):
    """The events the relay has not published yet: an admin page for operators."""

    class Meta:
        proxy = True
        verbose_name = "unpublished event (relay backlog)"
        verbose_name_plural = "relay backlog"
