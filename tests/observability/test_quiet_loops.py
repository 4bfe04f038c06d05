"""Idle loops log nothing: the periodic tasks of the beat schedule write a line only when they did
something, and Celery's routine lines about them are dropped (core/celery_logging.py); failures
and retries still show."""

import logging

import pytest
from celery.app.trace import LOG_FAILURE, LOG_RETRY, LOG_SUCCESS
from celery.utils.imports import symbol_by_name
from django.conf import settings

from core.celery_logging import CeleryLinesFilter
from events.services import event_record
from outbox import tasks as outbox_tasks

# Nightly, and its "passed" line is the proof it ran: not an idle loop.
NOT_A_LOOP = {"ledger.tasks.verify_ledger"}
PERIODIC = sorted({entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} - NOT_A_LOOP)


def _lines(caplog) -> list[str]:
    return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]


@pytest.mark.django_db(transaction=True)
def test_the_periodic_tasks_with_nothing_to_do_log_nothing(caplog):
    assert "outbox.tasks.relay_events" in PERIODIC and len(PERIODIC) >= 8

    with caplog.at_level(logging.INFO):
        for name in PERIODIC:
            result = symbol_by_name(name).apply()
            assert result.successful(), (name, result.traceback)

    assert _lines(caplog) == []


@pytest.mark.django_db(transaction=True)
def test_the_relay_with_events_to_publish_says_so_in_one_line(merchant, caplog):
    for sequence in (1, 2):
        event_record(
            merchant_id=merchant.id,
            aggregate_type="test",
            aggregate_id="agg_quiet",
            type="test.happened",
            data={"sequence": sequence},
        )

    with caplog.at_level(logging.INFO):
        assert outbox_tasks.relay_events.apply().get() == 2

    assert _lines(caplog) == ["INFO outbox.tasks: relayed 2 events (0 webhook deliveries)"]
    assert caplog.records[0].correlation_id == "outbox-relay"


def _record(logger: str, level: int, msg: str, args) -> logging.LogRecord:
    return logging.LogRecord(logger, level, __file__, 1, msg, args, None)


def test_celery_routine_lines_are_dropped_for_the_periodic_tasks_only():
    lines = CeleryLinesFilter(quiet_tasks=["outbox.tasks.relay_events"])
    success = {"id": "t1", "return_value": 0, "runtime": 0.01}

    quiet = _record("celery.app.trace", logging.INFO, LOG_SUCCESS, {**success, "name": "outbox.tasks.relay_events"})
    work = _record("celery.app.trace", logging.INFO, LOG_SUCCESS, {**success, "name": "webhooks.tasks.other"})
    sending = _record(
        "celery.beat", logging.INFO, "Scheduler: Sending due task %s (%s)", ("relay", "outbox.tasks.relay_events")
    )
    sending_nightly = _record(
        "celery.beat", logging.INFO, "Scheduler: Sending due task %s (%s)", ("nightly", "reconciliation.tasks.x")
    )
    assert [lines.filter(r) for r in (quiet, work, sending, sending_nightly)] == [False, True, False, True]


def test_a_failure_of_a_periodic_task_still_shows_and_a_retry_is_a_warning():
    lines = CeleryLinesFilter(quiet_tasks=["outbox.tasks.relay_events"])
    context = {"id": "t1", "name": "outbox.tasks.relay_events", "exc": "boom", "description": "raised unexpected"}

    failure = _record("celery.app.trace", logging.ERROR, LOG_FAILURE, context)
    retry = _record("celery.app.trace", logging.INFO, LOG_RETRY, context)

    assert lines.filter(failure) and failure.levelno == logging.ERROR
    assert lines.filter(retry)
    assert (retry.levelno, retry.levelname) == (logging.WARNING, "WARNING")


def test_the_settings_attach_the_filter_to_celerys_loggers():
    for name in ("celery.beat", "celery.app.trace"):
        [attached] = logging.getLogger(name).filters
        assert isinstance(attached, CeleryLinesFilter)
        assert set(PERIODIC) <= attached.quiet_tasks
    assert logging.getLogger("celery.worker.strategy").level == logging.WARNING  # "Task ... received"
