"""Every adapter the registry hands out is wrapped in a `ResilientProvider`, which adds, around
each port call:

- the provider's circuit breaker (`circuits.py`): while the circuit is open a call is not made and
  answers `UNKNOWN`, `reached_provider=False`, `failure_code="circuit_open"`, so the payments core
  falls back to the next routed provider, and a status poll is put off by the janitor's backoff;
- retries with exponential backoff and jitter, only where repeating cannot do anything twice:
  a status query (it changes nothing) whenever the provider could not answer, and any call that
  certainly never reached the provider (nothing was sent: connection refused, connect timeout,
  Getnet's access token not obtained). A call that may have reached the provider (read timeout,
  5xx) is never repeated here: its outcome is unknown and status polling resolves it.

A retried call counts once for the breaker, with its last result. Every port call that goes over
the network is wrapped (a dispute response too); the rest (verifying a notification's signature,
which is local) and whatever else an adapter offers is passed through to it untouched.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .circuits import CircuitBreaker, describe_failure, is_failure
from .metrics import CIRCUIT_REJECTED_CALLS, PROVIDER_RETRIES
from .port import (
    AuthorizeRequest,
    CaptureRequest,
    DisputeResponseRequest,
    Operation,
    Outcome,
    ProviderPort,
    ProviderResult,
    RefundRequest,
    StatusRequest,
    VoidRequest,
)

logger = logging.getLogger(__name__)

CIRCUIT_OPEN = "circuit_open"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # in all, the first one included
    base_delay_seconds: float = 0.05
    max_delay_seconds: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise ImproperlyConfigured("PROVIDER_RETRY['attempts'] must be an integer of at least 1")
        for name in ("base_delay_seconds", "max_delay_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ImproperlyConfigured(f"PROVIDER_RETRY[{name!r}] must be a number of at least 0")

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        raw = settings.PROVIDER_RETRY
        unknown = sorted(set(raw) - {field.name for field in fields(cls)})
        if unknown:
            raise ImproperlyConfigured(f"PROVIDER_RETRY has unknown settings: {', '.join(unknown)}")
        return cls(**raw)

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """The pause before retry number `retry` (1, 2, ...): doubling from the base delay up to the
        maximum, each drawn from its upper half so that processes retrying together spread out."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (retry - 1))
        return ceiling * (rng or random).uniform(0.5, 1.0)


def circuit_open_result(provider: str) -> ProviderResult:
    return ProviderResult(
        Outcome.UNKNOWN,
        failure_code=CIRCUIT_OPEN,
        failure_message=f"{provider}'s circuit is open: the call was not made",
        reached_provider=False,
    )


def worth_retrying(result: ProviderResult, *, query: bool) -> bool:
    """A status query is asked again whenever the provider could not answer; any other call only
    when it certainly never reached the provider, since then nothing can happen twice."""
    return is_failure(result) and (query or not result.reached_provider)


class ResilientProvider:
    """A ProviderPort: the wrapped adapter behind its circuit breaker, with safe retries."""

    def __init__(self, adapter: ProviderPort, *, circuit: CircuitBreaker, retry: RetryPolicy):
        self.name = adapter.name
        self.adapter = adapter
        self.circuit = circuit
        self.retry = retry

    def __getattr__(self, attribute: str) -> Any:
        # Only reached for what this class does not define: the adapter's own methods and fields.
        if attribute == "adapter":  # not set yet (a copy being built): no adapter to ask
            raise AttributeError(attribute)
        return getattr(self.adapter, attribute)

    def authorize(self, request: AuthorizeRequest) -> ProviderResult:
        return self._call(Operation.AUTHORIZE, request.reference, lambda: self.adapter.authorize(request))

    def capture(self, request: CaptureRequest) -> ProviderResult:
        return self._call(Operation.CAPTURE, request.reference, lambda: self.adapter.capture(request))

    def void(self, request: VoidRequest) -> ProviderResult:
        return self._call(Operation.VOID, request.reference, lambda: self.adapter.void(request))

    def refund(self, request: RefundRequest) -> ProviderResult:
        return self._call(Operation.REFUND, request.reference, lambda: self.adapter.refund(request))

    def respond_to_dispute(self, request: DisputeResponseRequest) -> ProviderResult:
        return self._call(
            Operation.DISPUTE_RESPONSE, request.reference, lambda: self.adapter.respond_to_dispute(request)
        )

    def get_status(self, request: StatusRequest) -> ProviderResult:
        return self._call(request.operation, request.reference, lambda: self.adapter.get_status(request), query=True)

    def _call(
        self, operation: Operation, reference: str, call: Callable[[], ProviderResult], *, query: bool = False
    ) -> ProviderResult:
        kind = f"{operation.value}_status" if query else operation.value
        permit = self.circuit.allow()
        if permit is None:
            CIRCUIT_REJECTED_CALLS.labels(self.name, kind).inc()
            logger.warning(
                "provider call refused: circuit open",
                extra={"provider": self.name, "operation": kind, "reference": reference},
            )
            return circuit_open_result(self.name)
        try:
            result = self._with_retries(kind, reference, call, query=query)
        except Exception:  # adapters never raise by contract; if one does, the provider call failed
            self.circuit.record(permit, failed=True, failure="adapter raised")
            raise
        self.circuit.record(permit, failed=is_failure(result), failure=describe_failure(result))
        return result

    def _with_retries(
        self, kind: str, reference: str, call: Callable[[], ProviderResult], *, query: bool
    ) -> ProviderResult:
        started = time.perf_counter()
        result = call()
        retried = False
        for retry in range(1, self.retry.attempts):
            if not worth_retrying(result, query=query):
                break
            pause = self.retry.delay(retry)
            PROVIDER_RETRIES.labels(self.name, kind).inc()
            logger.info(
                "provider call retried",
                extra={
                    "provider": self.name,
                    "operation": kind,
                    "reference": reference,
                    "retry": retry,
                    "delay_seconds": round(pause, 3),
                    "reached_provider": result.reached_provider,
                    "detail": result.failure_message,
                },
            )
            time.sleep(pause)
            result = call()
            retried = True
        if retried:  # the operation took all of it: every attempt and every pause
            result = replace(result, latency_ms=round((time.perf_counter() - started) * 1000))
        return result
