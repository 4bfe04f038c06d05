"""Fixtures for the relay and webhooks: the event bus on the local RabbitMQ (an exchange of this
test session's own), a tap that reads everything published to it, and a real HTTP receiver on
127.0.0.1 that records requests and answers as a test scripts it."""

import contextlib
import json
import os
import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kombu import Connection, Exchange, Queue
from standardwebhooks.webhooks import Webhook

RABBITMQ_URL = os.environ.get("TEST_EVENT_BUS_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture(scope="session")
def bus_exchange_name():
    name = f"payments_core.events.test-{uuid.uuid4().hex[:12]}"
    yield name
    with Connection(RABBITMQ_URL) as connection:
        Exchange(name, type="topic").bind(connection.default_channel).delete()


@pytest.fixture(autouse=True)
def outbox_settings(settings, bus_exchange_name):
    settings.EVENT_BUS_URL = RABBITMQ_URL
    settings.EVENT_BUS_EXCHANGE = bus_exchange_name
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receiver is on 127.0.0.1, over http
    return settings


@dataclass(frozen=True)
class BusMessage:
    routing_key: str
    body: dict
    properties: dict
    delivery_mode: int


class BusTap:
    """A private queue bound to every event type of the test exchange. Publishing waits for the
    broker's confirm, so once the relay has returned, everything it published is in the queue."""

    def __init__(self, exchange_name: str):
        self.connection = Connection(RABBITMQ_URL)
        exchange = Exchange(exchange_name, type="topic", durable=True)
        self.queue = Queue(f"tap-{uuid.uuid4().hex}", exchange=exchange, routing_key="#", exclusive=True)
        self.queue = self.queue(self.connection.default_channel)
        self.queue.declare()

    def drain(self) -> list[BusMessage]:
        messages = []
        while (message := self.queue.get(no_ack=True)) is not None:
            messages.append(
                BusMessage(
                    routing_key=message.delivery_info["routing_key"],
                    body=json.loads(message.body),
                    properties=message.properties,
                    delivery_mode=message.properties.get("delivery_mode"),
                )
            )
        return messages

    def close(self) -> None:
        self.connection.release()


@pytest.fixture
def bus_tap(bus_exchange_name):
    tap = BusTap(bus_exchange_name)
    yield tap
    tap.close()


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def verify(self, secret: str) -> dict:
        """The payload, verified with the standardwebhooks package's own verifier."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass(frozen=True)
class Hold:
    reached: threading.Event  # a request has arrived and is waiting
    release: threading.Event


class Receiver:
    """A merchant's webhook receiver on 127.0.0.1. Each path answers the statuses scripted for
    it in order, then 200. A path can be made to hold its answer until released."""

    def __init__(self):
        self.requests: list[ReceivedRequest] = []
        self._scripts: dict[str, deque] = defaultdict(deque)
        self._holds: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ReceivedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._lock:
                    receiver.requests.append(request)
                    script = receiver._scripts[self.path]
                    status, answer = script.popleft() if script else (200, b'{"ok":true}')
                    hold = receiver._holds.get(self.path)
                if hold is not None:
                    hold.reached.set()
                    hold.release.wait(timeout=30)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/redirected")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError):  # the sender gave up waiting (a timeout test)
                    self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def script(self, path: str, *answers: int | tuple[int, bytes]) -> None:
        with self._lock:
            for answer in answers:
                self._scripts[path].append(answer if isinstance(answer, tuple) else (answer, b"nope"))

    def hold(self, path: str) -> "Hold":
        """Requests to `path` wait for `.release` before they are answered."""
        hold = Hold(reached=threading.Event(), release=threading.Event())
        self._holds[path] = hold
        return hold

    def received(self, path: str = "/hook") -> list[ReceivedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def stop(self) -> None:
        for hold in self._holds.values():
            hold.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()
