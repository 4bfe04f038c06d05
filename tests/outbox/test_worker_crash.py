"""A real Celery worker, killed with SIGKILL in the middle of a relay batch: after it published
the batch to RabbitMQ and before its transaction committed. A second worker then relays again.
Nothing is lost, the bus carries the killed batch twice (subscribers dedupe by id), and the
merchant's receiver gets every event exactly once and in order per payment, because deliveries
are created in the transaction that the kill rolled back."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from config.celery import app
from events.models import DomainEvent
from outbox.models import DeliveryStatus, WebhookDelivery
from tests.outbox.factories import WebhookEndpointFactory
from tests.outbox.helpers import record

pytestmark = pytest.mark.django_db(transaction=True)

CELERY = Path(sys.executable).parent / "celery"
PAYMENTS, EVENTS_EACH = 4, 3


def _wait_for(condition, what: str, timeout: float = 60):
    """Polls a real process's effect, bounded."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


class Worker:
    def __init__(self, queue: str, log: Path):
        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "EVENT_BUS_URL": settings.EVENT_BUS_URL,
            "EVENT_BUS_EXCHANGE": settings.EVENT_BUS_EXCHANGE,
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        }
        self.log = log.open("a")
        # --pool solo: the task runs in the process we kill, as a worker's child would be.
        self.process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "-Q",
                queue,
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def celery_queue():
    name = f"outbox-crash-test-{uuid.uuid4().hex}"
    yield name
    # The killed worker's task is left unacknowledged in this test's Redis database: drop it.
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(name, "unacked", "unacked_index", "unacked_mutex")


@pytest.fixture
def workers(celery_queue, tmp_path):
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(celery_queue, tmp_path / "worker.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
    print((tmp_path / "worker.log").read_text())  # shown by pytest if the test failed


def _hold_the_relay_after_publishing():
    """A SHARE lock on the event table: the relay can still claim rows (FOR NO KEY UPDATE needs
    only ROW SHARE) and publish them, but its UPDATE ... SET published_at waits for us."""
    db = connection.settings_dict
    blocker = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"] or None, dbname=db["NAME"]
    )
    blocker.execute("LOCK TABLE events_domainevent IN SHARE MODE")
    return blocker


def _backends_waiting_for_a_lock() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return [row[0] for row in cursor.fetchall()]


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def test_a_worker_killed_in_the_middle_of_a_batch_loses_nothing(merchant, receiver, bus_tap, workers, celery_queue):
    endpoint = WebhookEndpointFactory(merchant=merchant, url=receiver.url("/hook"))
    events = [record(merchant, aggregate_id=f"pay_K{n % PAYMENTS}") for n in range(PAYMENTS * EVENTS_EACH)]
    blocker = _hold_the_relay_after_publishing()
    try:
        first = workers()
        app.send_task("outbox.tasks.relay_events", queue=celery_queue)
        [stuck] = _wait_for(_backends_waiting_for_a_lock, "the relay to publish and wait to mark")
        published_before_the_kill = bus_tap.drain()
        first.kill()
    finally:
        # Its transaction ends (the dead worker's never commits). Closed on failure too: a lock
        # left held would hang the test's teardown, which truncates the table.
        blocker.close()
    _wait_for(lambda: not _backend_alive(stuck), "the killed worker's session to end")

    assert DomainEvent.objects.filter(published_at__isnull=True).count() == len(events)
    assert WebhookDelivery.objects.count() == 0
    workers()
    app.send_task("outbox.tasks.relay_events", queue=celery_queue)
    _wait_for(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == len(events),
        "every webhook to be delivered",
    )

    heads = {f"pay_K{n}": events[n] for n in range(PAYMENTS)}
    assert sorted(m.body["id"] for m in published_before_the_kill) == sorted(e.id for e in heads.values())
    on_the_bus = Counter(m.body["id"] for m in published_before_the_kill + bus_tap.drain())
    assert on_the_bus == Counter({e.id: 2 if e in heads.values() else 1 for e in events})
    assert not DomainEvent.objects.filter(published_at__isnull=True).exists()

    arrived = defaultdict(list)
    for request in receiver.received("/hook"):
        payload = request.verify(endpoint.clear_secret)
        arrived[payload["data"]["object"]["id"]].append(payload["id"])
    assert sum(len(ids) for ids in arrived.values()) == len(events)  # exactly once each
    for payment_id, ids in arrived.items():
        assert ids == [e.id for e in events if e.aggregate_id == payment_id]  # in sequence order
