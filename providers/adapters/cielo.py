"""Cielo API 3.0 adapter.

A sale carries our payment id as `MerchantOrderId` (Cielo's idempotency on sales); every call
carries our operation reference as `RequestId` (its idempotency on captures and voids). Cielo
has one cancel call: `void` before capture, a refund after.

Notifications are signed `X-Cielo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`
(sandbox/notifications.py); ChangeType 1 carries the operation that changed a payment,
ChangeType 7 a chargeback. Chargebacks are contested (`PUT /1/chargebacks/{id}/contest`) or
accepted (`PUT /1/chargebacks/{id}/accept`).
"""

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from providers.port import (
    AuthorizeRequest,
    CaptureRequest,
    DisputeResponseRequest,
    InvalidNotification,
    NotificationKind,
    Operation,
    Outcome,
    ProviderNotification,
    ProviderResult,
    RefundRequest,
    StatusRequest,
    VoidRequest,
)

from . import notifications as inbound
from .base import HttpAdapter, NotSent, Reply, UnreadableAnswer, declined, rejected, undecided

# Payment.Status
AUTHORIZED, CONFIRMED, DENIED, VOIDED, REFUNDED, PENDING = 1, 2, 3, 10, 11, 12
NOT_FINISHED = 0
INSUFFICIENT_FUNDS_CODES = {"51"}
NOT_FOUND = "307"  # error Code: Transaction not found


def _error(reply: Reply) -> tuple[str, str]:
    """Cielo's errors are a list of {"Code", "Message"}."""
    if isinstance(reply.body, list) and reply.body and isinstance(reply.body[0], dict):
        first = reply.body[0]
        return str(first.get("Code", "")), str(first.get("Message", ""))
    return "", f"HTTP {reply.status}"


def _details(payment: Mapping[str, Any]) -> dict[str, str]:
    fields = {"tid": "Tid", "nsu": "ProofOfSale", "authorization_code": "AuthorizationCode"}
    return {ours: str(payment[theirs]) for ours, theirs in fields.items() if payment.get(theirs)}


