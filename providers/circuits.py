"""Circuit breakers, one per provider, whose state every web and worker process shares.

- closed: calls go through, and their failures are counted. The circuit opens after
  `failure_threshold` consecutive failures, or when at least `minimum_calls` calls of the current
  window (`window_seconds`, a fixed window) failed at `failure_rate` or more;
- open: calls are refused at once, without a network call, for `cooldown_seconds`;
- half-open (open, cool-down over): one trial call is let through, claimed atomically and held for
  `trial_lease_seconds` (so a trial whose process died does not block the next one for ever). Its
  success closes the circuit; its failure opens it for another cool-down.

A failure is what says the provider is unwell: a transport error, a timeout, a 5xx, 408 or 429, an
unreadable answer. A decline, a pending answer, a "not found" and a refusal of our request (any
other 4xx) all come from a provider that works.

The state lives in one Redis hash per provider and changes only inside Lua scripts, so each
transition is atomic across processes: one process trips a circuit, one claims a half-open trial.
Times are the callers' wall clocks in milliseconds (hosts are NTP-synchronised; a cool-down is tens
of seconds). Without Redis (`make run` with no REDIS_URL) each process keeps its breakers in its
own memory under the same rules: nothing is shared, so the web process and each worker trip on
their own.

When Redis cannot be reached, breakers let every call through (they fail open): they exist to
keep payments flowing and must not stop them because their own store is down.
"""

import logging
import threading
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from .metrics import CIRCUIT_OPENS
from .port import Outcome, ProviderResult

logger = logging.getLogger(__name__)

# A breaker asks Redis on every provider call: a Redis that hangs or is down must not hold up
# payments. One quick retry (a pooled connection may have been closed by a Redis restart), no
# backoff: redis-py's default would retry for seconds.
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_RETRY = Retry(NoBackoff(), retries=1)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Permit(StrEnum):
    """What `allow()` grants: an ordinary call through a closed circuit, or the half-open trial."""

    CALL = "call"
    TRIAL = "trial"


