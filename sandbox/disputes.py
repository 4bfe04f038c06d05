"""Disputes (chargebacks) as the simulated acquirers run them.

A `tok_chargeback` payment is disputed by its cardholder `chargeback_delay_seconds` after its
capture, for what is still captured and not refunded by then (nothing left: no dispute). The
merchant may answer once, before the evidence due date: contest it with evidence, or accept it.
The provider decides `dispute_decision_delay_seconds` after opening it, or at once when told to
through `POST /_control/disputes/decide`: a contested dispute is won, any other lost; an accepted
one is lost at once. Every opening and decision is notified (notifications.py).

Each provider answers on its own resource, in its own format and with its own authentication:

| provider | contest | accept |
|---|---|---|
| Cielo | `PUT /1/chargebacks/{id}/contest` `{"Evidence"}` | `PUT /1/chargebacks/{id}/accept` |
| Rede | `POST /v1/chargebacks/{id}/defense` `{"defense"}` | `POST /v1/chargebacks/{id}/acceptance` |
| Getnet | `POST /v1/disputes/{id}/evidence` `{"evidence_text"}` | `POST /v1/disputes/{id}/accept` |

Answering again the way the dispute was already answered repeats the first answer, so that a
client may retry a call whose answer it lost.
"""

import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from . import cielo, getnet, rede
from .acquirer import new_uuid
from .config import SandboxSettings
from .store import Db, Store, Transaction
from .web import BadJson, Request, Response