class CieloAdapter(HttpAdapter):
    name = "cielo"

    def __init__(
        self,
        *,
        base_url: str,
        merchant_id: str,
        merchant_key: str,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
        webhook_secret: str = "",
    ):
        headers = {"MerchantId": merchant_id, "MerchantKey": merchant_key}
        super().__init__(base_url=base_url, timeout=timeout, headers=headers, transport=transport)
        self._webhook_secret = webhook_secret

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "CieloAdapter":
        return cls(
            base_url=config["base_url"],
            merchant_id=config["merchant_id"],
            merchant_key=config["merchant_key"],
            timeout=config["timeout"],
            webhook_secret=config.get("webhook_secret", ""),
        )

    def authorize(self, request: AuthorizeRequest) -> ProviderResult:
        body = {
            "MerchantOrderId": request.reference,
            "Payment": {
                "Type": "CreditCard",
                "Amount": request.amount,
                "Currency": request.currency,
                "Capture": request.capture,
                "Installments": 1,
                "CreditCard": {"CardToken": request.token},
            },
        }

        def call() -> ProviderResult:
            reply = self._send("POST", "/1/sales/", json=body, headers={"RequestId": request.reference})
            if not reply.ok:
                return rejected(reply, *_error(reply))
            return self._sale_result(reply.object())

        return self._run(Operation.AUTHORIZE, request.reference, call)

    def capture(self, request: CaptureRequest) -> ProviderResult:
        payment_id = request.provider_reference
        return self._run(
            Operation.CAPTURE,
            request.reference,
            lambda: self._put(f"/1/sales/{payment_id}/capture", request.reference, request.amount, payment_id),
        )

    # Cielo's one cancel call voids a sale before capture and refunds it after. Each looks at the
    # sale first, so that a void never becomes a refund, nor a refund a void.

    def void(self, request: VoidRequest) -> ProviderResult:
        return self._cancel(Operation.VOID, request.reference, request.provider_reference, request.amount)

    def refund(self, request: RefundRequest) -> ProviderResult:
        return self._cancel(Operation.REFUND, request.reference, request.provider_reference, request.amount)

    def _cancel(self, operation: Operation, reference: str, payment_id: str, amount: int) -> ProviderResult:
        wrong_states = (CONFIRMED, REFUNDED) if operation == Operation.VOID else (AUTHORIZED,)

        def call() -> ProviderResult:
            status = self._sale_status(payment_id)
            if status in wrong_states:
                message = f"no {operation} possible: Payment.Status is {status}"
                return declined("invalid_request", message, str(status), provider_reference=payment_id)
            return self._put(f"/1/sales/{payment_id}/void", reference, amount, payment_id)

        return self._run(operation, reference, call)

    def _sale_status(self, payment_id: str) -> int | None:
        """A sale's Payment.Status; None when Cielo refuses to show it (unknown sale, credentials),
        a refusal the cancel call itself will then meet. When Cielo cannot answer, the cancel is
        not sent."""
        try:
            reply = self._send("GET", f"/1/sales/{payment_id}")
        except httpx.HTTPError as exc:
            raise NotSent(f"reading the sale first: {exc!r}") from exc
        payment = reply.body.get("Payment") if isinstance(reply.body, dict) else None
        if reply.ok and isinstance(payment, dict):
            return payment.get("Status")
        if reply.ok or undecided(reply):
            raise NotSent(f"reading the sale first: HTTP {reply.status}")
        return None

    def _put(self, path: str, reference: str, amount: int, payment_id: str) -> ProviderResult:
        reply = self._send("PUT", path, params={"amount": amount}, headers={"RequestId": reference})
        if not reply.ok:
            return rejected(reply, *_error(reply))
        answer = reply.object()
        if answer.get("ReasonCode") != 0:
            return declined("invalid_request", str(answer.get("ReasonMessage", "")), str(answer.get("ReasonCode")))
        return ProviderResult(
            Outcome.APPROVED,
            provider_reference=payment_id,
            raw_code=str(answer.get("ReturnCode", "")),
            details=_details(answer),
        )

    def get_status(self, request: StatusRequest) -> ProviderResult:
        def call() -> ProviderResult:
            payment_id = request.provider_reference or self._find_payment_id(request.payment_reference)
            if payment_id is None:
                return ProviderResult(Outcome.NOT_FOUND)
            reply = self._send("GET", f"/1/sales/{payment_id}")
            code, message = _error(reply)
            if reply.status == 404 and code == NOT_FOUND:
                return ProviderResult(Outcome.NOT_FOUND)
            if not reply.ok:
                return rejected(reply, code, message, query=True)
            sale = self._sale_result(reply.object())
            if request.operation == Operation.AUTHORIZE:
                return sale
            payment = reply.object()["Payment"]
            status = payment.get("Status")
            if request.operation == Operation.CAPTURE:
                happened = payment.get("CapturedAmount", 0) > 0 or status in (CONFIRMED, REFUNDED)
            elif request.operation == Operation.VOID:
                happened = status == VOIDED
            else:
                happened = any(refund.get("RequestId") == request.reference for refund in payment.get("Refunds", []))
            outcome = Outcome.APPROVED if happened else Outcome.NOT_FOUND
            return ProviderResult(outcome, provider_reference=payment_id, raw_code=str(status), details=sale.details)

        return self._run(request.operation, request.reference, call)

    def _find_payment_id(self, order_id: str) -> str | None:
        reply = self._send("GET", "/1/sales", params={"merchantOrderId": order_id})
        if not reply.ok:
            raise UnreadableAnswer(f"HTTP {reply.status} looking up MerchantOrderId {order_id}")
        payments = reply.object().get("Payments") or []
        return str(payments[0]["PaymentId"]) if payments else None

    @staticmethod
    def _sale_result(sale: Mapping[str, Any]) -> ProviderResult:
        payment = sale.get("Payment")
        if not isinstance(payment, dict) or not payment.get("PaymentId"):
            raise UnreadableAnswer("a sale without Payment.PaymentId")
        status = payment.get("Status")
        fields = {
            "provider_reference": str(payment["PaymentId"]),
            "raw_code": str(payment.get("ReturnCode", status)),
            "details": _details(payment),
        }
        if status in (AUTHORIZED, CONFIRMED, VOIDED, REFUNDED):  # it was authorized, whatever came after
            return ProviderResult(Outcome.APPROVED, **fields)
        if status in (PENDING, NOT_FINISHED):
            return ProviderResult(Outcome.PENDING, **fields)
        if status == DENIED:
            code = str(payment.get("ReturnCode", ""))
            failure = "insufficient_funds" if code in INSUFFICIENT_FUNDS_CODES else "card_declined"
            return declined(failure, str(payment.get("ReturnMessage", "")), **fields)
        raise UnreadableAnswer(f"unknown Payment.Status {status!r}")

    # --- notifications and disputes -------------------------------------------------------------

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: float, tolerance_seconds: float
    ) -> ProviderNotification:
        signature = inbound.header(headers, "X-Cielo-Signature")
        if not signature:
            raise InvalidNotification("missing_signature", "No X-Cielo-Signature header.")
        parts = dict(part.strip().partition("=")[::2] for part in signature.split(","))
        timestamp = inbound.digits(parts.get("t", ""), "t")
        inbound.require_mac(
            self._webhook_secret,
            f"{timestamp}.".encode() + body,
            inbound.hex_bytes(parts.get("v1", "")),
            hashlib.sha256,
        )
        inbound.require_fresh(timestamp, now=now, tolerance_seconds=tolerance_seconds)
        with inbound.reading():
            return _read_notification(inbound.json_object(body))

    def respond_to_dispute(self, request: DisputeResponseRequest) -> ProviderResult:
        action, body = ("accept", None) if request.accept else ("contest", {"Evidence": request.evidence})

        def call() -> ProviderResult:
            path = f"/1/chargebacks/{request.dispute_id}/{action}"
            reply = self._send("PUT", path, json=body, headers={"RequestId": request.reference})
            if not reply.ok:
                return rejected(reply, *_error(reply))
            return ProviderResult(Outcome.APPROVED, raw_code=str(reply.object().get("Status", "")))

        return self._run(Operation.DISPUTE_RESPONSE, request.reference, call)


