"""The sandbox's own state, in one SQLite database separate from the product's: the transactions
each provider holds, every mutating call's stored answer (by idempotency key), fault settings and
issued access tokens.

One connection is shared by all server threads behind a lock. SQLite serialises writers anyway,
each request's statements take microseconds, and a `:memory:` database exists only inside the
connection that created it. Every request runs its reads and writes in one IMMEDIATE transaction,
so an idempotency check and the write it guards never interleave with another request.
"""

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    provider TEXT NOT NULL,
    id TEXT NOT NULL,
    merchant TEXT NOT NULL,
    order_ref TEXT NOT NULL,
    token TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    auto_capture INTEGER NOT NULL,
    status TEXT NOT NULL,
    decline_reason TEXT NOT NULL,
    tid TEXT NOT NULL,
    nsu TEXT NOT NULL,
    authorization_code TEXT NOT NULL,
    captured_amount INTEGER NOT NULL,
    refunded_amount INTEGER NOT NULL,
    pending_until REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (provider, id),
    UNIQUE (provider, merchant, order_ref)
);
CREATE TABLE IF NOT EXISTS operations (
    provider TEXT NOT NULL,
    merchant TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    effect TEXT NOT NULL,
    amount INTEGER NOT NULL,
    operation_id TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (provider, merchant, kind, key)
);
CREATE INDEX IF NOT EXISTS operations_by_transaction ON operations (provider, transaction_id, effect);
CREATE TABLE IF NOT EXISTS faults (
    scope TEXT PRIMARY KEY,
    error_rate REAL NOT NULL,
    timeout_rate REAL NOT NULL,
    latency_ms INTEGER NOT NULL,
    outage INTEGER NOT NULL,
    expires_at REAL
);
CREATE TABLE IF NOT EXISTS access_tokens (
    token TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""


@dataclass
class Transaction:
    """A card payment as an acquirer holds it. `id` is the provider's payment id."""

    provider: str
    id: str
    merchant: str
    order_ref: str
    token: str
    amount: int
    currency: str
    auto_capture: bool
    status: str
    decline_reason: str
    tid: str
    nsu: str
    authorization_code: str
    captured_amount: int
    refunded_amount: int
    pending_until: float | None
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Transaction":
        return cls(**{**dict(row), "auto_capture": bool(row["auto_capture"])})


@dataclass(frozen=True)
class OperationRecord:
    """One mutating call that took effect, with the answer it got: replayed when the call is
    repeated with the same idempotency key. `kind` is the key's namespace (one per endpoint),
    `effect` what happened (authorize, capture, void, refund)."""

    provider: str
    merchant: str
    kind: str
    key: str
    transaction_id: str
    effect: str
    amount: int
    operation_id: str
    status_code: int
    body: str
    created_at: float


@dataclass(frozen=True)
class FaultRow:
    scope: str
    error_rate: float
    timeout_rate: float
    latency_ms: int
    outage: bool
    expires_at: float | None


class Db:
    """Queries inside one open store transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def transaction(self, provider: str, merchant: str, transaction_id: str) -> Transaction | None:
        row = self._conn.execute(
            "SELECT * FROM transactions WHERE provider = ? AND id = ? AND merchant = ?",
            (provider, transaction_id, merchant),
        ).fetchone()
        return Transaction.from_row(row) if row else None

    def transaction_by_order(self, provider: str, merchant: str, order_ref: str) -> Transaction | None:
        row = self._conn.execute(
            "SELECT * FROM transactions WHERE provider = ? AND merchant = ? AND order_ref = ?",
            (provider, merchant, order_ref),
        ).fetchone()
        return Transaction.from_row(row) if row else None

    def pending_transactions_due(self, provider: str, now: float) -> list[Transaction]:
        rows = self._conn.execute(
            "SELECT * FROM transactions WHERE provider = ? AND status = 'pending' AND pending_until <= ?",
            (provider, now),
        ).fetchall()
        return [Transaction.from_row(row) for row in rows]

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        """For the tables of the sandbox's other modules (notifications, disputes), which keep
        their own SQL."""
        return self._conn.execute(sql, parameters)

    def insert_transaction(self, txn: Transaction) -> None:
        values = asdict(txn)
        columns = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)
        self._conn.execute(f"INSERT INTO transactions ({columns}) VALUES ({placeholders})", values)  # noqa: S608

    def update_transaction(self, txn: Transaction) -> None:
        self._conn.execute(
            """UPDATE transactions SET status = :status, authorization_code = :authorization_code,
                   captured_amount = :captured_amount, refunded_amount = :refunded_amount,
                   pending_until = :pending_until, updated_at = :updated_at
               WHERE provider = :provider AND id = :id""",
            asdict(txn),
        )

    def operation(self, provider: str, merchant: str, kind: str, key: str) -> OperationRecord | None:
        row = self._conn.execute(
            "SELECT * FROM operations WHERE provider = ? AND merchant = ? AND kind = ? AND key = ?",
            (provider, merchant, kind, key),
        ).fetchone()
        return OperationRecord(**dict(row)) if row else None

    def operations(self, provider: str, transaction_id: str, effect: str) -> list[OperationRecord]:
        rows = self._conn.execute(
            "SELECT * FROM operations WHERE provider = ? AND transaction_id = ? AND effect = ? ORDER BY created_at",
            (provider, transaction_id, effect),
        ).fetchall()
        return [OperationRecord(**dict(row)) for row in rows]

    def insert_operation(self, record: OperationRecord) -> None:
        self._conn.execute(
            """INSERT INTO operations VALUES (:provider, :merchant, :kind, :key, :transaction_id, :effect,
                   :amount, :operation_id, :status_code, :body, :created_at)""",
            asdict(record),
        )

    def faults(self) -> list[FaultRow]:
        rows = self._conn.execute("SELECT * FROM faults ORDER BY scope").fetchall()
        return [FaultRow(**{**dict(row), "outage": bool(row["outage"])}) for row in rows]

    def put_faults(self, row: FaultRow) -> None:
        self._conn.execute(
            """INSERT OR REPLACE INTO faults
               VALUES (:scope, :error_rate, :timeout_rate, :latency_ms, :outage, :expires_at)""",
            asdict(row),
        )

    def delete_faults(self, scope: str | None = None) -> None:
        if scope is None:
            self._conn.execute("DELETE FROM faults")
        else:
            self._conn.execute("DELETE FROM faults WHERE scope = ?", (scope,))

    def insert_access_token(self, token: str, client_id: str, expires_at: float, now: float) -> None:
        self._conn.execute("DELETE FROM access_tokens WHERE expires_at <= ?", (now,))
        self._conn.execute("INSERT INTO access_tokens VALUES (?, ?, ?)", (token, client_id, expires_at))

    def access_token_client(self, token: str, now: float) -> str | None:
        row = self._conn.execute(
            "SELECT client_id FROM access_tokens WHERE token = ? AND expires_at > ?", (token, now)
        ).fetchone()
        return row["client_id"] if row else None

    def delete_access_tokens(self) -> None:
        self._conn.execute("DELETE FROM access_tokens")


class Store:
    def __init__(self, path: str | Path = ":memory:"):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Autocommit mode: transactions are opened explicitly by atomic().
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode = WAL")  # a no-op for :memory:
        self._conn.execute("PRAGMA synchronous = NORMAL")  # WAL stays consistent; skip an fsync per commit
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._conn.executescript(SCHEMA)

    @contextmanager
    def atomic(self) -> Iterator[Db]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Db(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
