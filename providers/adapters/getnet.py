"""Getnet adapter.

Every call carries an OAuth2 bearer token (client credentials), cached until shortly before it
expires and fetched once more when the provider refuses it. A payment carries our payment id as
`order.order_id`, Getnet's idempotency on payments; confirmations and cancellations happen once per
payment, and refunds are cancel requests carrying our refund reference as `cancel_custom_key`.

Notifications carry `X-Getnet-Timestamp` (Unix milliseconds) and `X-Getnet-Signature:
sha256=<hex HMAC-SHA256 of "timestamp.body">` (sandbox/notifications.py); `event_type`
PAYMENT carries an operation's result, CHARGEBACK a dispute. Disputes are contested
(`POST /v1/disputes/{id}/evidence`) or accepted (`POST /v1/disputes/{id}/accept`).
"""

import hashlib
import threading
import time
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

AUTHORIZED_STATES = {"AUTHORIZED", "APPROVED", "CONFIRMED", "CANCELED"}  # cancelled after being authorized
INSUFFICIENT_FUNDS_CODES = {"51"}
NOT_FOUND = "PAYMENTS-404"
# Fetch a new token this long before the current one expires, so none expires in flight.
TOKEN_EXPIRY_MARGIN_SECONDS = 60.0


def _error(reply: Reply) -> tuple[str, str, dict[str, Any]]:
    """Getnet's errors: {"message", "name", "status_code", "details": [{"error_code", ...}]}."""
    details = reply.body.get("details") if isinstance(reply.body, dict) else None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        detail = details[0]
        message = " ".join(str(detail[key]) for key in ("description", "description_detail") if detail.get(key))
        return str(detail.get("error_code", "")), message, detail
    return "", f"HTTP {reply.status}", {}


def _details(payment: Mapping[str, Any]) -> dict[str, str]:
    credit = payment.get("credit") if isinstance(payment.get("credit"), dict) else payment
    fields = {"tid": "acquirer_transaction_id", "nsu": "terminal_nsu", "authorization_code": "authorization_code"}
    return {ours: str(credit[theirs]) for ours, theirs in fields.items() if credit.get(theirs)}


def _decline(reason_code: str, message: str, **fields: Any) -> ProviderResult:
    failure = "insufficient_funds" if reason_code in INSUFFICIENT_FUNDS_CODES else "card_declined"
    return declined(failure, message, **fields)


