from django.db.models import QuerySet

from events.models import DomainEvent
from events.selectors import events_of_aggregate

from .errors import DisputeNotFound, PaymentNotFound, RefundNotFound
from .models import Dispute, Payment, Refund


def payment_get(*, merchant_id: str, payment_id: str) -> Payment:
    payment = Payment.objects.filter(merchant_id=merchant_id, pk=payment_id).first()
    if payment is None:
        raise PaymentNotFound(f"No such payment: {payment_id}")
    return payment


def payment_list(*, merchant_id: str, filters: dict) -> QuerySet[Payment]:
    queryset = Payment.objects.filter(merchant_id=merchant_id)
    for name, lookup in (
        ("status", "status"),
        ("provider", "provider"),
        ("reference", "reference"),
        ("created_gte", "created_at__gte"),
        ("created_lt", "created_at__lt"),
    ):
        if filters.get(name) is not None:
            queryset = queryset.filter(**{lookup: filters[name]})
    return queryset


def payment_events(*, merchant_id: str, payment_id: str) -> QuerySet[DomainEvent]:
    payment_get(merchant_id=merchant_id, payment_id=payment_id)  # 404 for another merchant's id
    return events_of_aggregate(merchant_id=merchant_id, aggregate_type="payment", aggregate_id=payment_id)


def refund_get(*, merchant_id: str, refund_id: str) -> Refund:
    refund = Refund.objects.filter(merchant_id=merchant_id, pk=refund_id).first()
    if refund is None:
        raise RefundNotFound(f"No such refund: {refund_id}")
    return refund


def dispute_get(*, merchant_id: str, dispute_id: str) -> Dispute:
    dispute = Dispute.objects.filter(merchant_id=merchant_id, pk=dispute_id).first()
    if dispute is None:
        raise DisputeNotFound(f"No such dispute: {dispute_id}")
    return dispute


def dispute_list(*, merchant_id: str, filters: dict) -> QuerySet[Dispute]:
    queryset = Dispute.objects.filter(merchant_id=merchant_id)
    for name, lookup in (("status", "status"), ("payment", "payment_id")):
        if filters.get(name) is not None:
            queryset = queryset.filter(**{lookup: filters[name]})
    return queryset
