import os
import sys

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("payments_core")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
