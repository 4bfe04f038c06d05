from django.db.models import QuerySet

from .models import DomainEvent


def events_of_aggregate(*, merchant_id: str, aggregate_type: str, aggregate_id: str) -> QuerySet[DomainEvent]:
    return DomainEvent.objects.filter(
        merchant_id=merchant_id, aggregate_type=aggregate_type, aggregate_id=aggregate_id
    ).order_by("sequence")


def events_of_merchant(*, merchant_id: str) -> QuerySet[DomainEvent]:
    """Every event of the merchant, whatever its aggregate (indexed by merchant, then id)."""
    return DomainEvent.objects.filter(merchant_id=merchant_id)
