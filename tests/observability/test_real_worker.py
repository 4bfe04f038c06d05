"""A real `celery worker` and `celery beat` (the Procfile's commands, logs at INFO) with nothing to
do write no line after start-up; with work, the worker's lines are JSON with the task's ids, and
its errors reach Sentry. Bounded: about 25 seconds."""

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from events.services import event_record

ROOT = Path(__file__).resolve().parent.parent.parent
CELERY = str(Path(sys.executable).parent / "celery")
IDLE_SECONDS = 10


class _SentryReceiver(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append(gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_receiver():
    _SentryReceiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SentryReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _wait_for(condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return result


def _json_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue  # the banners Celery prints on start
    return lines


@pytest.fixture
def celery_processes(transactional_db, tmp_path, sentry_receiver):
    db = connection.settings_dict
    queue = f"observability-test-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.observability.celery_settings",
        "OBSERVABILITY_TEST_QUEUE": queue,
        "LOG_LEVEL": "INFO",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "EVENT_BUS_URL": settings.EVENT_BUS_URL,
        "SENTRY_DSN": f"http://public@127.0.0.1:{sentry_receiver.server_port}/1",
    }
    started = {}
    commands = {
        "worker": [CELERY, "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"],
        "beat": [CELERY, "-A", "config", "beat", "--loglevel", "INFO"],
    }
    for name, command in commands.items():
        log = tmp_path / f"{name}.log"
        started[name] = (
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            ),
            log,
        )
    yield queue, {name: log for name, (_, log) in started.items()}
    for process, log in started.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        print(log.read_text())  # shown if the test failed
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue, "unacked", "unacked_index")


def test_idle_worker_and_beat_log_nothing_then_log_their_work_with_ids(celery_processes, merchant):
    from config.celery import app

    queue, logs = celery_processes
    messages = {name: lambda name=name: [line["message"] for line in _json_lines(logs[name])] for name in logs}
    _wait_for(lambda: any(m.endswith(" ready.") for m in messages["worker"]()), "the worker to be ready")
    _wait_for(lambda: "beat: Starting..." in messages["beat"](), "beat to start")
    time.sleep(2)  # start-up lines still coming (beat's first schedule sync)

    # Every line counts here, JSON or not (Celery's own format would be plain text).
    at_rest = {name: len(logs[name].read_text().splitlines()) for name in logs}
    time.sleep(IDLE_SECONDS)  # the relay alone is sent and run ten times in this while
    idle = {name: logs[name].read_text().splitlines()[at_rest[name] :] for name in logs}
    assert idle == {"worker": [], "beat": []}

    # Work for the relay: one line, JSON, with the relay's correlation id.
    event_record(merchant_id=merchant.id, aggregate_type="test", aggregate_id="agg_1", type="test.happened", data={})
    relayed = _wait_for(
        lambda: [line for line in _json_lines(logs["worker"]) if line["message"].startswith("relayed 1 events")],
        "the relay's line",
        timeout=30,
    )
    assert relayed[0]["correlation_id"] == "outbox-relay"

    # A failing task: an ERROR line carrying the task's id, and a Sentry event from the worker.
    task_id = app.send_task("payments.tasks.resolve_provider_operation", args=["op_missing"], queue=queue).id
    failure = _wait_for(
        lambda: [line for line in _json_lines(logs["worker"]) if line["level"] == "ERROR"], "the failure line"
    )
    assert "DoesNotExist" in failure[0]["message"] + failure[0].get("exc_info", "")
    assert (failure[0]["correlation_id"], failure[0]["causation_id"]) == (task_id, task_id)
    _wait_for(lambda: any(b"DoesNotExist" in body for body in _SentryReceiver.received), "the Sentry event", 30)
