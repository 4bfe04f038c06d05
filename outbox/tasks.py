"""Thin Celery tasks, each safe to run twice and side by side (see outbox.relay, outbox.dispatch).
They run every few seconds: each logs only when it did something, so an idle loop writes no line."""

import logging

from celery import shared_task

from core import context

from . import dispatch, relay, retention

logger = logging.getLogger(__name__)


@shared_task
def relay_events() -> int:
    with context.bound(correlation="outbox-relay"):
        run = relay.relay_run()
        if run.published:
            logger.info("relayed %d events (%d webhook deliveries)", run.published, run.deliveries)
    if run.deliveries:
        deliver_webhooks.delay()  # new deliveries go out now, not at the next beat
    return run.published


@shared_task
def deliver_webhooks() -> int:
    with context.bound(correlation="webhook-dispatch"):
        attempts = dispatch.deliveries_dispatch()
        if attempts:
            logger.info("sent %d webhook attempts", attempts)
    return attempts


@shared_task
def purge_old_webhook_attempts() -> int:
    purged = retention.attempts_purge()
    if purged:
        logger.info("purged %d old webhook attempts", purged)
    return purged
