"""e.Rede (Rede's e-commerce API), card transactions.

HTTP Basic authentication with the merchant's PV and token. `reference` is the merchant's order
number, unique per PV: a repeated reference answers with the transaction already made. The tid
identifies a transaction; it is captured once (`PUT /v1/transactions/{tid}`) and cancelled through
its refunds resource (a void before capture, a refund after), idempotent on `refundReference`.
Every answer carries `returnCode`/`returnMessage`: "00" is success, 3xx codes answer
cancellations. `currency` is a sandbox extension (e.Rede only takes BRL); it defaults to BRL.
"""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from .acquirer import Acquirer, Decline, Effect, Refusal, RuleViolation, Status, new_uuid, valid_token
from .config import SandboxSettings
from .store import Db, Store, Transaction
from .web import BadJson, Request, Response, Router, currency_code, positive_int

AUTHORIZATION_STATUS = {
    Status.PENDING: "Pending",
    Status.AUTHORIZED: "Approved",
    Status.CAPTURED: "Approved",
    Status.DECLINED: "Denied",
    Status.VOIDED: "Canceled",
    Status.REFUNDED: "Canceled",
}
SUCCESS = ("00", "Success.")
# e.Rede has no pending credit authorization outside 3-D Secure; the sandbox borrows 3DS's code.
PENDING = ("220", "Transaction request received. Authorization pending.")
DECLINES = {
    Decline.CARD_DECLINED: ("101", "Unauthorized. Problems on the card, contact the issuer."),
    Decline.INSUFFICIENT_FUNDS: ("111", "Unauthorized. Insufficient funds."),
}
REFUND_DONE = ("359", "Refund successful.")
NOT_FOUND = ("78", "Transaction does not exist.")
REFUSALS = {
    Refusal.NOT_CAPTURABLE: ("171", "Operation not allowed for this transaction."),
    Refusal.CAPTURE_OVER_AUTHORIZED: ("49", "The value of the transaction exceeds the authorized."),
    Refusal.NOT_VOIDABLE: ("171", "Operation not allowed for this transaction."),
    Refusal.PARTIAL_VOID: ("365", "Partial refund not available."),
    Refusal.NOT_REFUNDABLE: ("355", "Transaction already canceled or not refundable."),
    Refusal.REFUND_OVER_CAPTURED: ("357", "Sum of amount refunds greater than transaction amount."),
    Refusal.KEY_REUSED: ("171", "refundReference already used for another transaction."),
}


def answer(status: int, code: tuple[str, str], **fields: Any) -> Response:
    return Response.json(status, {**fields, "returnCode": code[0], "returnMessage": code[1]})


def rede_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


