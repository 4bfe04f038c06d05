"""Payment lifecycle services.

Every operation that involves a provider runs in three steps, and never calls the provider
inside a transaction or under a row lock:

1. intent: in a transaction, lock the payment, check the rules, write a ProviderOperation
   (the database allows one open state-changing operation per payment) and its event; commit;
2. call: ask the provider, with the operation's idempotency reference;
3. apply: in a new transaction, lock the payment and the operation again and apply the result,
   exactly once (an operation that is no longer open is left alone).

A result that is not known (timeout, 5xx) leaves the operation open; `operation_resolve` (status
polling, run periodically for `operations_due_for_status_check`) asks the provider for the truth
and applies it through the same step 3.

Wallet payments call no provider: each of their steps is one transaction (see the wallet section).
"""

import logging
import random
import time
from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import Now

from core import context, tracing
from core.errors import (
    ApplicationError,
    InsufficientFunds,
    InvalidStateTransition,
    OperationInProgress,
    ProviderUnavailable,
    ValidationFailed,
)
from core.metrics import PAYMENT_OPERATIONS, PROVIDER_CALLS
from events.services import event_record
from ledger import chart
from providers import registry, routing
from providers.port import (
    AuthorizeRequest,
    CaptureRequest,
    Operation,
    Outcome,
    ProviderResult,
    RefundRequest,
    StatusRequest,
    VoidRequest,
)
from wallets import services as wallet_services
from wallets.selectors import wallet_get

from . import accounting
from .errors import (
    AmountExceedsCapturable,
    AmountExceedsRefundable,
    CaptureWindowExpired,
    PaymentDisputed,
    ProviderDeclined,
)
from .locks import lock_operation, lock_payment, lock_refund
from .metrics import count_decided
from .models import (
    OPEN_DISPUTE_STATUSES,
    OPEN_OPERATION_STATUSES,
    CancellationReason,
    CaptureMethod,
    OperationKind,
    OperationStatus,
    Payment,
    PaymentStatus,
    ProviderOperation,
    Refund,
)
from .representations import payment_to_dict, refund_to_dict

logger = logging.getLogger(__name__)

# How long after the intent an open operation is first checked by status polling: longer than
# any provider timeout, so the poll never races the original call.
FIRST_STATUS_CHECK_AFTER = timedelta(seconds=30)
MAX_STATUS_CHECK_INTERVAL = timedelta(hours=1)


# --- events -------------------------------------------------------------------------------------
def _payment_event(payment: Payment, event_type: str) -> None:
    event_record(
        merchant_id=payment.merchant_id,
        aggregate_type="payment",
        aggregate_id=payment.id,
        type=event_type,
        data={"object": payment_to_dict(payment)},
    )


def _refund_event(refund: Refund, event_type: str) -> None:
    event_record(
        merchant_id=refund.merchant_id,
        aggregate_type="payment",
        aggregate_id=refund.payment_id,
        type=event_type,
        data={"object": refund_to_dict(refund)},
    )


def _save(payment: Payment, *fields: str) -> None:
    payment.updated_at = payment.db_now
    payment.save(update_fields=[*fields, "updated_at"])


# --- create -------------------------------------------------------------------------------------
@transaction.atomic
def payment_create(
    *,
    merchant_id: str,
    amount: int,
    currency: str,
    payment_method: dict,
    capture_method: str = CaptureMethod.AUTOMATIC,
    provider: str | None = None,
    reference: str = "",
    description: str = "",
    metadata: dict | None = None,
) -> Payment:
    if payment_method["type"] == WALLET:
        _check_wallet_can_pay(
            merchant_id=merchant_id, wallet_id=payment_method["wallet"], currency=currency, provider=provider
        )
        provider = WALLET
    payment = Payment.objects.create(
        merchant_id=merchant_id,
        amount=amount,
        currency=currency,
        payment_method=payment_method,
        capture_method=capture_method,
        provider=provider or "",
        reference=reference,
        description=description,
        metadata=metadata or {},
    )
    _payment_event(payment, "payment.created")
    PAYMENT_OPERATIONS.labels("create", "succeeded").inc()
    return payment


