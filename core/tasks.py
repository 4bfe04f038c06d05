import logging

from celery import shared_task

from . import heartbeat as heartbeats
from .idempotency import purge_expired_keys

logger = logging.getLogger(__name__)


@shared_task
def purge_expired_idempotency_keys() -> int:
    purged = purge_expired_keys()
    if purged:  # hourly: a line only when there was something to purge
        logger.info("purged %d expired idempotency keys", purged)
    return purged


@shared_task
def heartbeat() -> None:
    """Sent by beat every 30 s: the worker that runs it records that it is alive."""
    heartbeats.record(heartbeats.WORKER)
