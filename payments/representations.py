"""The public shape of payments and refunds (API.md). One function per object, used by the API
and by domain events alike, so a webhook carries exactly what GET returns."""

from core.formats import rfc3339

from .models import Dispute, Payment, Refund


def payment_to_dict(payment: Payment) -> dict:
    return {
        "id": payment.id,
        "object": "payment",
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "amount_capturable": payment.amount_capturable,
        "amount_captured": payment.amount_captured,
        "amount_refunded": payment.amount_refunded,
        "capture_method": payment.capture_method,
        "capture_before": rfc3339(payment.capture_before),
        "provider": payment.provider or None,
        "provider_reference": payment.provider_reference or None,
        "payment_method": payment.payment_method,
        "reference": payment.reference or None,
        "description": payment.description or None,
        "metadata": payment.metadata,
        "failure_code": payment.failure_code or None,
        "failure_message": payment.failure_message or None,
        "cancellation_reason": payment.cancellation_reason or None,
        "created_at": rfc3339(payment.created_at),
        "updated_at": rfc3339(payment.updated_at),
    }


def refund_to_dict(refund: Refund) -> dict:
    return {
        "id": refund.id,
        "object": "refund",
        "payment": refund.payment_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason or None,
        "failure_code": refund.failure_code or None,
        "created_at": rfc3339(refund.created_at),
    }


def dispute_to_dict(dispute: Dispute) -> dict:
    if not dispute.response:
        delivery = None
    elif dispute.response_sent_at:
        delivery = "delivered"
    else:
        delivery = "refused" if dispute.response_error else "pending"
    return {
        "id": dispute.id,
        "object": "dispute",
        "payment": dispute.payment_id,
        "amount": dispute.amount,
        "currency": dispute.currency,
        "status": dispute.status,
        "reason": dispute.reason,
        "evidence": dispute.evidence or None,
        "evidence_due_by": rfc3339(dispute.evidence_due_by),
        # The merchant's answer (evidence or acceptance), and whether the provider has it yet.
        "response": dispute.response or None,
        "responded_at": rfc3339(dispute.responded_at),
        "response_delivery": delivery,
        "provider": dispute.provider,
        "created_at": rfc3339(dispute.created_at),
        "updated_at": rfc3339(dispute.updated_at),
    }
