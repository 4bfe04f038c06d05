"""What every simulated acquirer does the same way: what each test card token does, which amounts
may be captured, voided and refunded, when a pending authorization is decided, and how a repeated
call is answered from its stored answer. The provider modules only translate their wire formats
to and from these calls, and their refusals into their own error codes."""

import re
import secrets
import time
import uuid
from collections.abc import Callable
from enum import StrEnum

from .config import SandboxSettings
from .store import Db, OperationRecord, Transaction
from .web import Response

TOKEN_PATTERN = re.compile(r"tok_[A-Za-z0-9_]+")


class Status(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"  # stays captured through partial refunds
    DECLINED = "declined"
    VOIDED = "voided"
    REFUNDED = "refunded"


class Decline(StrEnum):
    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"


class Effect(StrEnum):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class Refusal(StrEnum):
    NOT_CAPTURABLE = "not_capturable"  # not an open authorization (pending, declined, captured, voided)
    CAPTURE_OVER_AUTHORIZED = "capture_over_authorized"
    NOT_VOIDABLE = "not_voidable"  # only an open authorization can be voided
    PARTIAL_VOID = "partial_void"  # a void releases the whole authorization
    NOT_REFUNDABLE = "not_refundable"  # nothing captured, or all of it refunded already
    REFUND_OVER_CAPTURED = "refund_over_captured"
    KEY_REUSED = "key_reused"  # an idempotency key already used for another transaction


class RuleViolation(Exception):
    def __init__(self, refusal: Refusal):
        super().__init__(refusal.value)
        self.refusal = refusal


_DECLINING_TOKENS = {"tok_decline": Decline.CARD_DECLINED, "tok_insufficient_funds": Decline.INSUFFICIENT_FUNDS}
ASYNC_CARD = "tok_async"
TIMEOUT_CARD = "tok_timeout"


def valid_token(token: object) -> bool:
    return isinstance(token, str) and TOKEN_PATTERN.fullmatch(token) is not None


def digits(count: int) -> str:
    return f"{secrets.randbelow(10**count):0{count}d}"


def new_uuid() -> str:
    return str(uuid.uuid4())


# Called, inside the store transaction, with every change that took effect on a transaction:
# (db, txn, effect, amount, idempotency key). The notifier (notifications.py) sets it.
Listener = Callable[[Db, Transaction, "Effect", int, str], None]


class Acquirer:
    def __init__(self, provider: str, settings: SandboxSettings):
        self.provider = provider
        self.settings = settings
        self.listener: Listener | None = None

    # --- authorizations -----------------------------------------------------------------------

    def authorize(
        self,
        db: Db,
        *,
        merchant: str,
        order_ref: str,
        amount: int,
        currency: str,
        token: str,
        capture: bool,
        transaction_id: str | None = None,
    ) -> Transaction:
        """Decide and record an authorization. `transaction_id` is the provider's payment id;
        without one the TID serves as the id (Rede). The caller has already checked that
        `order_ref` is new and the token well-formed."""
        now = time.time()
        tid = digits(20)
        txn = Transaction(
            provider=self.provider,
            id=transaction_id or tid,
            merchant=merchant,
            order_ref=order_ref,
            token=token,
            amount=amount,
            currency=currency,
            auto_capture=capture,
            status=Status.PENDING,
            decline_reason="",
            tid=tid,
            nsu=digits(6),
            authorization_code="",
            captured_amount=0,
            refunded_amount=0,
            pending_until=None,
            created_at=now,
            updated_at=now,
        )
        if token in _DECLINING_TOKENS:
            txn.status = Status.DECLINED
            txn.decline_reason = _DECLINING_TOKENS[token]
        elif token == ASYNC_CARD:
            txn.pending_until = now + self.settings.async_delay
        else:  # tok_approve, tok_timeout, tok_chargeback and any other well-formed token
            self._approve(txn, now)
        db.insert_transaction(txn)
        return txn

    def answer_delay(self, token: str) -> float:
        """How long the first answer to an authorization with this token is held back."""
        return self.settings.timeout_delay if token == TIMEOUT_CARD else 0.0

    def get(self, db: Db, merchant: str, transaction_id: str) -> Transaction | None:
        txn = db.transaction(self.provider, merchant, transaction_id)
        return self._settled(db, txn) if txn else None

    def get_by_order(self, db: Db, merchant: str, order_ref: str) -> Transaction | None:
        txn = db.transaction_by_order(self.provider, merchant, order_ref)
        return self._settled(db, txn) if txn else None

    def _settled(self, db: Db, txn: Transaction) -> Transaction:
        """Decide a pending authorization whose delay has passed. Done when the transaction is
        next read, so that no background thread is needed."""
        now = time.time()
        if txn.status == Status.PENDING and txn.pending_until is not None and txn.pending_until <= now:
            self._approve(txn, now)
            db.update_transaction(txn)
            if self.listener:
                self.listener(db, txn, Effect.AUTHORIZE, txn.amount, txn.order_ref)
        return txn

    def settle_due(self, db: Db) -> int:
        """Decide every pending authorization whose delay has passed, read or not (so that its
        notification goes out on time). Returns how many were decided."""
        due = db.pending_transactions_due(self.provider, time.time())
        for txn in due:
            self._settled(db, txn)
        return len(due)

    @staticmethod
    def _approve(txn: Transaction, now: float) -> None:
        txn.status = Status.CAPTURED if txn.auto_capture else Status.AUTHORIZED
        txn.captured_amount = txn.amount if txn.auto_capture else 0
        txn.authorization_code = digits(6)
        txn.pending_until = None
        txn.updated_at = now

    # --- captures, voids and refunds ----------------------------------------------------------

    def capture(self, db: Db, txn: Transaction, amount: int) -> Transaction:
        """One capture per authorization, of at most the authorized amount; the rest is released."""
        if txn.status != Status.AUTHORIZED:
            raise RuleViolation(Refusal.NOT_CAPTURABLE)
        if amount > txn.amount:
            raise RuleViolation(Refusal.CAPTURE_OVER_AUTHORIZED)
        txn.status = Status.CAPTURED
        txn.captured_amount = amount
        return self._save(db, txn)

    def void(self, db: Db, txn: Transaction, amount: int) -> Transaction:
        if txn.status != Status.AUTHORIZED:
            raise RuleViolation(Refusal.NOT_VOIDABLE)
        if amount != txn.amount:
            raise RuleViolation(Refusal.PARTIAL_VOID)
        txn.status = Status.VOIDED
        return self._save(db, txn)

    def refund(self, db: Db, txn: Transaction, amount: int) -> Transaction:
        if txn.status != Status.CAPTURED:
            raise RuleViolation(Refusal.NOT_REFUNDABLE)
        if amount > txn.captured_amount - txn.refunded_amount:
            raise RuleViolation(Refusal.REFUND_OVER_CAPTURED)
        txn.refunded_amount += amount
        if txn.refunded_amount == txn.captured_amount:
            txn.status = Status.REFUNDED
        return self._save(db, txn)

    def cancel(self, db: Db, txn: Transaction, amount: int) -> Effect:
        """The single cancel call of Cielo and Rede: a void before capture, a refund after."""
        if txn.status == Status.AUTHORIZED:
            self.void(db, txn, amount)
            return Effect.VOID
        self.refund(db, txn, amount)
        return Effect.REFUND

    @staticmethod
    def _save(db: Db, txn: Transaction) -> Transaction:
        txn.updated_at = time.time()
        db.update_transaction(txn)
        return txn

    # --- idempotency --------------------------------------------------------------------------

    def replay(
        self,
        db: Db,
        merchant: str,
        kind: str,
        key: str,
        *,
        transaction_id: str = "",
        amount: int | None = None,
        conflict: Refusal = Refusal.KEY_REUSED,
    ) -> Response | None:
        """The stored answer of an earlier call with this idempotency key, if there was one. A key
        first used for another transaction or amount is refused (with `conflict`) rather than
        answered with that other call's result."""
        record = db.operation(self.provider, merchant, kind, key)
        if record is None:
            return None
        if (transaction_id and record.transaction_id != transaction_id) or (
            amount is not None and record.amount != amount
        ):
            raise RuleViolation(conflict)
        return Response(record.status_code, record.body.encode())

    def remember(
        self,
        db: Db,
        *,
        merchant: str,
        kind: str,
        key: str,
        txn: Transaction,
        effect: Effect,
        amount: int,
        response: Response,
        operation_id: str = "",
    ) -> Response:
        """Store the answer of a call that took effect, to replay it for a repeat. Refusals are
        not stored: they changed nothing, so a retry is simply judged again."""
        db.insert_operation(
            OperationRecord(
                provider=self.provider,
                merchant=merchant,
                kind=kind,
                key=key,
                transaction_id=txn.id,
                effect=effect,
                amount=amount,
                operation_id=operation_id,
                status_code=response.status,
                body=response.text(),
                created_at=time.time(),
            )
        )
        if self.listener:
            self.listener(db, txn, effect, amount, key)
        return response

    def history(self, db: Db, txn: Transaction, *effects: Effect) -> list[OperationRecord]:
        """The calls with these effects that took effect on a transaction, oldest first."""
        records = [record for effect in effects for record in db.operations(self.provider, txn.id, effect)]
        return sorted(records, key=lambda record: record.created_at)
