"""Thin Celery tasks, each safe to run twice and side by side (see outbox.relay, outbox.dispatch)."""

from celery import shared_task

from core import context

from . import dispatch, relay, retention


@shared_task
def relay_events() -> int:
    with context.bound(correlation="outbox-relay"):
        run = relay.relay_run()
    if run.deliveries:
        deliver_webhooks.delay()  # new deliveries go out now, not at the next beat
    return run.published


@shared_task
def deliver_webhooks() -> int:
    with context.bound(correlation="webhook-dispatch"):
        return dispatch.deliveries_dispatch()


@shared_task
def purge_old_webhook_attempts() -> int:
    return retention.attempts_purge()
