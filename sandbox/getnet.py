"""Getnet's digital platform API, credit payments.

OAuth2 client credentials: `POST /auth/oauth/v2/token` with HTTP Basic client_id:client_secret
answers a bearer token valid for an hour; every /v1 call carries it. A payment is idempotent on
its `order.order_id`; `credit.delayed: true` only authorizes, and `/confirm` captures once. Before
capture `/cancel` voids; after it, refunds are cancellation requests idempotent on
`cancel_custom_key`. A denied payment is answered 402. Errors are
`{"message", "name", "status_code", "details": [{"status", "error_code", "description"}]}`;
the token endpoint answers OAuth2 errors (`{"error", "error_description"}`).
"""

import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from .acquirer import Acquirer, Decline, Effect, Refusal, RuleViolation, Status, digits, new_uuid, valid_token
from .config import SandboxSettings
from .store import Db, Store, Transaction
from .web import BadJson, Request, Response, Router, currency_code, positive_int

ACCESS_TOKEN_TTL_SECONDS = 3600

DECLINES = {
    Decline.CARD_DECLINED: ("05", "NAO AUTORIZADA"),
    Decline.INSUFFICIENT_FUNDS: ("51", "SALDO/LIMITE INSUFICIENTE"),
}
REFUSALS = {
    Refusal.NOT_CAPTURABLE: "Payment not available for confirmation",
    Refusal.CAPTURE_OVER_AUTHORIZED: "amount: greater than the authorized amount",
    Refusal.NOT_VOIDABLE: "Payment not available for cancellation; a confirmed payment needs a cancel request",
    Refusal.PARTIAL_VOID: "amount: a cancellation releases the whole authorization",
    Refusal.NOT_REFUNDABLE: "Payment not available for a cancel request",
    Refusal.REFUND_OVER_CAPTURED: "cancel_amount: greater than the amount available for cancellation",
    Refusal.KEY_REUSED: "cancel_custom_key: already used for another payment",
}


def error(status: int, error_code: str, description: str, **detail: Any) -> Response:
    phrase = HTTPStatus(status).phrase
    return Response.json(
        status,
        {
            "message": phrase,
            "name": phrase.replace(" ", ""),
            "status_code": status,
            "details": [{"status": "DENIED", "error_code": error_code, "description": description, **detail}],
        },
    )


def getnet_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def payment_status(txn: Transaction) -> str:
    if txn.status == Status.CAPTURED:
        return "APPROVED" if txn.auto_capture else "CONFIRMED"
    return {
        Status.PENDING: "PENDING",
        Status.AUTHORIZED: "AUTHORIZED",
        Status.DECLINED: "DENIED",
        Status.VOIDED: "CANCELED",
        Status.REFUNDED: "CANCELED",
    }[Status(txn.status)]


