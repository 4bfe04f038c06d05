"""Signed notifications from the simulated providers, sent from the sandbox's own threads.

Every change that takes effect on a transaction (an authorization decided, a capture, a void, a
refund) and every dispute opened or decided is written, in the same store transaction, to the
sandbox's outbox, in the provider's own format. A dispatcher thread sends what is due, through a
small pool of sender threads, to `{webhook_url}/{provider}/`, signed at each attempt with a fresh
timestamp; anything but a 2xx is retried with backoff, a bounded number of times. Settings
(`NotificationSettings`) make it late, duplicated and out of order on purpose:

- each notification leaves `webhook_delay_seconds` after its event, plus up to
  `webhook_jitter_seconds` at random;
- a share (`webhook_reorder_rate`) is held back `webhook_reorder_delay_seconds` more, so later
  ones overtake it;
- a share (`webhook_duplicate_rate`) is delivered twice, with the same notification id.

The same thread decides pending (tok_async) authorizations when their delay has passed, and opens
and decides disputes on time (disputes.py), so that their notifications go out unasked.

Each provider signs its own way; the secret is the provider's `*_WEBHOOK_SECRET`:

| provider | headers | MAC of `<timestamp>.<body>` |
|---|---|---|
| Cielo | `X-Cielo-Signature: t=<unix seconds>,v1=<MAC>` | HMAC-SHA256, hex |
| Rede | `X-Rede-Timestamp: <RFC 3339 UTC, seconds>`, `X-Rede-Signature: <MAC>` | HMAC-SHA512, base64 |
| Getnet | `X-Getnet-Timestamp: <unix milliseconds>`, `X-Getnet-Signature: sha256=<MAC>` | HMAC-SHA256, hex |

`/_control/notifications`: `GET` shows the settings and the outbox's counts; `POST` changes
settings (any `NotificationSettings` field); `DELETE` gives up on every undelivered notification;
`GET /_control/notifications/log` lists every notification with its deliveries.
"""

import base64
import hashlib
import hmac
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from . import cielo, getnet, rede
from .acquirer import Acquirer, Decline, Effect, Status, new_uuid
from .config import MAX_DELAY_SECONDS, NotificationSettings, SandboxSettings
from .disputes import Dispute, Disputes
from .store import Db, Store, Transaction
from .web import BadJson, Request, Response

logger = logging.getLogger(__name__)

SENDERS = 4
MAX_ATTEMPTS = 8
MAX_RETRY_DELAY_SECONDS = 10.0
MAX_PENDING_DELIVERIES = 10_000
SEND_TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 0.05
MAX_DISPUTE_DELAY_SECONDS = 86_400.0

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS notifications (
        id TEXT PRIMARY KEY,
        provider TEXT NOT NULL,
        kind TEXT NOT NULL,
        transaction_id TEXT NOT NULL,
        order_ref TEXT NOT NULL,
        body BLOB NOT NULL,
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        notification_id TEXT NOT NULL REFERENCES notifications (id),
        status TEXT NOT NULL,
        due_at REAL NOT NULL,
        attempts INTEGER NOT NULL,
        last_status INTEGER,
        last_error TEXT NOT NULL,
        delivered_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, due_at)",
    # Deliveries cut short by a stop are sent again after a restart.
    "UPDATE deliveries SET status = 'pending' WHERE status = 'sending'",
)


# --- signatures ---------------------------------------------------------------------------------
def _mac(secret: str, message: bytes, digest: Callable[..., Any]) -> bytes:
    return hmac.new(secret.encode(), message, digest).digest()


def sign_cielo(secret: str, body: bytes, now: float) -> dict[str, str]:
    t = str(int(now))
    return {"X-Cielo-Signature": f"t={t},v1={_mac(secret, t.encode() + b'.' + body, hashlib.sha256).hex()}"}