class GetnetAdapter(HttpAdapter):
    name = "getnet"

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        seller_id: str,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
        webhook_secret: str = "",
    ):
        super().__init__(base_url=base_url, timeout=timeout, headers={"seller_id": seller_id}, transport=transport)
        self._client_auth = httpx.BasicAuth(client_id, client_secret)
        self._seller_id = seller_id
        self._token = ""
        self._token_valid_until = 0.0  # time.monotonic()
        self._token_lock = threading.Lock()
        self._webhook_secret = webhook_secret

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "GetnetAdapter":
        return cls(
            base_url=config["base_url"],
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            seller_id=config["seller_id"],
            timeout=config["timeout"],
            webhook_secret=config.get("webhook_secret", ""),
        )

    # --- access token ---------------------------------------------------------------------------

    def _access_token(self, refused: str = "") -> str | Reply:
        """The cached token, or a new one when there is none, it is about to expire, or it is the
        one the provider just `refused`. A refusal of our client credentials comes back as that
        reply (for the caller to report); when no token can be had at all, the call that needed it
        is never made: NotSent."""
        with self._token_lock:  # one fetch at a time; the others then use its token
            if self._token and self._token != refused and time.monotonic() < self._token_valid_until:
                return self._token
            try:
                reply = self._send(
                    "POST",
                    "/auth/oauth/v2/token",
                    data={"scope": "oob", "grant_type": "client_credentials"},
                    auth=self._client_auth,
                )
            except httpx.HTTPError as exc:
                raise NotSent(f"access token: {exc!r}") from exc
            if not reply.ok and not undecided(reply):
                return Reply(401, reply.body)  # the OAuth server refused our client credentials
            body = reply.body if isinstance(reply.body, dict) else {}
            token, expires_in = body.get("access_token"), body.get("expires_in")
            if not reply.ok or not isinstance(token, str) or not isinstance(expires_in, int | float):
                raise NotSent(f"access token: HTTP {reply.status}")
            self._token = token
            self._token_valid_until = time.monotonic() + max(0.0, expires_in - TOKEN_EXPIRY_MARGIN_SECONDS)
            return token

    def _call(self, method: str, path: str, **kwargs: Any) -> Reply:
        token = self._access_token()
        if isinstance(token, Reply):
            return token
        reply = self._send(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if reply.status == 401:  # revoked or expired early: one new token, one more try
            token = self._access_token(refused=token)
            if isinstance(token, Reply):
                return token
            reply = self._send(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        return reply

    # --- the port ---------------------------------------------------------------------------------

    def authorize(self, request: AuthorizeRequest) -> ProviderResult:
        body = {
            "seller_id": self._seller_id,
            "amount": request.amount,
            "currency": request.currency,
            "order": {"order_id": request.reference},
            "credit": {
                "delayed": not request.capture,
                "transaction_type": "FULL",
                "number_installments": 1,
                "card": {"number_token": request.token},
            },
        }

        def call() -> ProviderResult:
            reply = self._call("POST", "/v1/payments/credit", json=body)
            if reply.ok:
                return self._authorization_result(reply.object())
            code, message, detail = _error(reply)
            if reply.status == 402 and detail.get("status") == "DENIED":
                # "description_detail": "51 - SALDO/LIMITE INSUFICIENTE": the issuer's code first.
                reason = str(detail.get("description_detail", "")).split(" - ", 1)[0].strip()
                return _decline(
                    reason,
                    message,
                    raw_code=reason or code,
                    provider_reference=str(detail.get("payment_id", "")),
                    details=_details(detail),
                )
            return rejected(reply, code, message)

        return self._run(Operation.AUTHORIZE, request.reference, call)

    def capture(self, request: CaptureRequest) -> ProviderResult:
        path = f"/v1/payments/credit/{request.provider_reference}/confirm"
        return self._change(Operation.CAPTURE, request.reference, path, {"amount": request.amount}, "CONFIRMED")

    def void(self, request: VoidRequest) -> ProviderResult:
        path = f"/v1/payments/credit/{request.provider_reference}/cancel"
        return self._change(Operation.VOID, request.reference, path, None, "CANCELED")

    def refund(self, request: RefundRequest) -> ProviderResult:
        body = {
            "payment_id": request.provider_reference,
            "cancel_amount": request.amount,
            "cancel_custom_key": request.reference,
        }
        return self._change(Operation.REFUND, request.reference, "/v1/payments/cancel/request", body, "ACCEPTED")

    def _change(
        self, operation: Operation, reference: str, path: str, body: dict[str, Any] | None, done: str
    ) -> ProviderResult:
        def call() -> ProviderResult:
            reply = self._call("POST", path, json=body)
            if not reply.ok:
                return rejected(reply, *_error(reply)[:2])
            answer = reply.object()
            if answer.get("status") != done:
                raise UnreadableAnswer(f"{operation} answered with status {answer.get('status')!r}")
            details = {"cancel_request_id": str(answer["cancel_request_id"])} if "cancel_request_id" in answer else {}
            return ProviderResult(
                Outcome.APPROVED, provider_reference=str(answer.get("payment_id", "")), raw_code=done, details=details
            )

        return self._run(operation, reference, call)

    def get_status(self, request: StatusRequest) -> ProviderResult:
        def call() -> ProviderResult:
            if request.operation == Operation.REFUND:
                reply = self._call(
                    "GET", "/v1/payments/cancel/request", params={"cancel_custom_key": request.reference}
                )
            elif request.provider_reference:
                reply = self._call("GET", f"/v1/payments/credit/{request.provider_reference}")
            else:
                reply = self._call("GET", "/v1/payments/credit", params={"order_id": request.payment_reference})
            code, message, _ = _error(reply)
            if reply.status == 404 and code == NOT_FOUND:
                return ProviderResult(Outcome.NOT_FOUND)
            if not reply.ok:
                return rejected(reply, code, message, query=True)
            answer = reply.object()
            if request.operation == Operation.REFUND:
                happened = answer.get("status") == "ACCEPTED"
                return ProviderResult(
                    Outcome.APPROVED if happened else Outcome.NOT_FOUND,
                    provider_reference=str(answer.get("payment_id", "")),
                    raw_code=str(answer.get("status")),
                )
            authorization = self._authorization_result(answer)
            if request.operation == Operation.AUTHORIZE:
                return authorization
            credit = answer.get("credit") or {}
            if request.operation == Operation.CAPTURE:
                # Confirmed later, or captured with the authorization itself (not delayed).
                captured_at_once = credit.get("delayed") is False and authorization.outcome == Outcome.APPROVED
                happened = "credit_confirm" in answer or captured_at_once
            else:
                happened = "credit_cancel" in answer
            return ProviderResult(
                Outcome.APPROVED if happened else Outcome.NOT_FOUND,
                provider_reference=authorization.provider_reference,
                raw_code=str(answer.get("status")),
                details=authorization.details,
            )

        return self._run(request.operation, request.reference, call)

    @staticmethod
    def _authorization_result(payment: Mapping[str, Any]) -> ProviderResult:
        if not payment.get("payment_id"):
            raise UnreadableAnswer("a payment without payment_id")
        status = payment.get("status")
        credit = payment.get("credit") if isinstance(payment.get("credit"), dict) else {}
        fields = {
            "provider_reference": str(payment["payment_id"]),
            "raw_code": str(status),
            "details": _details(payment),
        }
        if status in AUTHORIZED_STATES:
            return ProviderResult(Outcome.APPROVED, **fields)
        if status == "PENDING":
            return ProviderResult(Outcome.PENDING, **fields)
        if status == "DENIED":
            return _decline(str(credit.get("reason_code", "")), str(credit.get("reason_message", "")), **fields)
        raise UnreadableAnswer(f"unknown payment status {status!r}")

    # --- notifications and disputes -------------------------------------------------------------

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: float, tolerance_seconds: float
    ) -> ProviderNotification:
        timestamp = inbound.header(headers, "X-Getnet-Timestamp")
        signature = inbound.header(headers, "X-Getnet-Signature")
        if not timestamp or not signature:
            raise InvalidNotification("missing_signature", "X-Getnet-Timestamp and X-Getnet-Signature are required.")
        scheme, _, mac = signature.partition("=")
        if scheme != "sha256":
            raise InvalidNotification("invalid_signature", "X-Getnet-Signature must be sha256=<hex>.")
        signed_at = inbound.digits(timestamp, "X-Getnet-Timestamp") / 1000
        inbound.require_mac(
            self._webhook_secret, timestamp.encode() + b"." + body, inbound.hex_bytes(mac), hashlib.sha256
        )
        inbound.require_fresh(signed_at, now=now, tolerance_seconds=tolerance_seconds)
        with inbound.reading():
            return _read_notification(inbound.json_object(body))

    def respond_to_dispute(self, request: DisputeResponseRequest) -> ProviderResult:
        action, body = ("accept", {}) if request.accept else ("evidence", {"evidence_text": request.evidence})

        def call() -> ProviderResult:
            reply = self._call("POST", f"/v1/disputes/{request.dispute_id}/{action}", json=body)
            if not reply.ok:
                return rejected(reply, *_error(reply)[:2])
            return ProviderResult(Outcome.APPROVED, raw_code=str(reply.object().get("status", "")))

        return self._run(Operation.DISPUTE_RESPONSE, request.reference, call)


_OPERATIONS = {
    "AUTHORIZATION": NotificationKind.AUTHORIZATION,
    "CONFIRMATION": NotificationKind.CAPTURE,
    "CANCELLATION": NotificationKind.VOID,
    "CANCEL_REQUEST": NotificationKind.REFUND,
}
_CHARGEBACKS = {
    "OPEN": NotificationKind.DISPUTE_OPENED,
    "WON": NotificationKind.DISPUTE_WON,
    "LOST": NotificationKind.DISPUTE_LOST,
}


def _read_notification(data: Mapping[str, Any]) -> ProviderNotification:
    notified = inbound.text(data, "notified_at")
    common = {
        "event_id": inbound.identifier(data, "notification_id"),
        "payment_reference": inbound.identifier(data, "order_id"),
        "provider_reference": inbound.identifier(data, "payment_id"),
        "currency": inbound.currency(data, "currency"),
        "occurred_at": inbound.instant(notified) if notified else None,
    }
    event_type = data["event_type"]
    if event_type == "CHARGEBACK":
        chargeback = inbound.object_at(data, "chargeback")
        code = inbound.text(chargeback, "reason_code", limit=16)
        return ProviderNotification(
            kind=_CHARGEBACKS[chargeback["status"]],
            amount=inbound.amount(chargeback, "amount"),
            dispute_id=inbound.identifier(chargeback, "chargeback_id"),
            reason=inbound.dispute_reason(code),
            reason_code=code,
            message=inbound.text(chargeback, "reason_description"),
            evidence_due_by=inbound.instant(inbound.text(chargeback, "response_deadline")),
            **common,
        )
    if event_type != "PAYMENT":
        raise ValueError(f"event_type {event_type!r} is not one we take")
    approved = {"APPROVED": True, "DENIED": False}[data["status"]]
    code = inbound.text(data, "reason_code", limit=16)
    return ProviderNotification(
        kind=_OPERATIONS[data["operation"]],
        outcome=Outcome.APPROVED if approved else Outcome.DECLINED,
        amount=inbound.amount(data, "amount"),
        operation_reference=inbound.identifier(data, "cancel_custom_key", required=False),
        reason="" if approved else ("insufficient_funds" if code in INSUFFICIENT_FUNDS_CODES else "card_declined"),
        reason_code=code,
        message=inbound.text(data, "reason_message"),
        **common,
    )
