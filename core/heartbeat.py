"""Heartbeats of the Celery worker and beat, exported as
`celery_worker_last_seen_timestamp_seconds` and `celery_beat_last_seen_timestamp_seconds`.

Beat sends `core.tasks.heartbeat` every 30 s (CELERY_BEAT_SCHEDULE) and records its own tick as it sends
it; a worker records itself when it runs it. A stopped beat stops both (nothing is sent): the beat
figure says which one stopped. The times are the database's clock, like every other age."""

import functools
import logging
import socket

from django.db.models.functions import Now
from prometheus_client.core import GaugeMetricFamily

from .metrics import register_scrape_time_collector

logger = logging.getLogger(__name__)

WORKER = "worker"
BEAT = "beat"
HEARTBEAT_TASK = "core.tasks.heartbeat"

_METRICS = {
    WORKER: ("celery_worker_last_seen_timestamp_seconds", "When a Celery worker last ran the heartbeat task"),
    BEAT: ("celery_beat_last_seen_timestamp_seconds", "When Celery beat last sent the heartbeat task"),
}


def record(process: str) -> None:
    from .models import Heartbeat  # here: config/celery.py imports this module before Django is set up

    Heartbeat.objects.update_or_create(
        process=process, defaults={"seen_at": Now(), "hostname": socket.gethostname()[:255]}
    )


class HeartbeatCollector:
    def describe(self):
        for name, documentation in _METRICS.values():
            yield GaugeMetricFamily(name, documentation)

    def collect(self):
        from .models import Heartbeat

        try:
            seen = {row.process: row.seen_at for row in Heartbeat.objects.filter(process__in=list(_METRICS))}
        except Exception:  # a scrape must not fail because the database is briefly unreachable
            logger.warning("heartbeat metrics: could not read the heartbeats", exc_info=True)
            return
        # A process never seen exports nothing: `absent()` in the alert rules catches it.
        for process, (name, documentation) in _METRICS.items():
            if process in seen:
                yield GaugeMetricFamily(name, documentation, value=seen[process].timestamp())


@functools.cache
def register_heartbeat_collector() -> None:
    register_scrape_time_collector(HeartbeatCollector())


# --- beat's side ----------------------------------------------------------------------------------
_in_beat = False


def beat_started(**kwargs) -> None:
    """beat_init: this process is beat (the publish signal below fires in every process)."""
    global _in_beat
    _in_beat = True


def heartbeat_sent(sender=None, **kwargs) -> None:
    """before_task_publish of the heartbeat task: beat records its tick."""
    if not _in_beat:
        return
    try:
        record(BEAT)
    except Exception:  # beat must go on sending the schedule even when the database hiccups
        logger.warning("could not record beat's heartbeat", exc_info=True)