def sign_rede(secret: str, body: bytes, now: float) -> dict[str, str]:
    timestamp = datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(_mac(secret, timestamp.encode() + b"." + body, hashlib.sha512)).decode()
    return {"X-Rede-Timestamp": timestamp, "X-Rede-Signature": signature}


def sign_getnet(secret: str, body: bytes, now: float) -> dict[str, str]:
    timestamp = str(int(now * 1000))
    signature = _mac(secret, timestamp.encode() + b"." + body, hashlib.sha256).hex()
    return {"X-Getnet-Timestamp": timestamp, "X-Getnet-Signature": f"sha256={signature}"}


SIGNERS: dict[str, Callable[[str, bytes, float], dict[str, str]]] = {
    "cielo": sign_cielo,
    "rede": sign_rede,
    "getnet": sign_getnet,
}


def signed_headers(settings: SandboxSettings, provider: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers a notification of `provider` carries: content type and signature."""
    secret = settings.credentials.webhook_secret(provider)
    signature = SIGNERS[provider](secret, body, time.time() if now is None else now)
    return {"Content-Type": "application/json", **signature}


# --- what happened, in each provider's format ------------------------------------------------------
@dataclass(frozen=True)
class Event:
    id: str
    kind: str  # authorization, capture, void, refund, dispute_opened, dispute_won, dispute_lost
    txn: Transaction
    amount: int
    key: str = ""  # the idempotency key of the operation (our refund id, say)
    dispute: Dispute | None = None
    created_at: float = 0.0

    @property
    def approved(self) -> bool:
        return self.txn.status != Status.DECLINED


def _due_date(dispute: Dispute) -> str:
    return datetime.fromtimestamp(dispute.due_at or 0, UTC).strftime("%Y-%m-%d")


def render_cielo(event: Event) -> dict[str, Any]:
    """ChangeType 1 (a payment's status changed) with the operation that changed it, or 7 (a
    chargeback)."""
    txn = event.txn
    body: dict[str, Any] = {
        "NotificationId": event.id,
        "PaymentId": txn.id,
        "MerchantOrderId": txn.order_ref,
        "CreatedDate": cielo.cielo_time(event.created_at),
    }
    if event.dispute:
        dispute = event.dispute
        status = {"dispute_opened": "Received", "dispute_won": "Won", "dispute_lost": "Lost"}[event.kind]
        return {
            **body,
            "ChangeType": 7,
            "Chargeback": {
                "Id": dispute.id,
                "Status": status,
                "Amount": dispute.amount,
                "Currency": dispute.currency,
                "ReasonCode": dispute.reason_code,
                "ReasonMessage": dispute.reason_message,
                "DueDate": _due_date(dispute),
            },
        }
    code, message = cielo.DECLINES[Decline(txn.decline_reason)] if not event.approved else cielo.APPROVED
    operation = {
        "Type": event.kind.capitalize(),
        "Result": "Approved" if event.approved else "Denied",
        "Amount": event.amount,
        "RequestId": event.key,
        "ReturnCode": code,
        "ReturnMessage": message,
    }
    payment = {"Status": cielo.PAYMENT_STATUS[Status(txn.status)], "Amount": txn.amount, "Currency": txn.currency}
    return {**body, "ChangeType": 1, "Payment": payment, "Operation": operation}


def render_rede(event: Event) -> dict[str, Any]:
    txn = event.txn
    data: dict[str, Any] = {"tid": txn.tid, "nsu": txn.nsu, "reference": txn.order_ref, "currency": txn.currency}
    if event.dispute:
        dispute = event.dispute
        kind = {f"dispute_{state}": f"chargeback.{state}" for state in ("opened", "won", "lost")}
        data["chargeback"] = {
            "id": dispute.id,
            "amount": dispute.amount,
            "reasonCode": dispute.reason_code,
            "reasonDescription": dispute.reason_message,
            "dueDate": _due_date(dispute),
        }
        return {"id": event.id, "type": kind[event.kind], "createdAt": rede.rede_time(event.created_at), "data": data}
    code, message = rede.DECLINES[Decline(txn.decline_reason)] if not event.approved else rede.SUCCESS
    kind = {
        "authorization": "transaction.authorized" if event.approved else "transaction.denied",
        "capture": "transaction.captured",
        "void": "transaction.voided",
        "refund": "transaction.refunded",
    }
    data.update(amount=event.amount, returnCode=code, returnMessage=message)
    if event.kind in ("void", "refund"):
        data["refundReference"] = event.key
    return {"id": event.id, "type": kind[event.kind], "createdAt": rede.rede_time(event.created_at), "data": data}


def render_getnet(event: Event) -> dict[str, Any]:
    txn = event.txn
    body: dict[str, Any] = {
        "notification_id": event.id,
        "seller_id": txn.merchant,
        "payment_id": txn.id,
        "order_id": txn.order_ref,
        "payment_type": "CREDIT",
        "currency": txn.currency,
        "notified_at": getnet.getnet_time(event.created_at),
    }
    if event.dispute:
        dispute = event.dispute
        status = {"dispute_opened": "OPEN", "dispute_won": "WON", "dispute_lost": "LOST"}[event.kind]
        body["event_type"] = "CHARGEBACK"
        body["chargeback"] = {
            "chargeback_id": dispute.id,
            "status": status,
            "amount": dispute.amount,
            "reason_code": dispute.reason_code,
            "reason_description": dispute.reason_message,
            "response_deadline": getnet.getnet_time(dispute.due_at or 0),
        }
        return body
    approved = ("0", "transaction approved")
    code, message = getnet.DECLINES[Decline(txn.decline_reason)] if not event.approved else approved
    operation = {
        "authorization": "AUTHORIZATION",
        "capture": "CONFIRMATION",
        "void": "CANCELLATION",
        "refund": "CANCEL_REQUEST",
    }[event.kind]
    body.update(
        event_type="PAYMENT",
        operation=operation,
        status="APPROVED" if event.approved else "DENIED",
        amount=event.amount,
        reason_code=code,
        reason_message=message,
    )
    if event.kind == "refund":
        body["cancel_custom_key"] = event.key
    return body


RENDERERS: dict[str, Callable[[Event], dict[str, Any]]] = {
    "cielo": render_cielo,
    "rede": render_rede,
    "getnet": render_getnet,
}
_KIND_OF_EFFECT = {
    Effect.AUTHORIZE: "authorization",
    Effect.CAPTURE: "capture",
    Effect.VOID: "void",
    Effect.REFUND: "refund",
}


# --- the notifier ---------------------------------------------------------------------------------
class Notifier:
    def __init__(self, store: Store, settings: SandboxSettings, acquirers: Mapping[str, Acquirer], seed: int | None):
        self.store = store
        self.settings = settings
        self.acquirers = dict(acquirers)
        self.disputes = Disputes(store, settings, emit=self._dispute_changed)
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders: ThreadPoolExecutor | None = None
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        with store.atomic() as db:
            for statement in SCHEMA:
                db.execute(statement)
        for acquirer in self.acquirers.values():
            acquirer.listener = self._transaction_changed

    # --- recording, inside the store transaction of the change -----------------------------------

    def _transaction_changed(self, db: Db, txn: Transaction, effect: str, amount: int, key: str) -> None:
        if effect == Effect.AUTHORIZE and txn.status == Status.PENDING:
            return  # decided later: notified then
        self._record(db, Event(new_uuid(), _KIND_OF_EFFECT[Effect(effect)], txn, amount, key, created_at=time.time()))
        if effect in (Effect.AUTHORIZE, Effect.CAPTURE):
            self.disputes.schedule(db, txn)

    def _dispute_changed(self, db: Db, dispute: Dispute, kind: str) -> None:
        txn = db.transaction(dispute.provider, dispute.merchant, dispute.transaction_id)
        if txn is not None:
            event = Event(new_uuid(), kind, txn, dispute.amount, dispute=dispute, created_at=time.time())
            self._record(db, event)

    def _record(self, db: Db, event: Event) -> None:
        notifications = self.settings.notifications
        if not notifications.webhook_url:
            return
        pending = db.execute("SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'sending')").fetchone()[0]
        if pending >= MAX_PENDING_DELIVERIES:
            logger.warning("sandbox outbox full: %s %s not notified", event.txn.provider, event.kind)
            return
        body = json.dumps(RENDERERS[event.txn.provider](event), separators=(",", ":")).encode()
        db.execute(
            "INSERT INTO notifications VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event.id, event.txn.provider, event.kind, event.txn.id, event.txn.order_ref, body, event.created_at),
        )
        copies = 2 if self._chance(notifications.webhook_duplicate_rate) else 1
        for _ in range(copies):
            due_at = event.created_at + self._delay(notifications)
            db.execute(
                "INSERT INTO deliveries (notification_id, status, due_at, attempts, last_error)"
                " VALUES (?, 'pending', ?, 0, '')",
                (event.id, due_at),
            )
        self._wake.set()

    def _delay(self, notifications: NotificationSettings) -> float:
        delay = notifications.webhook_delay_seconds + self._uniform(notifications.webhook_jitter_seconds)
        if self._chance(notifications.webhook_reorder_rate):
            delay += notifications.webhook_reorder_delay_seconds
        return min(max(0.0, delay), MAX_DELAY_SECONDS)

    def _chance(self, probability: float) -> bool:
        with self._random_lock:
            return probability > 0 and self._random.random() < probability

    def _uniform(self, upper: float) -> float:
        with self._random_lock:
            return self._random.uniform(0, upper) if upper > 0 else 0.0

    # --- the threads ------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._senders = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="sandbox-notify")
        self._thread = threading.Thread(target=self._dispatch_forever, name="sandbox-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self._senders is not None:
            self._senders.shutdown(wait=True, cancel_futures=True)

    def _dispatch_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # the thread must outlive any one bad tick
                logger.exception("sandbox notifier tick failed")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def tick(self) -> None:
        """Decide what is due (pending authorizations, disputes), then hand due deliveries to the
        senders, as many as they have room for."""
        with self.store.atomic() as db:
            for acquirer in self.acquirers.values():
                acquirer.settle_due(db)
            self.disputes.tick(db)
            with self._in_flight_lock:
                room = SENDERS - self._in_flight
            if room <= 0 or self._senders is None:
                return
            rows = db.execute(
                """SELECT d.id, n.provider, n.body FROM deliveries d JOIN notifications n ON n.id = d.notification_id
                   WHERE d.status = 'pending' AND d.due_at <= ? ORDER BY d.due_at LIMIT ?""",
                (time.time(), room),
            ).fetchall()
            for row in rows:
                db.execute("UPDATE deliveries SET status = 'sending' WHERE id = ?", (row["id"],))
        for row in rows:
            with self._in_flight_lock:
                self._in_flight += 1
            self._senders.submit(self._send, row["id"], row["provider"], bytes(row["body"]))

    def _send(self, delivery_id: int, provider: str, body: bytes) -> None:
        status, error = None, ""
        try:
            url = f"{self.settings.notifications.webhook_url.rstrip('/')}/{provider}/"
            request = urllib.request.Request(  # noqa: S310 - the URL is the operator's setting
                url, data=body, headers=signed_headers(self.settings, provider, body), method="POST"
            )
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            status, error = exc.code, exc.read(500).decode(errors="replace")
        except (OSError, ValueError) as exc:
            error = repr(exc)
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1
        self._delivered(delivery_id, status, error)
        self._wake.set()

    def _delivered(self, delivery_id: int, status: int | None, error: str) -> None:
        now = time.time()
        with self.store.atomic() as db:
            attempts = db.execute("SELECT attempts FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()[0] + 1
            if status is not None and 200 <= status < 300:
                db.execute(
                    "UPDATE deliveries SET status = 'delivered', attempts = ?, last_status = ?, last_error = '',"
                    " delivered_at = ? WHERE id = ?",
                    (attempts, status, now, delivery_id),
                )
                return
            retry_at = now + min(0.5 * 2**attempts, MAX_RETRY_DELAY_SECONDS)
            state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
            db.execute(
                "UPDATE deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?, due_at = ?"
                " WHERE id = ?",
                (state, attempts, status, error[:500], retry_at, delivery_id),
            )
        logger.info("sandbox notification %s not delivered (attempt %s): %s %s", delivery_id, attempts, status, error)

    # --- the control resource: /_control/notifications -------------------------------------------

    def counts(self) -> dict[str, int]:
        with self.store.atomic() as db:
            rows = db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
        return {"pending": 0, "sending": 0, "delivered": 0, "failed": 0, **{row[0]: row[1] for row in rows}}

    def log(self) -> list[dict[str, Any]]:
        with self.store.atomic() as db:
            notifications = db.execute("SELECT * FROM notifications ORDER BY created_at").fetchall()
            deliveries = db.execute("SELECT * FROM deliveries ORDER BY id").fetchall()
        by_notification: dict[str, list[dict[str, Any]]] = {}
        for delivery in deliveries:
            by_notification.setdefault(delivery["notification_id"], []).append(
                {key: delivery[key] for key in ("status", "attempts", "last_status", "last_error", "delivered_at")}
            )
        return [
            {
                "id": row["id"],
                "provider": row["provider"],
                "kind": row["kind"],
                "transaction_id": row["transaction_id"],
                "order_ref": row["order_ref"],
                "created_at": row["created_at"],
                "deliveries": by_notification.get(row["id"], []),
            }
            for row in notifications
        ]

    def configure(self, changes: Mapping[str, Any]) -> None:
        """Change settings; ValueError (nothing changed) for an unknown field or a bad value."""
        known = {f.name: type(f.default) for f in fields(NotificationSettings)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        checked = {}
        for name, value in changes.items():
            kind = known[name]
            if kind is str:
                if not isinstance(value, str) or (value and not value.startswith(("http://", "https://"))):
                    raise ValueError(f"{name} must be an http(s) URL, or empty")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number of at least 0")
            elif name.endswith("_rate") and value > 1:
                raise ValueError(f"{name} must be from 0 to 1")
            elif name.startswith("webhook_") and value > MAX_DELAY_SECONDS:
                raise ValueError(f"{name} must be at most {MAX_DELAY_SECONDS:g}")
            elif value > MAX_DISPUTE_DELAY_SECONDS:
                raise ValueError(f"{name} must be at most {MAX_DISPUTE_DELAY_SECONDS:g}")
            checked[name] = kind(value)
        for name, value in checked.items():
            setattr(self.settings.notifications, name, value)

    def discard_undelivered(self) -> int:
        """Give up on every notification not delivered yet (after pointing it at the wrong place,
        say). Returns how many deliveries were dropped."""
        with self.store.atomic() as db:
            return db.execute(
                "UPDATE deliveries SET status = 'failed', last_error = 'discarded' WHERE status = 'pending'"
            ).rowcount

    def control(self, request: Request, path: str) -> Response:
        if path == "log" and request.method == "GET":
            return Response.json(200, {"notifications": self.log()})
        if path != "":
            return Response.json(404, {"error": "unknown control resource"})
        if request.method == "POST":
            try:
                self.configure(request.json_object())
            except (BadJson, ValueError) as exc:
                return Response.json(400, {"error": str(exc)})
        elif request.method == "DELETE":
            self.discard_undelivered()
        elif request.method != "GET":
            return Response.json(405, {"error": "use GET, POST or DELETE"})
        settings = {f.name: getattr(self.settings.notifications, f.name) for f in fields(NotificationSettings)}
        return Response.json(200, {"settings": settings, "deliveries": self.counts()})
