import os
import sys

from celery import Celery, signals

from core import celery_logging, heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("payments_core")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Django's LOGGING in workers and beat, and ids on every task's lines (core/celery_logging.py).
signals.setup_logging.connect(celery_logging.keep_django_logging, weak=False)
signals.task_prerun.connect(celery_logging.bind_task_ids, weak=False)
signals.task_postrun.connect(celery_logging.unbind_task_ids, weak=False)

# Beat records its own heartbeat as it sends the heartbeat task (core/heartbeat.py).
signals.beat_init.connect(heartbeat.beat_started, weak=False)
signals.before_task_publish.connect(heartbeat.heartbeat_sent, sender=heartbeat.HEARTBEAT_TASK, weak=False)


@signals.worker_process_init.connect
@signals.beat_init.connect
def _set_up_tracing(**kwargs) -> None:
    """In each pool process after the fork (a span exporter's thread does not survive one)."""
    from core import tracing

    tracing.setup()


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_to_start_on_check_errors(**kwargs) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from core.startup import refuse_to_start_on_check_errors

    try:
        refuse_to_start_on_check_errors()
    except ImproperlyConfigured as exc:
        # Celery logs and ignores an exception raised by a signal handler; SystemExit it does not.
        print(exc, file=sys.stderr)
        raise SystemExit(1) from exc