CHARGEBACK_CARD = "tok_chargeback"
MAX_EVIDENCE_CHARS = 20_000
# Card networks' reason codes (Visa, Mastercard), which the Brazilian acquirers pass on.
REASONS = (
    ("10.4", "Other Fraud - Card-Absent Environment"),
    ("4837", "No Cardholder Authorization"),
    ("13.1", "Merchandise/Services Not Received"),
    ("4855", "Goods or Services Not Provided"),
    ("13.3", "Not as Described or Defective Merchandise"),
    ("4834", "Duplicate Processing"),
)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS disputes (
        provider TEXT NOT NULL,
        id TEXT NOT NULL,
        transaction_id TEXT NOT NULL,
        merchant TEXT NOT NULL,
        order_ref TEXT NOT NULL,
        status TEXT NOT NULL,
        amount INTEGER NOT NULL,
        currency TEXT NOT NULL,
        reason_code TEXT NOT NULL,
        reason_message TEXT NOT NULL,
        opens_at REAL NOT NULL,
        due_at REAL,
        decide_at REAL,
        answer TEXT NOT NULL,
        evidence TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (provider, id),
        UNIQUE (provider, transaction_id)
    )""",
    "CREATE INDEX IF NOT EXISTS disputes_by_status ON disputes (status)",
)


class DisputeStatus(StrEnum):
    SCHEDULED = "scheduled"  # the cardholder will dispute it at opens_at
    OPEN = "open"
    WON = "won"
    LOST = "lost"
    DROPPED = "dropped"  # nothing was left to dispute when it was due to open


class Answer(StrEnum):
    NONE = ""
    EVIDENCE = "evidence"
    ACCEPTANCE = "acceptance"


class Refusal(StrEnum):
    NOT_FOUND = "not_found"
    CLOSED = "closed"  # decided already, or answered the other way
    PAST_DUE = "past_due"
    NO_EVIDENCE = "no_evidence"


class DisputeRefused(Exception):
    def __init__(self, refusal: Refusal):
        super().__init__(refusal.value)
        self.refusal = refusal


@dataclass
class Dispute:
    provider: str
    id: str
    transaction_id: str
    merchant: str
    order_ref: str
    status: str
    amount: int
    currency: str
    reason_code: str
    reason_message: str
    opens_at: float
    due_at: float | None
    decide_at: float | None
    answer: str
    evidence: str
    updated_at: float

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


# Called, inside the store transaction, when a dispute opens or is decided:
# (db, dispute, "dispute_opened" | "dispute_won" | "dispute_lost").
Emit = Callable[[Db, Dispute, str], None]


class Disputes:
    def __init__(self, store: Store, settings: SandboxSettings, emit: Emit):
        self.store = store
        self.settings = settings
        self._emit = emit
        with store.atomic() as db:
            for statement in SCHEMA:
                db.execute(statement)

    # --- the provider's side ------------------------------------------------------------------

    def schedule(self, db: Db, txn: Transaction) -> None:
        """A captured tok_chargeback payment will be disputed (once)."""
        if txn.token != CHARGEBACK_CARD or not txn.captured_amount:
            return
        now = time.time()
        code, message = REASONS[zlib.crc32(txn.id.encode()) % len(REASONS)]
        db.execute(
            """INSERT OR IGNORE INTO disputes
               VALUES (?, ?, ?, ?, ?, 'scheduled', 0, ?, ?, ?, ?, NULL, NULL, '', '', ?)""",
            (
                txn.provider,
                new_uuid(),
                txn.id,
                txn.merchant,
                txn.order_ref,
                txn.currency,
                code,
                message,
                now + max(0.0, self.settings.notifications.chargeback_delay_seconds),
                now,
            ),
        )

    def tick(self, db: Db) -> None:
        """Open the disputes whose time has come, and decide those whose decision is due."""
        now = time.time()
        for dispute in self._select(db, "status = 'scheduled' AND opens_at <= ?", (now,)):
            self._open(db, dispute, now)
        for dispute in self._select(db, "status = 'open' AND decide_at <= ?", (now,)):
            self._decide(db, dispute, None, now)

    def _open(self, db: Db, dispute: Dispute, now: float) -> None:
        row = db.execute(
            "SELECT captured_amount - refunded_amount FROM transactions WHERE provider = ? AND id = ?",
            (dispute.provider, dispute.transaction_id),
        ).fetchone()
        disputable = row[0] if row else 0
        if disputable <= 0:
            dispute.status = DisputeStatus.DROPPED
        else:
            notifications = self.settings.notifications
            dispute.status = DisputeStatus.OPEN
            dispute.amount = disputable
            dispute.due_at = now + notifications.evidence_due_days * 86_400
            dispute.decide_at = now + max(0.0, notifications.dispute_decision_delay_seconds)
        self._save(db, dispute, now)
        if dispute.status == DisputeStatus.OPEN:
            self._emit(db, dispute, "dispute_opened")

    def _decide(self, db: Db, dispute: Dispute, outcome: str | None, now: float) -> None:
        """`outcome` "won" or "lost"; None decides by the rule: contested disputes are won."""
        if outcome is None:
            outcome = DisputeStatus.WON if dispute.answer == Answer.EVIDENCE else DisputeStatus.LOST
        dispute.status = DisputeStatus(outcome)
        self._save(db, dispute, now)
        self._emit(db, dispute, f"dispute_{dispute.status}")

    def answer(self, provider: str, merchant: str, dispute_id: str, answer: Answer, evidence: str = "") -> Dispute:
        """The merchant's answer. Raises DisputeRefused."""
        if answer == Answer.EVIDENCE and not evidence.strip():
            raise DisputeRefused(Refusal.NO_EVIDENCE)
        with self.store.atomic() as db:
            found = self._select(db, "provider = ? AND id = ? AND merchant = ?", (provider, dispute_id, merchant))
            if not found or found[0].status in (DisputeStatus.SCHEDULED, DisputeStatus.DROPPED):
                raise DisputeRefused(Refusal.NOT_FOUND)
            dispute, now = found[0], time.time()
            if dispute.answer == answer:  # a repeat: answered as the first time
                return dispute
            if dispute.status != DisputeStatus.OPEN or dispute.answer:
                raise DisputeRefused(Refusal.CLOSED)
            if dispute.due_at is not None and now > dispute.due_at:
                raise DisputeRefused(Refusal.PAST_DUE)
            dispute.answer = answer
            dispute.evidence = evidence[:MAX_EVIDENCE_CHARS]
            self._save(db, dispute, now)
            if answer == Answer.ACCEPTANCE:
                self._decide(db, dispute, DisputeStatus.LOST, now)
            return dispute

    def decide(self, *, provider: str | None = None, dispute_id: str | None = None, outcome: str | None = None) -> list:
        """Decide open disputes now (all of them, one provider's, or one)."""
        conditions, parameters = ["status = 'open'"], []
        if provider:
            conditions.append("provider = ?")
            parameters.append(provider)
        if dispute_id:
            conditions.append("id = ?")
            parameters.append(dispute_id)
        with self.store.atomic() as db:
            disputes = self._select(db, " AND ".join(conditions), tuple(parameters))
            now = time.time()
            for dispute in disputes:
                self._decide(db, dispute, outcome, now)
        return disputes

    def all(self) -> list[Dispute]:
        with self.store.atomic() as db:
            return self._select(db, "1 = 1", ())

    @staticmethod
    def _select(db: Db, where: str, parameters: tuple) -> list[Dispute]:
        rows = db.execute(f"SELECT * FROM disputes WHERE {where} ORDER BY opens_at", parameters).fetchall()  # noqa: S608
        return [Dispute(**dict(row)) for row in rows]

    @staticmethod
    def _save(db: Db, dispute: Dispute, now: float) -> None:
        dispute.updated_at = now
        db.execute(
            """UPDATE disputes SET status = ?, amount = ?, due_at = ?, decide_at = ?, answer = ?, evidence = ?,
                   updated_at = ? WHERE provider = ? AND id = ?""",
            (
                dispute.status,
                dispute.amount,
                dispute.due_at,
                dispute.decide_at,
                dispute.answer,
                dispute.evidence,
                dispute.updated_at,
                dispute.provider,
                dispute.id,
            ),
        )

    # --- the control resource: /_control/disputes -----------------------------------------------

    def control(self, request: Request, path: str) -> Response:
        """`GET /_control/disputes` lists every dispute; `POST /_control/disputes/decide`
        `{"provider"?, "dispute_id"?, "outcome"?: "won" | "lost"}` decides open ones now."""
        if path == "" and request.method == "GET":
            return Response.json(200, {"disputes": [d.as_dict() for d in self.all()]})
        if path == "decide" and request.method == "POST":
            try:
                body = request.json_object() if request.body else {}
            except BadJson as exc:
                return Response.json(400, {"error": str(exc)})
            unknown = set(body) - {"provider", "dispute_id", "outcome"}
            outcome = body.get("outcome")
            if unknown or outcome not in (None, "won", "lost"):
                return Response.json(
                    400, {"error": "send provider, dispute_id and outcome (won or lost), all optional"}
                )
            decided = self.decide(provider=body.get("provider"), dispute_id=body.get("dispute_id"), outcome=outcome)
            return Response.json(200, {"decided": [d.as_dict() for d in decided]})
        return Response.json(404, {"error": "unknown control resource"})

    # --- each provider's resources ----------------------------------------------------------------

    def install(self, apis: Mapping[str, Any]) -> None:
        """Add the dispute resources to each provider's router (behind its authentication)."""
        cielo_api, rede_api, getnet_api = apis["cielo"], apis["rede"], apis["getnet"]
        cielo_api.router.add("PUT", r"/1/chargebacks/(?P<dispute_id>[^/]+)/contest", self._cielo(Answer.EVIDENCE))
        cielo_api.router.add("PUT", r"/1/chargebacks/(?P<dispute_id>[^/]+)/accept", self._cielo(Answer.ACCEPTANCE))
        rede_api.router.add("POST", r"/v1/chargebacks/(?P<dispute_id>[^/]+)/defense", self._rede(Answer.EVIDENCE))
        rede_api.router.add("POST", r"/v1/chargebacks/(?P<dispute_id>[^/]+)/acceptance", self._rede(Answer.ACCEPTANCE))
        getnet_api.router.add("POST", r"/v1/disputes/(?P<dispute_id>[^/]+)/evidence", self._getnet(Answer.EVIDENCE))
        getnet_api.router.add("POST", r"/v1/disputes/(?P<dispute_id>[^/]+)/accept", self._getnet(Answer.ACCEPTANCE))

    @staticmethod
    def _evidence(request: Request, field: str, answer: Answer) -> str:
        if answer != Answer.EVIDENCE:
            return ""
        value = request.json_object().get(field)
        return value if isinstance(value, str) else ""

    def _cielo(self, answer: Answer):
        refusals = {
            Refusal.NOT_FOUND: (404, 326, "Chargeback not found"),
            Refusal.CLOSED: (400, 327, "Chargeback not available for this operation"),
            Refusal.PAST_DUE: (400, 328, "The deadline to answer this chargeback has passed"),
            Refusal.NO_EVIDENCE: (400, 329, "Evidence is required"),
        }

        def handle(request: Request, *, merchant: str, dispute_id: str) -> Response:
            try:
                dispute = self.answer(
                    "cielo", merchant, dispute_id, answer, self._evidence(request, "Evidence", answer)
                )
            except DisputeRefused as refused:
                status, code, message = refusals[refused.refusal]
                return cielo.errors(status, (code, message))
            status = "Contested" if answer == Answer.EVIDENCE else "Accepted"
            return Response.json(200, {"ChargebackId": dispute.id, "Status": status, **cielo.SUCCESSFUL})

        return handle

    def _rede(self, answer: Answer):
        refusals = {
            Refusal.NOT_FOUND: (404, ("91", "Chargeback not found.")),
            Refusal.CLOSED: (400, ("92", "Chargeback already answered or closed.")),
            Refusal.PAST_DUE: (400, ("93", "The defense deadline has passed.")),
            Refusal.NO_EVIDENCE: (400, ("94", "defense: Required parameter missing.")),
        }

        def handle(request: Request, *, merchant: str, dispute_id: str) -> Response:
            try:
                evidence = self._evidence(request, "defense", answer)
                dispute = self.answer("rede", merchant, dispute_id, answer, evidence)
            except DisputeRefused as refused:
                return rede.answer(*refusals[refused.refusal])
            status = "UnderReview" if answer == Answer.EVIDENCE else "Accepted"
            return rede.answer(200, rede.SUCCESS, chargebackId=dispute.id, chargebackStatus=status)

        return handle

    def _getnet(self, answer: Answer):
        refusals = {
            Refusal.NOT_FOUND: (404, "DISPUTES-404", "Dispute not found"),
            Refusal.CLOSED: (400, "DISPUTES-400", "Dispute already answered or closed"),
            Refusal.PAST_DUE: (400, "DISPUTES-400", "The response deadline has passed"),
            Refusal.NO_EVIDENCE: (400, "DISPUTES-400", "evidence_text: required"),
        }

        def handle(request: Request, *, seller: str, dispute_id: str) -> Response:
            try:
                evidence = self._evidence(request, "evidence_text", answer)
                dispute = self.answer("getnet", seller, dispute_id, answer, evidence)
            except DisputeRefused as refused:
                return getnet.error(*refusals[refused.refusal])
            status = "UNDER_REVIEW" if answer == Answer.EVIDENCE else "ACCEPTED"
            return Response.json(200, {"dispute_id": dispute.id, "seller_id": seller, "status": status})

        return handle