class GetnetApi:
    name = "getnet"

    def __init__(self, store: Store, settings: SandboxSettings):
        self.store = store
        self.settings = settings
        self.acquirer = Acquirer(self.name, settings)
        self.router = Router()
        self.router.add("POST", r"/v1/payments/credit", self.create)
        self.router.add("POST", r"/v1/payments/credit/(?P<payment_id>[^/]+)/confirm", self.confirm)
        self.router.add("POST", r"/v1/payments/credit/(?P<payment_id>[^/]+)/cancel", self.cancel)
        self.router.add("POST", r"/v1/payments/cancel/request", self.cancel_request)
        self.router.add("GET", r"/v1/payments/cancel/request", self.find_cancel_request)
        self.router.add("GET", r"/v1/payments/credit/(?P<payment_id>[^/]+)", self.get)
        self.router.add("GET", r"/v1/payments/credit", self.find)

    def error(self, status: int, message: str) -> Response:
        return error(status, f"GENERIC-{status}", message)

    def handle(self, request: Request) -> Response:
        if request.path == "/auth/oauth/v2/token" and request.method == "POST":
            return self.issue_token(request)
        with self.store.atomic() as db:
            client = db.access_token_client(request.bearer_token() or "", time.time())
        if client != self.settings.credentials.getnet_client_id:
            return error(401, "GENERIC-401", "Access token missing, invalid or expired")
        try:
            response = self.router.dispatch(request, seller=self.settings.credentials.getnet_seller_id)
        except BadJson:
            return error(400, "GENERIC-400", "The request body is not a valid JSON object")
        return response or self.error(404, "Resource not found")

    def issue_token(self, request: Request) -> Response:
        credentials = self.settings.credentials
        if request.basic_auth() != (credentials.getnet_client_id, credentials.getnet_client_secret):
            return Response.json(
                401, {"error": "invalid_client", "error_description": "The given client credentials were not valid"}
            )
        if request.form().get("grant_type") != "client_credentials":
            return Response.json(
                400, {"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"}
            )
        token, now = secrets.token_urlsafe(24), time.time()
        with self.store.atomic() as db:
            db.insert_access_token(token, credentials.getnet_client_id, now + ACCESS_TOKEN_TTL_SECONDS, now)
        return Response.json(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL_SECONDS, "scope": "oob"}
        )

    def revoke_tokens(self) -> None:
        with self.store.atomic() as db:
            db.delete_access_tokens()

    def create(self, request: Request, *, seller: str) -> Response:
        body = request.json_object()
        order = body.get("order")
        credit = body.get("credit")
        card = credit.get("card") if isinstance(credit, dict) else None
        order_id = order.get("order_id") if isinstance(order, dict) else None
        amount = positive_int(body.get("amount"))
        if body.get("seller_id") != seller:
            return error(401, "GENERIC-401", "seller_id: unknown seller")
        if not isinstance(order_id, str) or not order_id or len(order_id) > 36:
            return error(400, "GENERIC-400", "order.order_id: required, up to 36 characters")
        if amount is None:
            return error(400, "GENERIC-400", "amount: must be a positive integer")
        if currency_code(body.get("currency")) is None:
            return error(400, "GENERIC-400", "currency: must be an ISO 4217 code")
        if not isinstance(credit, dict) or not isinstance(credit.get("delayed", False), bool):
            return error(400, "GENERIC-400", "credit.delayed: must be true or false")
        if not isinstance(card, dict) or not valid_token(card.get("number_token")):
            return error(400, "GENERIC-400", "credit.card.number_token: invalid")

        with self.store.atomic() as db:
            replay = self.acquirer.replay(db, seller, "payment", order_id)
            if replay:
                return replay
            txn = self.acquirer.authorize(
                db,
                merchant=seller,
                order_ref=order_id,
                amount=amount,
                currency=body["currency"],
                token=card["number_token"],
                capture=not credit.get("delayed", False),
                transaction_id=new_uuid(),
            )
            if txn.status == Status.DECLINED:
                code, message = DECLINES[Decline(txn.decline_reason)]
                response = error(
                    402,
                    "PAYMENTS-402",
                    "Transaction denied.",
                    description_detail=f"{code} - {message}",
                    payment_id=txn.id,
                    terminal_nsu=txn.nsu,
                    acquirer_transaction_id=txn.tid,
                )
            else:
                response = Response.json(200, self._payment(db, txn))
            self.acquirer.remember(
                db,
                merchant=seller,
                kind="payment",
                key=order_id,
                txn=txn,
                effect=Effect.AUTHORIZE,
                amount=amount,
                response=response,
            )
        return replace(response, delay=self.acquirer.answer_delay(txn.token))

    def confirm(self, request: Request, *, seller: str, payment_id: str) -> Response:
        amount = positive_int(request.json_object().get("amount"))
        if amount is None:
            return error(400, "GENERIC-400", "amount: must be a positive integer")
        with self.store.atomic() as db:
            try:
                # One confirmation per payment: a repeat is answered as the first one was.
                replay = self.acquirer.replay(
                    db, seller, "confirm", payment_id, amount=amount, conflict=Refusal.NOT_CAPTURABLE
                )
                if replay:
                    return replay
                txn = self.acquirer.get(db, seller, payment_id)
                if txn is None:
                    return error(404, "PAYMENTS-404", "Payment not found")
                self.acquirer.capture(db, txn, amount)
            except RuleViolation as violation:
                return error(400, "PAYMENTS-400", REFUSALS[violation.refusal])
            confirmation = {
                "confirm_date": getnet_time(txn.updated_at),
                "message": "Credit transaction confirmed successfully",
            }
            response = Response.json(200, {**self._summary(txn), "status": "CONFIRMED", "credit_confirm": confirmation})
            return self.acquirer.remember(
                db,
                merchant=seller,
                kind="confirm",
                key=payment_id,
                txn=txn,
                effect=Effect.CAPTURE,
                amount=amount,
                response=response,
            )

    def cancel(self, request: Request, *, seller: str, payment_id: str) -> Response:
        with self.store.atomic() as db:
            replay = self.acquirer.replay(db, seller, "cancel", payment_id)
            if replay:
                return replay
            txn = self.acquirer.get(db, seller, payment_id)
            if txn is None:
                return error(404, "PAYMENTS-404", "Payment not found")
            try:
                self.acquirer.void(db, txn, txn.amount)
            except RuleViolation as violation:
                return error(400, "PAYMENTS-400", REFUSALS[violation.refusal])
            response = Response.json(
                200, {**self._summary(txn), "status": "CANCELED", "credit_cancel": self._cancel(txn)}
            )
            return self.acquirer.remember(
                db,
                merchant=seller,
                kind="cancel",
                key=payment_id,
                txn=txn,
                effect=Effect.VOID,
                amount=txn.amount,
                response=response,
            )

    def cancel_request(self, request: Request, *, seller: str) -> Response:
        body = request.json_object()
        payment_id = body.get("payment_id")
        amount = positive_int(body.get("cancel_amount"))
        key = body.get("cancel_custom_key")
        if not isinstance(payment_id, str) or not payment_id:
            return error(400, "GENERIC-400", "payment_id: required")
        if amount is None:
            return error(400, "GENERIC-400", "cancel_amount: must be a positive integer")
        if not isinstance(key, str) or not key or len(key) > 64:
            return error(400, "GENERIC-400", "cancel_custom_key: required, up to 64 characters")
        with self.store.atomic() as db:
            try:
                replay = self.acquirer.replay(
                    db, seller, "cancel_request", key, transaction_id=payment_id, amount=amount
                )
                if replay:
                    return replay
                txn = self.acquirer.get(db, seller, payment_id)
                if txn is None:
                    return error(404, "PAYMENTS-404", "Payment not found")
                self.acquirer.refund(db, txn, amount)
            except RuleViolation as violation:
                return error(400, "PAYMENTS-400", REFUSALS[violation.refusal])
            request_id = digits(12)
            response = Response.json(
                200,
                {
                    "seller_id": seller,
                    "payment_id": txn.id,
                    "cancel_request_at": getnet_time(txn.updated_at),
                    "cancel_request_id": request_id,
                    "cancel_custom_key": key,
                    "cancel_amount": amount,
                    "status": "ACCEPTED",
                },
            )
            return self.acquirer.remember(
                db,
                merchant=seller,
                kind="cancel_request",
                key=key,
                txn=txn,
                effect=Effect.REFUND,
                amount=amount,
                response=response,
                operation_id=request_id,
            )

    def find_cancel_request(self, request: Request, *, seller: str) -> Response:
        key = request.query.get("cancel_custom_key")
        if not key:
            return error(400, "GENERIC-400", "cancel_custom_key: required")
        with self.store.atomic() as db:
            stored = self.acquirer.replay(db, seller, "cancel_request", key)
        return stored or error(404, "PAYMENTS-404", "Cancel request not found")

    def get(self, request: Request, *, seller: str, payment_id: str) -> Response:
        with self.store.atomic() as db:
            txn = self.acquirer.get(db, seller, payment_id)
            if txn is None:
                return error(404, "PAYMENTS-404", "Payment not found")
            return Response.json(200, self._payment(db, txn))

    def find(self, request: Request, *, seller: str) -> Response:
        order_id = request.query.get("order_id")
        if not order_id:
            return error(400, "GENERIC-400", "order_id: required")
        with self.store.atomic() as db:
            txn = self.acquirer.get_by_order(db, seller, order_id)
            if txn is None:
                return error(404, "PAYMENTS-404", "Payment not found")
            return Response.json(200, self._payment(db, txn))

    def _payment(self, db: Db, txn: Transaction) -> dict[str, Any]:
        credit: dict[str, Any] = {
            "delayed": not txn.auto_capture,
            "acquirer": "GETNET",
            "terminal_nsu": txn.nsu,
            "acquirer_transaction_id": txn.tid,
            "transaction_id": txn.tid,
        }
        if txn.status == Status.DECLINED:
            credit["reason_code"], credit["reason_message"] = DECLINES[Decline(txn.decline_reason)]
        elif txn.status != Status.PENDING:
            credit.update(
                authorization_code=txn.authorization_code,
                authorized_at=getnet_time(txn.created_at),
                reason_code="0",
                reason_message="transaction approved",
            )
        payment = {**self._summary(txn), "status": payment_status(txn), "credit": credit}
        confirmations = self.acquirer.history(db, txn, Effect.CAPTURE)
        if confirmations:
            payment["credit_confirm"] = {
                "confirm_date": getnet_time(confirmations[0].created_at),
                "amount": confirmations[0].amount,
            }
        if txn.status == Status.VOIDED:
            payment["credit_cancel"] = self._cancel(txn)
        return payment

    @staticmethod
    def _summary(txn: Transaction) -> dict[str, Any]:
        return {
            "payment_id": txn.id,
            "seller_id": txn.merchant,
            "amount": txn.amount,
            "currency": txn.currency,
            "order_id": txn.order_ref,
            "received_at": getnet_time(txn.created_at),
        }

    @staticmethod
    def _cancel(txn: Transaction) -> dict[str, str]:
        return {"canceled_at": getnet_time(txn.updated_at), "message": "Credit transaction cancelled successfully"}
