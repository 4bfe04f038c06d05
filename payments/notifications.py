"""Applying providers' notifications (verified and stored by the webhooks app) to payments and
their disputes, through the same services the API and status polling use, so that an outcome
takes effect once, whoever brings it first.

- authorization, capture, void, refund: the notification answers one of the payment's
  ProviderOperations; an open one gets the result through services.operation_apply_result. One
  already closed is left alone: that is how a repeated, late or out-of-order notification never
  moves a payment backwards (a capture's notification arriving after a refund finds its
  operation closed long ago).
- dispute_opened, dispute_won, dispute_lost: each carries the whole dispute, so whichever comes
  first opens it; a decision then closes it. A dispute of a payment whose capture we have not
  recorded yet (its answer is still on its way) is deferred, and applied once the capture is in.

`notification_apply` runs inside the caller's transaction and never calls a provider;
`notification_follow_up` runs after it committed (an approved authorization of a payment that
captures automatically is captured there).
"""

import logging
from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction

from providers.port import DISPUTE_NOTIFICATION_KINDS, NotificationKind, Outcome, ProviderNotification, ProviderResult

from . import disputes, services
from .errors import PaymentNotFound
from .locks import lock_operation, lock_payment
from .models import (
    OPEN_OPERATION_STATUSES,
    Dispute,
    DisputeStatus,
    OperationKind,
    OperationStatus,
    Payment,
    PaymentStatus,
    ProviderOperation,
)

logger = logging.getLogger(__name__)


