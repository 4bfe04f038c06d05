from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now

from core.ids import new_event_id


class DomainEvent(models.Model):
    """An immutable fact about an aggregate (a payment, a wallet), written in the same transaction
    as the state change it records. The table is also the transactional outbox: `published_at`
    is set once the relay has handed the event on."""

    id = models.CharField(primary_key=True, max_length=40, default=new_event_id, editable=False)
    # No index of its own: domain_event_merchant_idx (merchant, -id) serves every lookup by merchant.
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+", db_index=False)
    aggregate_type = models.CharField(max_length=32)
    aggregate_id = models.CharField(max_length=40)
    sequence = models.PositiveIntegerField(help_text="Position in the aggregate's own stream, from 1.")
    type = models.CharField(max_length=64)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    correlation_id = models.CharField(max_length=128, blank=True, default="")
    causation_id = models.CharField(max_length=128, blank=True, default="")
    occurred_at = models.DateTimeField(db_default=Now())
    published_at = models.DateTimeField(null=True, blank=True)
    # The W3C trace context (traceparent, tracestate) of the span that recorded it, so the relay
    # and webhook deliveries join or link to that trace (core.tracing). Null when tracing was off
    # or nothing was traced (events written in SQL by set-based settlement).
    trace_context = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["aggregate_type", "aggregate_id", "sequence"], name="domain_event_sequence_unique"
            ),
            models.CheckConstraint(condition=models.Q(sequence__gte=1), name="domain_event_sequence_positive"),
        ]
        indexes = [
            models.Index(fields=["merchant", "-id"], name="domain_event_merchant_idx"),
            models.Index(
                fields=["id"], name="domain_event_unpublished_idx", condition=models.Q(published_at__isnull=True)
            ),
            # The relay's "is an earlier event of this aggregate still unpublished?" (outbox.relay).
            models.Index(
                fields=["aggregate_type", "aggregate_id", "sequence"],
                name="domain_event_unpub_stream_idx",
                condition=models.Q(published_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.aggregate_id}#{self.sequence}"