@dataclass(frozen=True)
class CircuitConfig:
    failure_threshold: int = 5
    failure_rate: float = 0.5
    minimum_calls: int = 20
    window_seconds: float = 60.0
    cooldown_seconds: float = 30.0
    trial_lease_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in ("failure_threshold", "minimum_calls"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ImproperlyConfigured(f"PROVIDER_CIRCUIT_BREAKER[{name!r}] must be an integer of at least 1")
        for name in ("window_seconds", "cooldown_seconds", "trial_lease_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ImproperlyConfigured(f"PROVIDER_CIRCUIT_BREAKER[{name!r}] must be a positive number")
        rate = self.failure_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
            raise ImproperlyConfigured("PROVIDER_CIRCUIT_BREAKER['failure_rate'] must be above 0 and at most 1")

    @classmethod
    def from_settings(cls) -> "CircuitConfig":
        raw = settings.PROVIDER_CIRCUIT_BREAKER
        unknown = sorted(set(raw) - {field.name for field in fields(cls)})
        if unknown:
            raise ImproperlyConfigured(f"PROVIDER_CIRCUIT_BREAKER has unknown settings: {', '.join(unknown)}")
        return cls(**raw)


@dataclass(frozen=True)
class CircuitSnapshot:
    """A breaker's state as operators see it."""

    provider: str
    state: CircuitState
    consecutive_failures: int
    window_calls: int
    window_failures: int
    opens: int
    opened_at: datetime | None
    last_failure: str
    last_failure_at: datetime | None
    trial_under_way: bool


def is_failure(result: ProviderResult) -> bool:
    """Whether a call's result says the provider is unwell (see the module's docstring)."""
    if result.outcome != Outcome.UNKNOWN:
        return False
    code = result.raw_code
    refused = code.isdigit() and 400 <= int(code) < 500 and int(code) not in (408, 429)
    return not refused


def describe_failure(result: ProviderResult) -> str:
    return " ".join(filter(None, (result.raw_code and f"HTTP {result.raw_code}", result.failure_message)))[:200]


# --- stores -------------------------------------------------------------------------------------
# Each provider's state is a hash of: state ("open", else closed), opened_at, trial_until,
# failures (consecutive), window_start, window_calls, window_failures, opens (total),
# last_failure_at and last_failure. Times in epoch milliseconds.

# KEYS[1]: the hash; ARGV: now, cool-down (ms), trial_until should a trial be granted.
# -> "closed" (call), "trial" (call: the half-open trial), "open" or "half_open" (refused)
_ALLOW = """
local f = redis.call('HMGET', KEYS[1], 'state', 'opened_at', 'trial_until')
if f[1] ~= 'open' then return 'closed' end
local now = tonumber(ARGV[1])
if now < tonumber(f[2]) + tonumber(ARGV[2]) then return 'open' end
if now < tonumber(f[3] or '0') then return 'half_open' end
redis.call('HSET', KEYS[1], 'trial_until', ARGV[3])
return 'trial'
"""

# KEYS[1]: the hash; ARGV: now, trial (0/1), failed (0/1), failure description, failure
# threshold, window (ms), minimum calls, failure rate.
# -> "opened", "reopened" (a trial failed), "closed" (a trial succeeded) or "" (no transition)
_RECORD = """
local key, now = KEYS[1], ARGV[1]
local trial, failed = ARGV[2] == '1', ARGV[3] == '1'
local open = redis.call('HGET', key, 'state') == 'open'
if failed then redis.call('HSET', key, 'last_failure_at', now, 'last_failure', ARGV[4]) end
if trial and open then
  if failed then
    redis.call('HSET', key, 'opened_at', now, 'trial_until', '0')
    redis.call('HINCRBY', key, 'opens', 1)
    return 'reopened'
  end
  redis.call('HSET', key, 'state', 'closed', 'trial_until', '0', 'failures', '0',
             'window_start', now, 'window_calls', '0', 'window_failures', '0')
  return 'closed'
end
if tonumber(now) - tonumber(redis.call('HGET', key, 'window_start') or '0') >= tonumber(ARGV[6]) then
  redis.call('HSET', key, 'window_start', now, 'window_calls', '0', 'window_failures', '0')
end
local calls = redis.call('HINCRBY', key, 'window_calls', 1)
if not failed then
  redis.call('HSET', key, 'failures', '0')
  return ''
end
local failures = redis.call('HINCRBY', key, 'failures', 1)
local window_failures = redis.call('HINCRBY', key, 'window_failures', 1)
if not open and (failures >= tonumber(ARGV[5])
                 or (calls >= tonumber(ARGV[7]) and window_failures >= tonumber(ARGV[8]) * calls)) then
  redis.call('HSET', key, 'state', 'open', 'opened_at', now, 'trial_until', '0')
  redis.call('HINCRBY', key, 'opens', 1)
  return 'opened'
end
return ''
"""


class CircuitStore(Protocol):
    def allow(self, provider: str, *, now: int, cooldown: int, trial_until: int) -> str: ...

    def record(
        self, provider: str, *, now: int, trial: bool, failed: bool, failure: str, config: CircuitConfig
    ) -> str: ...

    def read(self, provider: str) -> dict[str, str]: ...

    def reset(self, *providers: str) -> None: ...


class RedisCircuitStore:
    def __init__(self, client: redis.Redis, *, key_prefix: str | None = None):
        self._client = client
        self._prefix = settings.PROVIDER_CIRCUIT_KEY_PREFIX if key_prefix is None else key_prefix
        self._allow = client.register_script(_ALLOW)
        self._record = client.register_script(_RECORD)

    @classmethod
    def from_url(cls, url: str, *, key_prefix: str | None = None) -> "RedisCircuitStore":
        return cls(
            redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                retry=REDIS_RETRY,
            ),
            key_prefix=key_prefix,
        )

    def allow(self, provider: str, *, now: int, cooldown: int, trial_until: int) -> str:
        return self._allow(keys=[self._prefix + provider], args=[now, cooldown, trial_until])

    def record(self, provider: str, *, now: int, trial: bool, failed: bool, failure: str, config: CircuitConfig) -> str:
        args = [
            now,
            int(trial),
            int(failed),
            failure,
            config.failure_threshold,
            _ms(config.window_seconds),
            config.minimum_calls,
            repr(float(config.failure_rate)),
        ]
        return self._record(keys=[self._prefix + provider], args=args)

    def read(self, provider: str) -> dict[str, str]:
        return self._client.hgetall(self._prefix + provider)

    def reset(self, *providers: str) -> None:
        if providers:
            self._client.delete(*(self._prefix + provider for provider in providers))


class LocalCircuitStore:
    """The scripts' rules, line for line, for one process's memory."""

    def __init__(self) -> None:
        self._hashes: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def allow(self, provider: str, *, now: int, cooldown: int, trial_until: int) -> str:
        with self._lock:
            h = self._hashes.setdefault(provider, {})
            if h.get("state") != "open":
                return "closed"
            if now < int(h["opened_at"]) + cooldown:
                return "open"
            if now < int(h.get("trial_until", "0")):
                return "half_open"
            h["trial_until"] = str(trial_until)
            return "trial"

    def record(self, provider: str, *, now: int, trial: bool, failed: bool, failure: str, config: CircuitConfig) -> str:
        with self._lock:
            h = self._hashes.setdefault(provider, {})
            is_open = h.get("state") == "open"
            if failed:
                h.update(last_failure_at=str(now), last_failure=failure)
            if trial and is_open:
                if failed:
                    h.update(opened_at=str(now), trial_until="0", opens=str(int(h.get("opens", "0")) + 1))
                    return "reopened"
                h.update(
                    state="closed",
                    trial_until="0",
                    failures="0",
                    window_start=str(now),
                    window_calls="0",
                    window_failures="0",
                )
                return "closed"
            if now - int(h.get("window_start", "0")) >= _ms(config.window_seconds):
                h.update(window_start=str(now), window_calls="0", window_failures="0")
            calls = int(h.get("window_calls", "0")) + 1
            h["window_calls"] = str(calls)
            if not failed:
                h["failures"] = "0"
                return ""
            failures = int(h.get("failures", "0")) + 1
            window_failures = int(h.get("window_failures", "0")) + 1
            h.update(failures=str(failures), window_failures=str(window_failures))
            over_rate = calls >= config.minimum_calls and window_failures >= config.failure_rate * calls
            if not is_open and (failures >= config.failure_threshold or over_rate):
                h.update(state="open", opened_at=str(now), trial_until="0", opens=str(int(h.get("opens", "0")) + 1))
                return "opened"
            return ""

    def read(self, provider: str) -> dict[str, str]:
        with self._lock:
            return dict(self._hashes.get(provider, {}))

    def reset(self, *providers: str) -> None:
        with self._lock:
            for provider in providers:
                self._hashes.pop(provider, None)


_stores: dict[tuple[str, str], CircuitStore] = {}
_stores_lock = threading.Lock()


def circuit_store() -> CircuitStore:
    """This process's store: Redis at REDIS_URL, shared by every process; else process memory."""
    url, prefix = settings.REDIS_URL, settings.PROVIDER_CIRCUIT_KEY_PREFIX
    with _stores_lock:
        if (url, prefix) not in _stores:
            _stores[url, prefix] = RedisCircuitStore.from_url(url, key_prefix=prefix) if url else LocalCircuitStore()
        return _stores[url, prefix]


# --- the breaker ----------------------------------------------------------------------------------


class CircuitBreaker:
    def __init__(self, provider: str, *, store: CircuitStore, config: CircuitConfig):
        self.provider = provider
        self.config = config
        self._store = store

    def allow(self) -> Permit | None:
        """A permit to call the provider, or None when its circuit refuses calls."""
        now = _now()
        try:
            answer = self._store.allow(
                self.provider,
                now=now,
                cooldown=_ms(self.config.cooldown_seconds),
                trial_until=now + _ms(self.config.trial_lease_seconds),
            )
        except redis.RedisError as exc:
            logger.warning("circuit breaker store unavailable: call let through", extra=self._extra(error=repr(exc)))
            return Permit.CALL
        if answer == "closed":
            return Permit.CALL
        if answer == "trial":
            logger.info("circuit half-open: trial call", extra=self._extra())
            return Permit.TRIAL
        return None

    def record(self, permit: Permit, *, failed: bool, failure: str = "") -> None:
        """Counts the outcome of a call made under `permit`."""
        try:
            transition = self._store.record(
                self.provider,
                now=_now(),
                trial=permit == Permit.TRIAL,
                failed=failed,
                failure=failure if failed else "",
                config=self.config,
            )
        except redis.RedisError as exc:
            logger.warning("circuit breaker store unavailable: outcome not counted", extra=self._extra(error=repr(exc)))
            return
        if transition in ("opened", "reopened"):
            CIRCUIT_OPENS.labels(self.provider).inc()
            # A provider outage, not a bug: a warning (alert on provider_circuit_opens_total).
            logger.warning(
                "circuit opened: calls to the provider are refused",
                extra=self._extra(
                    transition=transition, cooldown_seconds=self.config.cooldown_seconds, failure=failure
                ),
            )
        elif transition == "closed":
            logger.warning("circuit closed: the trial call succeeded", extra=self._extra())

    def snapshot(self) -> CircuitSnapshot:
        stored = self._store.read(self.provider)
        now = _now()
        opened_at = int(stored.get("opened_at", "0"))
        trial_until = int(stored.get("trial_until", "0"))
        if stored.get("state") != "open":
            state = CircuitState.CLOSED
        elif now < opened_at + _ms(self.config.cooldown_seconds):
            state = CircuitState.OPEN
        else:
            state = CircuitState.HALF_OPEN
        # The window's counts are reset by the next call after it ends; until then they are stale.
        window_current = now - int(stored.get("window_start", "0")) < _ms(self.config.window_seconds)
        return CircuitSnapshot(
            provider=self.provider,
            state=state,
            consecutive_failures=int(stored.get("failures", "0")),
            window_calls=int(stored.get("window_calls", "0")) if window_current else 0,
            window_failures=int(stored.get("window_failures", "0")) if window_current else 0,
            opens=int(stored.get("opens", "0")),
            opened_at=_datetime(opened_at) if state != CircuitState.CLOSED else None,
            last_failure=stored.get("last_failure", ""),
            last_failure_at=_datetime(int(stored.get("last_failure_at", "0"))),
            trial_under_way=state == CircuitState.HALF_OPEN and now < trial_until,
        )

    def rejects_calls(self) -> bool:
        """Whether a call now would be refused (open, or half-open with its trial under way)."""
        try:
            snapshot = self.snapshot()
        except redis.RedisError:
            return False
        return snapshot.state == CircuitState.OPEN or snapshot.trial_under_way

    def reset(self) -> None:
        """Forget the state: the circuit is closed, its counts start from zero."""
        self._store.reset(self.provider)

    def _extra(self, **details: object) -> dict[str, object]:
        return {"provider": self.provider, **details}


def circuit_breaker(provider: str) -> CircuitBreaker:
    return CircuitBreaker(provider, store=circuit_store(), config=CircuitConfig.from_settings())


def reset_circuits(*providers: str) -> None:
    circuit_store().reset(*providers)


def _now() -> int:
    return round(time.time() * 1000)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _datetime(ms: int) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None
