import logging

from celery import shared_task

from .idempotency import purge_expired_keys

logger = logging.getLogger(__name__)


@shared_task
def purge_expired_idempotency_keys() -> int:
    purged = purge_expired_keys()
    if purged:  # hourly: a line only when there was something to purge
        logger.info("purged %d expired idempotency keys", purged)
    return purged
