"""Celery's logging, made to follow the project's (config/celery.py connects these).

- Workers and beat keep Django's LOGGING (JSON lines, correlation ids, card numbers masked):
  Celery would otherwise replace the root handler with its own plain-text one.
- Every task runs with correlation and causation ids bound, so that every line it writes,
  Celery's own "succeeded" or "raised" line included, carries them. A task that binds its own
  (`janitor:<operation>`, `expiry:<payment>`, ...) overrides them inside; an eager task called
  within a request keeps the request's.
- The periodic housekeeping tasks (the beat schedule) run every few seconds: beat's "Sending due
  task" and the worker's "succeeded" lines for them are dropped, so an idle loop writes nothing;
  each task logs itself when it did something. A retry is a WARNING (Celery says INFO).
"""

import logging

from . import context

# The message formats of the lines concerned (celery.beat, celery.app.trace).
_BEAT_SENDING = "Scheduler: Sending due task %s (%s)"
_RETRY_PREFIX = "Task %(name)s[%(id)s] retry:"


class CeleryLinesFilter(logging.Filter):
    """On the `celery.beat` and `celery.app.trace` loggers: drops the INFO lines about the tasks
    in `quiet_tasks` and raises retries to WARNING. Failures (ERROR) always pass."""

    def __init__(self, quiet_tasks=()):
        super().__init__()
        self.quiet_tasks = frozenset(quiet_tasks)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        if isinstance(record.msg, str) and record.msg.startswith(_RETRY_PREFIX):
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
            return True
        return _task_name(record) not in self.quiet_tasks


def _task_name(record: logging.LogRecord) -> str | None:
    args = record.args
    if record.msg == _BEAT_SENDING and isinstance(args, tuple) and len(args) == 2:
        return args[1]
    if isinstance(args, dict):  # celery.app.trace passes its context as a mapping
        return args.get("name")
    return None


def keep_django_logging(**kwargs) -> None:
    """`setup_logging` receiver: its mere presence stops Celery from configuring logging; Django's
    LOGGING is applied (again: django.setup() may not have run yet in this process)."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


_bound: set[str] = set()  # the tasks whose ids bind_task_ids bound


def bind_task_ids(task_id=None, **kwargs) -> None:
    """`task_prerun` receiver: the task's id is its correlation and causation id, unless ids are
    bound already (an eager task within a request or another task)."""
    if task_id is None or context.correlation_id.get() is not None:
        return
    _bound.add(task_id)
    context.correlation_id.set(task_id)
    context.causation_id.set(task_id)


def unbind_task_ids(task_id=None, **kwargs) -> None:
    """`task_postrun` receiver: undoes bind_task_ids, and forgets the task's merchant and payment
    (the next task in this process starts clean)."""
    if task_id not in _bound:
        return
    _bound.discard(task_id)
    for var in (context.correlation_id, context.causation_id, context.merchant_id, context.payment_id):
        var.set(None)