# --- authorize ----------------------------------------------------------------------------------
def payment_authorize(*, merchant_id: str, payment_id: str) -> Payment:
    """Authorizes with the payment's provider, or with the routed providers in order, falling back
    to the next one only when the call certainly never reached the previous one. A wallet payment
    is authorized at once by reserving the amount in the wallet."""
    with transaction.atomic():
        payment = lock_payment(merchant_id=merchant_id, payment_id=payment_id)
        if payment.status != PaymentStatus.CREATED:
            raise InvalidStateTransition(f"A payment in status '{payment.status}' cannot be authorized.")
        if payment.provider == WALLET:
            _authorize_with_wallet(payment)
            operation = None
        else:
            candidates = (
                [payment.provider]
                if payment.provider
                else routing.candidates(currency=payment.currency, amount=payment.amount)
            )
            payment.request_authorization(provider=candidates[0])
            _save(payment, "status", "provider")
            _payment_event(payment, "payment.authorization_requested")
            operation = _open_operation(payment, kind=OperationKind.AUTHORIZE, amount=payment.amount)

    if operation is not None:
        payment = _authorize_with_providers(operation, fallbacks=candidates[1:]).payment
    if payment.status == PaymentStatus.AUTHORIZED and payment.capture_method == CaptureMethod.AUTOMATIC:
        try:
            return payment_capture(merchant_id=merchant_id, payment_id=payment_id, amount=None)
        except (InvalidStateTransition, OperationInProgress):
            # The provider's notification of this authorization got here first and is capturing
            # the payment (or has): it is captured either way.
            return Payment.objects.get(pk=payment_id)
    return payment


def _authorize_with_providers(operation: ProviderOperation, *, fallbacks: list[str]) -> ProviderOperation:
    for next_provider in [*fallbacks, None]:
        result = _call_provider(operation)
        if _never_arrived(result) and next_provider:
            operation = _fall_back(operation=operation, result=result, next_provider=next_provider)
            continue
        # No provider left: if none saw the request, it failed for certain.
        return operation_apply_result(operation=operation, result=_definite_if_never_arrived(result))
    raise AssertionError("unreachable: the last candidate always applies its result")


def _fall_back(*, operation: ProviderOperation, result: ProviderResult, next_provider: str) -> ProviderOperation:
    """The provider never saw the request: close that attempt and open one with the next provider."""
    with transaction.atomic():
        payment = lock_payment(payment_id=operation.payment_id)
        operation = lock_operation(operation_id=operation.id)
        _close_operation(operation, payment, status=OperationStatus.FAILED, result=result)
        payment.provider = next_provider
        _save(payment, "provider")
        logger.warning(
            "provider unreachable, falling back",
            extra={"payment_id": payment.id, "from": operation.provider, "to": next_provider},
        )
        return _open_operation(payment, kind=OperationKind.AUTHORIZE, amount=payment.amount)


# --- capture ------------------------------------------------------------------------------------
def payment_capture(*, merchant_id: str, payment_id: str, amount: int | None) -> Payment:
    with transaction.atomic():
        payment = lock_payment(merchant_id=merchant_id, payment_id=payment_id)
        if payment.status != PaymentStatus.AUTHORIZED:
            raise InvalidStateTransition(f"A payment in status '{payment.status}' cannot be captured.")
        ensure_capture_window_open(payment)
        amount = payment.amount_capturable if amount is None else amount
        if amount > payment.amount_capturable:
            raise AmountExceedsCapturable(
                f"Capture amount {amount} is larger than the capturable amount {payment.amount_capturable}.",
                errors=[{"field": "amount", "code": "amount_exceeds_capturable", "detail": "Too large."}],
            )
        if payment.provider == WALLET:
            _capture_from_wallet(payment, amount)
            return payment
        operation = _open_operation(payment, kind=OperationKind.CAPTURE, amount=amount)

    operation, result = _call_and_apply(operation)
    _raise_if_failed(operation, result, what="capture")
    return operation.payment