class RedeApi:
    name = "rede"

    def __init__(self, store: Store, settings: SandboxSettings):
        self.store = store
        self.settings = settings
        self.acquirer = Acquirer(self.name, settings)
        self.router = Router()
        self.router.add("POST", r"/v1/transactions", self.create)
        self.router.add("PUT", r"/v1/transactions/(?P<tid>\d+)", self.capture)
        self.router.add("POST", r"/v1/transactions/(?P<tid>\d+)/refunds", self.refund)
        self.router.add("GET", r"/v1/transactions/(?P<tid>\d+)", self.get)
        self.router.add("GET", r"/v1/transactions", self.find)

    def error(self, status: int, message: str) -> Response:
        return answer(status, ("370", message))

    def handle(self, request: Request) -> Response:
        credentials = self.settings.credentials
        if request.basic_auth() != (credentials.rede_pv, credentials.rede_token):
            return answer(401, ("57", "affiliation: Invalid merchant."))
        try:
            response = self.router.dispatch(request, merchant=credentials.rede_pv)
        except BadJson:
            return answer(400, ("167", "Invalid request JSON."))
        return response or self.error(404, "Resource not found.")

    def create(self, request: Request, *, merchant: str) -> Response:
        body = request.json_object()
        reference = body.get("reference")
        amount = positive_int(body.get("amount"))
        currency = body.get("currency", "BRL")
        if not isinstance(reference, str) or not reference:
            return answer(400, ("41", "reference: Required parameter missing."))
        if len(reference) > 50:
            return answer(400, ("39", "reference: Invalid parameter size."))
        if amount is None:
            return answer(400, ("71", "amount: Invalid parameter format."))
        if body.get("kind", "credit") != "credit":
            return answer(400, ("76", "kind: Invalid parameter format."))
        if not isinstance(body.get("capture", True), bool):
            return answer(400, ("158", "capture: Type not allowed for this transaction."))
        if currency_code(currency) is None:
            return answer(400, ("56", "Error in reported data. Try again."))
        if not valid_token(body.get("cardToken")):
            return answer(400, ("89", "token: Invalid token."))

        with self.store.atomic() as db:
            replay = self.acquirer.replay(db, merchant, "transaction", reference)
            if replay:
                return replay
            txn = self.acquirer.authorize(
                db,
                merchant=merchant,
                order_ref=reference,
                amount=amount,
                currency=currency,
                token=body["cardToken"],
                capture=body.get("capture", True),
            )
            if txn.status == Status.DECLINED:
                status, code = 402, DECLINES[Decline(txn.decline_reason)]
            elif txn.status == Status.PENDING:
                status, code = 202, PENDING
            else:
                status, code = 201, SUCCESS
            response = answer(status, code, **self._ids(txn), amount=txn.amount, dateTime=rede_time(txn.created_at))
            self.acquirer.remember(
                db,
                merchant=merchant,
                kind="transaction",
                key=reference,
                txn=txn,
                effect=Effect.AUTHORIZE,
                amount=amount,
                response=response,
            )
        return replace(response, delay=self.acquirer.answer_delay(txn.token))

    def capture(self, request: Request, *, merchant: str, tid: str) -> Response:
        amount = positive_int(request.json_object().get("amount"))
        if amount is None:
            return answer(400, ("71", "amount: Invalid parameter format."))
        with self.store.atomic() as db:
            try:
                # One capture per tid: a repeat is answered as the first one was.
                replay = self.acquirer.replay(
                    db, merchant, "capture", tid, amount=amount, conflict=Refusal.NOT_CAPTURABLE
                )
                if replay:
                    return replay
                txn = self.acquirer.get(db, merchant, tid)
                if txn is None:
                    return answer(404, NOT_FOUND)
                self.acquirer.capture(db, txn, amount)
            except RuleViolation as violation:
                return answer(400, REFUSALS[violation.refusal])
            response = answer(200, SUCCESS, **self._ids(txn), dateTime=rede_time(txn.updated_at))
            return self.acquirer.remember(
                db,
                merchant=merchant,
                kind="capture",
                key=tid,
                txn=txn,
                effect=Effect.CAPTURE,
                amount=amount,
                response=response,
            )

    def refund(self, request: Request, *, merchant: str, tid: str) -> Response:
        body = request.json_object()
        amount = positive_int(body.get("amount"))
        refund_reference = body.get("refundReference")
        if amount is None:
            return answer(400, ("71", "amount: Invalid parameter format."))
        if refund_reference is not None and (not isinstance(refund_reference, str) or not refund_reference):
            return answer(400, ("40", "refundReference: Invalid parameter format."))
        key = refund_reference or new_uuid()
        with self.store.atomic() as db:
            try:
                replay = self.acquirer.replay(db, merchant, "refund", key, transaction_id=tid, amount=amount)
                if replay:
                    return replay
                txn = self.acquirer.get(db, merchant, tid)
                if txn is None:
                    return answer(404, NOT_FOUND)
                effect = self.acquirer.cancel(db, txn, amount)
            except RuleViolation as violation:
                return answer(400, REFUSALS[violation.refusal])
            refund_id = new_uuid()
            response = answer(
                201, REFUND_DONE, refundId=refund_id, tid=txn.tid, nsu=txn.nsu, refundDateTime=rede_time(txn.updated_at)
            )
            return self.acquirer.remember(
                db,
                merchant=merchant,
                kind="refund",
                key=key,
                txn=txn,
                effect=effect,
                amount=amount,
                response=response,
                operation_id=refund_id,
            )

    def get(self, request: Request, *, merchant: str, tid: str) -> Response:
        with self.store.atomic() as db:
            txn = self.acquirer.get(db, merchant, tid)
            return self._query(db, txn, merchant)

    def find(self, request: Request, *, merchant: str) -> Response:
        reference = request.query.get("reference")
        if not reference:
            return answer(400, ("87", "At least one of the following fields must be filled: tid or reference."))
        with self.store.atomic() as db:
            txn = self.acquirer.get_by_order(db, merchant, reference)
            return self._query(db, txn, merchant)

    def _query(self, db: Db, txn: Transaction | None, merchant: str) -> Response:
        if txn is None:
            return answer(404, NOT_FOUND)
        if txn.status == Status.DECLINED:
            code = DECLINES[Decline(txn.decline_reason)]
        else:
            code = PENDING if txn.status == Status.PENDING else SUCCESS
        data: dict[str, Any] = {
            "authorization": {
                "dateTime": rede_time(txn.created_at),
                "returnCode": code[0],
                "returnMessage": code[1],
                "affiliation": merchant,
                "status": AUTHORIZATION_STATUS[txn.status],
                "kind": "credit",
                "amount": txn.amount,
                "currency": txn.currency,
                **self._ids(txn),
            },
            "refunds": [
                {
                    "refundId": record.operation_id,
                    "refundReference": record.key,
                    "amount": record.amount,
                    "status": "Done",
                    "refundDateTime": rede_time(record.created_at),
                }
                for record in self.acquirer.history(db, txn, Effect.VOID, Effect.REFUND)
            ],
        }
        if txn.captured_amount:
            captures = self.acquirer.history(db, txn, Effect.CAPTURE)
            captured_at = captures[0].created_at if captures else txn.created_at
            data["capture"] = {"dateTime": rede_time(captured_at), "nsu": txn.nsu, "amount": txn.captured_amount}
        return Response.json(200, data)

    @staticmethod
    def _ids(txn: Transaction) -> dict[str, str]:
        ids = {"reference": txn.order_ref, "tid": txn.tid, "nsu": txn.nsu}
        if txn.authorization_code:
            ids["authorizationCode"] = txn.authorization_code
        return ids
