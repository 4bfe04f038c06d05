"""`manage.py consume_events`, the example subscriber, run as a real process against RabbitMQ."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from kombu import Connection, Queue

from outbox import relay
from outbox.relay import relay_run
from tests.outbox.helpers import record

pytestmark = pytest.mark.django_db

MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"


class ConsumerProcess:
    def __init__(self, *args: str):
        env = {
            **os.environ,
            "EVENT_BUS_URL": django_settings.EVENT_BUS_URL,
            "EVENT_BUS_EXCHANGE": django_settings.EVENT_BUS_EXCHANGE,
        }
        self.process = subprocess.Popen(
            [sys.executable, str(MANAGE_PY), "consume_events", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.stderr_lines: queue.Queue[str] = queue.Queue()
        self.stderr_seen: list[str] = []
        self.stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.stderr_reader.start()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr_lines.put(line)

    def wait_until_bound(self, timeout: float = 30) -> None:
        while True:
            line = self.stderr_lines.get(timeout=timeout)
            self.stderr_seen.append(line)
            if "bound to" in line:
                return

    def finish(self, timeout: float = 30) -> tuple[list[dict], str]:
        """Waits for the process to exit; returns the events it printed and its stderr."""
        self.process.wait(timeout=timeout)
        out = self.process.stdout.read()
        self.stderr_reader.join(timeout=timeout)
        while not self.stderr_lines.empty():
            self.stderr_seen.append(self.stderr_lines.get())
        return [json.loads(line) for line in out.splitlines()], "".join(self.stderr_seen)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def start_consumer():
    started = []

    def start(*args: str) -> ConsumerProcess:
        consumer = ConsumerProcess(*args)
        started.append(consumer)
        consumer.wait_until_bound()
        return consumer

    yield start
    for consumer in started:
        consumer.kill()


def test_it_prints_each_event_once_even_when_the_relay_published_it_twice(start_consumer, merchant, monkeypatch):
    consumer = start_consumer("--types", "payment.*", "refund.*", "--max-messages", "4", "--timeout", "60")
    events = [
        record(merchant, aggregate_id="pay_S1", type="payment.created"),
        record(merchant, aggregate_id="pay_S1", type="refund.created"),
        record(merchant, aggregate_id="pay_S2", type="payment.created"),
    ]
    record(merchant, aggregate_id="wal_S3", aggregate_type="wallet", type="wallet.movement_created")  # not bound

    def crash(event_ids):
        raise RuntimeError("worker killed after publishing")

    with monkeypatch.context() as patched:
        patched.setattr(relay, "_mark_published", crash)
        with pytest.raises(RuntimeError):
            relay_run()
    relay_run()  # the crashed batch (each payment's first event) again, then the rest
    events.append(record(merchant, aggregate_id="pay_S1", type="refund.succeeded"))
    relay_run()

    printed, stderr = consumer.finish()

    assert consumer.process.returncode == 0, stderr
    assert sorted(event["id"] for event in printed) == sorted(event.id for event in events)
    of_s1 = [event for event in printed if event["aggregate"]["id"] == "pay_S1"]
    assert [(e["type"], e["aggregate"]["sequence"]) for e in of_s1] == [
        ("payment.created", 1),
        ("refund.created", 2),
        ("refund.succeeded", 3),
    ]
    assert "stopped after 4 event(s), 2 duplicate(s)" in stderr


def test_it_stops_cleanly_on_sigterm(start_consumer):
    consumer = start_consumer("--timeout", "60")

    consumer.process.send_signal(signal.SIGTERM)
    printed, stderr = consumer.finish(timeout=15)

    assert consumer.process.returncode == 0, stderr
    assert printed == []
    assert "stopped after 0 event(s)" in stderr
    assert "Traceback" not in stderr


def test_it_stops_at_once_while_the_bus_is_unreachable(settings):
    settings.EVENT_BUS_URL = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens there
    consumer = ConsumerProcess("--timeout", "60")
    while "unreachable" not in consumer.stderr_lines.get(timeout=30):
        pass

    consumer.process.send_signal(signal.SIGTERM)
    printed, stderr = consumer.finish(timeout=15)

    assert (consumer.process.returncode, printed) == (0, []), stderr
    assert "Traceback" not in stderr


@pytest.fixture
def named_queue(bus_exchange_name):
    name = f"consume-test-{bus_exchange_name}"
    yield name
    with Connection(django_settings.EVENT_BUS_URL) as connection:
        Queue(name).bind(connection.default_channel).delete()


def test_a_named_queue_keeps_the_events_published_while_no_one_listens(start_consumer, merchant, named_queue):
    first = start_consumer("--queue", named_queue, "--timeout", "60")
    first.process.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = first.finish()
    assert first.process.returncode == 0 and "Traceback" not in stderr, stderr
    event = record(merchant, type="payment.captured")
    relay_run()

    second = start_consumer("--queue", named_queue, "--max-messages", "1", "--timeout", "60")
    printed, stderr = second.finish()

    assert [e["id"] for e in printed] == [event.id], stderr