def ensure_capture_window_open(payment: Payment) -> None:
    """Capture is allowed only while the database clock is before capture_before."""
    if payment.capture_before is None or payment.db_now >= payment.capture_before:
        raise CaptureWindowExpired("The capture window of this authorization has closed; create a new payment instead.")


# --- cancel -------------------------------------------------------------------------------------
def payment_cancel(*, merchant_id: str, payment_id: str) -> Payment:
    with transaction.atomic():
        payment = lock_payment(merchant_id=merchant_id, payment_id=payment_id)
        if payment.status == PaymentStatus.CREATED:
            payment.cancel(reason=CancellationReason.REQUESTED)
            _save(payment, "status", "cancellation_reason", "amount_capturable")
            _payment_event(payment, "payment.canceled")
            return payment
        if payment.status != PaymentStatus.AUTHORIZED:
            raise InvalidStateTransition(f"A payment in status '{payment.status}' cannot be canceled.")
        if payment.provider == WALLET:
            _release_wallet(payment, reason=CancellationReason.REQUESTED)
            return payment
        operation = _open_operation(payment, kind=OperationKind.VOID, amount=payment.amount_capturable)

    operation, result = _call_and_apply(operation)
    _raise_if_failed(operation, result, what="void")
    return operation.payment


@transaction.atomic
def payment_expire_authorization(*, payment_id: str) -> bool:
    """Cancels an authorization whose capture window closed (the provider lets it lapse on the
    same schedule, so nothing is sent to it). False when it no longer applies."""
    payment = lock_payment(payment_id=payment_id)
    if payment.status != PaymentStatus.AUTHORIZED or payment.db_now < payment.capture_before:
        return False
    if payment.operations.filter(status__in=OPEN_OPERATION_STATUSES).exists():
        return False  # a capture or void is under way: its outcome decides
    if payment.provider == WALLET:
        _release_wallet(payment, reason=CancellationReason.CAPTURE_WINDOW_EXPIRED)
        return True
    payment.cancel(reason=CancellationReason.CAPTURE_WINDOW_EXPIRED)
    _save(payment, "status", "cancellation_reason", "amount_capturable")
    _payment_event(payment, "payment.canceled")
    return True


# --- refunds ------------------------------------------------------------------------------------
def refund_create(*, merchant_id: str, payment_id: str, amount: int | None, reason: str = "") -> Refund:
    with transaction.atomic():
        payment = lock_payment(merchant_id=merchant_id, payment_id=payment_id)
        if payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.SETTLED):
            raise InvalidStateTransition(f"A payment in status '{payment.status}' cannot be refunded.")
        if payment.disputes.filter(status__in=OPEN_DISPUTE_STATUSES).exists():
            # The disputed amount is already on its way back to the cardholder: a refund now
            # would pay them twice.
            raise PaymentDisputed("This payment is disputed: answer the dispute instead of refunding it.")
        refundable = payment.amount_captured - payment.amount_refunded - payment.amount_refund_pending
        amount = refundable if amount is None else amount
        if amount > refundable or amount <= 0:
            raise AmountExceedsRefundable(
                f"At most {refundable} can still be refunded on this payment (refunds in progress included).",
                errors=[{"field": "amount", "code": "amount_exceeds_refundable", "detail": f"At most {refundable}."}],
            )
        payment.amount_refund_pending += amount
        _save(payment, "amount_refund_pending")
        refund = Refund.objects.create(
            merchant_id=merchant_id, payment=payment, amount=amount, currency=payment.currency, reason=reason
        )
        _refund_event(refund, "refund.created")
        if payment.provider == WALLET:
            _record_refund_result(payment, refund, succeeded=True, failure_code="")
            return refund
        operation = _open_operation(payment, kind=OperationKind.REFUND, amount=amount, refund=refund)

    operation, _ = _call_and_apply(operation)
    return operation.refund


