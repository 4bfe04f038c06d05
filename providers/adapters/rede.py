"""e.Rede adapter.

A transaction carries our payment id as `reference`, which e.Rede keeps unique per merchant: a
repeated authorization answers with the transaction already made. A capture is once per tid, and
cancellations (void or refund) carry our operation reference as `refundReference`.

Notifications carry `X-Rede-Timestamp` (RFC 3339) and `X-Rede-Signature`, the base64 HMAC-SHA512
of "timestamp.body" (sandbox/notifications.py), and a `type` such as
`transaction.captured` or `chargeback.opened`. Chargebacks are contested
(`POST /v1/chargebacks/{id}/defense`) or accepted (`POST /v1/chargebacks/{id}/acceptance`).
"""

import base64
import binascii
import hashlib
from collections.abc import Mapping
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

SUCCESS = "00"
PENDING = "220"
REFUND_DONE = {"359", "360"}  # refund successful / refund request successful
NOT_FOUND = "78"
INSUFFICIENT_FUNDS_CODES = {"111", "80"}
AUTHORIZED_STATES = {"Approved", "Canceled"}  # a cancelled transaction was authorized first


def _code(reply: Reply) -> tuple[str, str]:
    if isinstance(reply.body, dict):
        return str(reply.body.get("returnCode", "")), str(reply.body.get("returnMessage", ""))
    return "", f"HTTP {reply.status}"


def _is_issuer_refusal(code: str) -> bool:
    """e.Rede's 101..124 are the issuer's refusals of the card; 2-digit codes are request errors."""
    return len(code) == 3 and "101" <= code <= "124"


def _details(data: Mapping[str, Any]) -> dict[str, str]:
    fields = {"tid": "tid", "nsu": "nsu", "authorization_code": "authorizationCode"}
    return {ours: str(data[theirs]) for ours, theirs in fields.items() if data.get(theirs)}


