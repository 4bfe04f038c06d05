"""Beat's and a worker's heartbeats: beat records its tick as it sends the heartbeat task, the
worker that runs it records itself; /metrics exports both as timestamps."""

import time
import uuid
import warnings

import pytest
from celery.exceptions import AlwaysEagerIgnored

from config.celery import app
from core import heartbeat
from core.tasks import heartbeat as heartbeat_task

from .scrape import sample

pytestmark = pytest.mark.django_db(transaction=True)


def test_beat_sending_and_a_worker_running_the_heartbeat_are_exported(client, monkeypatch):
    assert sample(client, "celery_beat_last_seen_timestamp_seconds") is None
    assert sample(client, "celery_worker_last_seen_timestamp_seconds") is None
    before = time.time()

    # Beat's side: this process acts as beat (beat_init) and publishes the task to the broker, on
    # a queue of this test's own that is deleted afterwards.
    monkeypatch.setattr(heartbeat, "_in_beat", False)
    heartbeat.beat_started()
    queue = f"heartbeat-test-{uuid.uuid4().hex}"
    try:
        with warnings.catch_warnings():  # the tests' eager setting, which send_task rightly ignores
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            app.send_task(heartbeat.HEARTBEAT_TASK, queue=queue)  # published, as beat does
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    beat_seen = sample(client, "celery_beat_last_seen_timestamp_seconds")
    assert before - 5 <= beat_seen <= time.time() + 5
    assert sample(client, "celery_worker_last_seen_timestamp_seconds") is None

    # The worker's side.
    heartbeat_task.apply().get()
    worker_seen = sample(client, "celery_worker_last_seen_timestamp_seconds")
    assert beat_seen <= worker_seen <= time.time() + 5


def test_a_process_that_is_not_beat_publishing_the_task_records_no_beat_heartbeat(client, monkeypatch):
    monkeypatch.setattr(heartbeat, "_in_beat", False)
    heartbeat.heartbeat_sent(sender=heartbeat.HEARTBEAT_TASK)

    assert sample(client, "celery_beat_last_seen_timestamp_seconds") is None


def test_the_heartbeat_is_on_beats_schedule_every_30_seconds(settings):
    entries = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == heartbeat.HEARTBEAT_TASK]
    assert [entry["schedule"] for entry in entries] == [30.0]