# --- provider operations: intent, call, apply ---------------------------------------------------
def _open_operation(payment: Payment, *, kind: str, amount: int, refund: Refund | None = None) -> ProviderOperation:
    """Records the intent to call the provider. Must run inside the transaction holding the
    payment's lock; the partial unique constraints refuse a second open operation."""
    operation = ProviderOperation(
        payment=payment,
        refund=refund,
        kind=kind,
        provider=payment.provider,
        amount=amount,
        next_check_at=payment.db_now + FIRST_STATUS_CHECK_AFTER,
    )
    # The provider knows an authorization by our payment id (its order id); each attempt gets its
    # own row per provider. Refunds are known by the refund id, other operations by their own id.
    if kind == OperationKind.AUTHORIZE:
        operation.reference = f"{payment.id}:{payment.provider}"
    else:
        operation.reference = refund.id if refund else operation.id
    try:
        # No savepoint: on a conflict the whole intent transaction is abandoned anyway.
        with transaction.atomic(savepoint=False):
            operation.save(force_insert=True)
    except IntegrityError as exc:
        raise OperationInProgress(
            "Another operation on this payment is still in progress; retry when it has finished."
        ) from exc
    return operation


def _call_and_apply(operation: ProviderOperation) -> tuple[ProviderOperation, ProviderResult]:
    result = _definite_if_never_arrived(_call_provider(operation))
    return operation_apply_result(operation=operation, result=result), result


def _never_arrived(result: ProviderResult) -> bool:
    """Nothing was sent (circuit open, connection refused): no provider saw the request."""
    return result.outcome == Outcome.UNKNOWN and not result.reached_provider


def _definite_if_never_arrived(result: ProviderResult) -> ProviderResult:
    """A request no provider saw failed for certain (the caller may retry it at once): it is
    not an unknown outcome to poll for."""
    return replace(result, outcome=Outcome.NOT_FOUND) if _never_arrived(result) else result


def _raise_if_failed(operation: ProviderOperation, result: ProviderResult, *, what: str) -> None:
    if operation.status != OperationStatus.FAILED:
        return
    if not result.reached_provider:
        raise ProviderUnavailable(f"The provider could not be reached and nothing was sent: retry the {what} later.")
    raise ProviderDeclined(f"The provider declined the {what}: {_failure(result)[1]}")


def _call_provider(operation: ProviderOperation) -> ProviderResult:
    with _provider_span(operation, operation.kind) as span:
        result = _provider_call(operation)
        span.set_attribute("payment.outcome", str(result.outcome))
        return result


def _provider_span(operation: ProviderOperation, name: str):
    """The span of one provider call (its HTTP requests are children): ids, provider, operation
    and, set by the caller, outcome; never the card token."""
    return tracing.span(
        f"provider {name}",
        payment_id=operation.payment_id,
        merchant_id=operation.payment.merchant_id,
        payment_provider=operation.provider,
        payment_operation=str(name),
        **{"provider.operation.id": operation.id},
    )


