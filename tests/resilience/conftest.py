"""Shared pieces of the resilience tests: a clock the breakers and retries run on, requests
counted as they leave for the network, and a provider that fails its next few requests."""

import socket
import threading
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from providers import circuits, resilience
from providers.registry import reset_providers
from sandbox.web import Request, Response

THRESHOLD = 3
COOLDOWN_SECONDS = 30.0


class FakeTime:
    """Stands in for the `time` module of the breakers and the retries: the clock moves only when
    told to, and a backoff pause is recorded and passes at once."""

    def __init__(self, start: float):
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    perf_counter = time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeTime(start=1_700_000_000.0)
    monkeypatch.setattr(circuits, "time", fake)
    monkeypatch.setattr(resilience, "time", fake)
    return fake


@pytest.fixture
def breaker_settings(settings, sandbox_providers, clock):
    """Breakers that trip after THRESHOLD consecutive failures and cool down for COOLDOWN_SECONDS,
    on the fake clock; retries as configured by default."""
    settings.PROVIDER_CIRCUIT_BREAKER = {
        **settings.PROVIDER_CIRCUIT_BREAKER,
        "failure_threshold": THRESHOLD,
        "cooldown_seconds": COOLDOWN_SECONDS,
    }
    reset_providers()
    return settings.PROVIDER_CIRCUIT_BREAKER


class Outgoing:
    """Every HTTP request our adapters send, by provider (the first segment of the path)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def record(self, request: httpx.Request) -> None:
        with self._lock:
            self.paths.append(request.url.path)

    def count(self, provider: str) -> int:
        return Counter(path.split("/")[1] for path in self.paths)[provider]


@pytest.fixture
def outgoing(monkeypatch):
    recorder = Outgoing()
    send = httpx.HTTPTransport.handle_request

    def handle_request(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        recorder.record(request)
        return send(transport, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle_request)
    return recorder


@pytest.fixture
def failing_next(sandbox_providers, monkeypatch) -> Callable[[str, int], None]:
    """failing_next(path_start, n): the sandbox answers the next n requests whose path starts with
    `path_start` with its provider's own 503, doing nothing; then it is itself again."""
    app = sandbox_providers.app
    respond = app.respond
    remaining: dict[str, int] = {}

    def failing_respond(request: Request) -> Response:
        for start, count in remaining.items():
            if count and request.path.startswith(start):
                remaining[start] = count - 1
                return app.providers[start.split("/")[1]].error(503, "Service unavailable")
        return respond(request)

    monkeypatch.setattr(app, "respond", failing_respond)

    def arrange(path_start: str, count: int) -> None:
        remaining[path_start] = count

    return arrange


@pytest.fixture
def closed_port() -> int:
    """A local port nobody listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
