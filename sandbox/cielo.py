"""Cielo API 3.0 (e-commerce), card sales.

Headers `MerchantId` and `MerchantKey` authenticate. A sale is idempotent on its
`MerchantOrderId`; captures and voids on the `RequestId` header. `PUT .../void` voids an
authorization before capture and refunds after it. Amounts are integers in cents. Errors are a
JSON list of `{"Code", "Message"}`: 400 for a bad request, 401 for credentials, 404 for an unknown
PaymentId.
"""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from .acquirer import Acquirer, Decline, Effect, Refusal, RuleViolation, Status, new_uuid, valid_token
from .config import SandboxSettings
from .store import Db, Store, Transaction
from .web import BadJson, Request, Response, Router, currency_code, positive_int, query_amount

PAYMENT_STATUS = {
    Status.AUTHORIZED: 1,
    Status.CAPTURED: 2,  # "PaymentConfirmed"
    Status.DECLINED: 3,
    Status.VOIDED: 10,
    Status.REFUNDED: 11,
    Status.PENDING: 12,
}
APPROVED = ("00", "Transaction authorized")
DECLINES = {
    Decline.CARD_DECLINED: ("05", "Not authorized"),
    Decline.INSUFFICIENT_FUNDS: ("51", "Insufficient funds"),
}
REFUSALS = {
    Refusal.NOT_CAPTURABLE: (308, "Transaction not available to capture"),
    Refusal.CAPTURE_OVER_AUTHORIZED: (842, "The capture amount must be equal to or less than the transaction amount"),
    Refusal.NOT_VOIDABLE: (309, "Transaction not available to void"),
    Refusal.PARTIAL_VOID: (309, "Transaction not available to void"),
    Refusal.NOT_REFUNDABLE: (312, "Transaction not available to refund"),
    Refusal.REFUND_OVER_CAPTURED: (312, "Transaction not available to refund"),
    Refusal.KEY_REUSED: (100, "RequestId was already used for another transaction"),
}
SUCCESSFUL = {
    "ReasonCode": 0,
    "ReasonMessage": "Successful",
    "ReturnCode": "00",
    "ReturnMessage": "Operation Successful",
}


def errors(status: int, *items: tuple[int, str]) -> Response:
    return Response.json(status, [{"Code": code, "Message": message} for code, message in items])


def cielo_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