class RedeAdapter(HttpAdapter):
    name = "rede"

    def __init__(
        self,
        *,
        base_url: str,
        pv: str,
        token: str,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
        webhook_secret: str = "",
    ):
        super().__init__(base_url=base_url, timeout=timeout, auth=httpx.BasicAuth(pv, token), transport=transport)
        self._webhook_secret = webhook_secret

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "RedeAdapter":
        return cls(
            base_url=config["base_url"],
            pv=config["pv"],
            token=config["token"],
            timeout=config["timeout"],
            webhook_secret=config.get("webhook_secret", ""),
        )

    def authorize(self, request: AuthorizeRequest) -> ProviderResult:
        body = {
            "capture": request.capture,
            "kind": "credit",
            "reference": request.reference,
            "amount": request.amount,
            "currency": request.currency,
            "cardToken": request.token,
        }

        def call() -> ProviderResult:
            reply = self._send("POST", "/v1/transactions", json=body)
            code, message = _code(reply)
            if undecided(reply):
                return rejected(reply, code, message)
            answer = reply.body if isinstance(reply.body, dict) else {}
            fields = {"provider_reference": str(answer.get("tid", "")), "raw_code": code, "details": _details(answer)}
            if reply.ok and code == SUCCESS:
                return ProviderResult(Outcome.APPROVED, **fields)
            if reply.ok and code == PENDING:
                return ProviderResult(Outcome.PENDING, **fields)
            if code in INSUFFICIENT_FUNDS_CODES:
                return declined("insufficient_funds", message, **fields)
            if _is_issuer_refusal(code):
                return declined("card_declined", message, **fields)
            if reply.ok:
                raise UnreadableAnswer(f"authorization answered with returnCode {code!r}")
            return rejected(reply, code, message)

        return self._run(Operation.AUTHORIZE, request.reference, call)

    def capture(self, request: CaptureRequest) -> ProviderResult:
        def call() -> ProviderResult:
            tid = request.provider_reference
            reply = self._send("PUT", f"/v1/transactions/{tid}", json={"amount": request.amount})
            code, message = _code(reply)
            if not reply.ok:
                return rejected(reply, code, message)
            if code != SUCCESS:
                raise UnreadableAnswer(f"capture answered with returnCode {code!r}")
            return ProviderResult(
                Outcome.APPROVED, provider_reference=tid, raw_code=code, details=_details(reply.object())
            )

        return self._run(Operation.CAPTURE, request.reference, call)

    # e.Rede cancels through one call: a void before capture, a refund after. Each looks at the
    # transaction first, so that a void never becomes a refund, nor a refund a void.

    def void(self, request: VoidRequest) -> ProviderResult:
        return self._cancel(Operation.VOID, request.reference, request.provider_reference, request.amount)

    def refund(self, request: RefundRequest) -> ProviderResult:
        return self._cancel(Operation.REFUND, request.reference, request.provider_reference, request.amount)

    def _cancel(self, operation: Operation, reference: str, tid: str, amount: int) -> ProviderResult:
        def call() -> ProviderResult:
            captured = self._captured(tid)
            if captured is not None and captured == (operation == Operation.VOID):
                state = "captured" if captured else "not captured"
                return declined("invalid_request", f"no {operation} possible: {state}", provider_reference=tid)
            body = {"amount": amount, "refundReference": reference}
            reply = self._send("POST", f"/v1/transactions/{tid}/refunds", json=body)
            code, message = _code(reply)
            if not reply.ok:
                return rejected(reply, code, message)
            if code not in REFUND_DONE:
                raise UnreadableAnswer(f"cancellation answered with returnCode {code!r}")
            answer = reply.object()
            details = {**_details(answer), "refund_id": str(answer.get("refundId", ""))}
            return ProviderResult(Outcome.APPROVED, provider_reference=tid, raw_code=code, details=details)

        return self._run(operation, reference, call)

    def _captured(self, tid: str) -> bool | None:
        """Whether a transaction was captured; None when e.Rede refuses to show it (unknown tid,
        credentials), a refusal the cancel call itself will then meet. When e.Rede cannot answer,
        the cancel is not sent."""
        try:
            reply = self._send("GET", f"/v1/transactions/{tid}")
        except httpx.HTTPError as exc:
            raise NotSent(f"reading the transaction first: {exc!r}") from exc
        if reply.ok and isinstance(reply.body, dict):
            return isinstance(reply.body.get("capture"), dict)
        if reply.ok or undecided(reply):
            raise NotSent(f"reading the transaction first: HTTP {reply.status}")
        return None

    def get_status(self, request: StatusRequest) -> ProviderResult:
        def call() -> ProviderResult:
            if request.provider_reference:
                reply = self._send("GET", f"/v1/transactions/{request.provider_reference}")
            else:
                reply = self._send("GET", "/v1/transactions", params={"reference": request.payment_reference})
            code, message = _code(reply)
            if reply.status == 404 and code == NOT_FOUND:
                return ProviderResult(Outcome.NOT_FOUND)
            if not reply.ok:
                return rejected(reply, code, message, query=True)
            answer = reply.object()
            authorization = answer.get("authorization")
            if not isinstance(authorization, dict) or not authorization.get("tid"):
                raise UnreadableAnswer("a transaction without authorization.tid")
            state = authorization.get("status")
            fields = {
                "provider_reference": str(authorization["tid"]),
                "raw_code": str(state),
                "details": _details(authorization),
            }
            if request.operation == Operation.AUTHORIZE:
                if state in AUTHORIZED_STATES:
                    return ProviderResult(Outcome.APPROVED, **fields)
                if state == "Pending":
                    return ProviderResult(Outcome.PENDING, **fields)
                if state == "Denied":
                    code = str(authorization.get("returnCode", ""))
                    failure = "insufficient_funds" if code in INSUFFICIENT_FUNDS_CODES else "card_declined"
                    return declined(failure, str(authorization.get("returnMessage", "")), **fields)
                raise UnreadableAnswer(f"unknown authorization.status {state!r}")
            if request.operation == Operation.CAPTURE:
                happened = isinstance(answer.get("capture"), dict)
            else:
                refunds = answer.get("refunds") or []
                happened = any(refund.get("refundReference") == request.reference for refund in refunds)
            return ProviderResult(Outcome.APPROVED if happened else Outcome.NOT_FOUND, **fields)

        return self._run(request.operation, request.reference, call)

    # --- notifications and disputes -------------------------------------------------------------

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: float, tolerance_seconds: float
    ) -> ProviderNotification:
        timestamp = inbound.header(headers, "X-Rede-Timestamp")
        signature = inbound.header(headers, "X-Rede-Signature")
        if not timestamp or not signature:
            raise InvalidNotification("missing_signature", "X-Rede-Timestamp and X-Rede-Signature are required.")
        try:
            given = base64.b64decode(signature, validate=True)
            signed_at = inbound.instant(timestamp).timestamp()
        except (binascii.Error, ValueError):
            raise InvalidNotification("invalid_signature", "Unreadable X-Rede-Signature or X-Rede-Timestamp.") from None
        inbound.require_mac(self._webhook_secret, timestamp.encode() + b"." + body, given, hashlib.sha512)
        inbound.require_fresh(signed_at, now=now, tolerance_seconds=tolerance_seconds)
        with inbound.reading():
            return _read_notification(inbound.json_object(body))

    def respond_to_dispute(self, request: DisputeResponseRequest) -> ProviderResult:
        action, body = ("acceptance", {}) if request.accept else ("defense", {"defense": request.evidence})

        def call() -> ProviderResult:
            reply = self._send("POST", f"/v1/chargebacks/{request.dispute_id}/{action}", json=body)
            code, message = _code(reply)
            if not reply.ok:
                return rejected(reply, code, message)
            return ProviderResult(Outcome.APPROVED, raw_code=str(reply.object().get("chargebackStatus", "")))

        return self._run(Operation.DISPUTE_RESPONSE, request.reference, call)