_OPERATION_KINDS = {
    "Authorization": NotificationKind.AUTHORIZATION,
    "Capture": NotificationKind.CAPTURE,
    "Void": NotificationKind.VOID,
    "Refund": NotificationKind.REFUND,
}
_CHARGEBACK_KINDS = {
    "Received": NotificationKind.DISPUTE_OPENED,
    "Won": NotificationKind.DISPUTE_WON,
    "Lost": NotificationKind.DISPUTE_LOST,
}


def _read_notification(data: Mapping[str, Any]) -> ProviderNotification:
    created = inbound.text(data, "CreatedDate")
    common = {
        "event_id": inbound.identifier(data, "NotificationId"),
        "payment_reference": inbound.identifier(data, "MerchantOrderId"),
        "provider_reference": inbound.identifier(data, "PaymentId"),
        "occurred_at": datetime.strptime(created, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) if created else None,
    }
    change = data["ChangeType"]
    if change == 7:
        chargeback = inbound.object_at(data, "Chargeback")
        code = inbound.text(chargeback, "ReasonCode", limit=16)
        return ProviderNotification(
            kind=_CHARGEBACK_KINDS[chargeback["Status"]],
            amount=inbound.amount(chargeback, "Amount"),
            currency=inbound.currency(chargeback, "Currency"),
            dispute_id=inbound.identifier(chargeback, "Id"),
            reason=inbound.dispute_reason(code),
            reason_code=code,
            message=inbound.text(chargeback, "ReasonMessage"),
            evidence_due_by=inbound.end_of_day(inbound.text(chargeback, "DueDate")),
            **common,
        )
    if change != 1:
        raise ValueError(f"ChangeType {change!r} is not one we take")
    operation = inbound.object_at(data, "Operation")
    approved = {"Approved": True, "Denied": False}[operation["Result"]]
    code = inbound.text(operation, "ReturnCode", limit=16)
    declined_as = "insufficient_funds" if code in INSUFFICIENT_FUNDS_CODES else "card_declined"
    payment = inbound.object_at(data, "Payment")
    return ProviderNotification(
        kind=_OPERATION_KINDS[operation["Type"]],
        outcome=Outcome.APPROVED if approved else Outcome.DECLINED,
        amount=inbound.amount(operation, "Amount"),
        currency=inbound.currency(payment, "Currency"),
        operation_reference=inbound.identifier(operation, "RequestId", required=False),
        reason="" if approved else declined_as,
        reason_code=code,
        message=inbound.text(operation, "ReturnMessage"),
        **common,
    )