def _provider_call(operation: ProviderOperation) -> ProviderResult:
    """Step 2: the provider call, outside any transaction."""
    assert not transaction.get_connection().in_atomic_block, "never call a provider inside a transaction"
    adapter = registry.get_provider(operation.provider)
    payment = operation.payment
    started = time.perf_counter()
    try:
        if operation.kind == OperationKind.AUTHORIZE:
            result = adapter.authorize(
                AuthorizeRequest(
                    reference=payment.id,
                    amount=operation.amount,
                    currency=payment.currency,
                    token=payment.payment_method["token"],
                )
            )
        elif operation.kind == OperationKind.CAPTURE:
            result = adapter.capture(
                CaptureRequest(
                    reference=operation.reference,
                    provider_reference=payment.provider_reference,
                    amount=operation.amount,
                    currency=payment.currency,
                )
            )
        elif operation.kind == OperationKind.VOID:
            result = adapter.void(
                VoidRequest(
                    reference=operation.reference,
                    provider_reference=payment.provider_reference,
                    amount=operation.amount,
                    currency=payment.currency,
                )
            )
        else:
            result = adapter.refund(
                RefundRequest(
                    reference=operation.reference,
                    provider_reference=payment.provider_reference,
                    amount=operation.amount,
                    currency=payment.currency,
                )
            )
    except Exception:  # an adapter bug must not lose the operation: it becomes an unknown outcome
        logger.exception("provider adapter raised", extra={"operation_id": operation.id})
        result = ProviderResult(outcome=Outcome.UNKNOWN, failure_code="provider_error", reached_provider=True)
    elapsed = time.perf_counter() - started
    PROVIDER_CALLS.labels(operation.provider, operation.kind, result.outcome).observe(elapsed)
    if not result.latency_ms:
        result = replace(result, latency_ms=int(elapsed * 1000))
    logger.info(
        "provider call",
        extra={
            "operation_id": operation.id,
            "payment_id": operation.payment_id,
            "provider": operation.provider,
            "operation": operation.kind,
            "outcome": result.outcome,
            "latency_ms": result.latency_ms,
        },
    )
    return result


def operation_apply_result(*, operation: ProviderOperation, result: ProviderResult) -> ProviderOperation:
    """Step 3: applies a provider's answer to an operation exactly once. Returns the operation as
    it stands afterwards, with `payment` (and `refund`) as they stand too. An operation already
    closed (by the original call, a status poll or a webhook, whichever came first) is left as
    it is."""
    with transaction.atomic():
        payment = lock_payment(payment_id=operation.payment_id)
        operation = lock_operation(operation_id=operation.id)
        operation.payment = payment
        if operation.status not in OPEN_OPERATION_STATUSES:
            return operation
        if result.outcome in (Outcome.PENDING, Outcome.UNKNOWN):
            _keep_open(operation, payment, result)
            return operation
        succeeded = result.outcome == Outcome.APPROVED
        apply = {
            OperationKind.AUTHORIZE: _apply_authorization,
            OperationKind.CAPTURE: _apply_capture,
            OperationKind.VOID: _apply_void,
            OperationKind.REFUND: _apply_refund,
        }[operation.kind]
        apply(payment, operation, result, succeeded)
        _close_operation(
            operation, payment, status=OperationStatus.SUCCEEDED if succeeded else OperationStatus.FAILED, result=result
        )
        PAYMENT_OPERATIONS.labels(operation.kind, operation.status).inc()
        return operation


def _keep_open(operation: ProviderOperation, payment: Payment, result: ProviderResult) -> None:
    operation.status = OperationStatus.PENDING if result.outcome == Outcome.PENDING else OperationStatus.UNKNOWN
    operation.provider_reference = result.provider_reference or operation.provider_reference
    operation.result_code = result.raw_code or result.failure_code
    operation.latency_ms = result.latency_ms or operation.latency_ms
    operation.save(update_fields=["status", "provider_reference", "result_code", "latency_ms"])
    if operation.kind == OperationKind.AUTHORIZE and result.provider_reference and not payment.provider_reference:
        payment.provider_reference = result.provider_reference
        _save(payment, "provider_reference")


def _close_operation(operation: ProviderOperation, payment: Payment, *, status: str, result: ProviderResult) -> None:
    operation.status = status
    operation.provider_reference = result.provider_reference or operation.provider_reference
    operation.result_code = result.failure_code or result.raw_code
    operation.result_message = result.failure_message[:500]
    operation.latency_ms = result.latency_ms or operation.latency_ms
    operation.completed_at = payment.db_now
    operation.next_check_at = None
    operation.save(
        update_fields=[
            "status",
            "provider_reference",
            "result_code",
            "result_message",
            "latency_ms",
            "completed_at",
            "next_check_at",
        ]
    )
    count_decided(
        kind=operation.kind,
        provider=operation.provider,
        status=status,
        outcome=result.outcome,
        reached_provider=result.reached_provider,
    )


