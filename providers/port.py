"""The one port every provider adapter implements. The payments core sees only these plain
objects: it never parses a provider's wire format and never catches an httpx exception.

Rules every adapter keeps:
- never raise for a provider's answer or a transport failure: return a ProviderResult;
- a call whose outcome is not known (timeout after the request was sent, 5xx, a garbled answer)
  returns Outcome.UNKNOWN with reached_provider=True: the caller must not assume it failed;
- a call that certainly never reached the provider (connection refused, DNS failure, connect
  timeout, circuit open) returns Outcome.UNKNOWN with reached_provider=False: safe to fall back;
- every request carries our idempotency `reference`, sent in the provider's own idempotency
  mechanism, so that repeating a call can never charge twice.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    APPROVED = "approved"  # the operation happened
    DECLINED = "declined"  # the provider refused it, for good
    PENDING = "pending"  # accepted, decided later (async approval); a webhook or polling tells
    UNKNOWN = "unknown"  # we do not know whether it happened: resolve with get_status
    NOT_FOUND = "not_found"  # get_status only: the provider never saw this operation


class Operation(StrEnum):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"
    DISPUTE_RESPONSE = "dispute_response"  # the merchant's answer to a dispute, not a payment operation


@dataclass(frozen=True)
class ProviderResult:
    outcome: Outcome
    provider_reference: str = ""  # the provider's id of the payment (Cielo PaymentId, Rede tid, ...)
    failure_code: str = ""  # our normalised code: card_declined, insufficient_funds, provider_error, ...
    failure_message: str = ""
    raw_code: str = ""  # the provider's own return code, for operators
    reached_provider: bool = True
    latency_ms: int = 0
    details: dict = field(default_factory=dict)  # tid, nsu, authorization_code: what reconciliation matches on


@dataclass(frozen=True)
class AuthorizeRequest:
    reference: str  # our payment id: the provider's order id and idempotency key
    amount: int
    currency: str
    token: str  # card token (tok_...)
    capture: bool = False  # authorize and capture in one call


@dataclass(frozen=True)
class CaptureRequest:
    reference: str  # our idempotency reference for this capture
    provider_reference: str
    amount: int
    currency: str


@dataclass(frozen=True)
class VoidRequest:
    reference: str
    provider_reference: str
    amount: int
    currency: str


@dataclass(frozen=True)
class RefundRequest:
    reference: str  # our refund id
    provider_reference: str
    amount: int
    currency: str


@dataclass(frozen=True)
class StatusRequest:
    operation: Operation
    reference: str  # the `reference` the original request carried
    payment_reference: str  # our payment id (the order id given at authorization)
    provider_reference: str = ""  # empty when the authorization's answer never came back
    amount: int = 0


class NotificationKind(StrEnum):
    AUTHORIZATION = "authorization"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"


DISPUTE_NOTIFICATION_KINDS = (
    NotificationKind.DISPUTE_OPENED,
    NotificationKind.DISPUTE_WON,
    NotificationKind.DISPUTE_LOST,
)


@dataclass(frozen=True)
class ProviderNotification:
    """A provider's signed notification, verified and read from its wire format.

    Operation kinds (authorization, capture, void, refund) carry the operation's `outcome`
    (APPROVED or DECLINED); dispute kinds carry the dispute's id, amount, reason and due date,
    every one of them, so that a dispute can be recorded whichever of its notifications arrives
    first."""

    event_id: str  # the provider's id of this notification: duplicates repeat it
    kind: NotificationKind
    payment_reference: str  # our payment id, the order id given at authorization
    provider_reference: str = ""  # the provider's id of the payment
    outcome: Outcome | None = None
    amount: int | None = None
    currency: str = ""
    operation_reference: str = ""  # our idempotency reference of the operation, when echoed (refunds)
    reason: str = ""  # normalised: failure code of a decline, reason of a dispute
    reason_code: str = ""  # the provider's (or card network's) own code
    message: str = ""
    dispute_id: str = ""  # the provider's id of the dispute
    evidence_due_by: datetime | None = None
    occurred_at: datetime | None = None


class InvalidNotification(Exception):
    """A notification that must not be trusted or cannot be read. `reason` is one of
    missing_signature, invalid_signature, stale_timestamp, future_timestamp, malformed,
    not_supported."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


@dataclass(frozen=True)
class DisputeResponseRequest:
    dispute_id: str  # the provider's id of the dispute
    reference: str  # our dispute id
    accept: bool  # True: the merchant accepts the chargeback; False: it contests it with `evidence`
    evidence: str = ""


class ProviderPort(Protocol):
    name: str

    def authorize(self, request: AuthorizeRequest) -> ProviderResult: ...

    def capture(self, request: CaptureRequest) -> ProviderResult: ...

    def void(self, request: VoidRequest) -> ProviderResult: ...

    def refund(self, request: RefundRequest) -> ProviderResult: ...

    def get_status(self, request: StatusRequest) -> ProviderResult:
        """What became of an earlier operation: APPROVED, DECLINED, PENDING, NOT_FOUND, or
        UNKNOWN when the provider cannot be asked right now."""
        ...

    # Notifications and disputes: optional. The defaults below are what a port implementation
    # that subclasses ProviderPort gets when its provider has neither.

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: float, tolerance_seconds: float
    ) -> ProviderNotification:
        """Checks the signature over the raw `body` and that its timestamp lies within
        `tolerance_seconds` of `now` (Unix seconds, the caller's trusted clock), then reads it.
        `headers` are looked up case-insensitively. Raises InvalidNotification, never anything
        else, for any input."""
        raise InvalidNotification("not_supported", f"{self.name} sends no notifications.")

    def respond_to_dispute(self, request: DisputeResponseRequest) -> ProviderResult:
        """Sends the merchant's answer to a dispute: APPROVED when the provider took it, DECLINED
        when it refused it for good (already decided, past its due date), UNKNOWN otherwise."""
        return ProviderResult(
            Outcome.DECLINED, failure_code="not_supported", failure_message=f"{self.name} takes no dispute answers."
        )
