"""Fault injection, per provider or for all of them:

- `error_rate`: share of calls answered with a 5xx before anything is done;
- `timeout_rate`: share of calls that are done, but whose answer is held back for the sandbox's
  timeout delay, so that the client gives up first (the outcome is unknown to it);
- `latency_ms`: added to every call before it is handled;
- `outage`: every call is answered 503 at once, nothing is done, and the connection is closed.

A provider's own setting replaces the `all` setting as a whole. A setting may carry
`duration_seconds`, after which it lapses by itself. Settings live in the store; the coin flips
come from one seeded random source.
"""

import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from .config import MAX_DELAY_SECONDS
from .store import FaultRow, Store

ALL = "all"
MAX_LATENCY_MS = int(MAX_DELAY_SECONDS * 1000)


@dataclass(frozen=True)
class Faults:
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    latency_ms: int = 0
    outage: bool = False

    @property
    def active(self) -> bool:
        return self != Faults()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> "Faults":
        unknown = set(data) - {"error_rate", "timeout_rate", "latency_ms", "outage"}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        faults = cls(**data)
        for name in ("error_rate", "timeout_rate"):
            rate = getattr(faults, name)
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError(f"{name} must be a number from 0 to 1")
        latency = faults.latency_ms
        if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must be an integer from 0 to {MAX_LATENCY_MS}")
        if not isinstance(faults.outage, bool):
            raise ValueError("outage must be true or false")
        return faults


class FaultTable:
    def __init__(self, store: Store, scopes: Iterable[str], seed: int | None = None):
        self._store = store
        self._scopes = {ALL, *scopes}
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()

    def set(self, scope: str, faults: Faults, duration_seconds: float | None = None) -> None:
        if scope not in self._scopes:
            raise ValueError(f"provider must be one of {', '.join(sorted(self._scopes))}")
        if duration_seconds is not None and (
            isinstance(duration_seconds, bool) or not isinstance(duration_seconds, int | float) or duration_seconds <= 0
        ):
            raise ValueError("duration_seconds must be a positive number")
        with self._store.atomic() as db:
            if not faults.active:
                db.delete_faults(scope)
                return
            expires_at = time.time() + duration_seconds if duration_seconds else None
            db.put_faults(FaultRow(scope=scope, expires_at=expires_at, **asdict(faults)))

    def set_from_request(self, data: Mapping[str, Any]) -> None:
        """`{"provider": "cielo", "error_rate": 0.5, "duration_seconds": 30}`; no provider means all."""
        settings = dict(data)
        scope = settings.pop("provider", ALL)
        duration = settings.pop("duration_seconds", None)
        self.set(scope, Faults.parse(settings), duration)

    def load(self, spec: Mapping[str, Mapping[str, Any]]) -> None:
        """Settings by scope, as `snapshot()` shows them: `{"all": {...}, "rede": {...}}`."""
        for scope, settings in spec.items():
            self.set_from_request({**settings, "provider": scope})

    def clear(self) -> None:
        with self._store.atomic() as db:
            db.delete_faults()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {
            row.scope: {
                "error_rate": row.error_rate,
                "timeout_rate": row.timeout_rate,
                "latency_ms": row.latency_ms,
                "outage": row.outage,
                "expires_at": datetime.fromtimestamp(row.expires_at, UTC).isoformat() if row.expires_at else None,
            }
            for row in self._live_rows()
        }

    def for_provider(self, provider: str) -> Faults:
        rows = {row.scope: row for row in self._live_rows()}
        row = rows.get(provider) or rows.get(ALL)
        if row is None:
            return Faults()
        return Faults(row.error_rate, row.timeout_rate, row.latency_ms, row.outage)

    def chance(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self._random_lock:
            return self._random.random() < probability

    def _live_rows(self) -> list[FaultRow]:
        with self._store.atomic() as db:
            rows = db.faults()
        now = time.time()
        return [row for row in rows if row.expires_at is None or row.expires_at > now]