class Applied(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class NotificationOutcome:
    status: Applied
    detail: str
    payment_id: str = ""
    capture_next: bool = False  # an authorization was approved: capture it if the payment captures automatically


def _ignored(detail: str, payment_id: str = "", *, unexpected: bool = False) -> NotificationOutcome:
    if unexpected:  # the provider says something that contradicts what we know: someone must look
        logger.error(
            "provider notification contradicts our records", extra={"payment_id": payment_id, "detail": detail}
        )
    return NotificationOutcome(Applied.IGNORED, detail, payment_id)


_OPERATION_KINDS = {
    NotificationKind.AUTHORIZATION: OperationKind.AUTHORIZE,
    NotificationKind.CAPTURE: OperationKind.CAPTURE,
    NotificationKind.VOID: OperationKind.VOID,
    NotificationKind.REFUND: OperationKind.REFUND,
}


def notification_apply(*, provider: str, notification: ProviderNotification) -> NotificationOutcome:
    with transaction.atomic():
        payment_id = notification.payment_reference
        try:
            payment = lock_payment(payment_id=payment_id)
        except PaymentNotFound:
            return _ignored(f"No payment {payment_id}.", unexpected=True)
        if payment.provider != provider:
            return _ignored(f"The payment is with {payment.provider or 'no provider'}, not {provider}.", payment_id)
        if notification.kind in DISPUTE_NOTIFICATION_KINDS:
            return _apply_dispute(payment, provider, notification)
        return _apply_operation(payment, notification)


def notification_follow_up(outcome: NotificationOutcome) -> None:
    """What an applied notification leads to outside its transaction."""
    if outcome.capture_next:
        services.payment_capture_automatically(payment_id=outcome.payment_id)


# --- operations ------------------------------------------------------------------------------------
def _apply_operation(payment: Payment, notification: ProviderNotification) -> NotificationOutcome:
    kind = _OPERATION_KINDS[notification.kind]
    operation = _operation_answered(payment, kind, notification)
    if operation is None:
        return _ignored(f"No {kind} of this payment matches it.", payment.id, unexpected=True)
    operation = lock_operation(operation_id=operation.id)
    approved = notification.outcome == Outcome.APPROVED
    if operation.status not in OPEN_OPERATION_STATUSES:
        if (operation.status == OperationStatus.SUCCEEDED) == approved:
            return _ignored(f"The {kind} was already applied.", payment.id)
        return _ignored(
            f"It says {notification.outcome} but the {kind} {operation.status}.", payment.id, unexpected=True
        )
    if notification.amount is not None and notification.amount != operation.amount:
        detail = f"It says {notification.amount} but the {kind} is for {operation.amount}."
        return _ignored(detail, payment.id, unexpected=True)
    result = ProviderResult(
        outcome=Outcome.APPROVED if approved else Outcome.DECLINED,
        provider_reference=notification.provider_reference,
        failure_code="" if approved else notification.reason or "card_declined",
        failure_message="" if approved else notification.message,
        raw_code=notification.reason_code,
    )
    services.operation_apply_result(operation=operation, result=result)
    return NotificationOutcome(
        Applied.APPLIED,
        f"The {kind} {'succeeded' if approved else 'failed'}.",
        payment.id,
        capture_next=kind == OperationKind.AUTHORIZE and approved,
    )


def _operation_answered(payment: Payment, kind: str, notification: ProviderNotification) -> ProviderOperation | None:
    """The operation a notification answers: a refund by the reference it echoes; an
    authorization, capture or void by kind (at most one of each is open at a time), the open one
    first."""
    operations = payment.operations.filter(kind=kind, provider=payment.provider)
    if kind == OperationKind.REFUND:
        if not notification.operation_reference:
            return None
        operations = operations.filter(reference=notification.operation_reference)
    open_first = sorted(operations, key=lambda op: (op.status not in OPEN_OPERATION_STATUSES, op.created_at))
    return open_first[0] if open_first else None


# --- disputes --------------------------------------------------------------------------------------
_DISPUTABLE = (PaymentStatus.CAPTURED, PaymentStatus.SETTLED, PaymentStatus.REFUNDED)
# A dispute of a payment in these statuses is ahead of our records: its capture is on its way.
_NOT_CAPTURED_YET = (PaymentStatus.AUTHORIZATION_REQUESTED, PaymentStatus.AUTHORIZED)


def _apply_dispute(payment: Payment, provider: str, notification: ProviderNotification) -> NotificationOutcome:
    dispute = Dispute.objects.select_for_update().filter(provider=provider, provider_dispute_id=notification.dispute_id)
    dispute = dispute.first()
    opened = False
    if dispute is None:
        if payment.status in _NOT_CAPTURED_YET:
            return NotificationOutcome(Applied.DEFERRED, "The payment's capture is not recorded yet.", payment.id)
        if payment.status not in _DISPUTABLE:
            return _ignored(f"A payment in status {payment.status} cannot be disputed.", payment.id, unexpected=True)
        if payment.disputes.exists():
            return _ignored("The payment is disputed already, under another id.", payment.id, unexpected=True)
        if not notification.amount or notification.amount > payment.amount_captured:
            detail = f"Disputes {notification.amount} of {payment.amount_captured} captured."
            return _ignored(detail, payment.id, unexpected=True)
        dispute = disputes.dispute_open(
            payment=payment,
            provider_dispute_id=notification.dispute_id,
            amount=notification.amount,
            reason=notification.reason,
            reason_code=notification.reason_code,
            reason_message=notification.message,
            evidence_due_by=notification.evidence_due_by,
        )
        opened = True
    if notification.kind == NotificationKind.DISPUTE_OPENED:
        if opened:
            return NotificationOutcome(Applied.APPLIED, f"Dispute {dispute.id} opened.", payment.id)
        return _ignored(f"Dispute {dispute.id} was already opened.", payment.id)
    won = notification.kind == NotificationKind.DISPUTE_WON
    if not dispute.is_open:
        if (dispute.status == DisputeStatus.WON) == won:
            return _ignored(f"Dispute {dispute.id} was already {dispute.status}.", payment.id)
        detail = f"It says {notification.kind} but dispute {dispute.id} is {dispute.status}."
        return _ignored(detail, payment.id, unexpected=True)
    disputes.dispute_decide(payment=payment, dispute=dispute, won=won)
    return NotificationOutcome(Applied.APPLIED, f"Dispute {dispute.id} {dispute.status}.", payment.id)