def _failure(result: ProviderResult) -> tuple[str, str]:
    if result.outcome == Outcome.NOT_FOUND:
        return "provider_unavailable", "The provider never received the request."
    return result.failure_code or "provider_declined", result.failure_message or "The provider declined the operation."


def _apply_authorization(payment: Payment, operation: ProviderOperation, result: ProviderResult, ok: bool) -> None:
    if ok:
        window = timedelta(days=registry.capture_window_days(payment.provider))
        payment.authorize(
            provider_reference=result.provider_reference or payment.provider_reference,
            capture_before=payment.db_now + window,
        )
        _save(payment, "status", "provider_reference", "amount_capturable", "capture_before")
        _payment_event(payment, "payment.authorized")
    else:
        code, message = _failure(result)
        payment.fail(code=code, message=message)
        _save(payment, "status", "failure_code", "failure_message")
        _payment_event(payment, "payment.failed")


def _apply_capture(payment: Payment, operation: ProviderOperation, result: ProviderResult, ok: bool) -> None:
    if ok:
        payment.capture(amount=operation.amount)
        _save(payment, "status", "amount_captured", "amount_capturable")
        _payment_event(payment, "payment.captured")
        accounting.post_capture(payment=payment, amount=operation.amount)
    # a declined capture leaves the payment authorized: the merchant may try again in the window


def _apply_void(payment: Payment, operation: ProviderOperation, result: ProviderResult, ok: bool) -> None:
    if ok:
        payment.cancel(reason=CancellationReason.REQUESTED)
        _save(payment, "status", "cancellation_reason", "amount_capturable")
        _payment_event(payment, "payment.canceled")


def _apply_refund(payment: Payment, operation: ProviderOperation, result: ProviderResult, ok: bool) -> None:
    refund = lock_refund(refund_id=operation.refund_id)
    operation.refund = refund
    _record_refund_result(payment, refund, succeeded=ok, failure_code="" if ok else _failure(result)[0])


def _record_refund_result(payment: Payment, refund: Refund, *, succeeded: bool, failure_code: str) -> None:
    """Releases the refund's reservation on the payment and records how it ended, with its
    events and, when it succeeded, its ledger entry."""
    payment.amount_refund_pending -= refund.amount
    refund.updated_at = payment.db_now
    if succeeded:
        payment.amount_refunded += refund.amount
        refund.succeed()
        refund.save(update_fields=["status", "updated_at"])
        _save(payment, "amount_refund_pending", "amount_refunded")
        _refund_event(refund, "refund.succeeded")
        if payment.provider == WALLET:
            wallet_services.wallet_refund(
                wallet_id=payment.payment_method["wallet"],
                amount=refund.amount,
                reference=accounting.refund_reference(refund.id),
            )
        else:
            accounting.post_refund(payment=payment, refund=refund)
        if payment.amount_refunded == payment.amount_captured:
            payment.mark_refunded()
            _save(payment, "status")
            _payment_event(payment, "payment.refunded")
    else:
        refund.fail(code=failure_code)
        refund.save(update_fields=["status", "failure_code", "updated_at"])
        _save(payment, "amount_refund_pending")
        _refund_event(refund, "refund.failed")


# --- wallets as a payment method ----------------------------------------------------------------
# No provider is called: the money is in our own ledger, so each step is one transaction on the
# locked payment (then the wallet, then ledger accounts). A step that cannot complete leaves no
# trace (its transaction rolls back); a reservation that ends without capture is released by an
# explicit entry, never by deleting anything.
WALLET = "wallet"


