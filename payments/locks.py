"""Named lock helpers. Lock order, always: payment, then provider operation, then refund (or
dispute), then (inside ledger.services.entry_post, last) ledger accounts by primary key. Every state change
happens on a row locked here and re-read under the lock.

Each payment lock also reads the database clock (`db_now`): every time rule (capture window,
timestamps) uses it, never the application server's clock."""

from django.db.models.functions import Now

from .errors import PaymentNotFound
from .models import Dispute, Payment, ProviderOperation, Refund


def lock_payment(*, payment_id: str, merchant_id: str | None = None) -> Payment:
    queryset = Payment.objects.select_for_update().annotate(db_now=Now())
    if merchant_id is not None:
        queryset = queryset.filter(merchant_id=merchant_id)
    payment = queryset.filter(pk=payment_id).first()
    if payment is None:
        raise PaymentNotFound(f"No such payment: {payment_id}")
    return payment


def lock_refund(*, refund_id: str) -> Refund:
    return Refund.objects.select_for_update().get(pk=refund_id)


def lock_operation(*, operation_id: str) -> ProviderOperation:
    return ProviderOperation.objects.select_for_update().get(pk=operation_id)


def lock_dispute(*, dispute_id: str) -> Dispute:
    return Dispute.objects.select_for_update().get(pk=dispute_id)