_TYPES = {
    "transaction.authorized": (NotificationKind.AUTHORIZATION, Outcome.APPROVED),
    "transaction.denied": (NotificationKind.AUTHORIZATION, Outcome.DECLINED),
    "transaction.captured": (NotificationKind.CAPTURE, Outcome.APPROVED),
    "transaction.voided": (NotificationKind.VOID, Outcome.APPROVED),
    "transaction.refunded": (NotificationKind.REFUND, Outcome.APPROVED),
    "chargeback.opened": (NotificationKind.DISPUTE_OPENED, None),
    "chargeback.won": (NotificationKind.DISPUTE_WON, None),
    "chargeback.lost": (NotificationKind.DISPUTE_LOST, None),
}


def _read_notification(data: Mapping[str, Any]) -> ProviderNotification:
    kind, outcome = _TYPES[data["type"]]
    transaction = inbound.object_at(data, "data")
    created = inbound.text(data, "createdAt")
    common = {
        "event_id": inbound.identifier(data, "id"),
        "kind": kind,
        "payment_reference": inbound.identifier(transaction, "reference"),
        "provider_reference": inbound.identifier(transaction, "tid"),
        "currency": inbound.currency(transaction, "currency"),
        "occurred_at": inbound.instant(created) if created else None,
    }
    if outcome is None:
        chargeback = inbound.object_at(transaction, "chargeback")
        code = inbound.text(chargeback, "reasonCode", limit=16)
        return ProviderNotification(
            amount=inbound.amount(chargeback, "amount"),
            dispute_id=inbound.identifier(chargeback, "id"),
            reason=inbound.dispute_reason(code),
            reason_code=code,
            message=inbound.text(chargeback, "reasonDescription"),
            evidence_due_by=inbound.end_of_day(inbound.text(chargeback, "dueDate")),
            **common,
        )
    code = inbound.text(transaction, "returnCode", limit=16)
    declined_as = "insufficient_funds" if code in INSUFFICIENT_FUNDS_CODES else "card_declined"
    return ProviderNotification(
        outcome=outcome,
        amount=inbound.amount(transaction, "amount"),
        operation_reference=inbound.identifier(transaction, "refundReference", required=False),
        reason="" if outcome == Outcome.APPROVED else declined_as,
        reason_code=code,
        message=inbound.text(transaction, "returnMessage"),
        **common,
    )