def _check_wallet_can_pay(*, merchant_id: str, wallet_id: str, currency: str, provider: str | None) -> None:
    if provider:
        raise ValidationFailed(
            "A wallet payment is not routed to a card provider: leave `provider` out.",
            errors=[{"field": "provider", "code": "not_allowed", "detail": "Not allowed with a wallet."}],
        )
    wallet = wallet_get(merchant_id=merchant_id, wallet_id=wallet_id)  # another merchant's: 404
    if wallet.currency != currency:
        raise ValidationFailed(
            f"Wallet {wallet.id} holds {wallet.currency}; the payment is in {currency}.",
            errors=[{"field": "currency", "code": "currency_mismatch", "detail": f"Use {wallet.currency}."}],
            code="currency_mismatch",
        )


def _authorize_with_wallet(payment: Payment) -> None:
    """Reserves the amount in the wallet: its available balance drops, its balance does not."""
    payment.request_authorization(provider=WALLET)
    _save(payment, "status", "provider")
    _payment_event(payment, "payment.authorization_requested")
    try:
        entry_id = wallet_services.wallet_reserve(
            merchant_id=payment.merchant_id,
            wallet_id=payment.payment_method["wallet"],
            amount=payment.amount,
            currency=payment.currency,
            reference=accounting.wallet_reserve_reference(payment.id),
        )
    except InsufficientFunds as exc:
        payment.fail(code="insufficient_funds", message=str(exc.detail))
        _save(payment, "status", "failure_code", "failure_message")
        _payment_event(payment, "payment.failed")
        return
    window = timedelta(days=settings.WALLET_CAPTURE_WINDOW_DAYS)
    payment.authorize(provider_reference=entry_id, capture_before=payment.db_now + window)
    _save(payment, "status", "provider_reference", "amount_capturable", "capture_before")
    _payment_event(payment, "payment.authorized")


def _capture_from_wallet(payment: Payment, amount: int) -> None:
    """Moves the captured amount from the reservation to the merchant and releases the rest."""
    wallet_id = payment.payment_method["wallet"]
    uncaptured = payment.amount_capturable - amount
    wallet_services.wallet_capture_reservation(
        wallet_id=wallet_id,
        amount=amount,
        merchant_payable_account_code=chart.merchant_payable_code(payment.merchant_id),
        reference=accounting.capture_reference(payment.id),
    )
    if uncaptured:
        wallet_services.wallet_release(
            wallet_id=wallet_id, amount=uncaptured, reference=accounting.wallet_release_reference(payment.id)
        )
    payment.capture(amount=amount)
    _save(payment, "status", "amount_captured", "amount_capturable")
    _payment_event(payment, "payment.captured")
    accounting.post_wallet_fee(payment=payment, amount=amount)


def _release_wallet(payment: Payment, *, reason: str) -> None:
    wallet_services.wallet_release(
        wallet_id=payment.payment_method["wallet"],
        amount=payment.amount_capturable,
        reference=accounting.wallet_release_reference(payment.id),
    )
    payment.cancel(reason=reason)
    _save(payment, "status", "cancellation_reason", "amount_capturable")
    _payment_event(payment, "payment.canceled")


# --- status polling ("janitor") -----------------------------------------------------------------
def operations_due_for_status_check(*, limit: int = 100) -> list[str]:
    return list(
        ProviderOperation.objects.filter(status__in=OPEN_OPERATION_STATUSES, next_check_at__lte=Now())
        .order_by("next_check_at")
        .values_list("id", flat=True)[:limit]
    )


def operation_resolve(*, operation_id: str) -> str:
    """Asks the provider what became of an open operation and applies the answer; when the
    provider still cannot tell, schedules the next check with exponential backoff and jitter."""
    operation = ProviderOperation.objects.select_related("payment").get(pk=operation_id)
    if operation.status not in OPEN_OPERATION_STATUSES:
        return operation.status
    with context.bound(payment=operation.payment_id, merchant=operation.payment.merchant_id):
        return _operation_resolve(operation)