class CieloApi:
    name = "cielo"

    def __init__(self, store: Store, settings: SandboxSettings):
        self.store = store
        self.settings = settings
        self.acquirer = Acquirer(self.name, settings)
        self.router = Router()
        self.router.add("POST", r"/1/sales/?", self.create_sale)
        self.router.add("PUT", r"/1/sales/(?P<payment_id>[^/]+)/capture", self.capture)
        self.router.add("PUT", r"/1/sales/(?P<payment_id>[^/]+)/void", self.void)
        self.router.add("GET", r"/1/sales/(?P<payment_id>[^/]+)", self.get_sale)
        self.router.add("GET", r"/1/sales/?", self.find_sales)

    def error(self, status: int, message: str) -> Response:
        return errors(status, (0, message))

    def handle(self, request: Request) -> Response:
        credentials = self.settings.credentials
        if request.headers.get("merchantid") != credentials.cielo_merchant_id:
            return errors(401, (300, "MerchantId was not found"))
        if request.headers.get("merchantkey") != credentials.cielo_merchant_key:
            return errors(401, (132, "MerchantKey is invalid"))
        try:
            response = self.router.dispatch(request, merchant=credentials.cielo_merchant_id)
        except BadJson:
            return errors(400, (184, "Request could not be empty"))
        return response or self.error(404, "Resource not found")

    def create_sale(self, request: Request, *, merchant: str) -> Response:
        body = request.json_object()
        order_ref = body.get("MerchantOrderId")
        payment = body.get("Payment")
        if not isinstance(order_ref, str) or not order_ref or len(order_ref) > 50:
            return errors(400, (122, "MerchantOrderId is required"))
        if not isinstance(payment, dict):
            return errors(400, (119, "At least one Payment is required"))
        card = payment.get("CreditCard")
        problems = []
        if payment.get("Type") != "CreditCard":
            problems.append((102, "Payment Type is required"))
        if positive_int(payment.get("Amount")) is None:
            problems.append((108, "Amount must be greater or equal to zero"))
        if currency_code(payment.get("Currency", "BRL")) is None:
            problems.append((110, "Invalid Payment Currency"))
        if not isinstance(payment.get("Capture", False), bool):
            problems.append((186, "The selected provider does not support the options provided (Capture)"))
        if not isinstance(card, dict):
            problems.append((124, "Credit Card is Required"))
        elif not valid_token(card.get("CardToken")):
            problems.append((130, "Could not get Credit Card"))
        if problems:
            return errors(400, *problems)

        with self.store.atomic() as db:
            replay = self.acquirer.replay(db, merchant, "sale", order_ref)
            if replay:
                return replay
            txn = self.acquirer.authorize(
                db,
                merchant=merchant,
                order_ref=order_ref,
                amount=payment["Amount"],
                currency=payment.get("Currency", "BRL"),
                token=card["CardToken"],
                capture=payment.get("Capture", False),
                transaction_id=new_uuid(),
            )
            response = Response.json(201, self._sale(db, txn))
            self.acquirer.remember(
                db,
                merchant=merchant,
                kind="sale",
                key=order_ref,
                txn=txn,
                effect=Effect.AUTHORIZE,
                amount=txn.amount,
                response=response,
            )
        return replace(response, delay=self.acquirer.answer_delay(txn.token))

    def capture(self, request: Request, *, merchant: str, payment_id: str) -> Response:
        try:
            amount = query_amount(request.query)
        except ValueError:
            return errors(400, (108, "Amount must be greater or equal to zero"))
        key = request.headers.get("requestid") or new_uuid()
        with self.store.atomic() as db:
            try:
                replay = self.acquirer.replay(db, merchant, "capture", key, transaction_id=payment_id, amount=amount)
                if replay:
                    return replay
                txn = self.acquirer.get(db, merchant, payment_id)
                if txn is None:
                    return errors(404, (307, "Transaction not found"))
                amount = txn.amount if amount is None else amount
                self.acquirer.capture(db, txn, amount)
            except RuleViolation as violation:
                return errors(400, REFUSALS[violation.refusal])
            response = Response.json(200, {"Status": PAYMENT_STATUS[txn.status], **SUCCESSFUL, **self._codes(txn)})
            return self.acquirer.remember(
                db,
                merchant=merchant,
                kind="capture",
                key=key,
                txn=txn,
                effect=Effect.CAPTURE,
                amount=amount,
                response=response,
            )

    def void(self, request: Request, *, merchant: str, payment_id: str) -> Response:
        try:
            amount = query_amount(request.query)
        except ValueError:
            return errors(400, (108, "Amount must be greater or equal to zero"))
        key = request.headers.get("requestid") or new_uuid()
        with self.store.atomic() as db:
            try:
                replay = self.acquirer.replay(db, merchant, "void", key, transaction_id=payment_id, amount=amount)
                if replay:
                    return replay
                txn = self.acquirer.get(db, merchant, payment_id)
                if txn is None:
                    return errors(404, (307, "Transaction not found"))
                if amount is None:  # the whole authorization, or all that is left to refund
                    amount = (
                        txn.amount if txn.status == Status.AUTHORIZED else txn.captured_amount - txn.refunded_amount
                    )
                effect = self.acquirer.cancel(db, txn, amount)
            except RuleViolation as violation:
                return errors(400, REFUSALS[violation.refusal])
            response = Response.json(200, {"Status": PAYMENT_STATUS[txn.status], **SUCCESSFUL, **self._codes(txn)})
            return self.acquirer.remember(
                db, merchant=merchant, kind="void", key=key, txn=txn, effect=effect, amount=amount, response=response
            )

    def get_sale(self, request: Request, *, merchant: str, payment_id: str) -> Response:
        with self.store.atomic() as db:
            txn = self.acquirer.get(db, merchant, payment_id)
            if txn is None:
                return errors(404, (307, "Transaction not found"))
            return Response.json(200, self._sale(db, txn))

    def find_sales(self, request: Request, *, merchant: str) -> Response:
        order_ref = request.query.get("merchantOrderId")
        if not order_ref:
            return errors(400, (122, "MerchantOrderId is required"))
        with self.store.atomic() as db:
            txn = self.acquirer.get_by_order(db, merchant, order_ref)
        payments = [{"PaymentId": txn.id, "ReceivedDate": cielo_time(txn.created_at)}] if txn else []
        return Response.json(200, {"Payments": payments})

    def _sale(self, db: Db, txn: Transaction) -> dict[str, Any]:
        refunds = self.acquirer.history(db, txn, Effect.REFUND)
        voided = txn.amount if txn.status == Status.VOIDED else txn.refunded_amount
        return {
            "MerchantOrderId": txn.order_ref,
            "Payment": {
                "PaymentId": txn.id,
                "Type": "CreditCard",
                "Amount": txn.amount,
                "Currency": txn.currency,
                "Capture": txn.auto_capture,
                "Installments": 1,
                "CreditCard": {"CardToken": txn.token},
                "Status": PAYMENT_STATUS[txn.status],
                "ReceivedDate": cielo_time(txn.created_at),
                "CapturedAmount": txn.captured_amount,
                "VoidedAmount": voided,
                # Not in Cielo's answer: each refund with the RequestId it was asked with, so that
                # a client that lost a refund's answer can tell whether that refund happened.
                "Refunds": [
                    {"RequestId": r.key, "Amount": r.amount, "Status": 1, "ReceivedDate": cielo_time(r.created_at)}
                    for r in refunds
                ],
                **self._codes(txn),
                **self._return(txn),
            },
        }

    @staticmethod
    def _codes(txn: Transaction) -> dict[str, str]:
        codes = {"Tid": txn.tid, "ProofOfSale": txn.nsu}
        if txn.authorization_code:
            codes["AuthorizationCode"] = txn.authorization_code
        return codes

    @staticmethod
    def _return(txn: Transaction) -> dict[str, str]:
        if txn.status == Status.PENDING:
            return {}
        code, message = DECLINES[Decline(txn.decline_reason)] if txn.status == Status.DECLINED else APPROVED
        return {"ReturnCode": code, "ReturnMessage": message}
