"""What the three HTTP adapters share: one pooled httpx client each, and the one place where
transport failures and unreadable answers become ProviderResults, so that no adapter raises and
none decides on its own whether a failed call may have reached the provider."""

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx

from providers.port import Operation, Outcome, ProviderResult

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 1.0

# Failures that happen before a single byte of the request is sent: the provider never saw it.
# Everything else (read timeouts, resets, protocol errors) may come after the provider acted.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class UnreadableAnswer(Exception):
    """The provider answered, but not in a shape we understand: its outcome is unknown."""


class NotSent(Exception):
    """A step before the provider call failed (Getnet's access token): the call was never made."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # the parsed JSON, or None when the body is empty or not JSON

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise UnreadableAnswer(f"HTTP {self.status}: expected a JSON object")
        return self.body


def declined(failure_code: str, message: str, raw_code: str = "", **fields: Any) -> ProviderResult:
    return ProviderResult(
        Outcome.DECLINED, failure_code=failure_code, failure_message=message, raw_code=raw_code, **fields
    )


def unknown(message: str, raw_code: str = "", *, reached: bool = True) -> ProviderResult:
    return ProviderResult(
        Outcome.UNKNOWN,
        failure_code="provider_error",
        failure_message=message,
        raw_code=raw_code,
        reached_provider=reached,
    )


def undecided(reply: Reply) -> bool:
    """5xx, 408 and 429 say nothing about whether the provider acted."""
    return reply.status >= 500 or reply.status in (408, 429)


def rejected(reply: Reply, code: str, message: str, *, query: bool = False) -> ProviderResult:
    """A non-2xx answer: undecided ones leave the outcome unknown; 401/403 are our credentials
    (the provider did nothing); other 4xx refuse the request for good. A status query that is
    refused has no answer either: UNKNOWN, with the HTTP status as its code."""
    if undecided(reply) or query:
        return unknown(" ".join(filter(None, (f"HTTP {reply.status}:", code, message))), str(reply.status))
    raw_code = code or str(reply.status)
    if reply.status in (401, 403):
        return declined("provider_error", f"credentials refused: {message}", raw_code)
    return declined("invalid_request", message, raw_code)


class HttpAdapter:
    name: str

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        # Connecting is quick or hopeless; the read timeout is the provider's budget to answer.
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)),
            auth=auth,
            headers=headers,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> Reply:
        response = self._client.request(method, path, **kwargs)
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return Reply(response.status_code, body)

    def _run(self, operation: Operation, reference: str, call: Callable[[], ProviderResult]) -> ProviderResult:
        """Run one port call: turn every failure into a result, and time it. (Metrics are the
        caller's: it knows which calls are retries, fallbacks or status polls.)"""
        started = time.perf_counter()
        try:
            result = call()
        except (NotSent, *NOT_SENT) as exc:
            result = unknown(f"not sent: {exc!r}", reached=False)
        except httpx.HTTPError as exc:
            result = unknown(f"no answer: {exc!r}")
        except UnreadableAnswer as exc:
            result = unknown(f"unreadable answer: {exc}")
        except Exception as exc:  # a bug here must not look like a declined payment
            logger.exception("%s %s %s failed unexpectedly", self.name, operation, reference)
            result = unknown(f"adapter error: {exc!r}")
        latency_ms = round((time.perf_counter() - started) * 1000)
        # An unknown outcome is worth a warning: someone may have to find out what happened.
        level = logging.WARNING if result.outcome == Outcome.UNKNOWN else logging.DEBUG
        logger.log(
            level,
            "provider call",
            extra={
                "provider": self.name,
                "operation": operation.value,
                "reference": reference,
                "outcome": result.outcome.value,
                "raw_code": result.raw_code,
                "reached_provider": result.reached_provider,
                "latency_ms": latency_ms,
                "detail": result.failure_message,
            },
        )
        return replace(result, latency_ms=latency_ms)
