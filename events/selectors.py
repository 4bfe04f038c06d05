from django.db.models import QuerySet

from .models import DomainEvent


def events_of_aggregate(*, merchant_id: str, aggregate_type: str, aggregate_id: str) -> QuerySet[DomainEvent]:
    return DomainEvent.objects.filter(
        merchant_id=merchant_id, aggregate_type=aggregate_type, aggregate_id=aggregate_id
    ).order_by("sequence")


def events_of_merchant(*, merchant_id: str) -> QuerySet[DomainEvent]:
    """Every event of the merchant, whatever its aggregate (indexed by merchant, then id)."""
    return DomainEvent.objects.filter(merchant_id=merchant_id)


def latest_trace_context(*, aggregate_type: str, aggregate_id: str) -> dict | None:
    """The trace context stored with the aggregate's newest event that has one (what a trace
    about the payment, started elsewhere, links to). One query on the stream's unique index."""
    return (
        DomainEvent.objects.filter(
            aggregate_type=aggregate_type, aggregate_id=aggregate_id, trace_context__isnull=False
        )
        .order_by("-sequence")
        .values_list("trace_context", flat=True)
        .first()
    )