def _operation_resolve(operation: ProviderOperation) -> str:
    payment = operation.payment
    adapter = registry.get_provider(operation.provider)
    with _provider_span(operation, f"{operation.kind}_status") as span:
        result = adapter.get_status(
            StatusRequest(
                operation=Operation(operation.kind),
                reference=payment.id if operation.kind == OperationKind.AUTHORIZE else operation.reference,
                payment_reference=payment.id,
                provider_reference=operation.provider_reference or payment.provider_reference,
                amount=operation.amount,
            )
        )
        span.set_attribute("payment.outcome", str(result.outcome))
    if result.outcome in (Outcome.PENDING, Outcome.UNKNOWN):
        _schedule_next_check(operation)
        return operation.status
    status = operation_apply_result(operation=operation, result=result).status
    if operation.kind == OperationKind.AUTHORIZE and status == OperationStatus.SUCCEEDED:
        payment_capture_automatically(payment_id=payment.id)
    return status


def _schedule_next_check(operation: ProviderOperation) -> None:
    with transaction.atomic():
        payment = lock_payment(payment_id=operation.payment_id)
        operation = lock_operation(operation_id=operation.id)
        if operation.status not in OPEN_OPERATION_STATUSES:
            return
        operation.status_checks += 1
        base = min(FIRST_STATUS_CHECK_AFTER * 2 ** min(operation.status_checks, 10), MAX_STATUS_CHECK_INTERVAL)
        operation.next_check_at = payment.db_now + base * random.uniform(0.5, 1.0)
        operation.save(update_fields=["status_checks", "next_check_at"])


# --- automatic captures that did not happen ------------------------------------------------------
def automatic_captures_due(*, limit: int = 100) -> list[str]:
    """Payments that capture automatically but sit authorized with no capture under way or done:
    the process died between authorizing and capturing, or the capture never reached the provider
    (its circuit was open, its status poll found nothing). Left alone, they would be canceled when
    their window closes and the merchant would lose the sale. A payment is retried a bounded number
    of times, and not sooner than AUTOMATIC_CAPTURE_RETRY_SECONDS after it last changed or its
    last capture attempt ended, so that the request capturing it right now is not raced."""
    quiet_since = Now() - timedelta(seconds=settings.AUTOMATIC_CAPTURE_RETRY_SECONDS)
    captures = ProviderOperation.objects.filter(payment=OuterRef("pk"), kind=OperationKind.CAPTURE)
    return list(
        Payment.objects.filter(
            status=PaymentStatus.AUTHORIZED,
            capture_method=CaptureMethod.AUTOMATIC,
            capture_before__gt=Now(),
            updated_at__lte=quiet_since,
        )
        .exclude(Exists(captures.filter(Q(status__in=[*OPEN_OPERATION_STATUSES, OperationStatus.SUCCEEDED]))))
        .exclude(Exists(captures.filter(completed_at__gt=quiet_since)))
        .annotate(failed_captures=Count("operations", filter=Q(operations__kind=OperationKind.CAPTURE)))
        .filter(failed_captures__lt=settings.AUTOMATIC_CAPTURE_MAX_ATTEMPTS)
        .order_by("capture_before")
        .values_list("id", flat=True)[:limit]
    )


def payment_capture_automatically(*, payment_id: str) -> bool:
    """Captures a payment that captures automatically and is still authorized; True when it was
    captured. A refusal (declined, window closed, another operation under way) is logged and left
    for the next sweep or the merchant: the payment stays as it is, nothing is lost."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentStatus.AUTHORIZED or payment.capture_method != CaptureMethod.AUTOMATIC:
        return False
    try:
        payment = payment_capture(merchant_id=payment.merchant_id, payment_id=payment_id, amount=None)
    except ApplicationError as exc:
        logger.warning("automatic capture not done", extra={"payment_id": payment_id, "reason": str(exc)})
        return False
    return payment.status == PaymentStatus.CAPTURED


def expired_authorizations(*, limit: int = 500) -> list[str]:
    return list(
        Payment.objects.filter(status=PaymentStatus.AUTHORIZED, capture_before__lte=Now())
        .order_by("capture_before")
        .values_list("id", flat=True)[:limit]
    )
