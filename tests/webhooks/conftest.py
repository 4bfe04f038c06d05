"""A provider sandbox of our own whose signed notifications go somewhere: to a recorder (tests
that choose what to deliver to us, and in which order) or to Django itself over real HTTP
(`live_server`)."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings

from providers.circuits import reset_circuits
from providers.registry import reset_providers
from sandbox import Credentials, Sandbox, SandboxSettings
from sandbox.config import NotificationSettings
from tests.fixtures.sandbox import ADAPTER_TIMEOUT_SECONDS, SANDBOX_ASYNC_DELAY_SECONDS, SANDBOX_TIMEOUT_DELAY_SECONDS

WEBHOOKS = "/webhooks/providers"


@dataclass(frozen=True)
class Delivery:
    """One notification as the provider sent it."""

    provider: str
    headers: dict[str, str]
    body: bytes

    @property
    def data(self) -> dict:
        return json.loads(self.body)


class Recorder:
    """An HTTP endpoint that answers 200 to every notification and keeps it."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                provider = self.path.strip("/").split("/")[-1]
                with recorder._lock:
                    recorder.deliveries.append(Delivery(provider, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{WEBHOOKS}"

    def clear(self) -> None:
        with self._lock:
            self.deliveries.clear()

    def of(self, order_ref: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if order_ref in d.body.decode()]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_until(condition: Callable[[], object], *, timeout: float = 10.0, what: str = "the condition"):
    """Polls `condition` until it is truthy (and returns it), for at most `timeout` seconds: for
    work a real process (the sandbox's threads) does on its own schedule."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def recorder_server():
    recorder = Recorder()
    yield recorder
    recorder.stop()


@pytest.fixture(scope="session")
def notifying_sandbox(recorder_server):  # stopped before the recorder, so no delivery is left hanging
    providers = django_settings.PROVIDERS
    credentials = Credentials(
        cielo_merchant_id=providers["cielo"]["merchant_id"],
        cielo_merchant_key=providers["cielo"]["merchant_key"],
        rede_pv=providers["rede"]["pv"],
        rede_token=providers["rede"]["token"],
        getnet_client_id=providers["getnet"]["client_id"],
        getnet_client_secret=providers["getnet"]["client_secret"],
        getnet_seller_id=providers["getnet"]["seller_id"],
        cielo_webhook_secret=providers["cielo"]["webhook_secret"],
        rede_webhook_secret=providers["rede"]["webhook_secret"],
        getnet_webhook_secret=providers["getnet"]["webhook_secret"],
    )
    sandbox = Sandbox.start(settings=SandboxSettings(credentials=credentials, seed=7))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def provider_sandbox(notifying_sandbox, sandbox_providers, settings):
    """The adapters pointed at the notifying sandbox (instead of the suite's quiet one), with
    short timeouts; its notifications off until a test points them somewhere, and discarded
    after the test."""
    sandbox = notifying_sandbox
    sandbox.settings.timeout_delay_seconds = SANDBOX_TIMEOUT_DELAY_SECONDS
    sandbox.settings.async_delay_seconds = SANDBOX_ASYNC_DELAY_SECONDS
    sandbox.settings.notifications = NotificationSettings(webhook_delay_seconds=0, chargeback_delay_seconds=0)
    sandbox.faults.clear()
    settings.PROVIDERS = {
        name: {**config, "base_url": f"{sandbox.url}/{name}", "timeout": ADAPTER_TIMEOUT_SECONDS}
        for name, config in settings.PROVIDERS.items()
    }
    reset_providers()
    reset_circuits()
    yield sandbox
    sandbox.settings.notifications = NotificationSettings()
    sandbox.notifier.discard_undelivered()
    sandbox.faults.clear()
    reset_providers()
    reset_circuits()  # a test's injected timeouts must not leave a breaker open for the next one


@pytest.fixture
def recorder(provider_sandbox, recorder_server):
    """The sandbox's notifications, sent to a recorder at once."""
    recorder_server.clear()
    provider_sandbox.notifier.configure({"webhook_url": recorder_server.url})
    return recorder_server


@pytest.fixture
def breakers_never_trip(provider_sandbox, settings):
    """For tests that make a provider time out on every call on purpose: its circuit breaker
    would rightly stop calling it, which is not what those tests are about."""
    never = 10**6
    settings.PROVIDER_CIRCUIT_BREAKER = {
        **settings.PROVIDER_CIRCUIT_BREAKER,
        "failure_threshold": never,
        "minimum_calls": never,
    }
    reset_providers()
