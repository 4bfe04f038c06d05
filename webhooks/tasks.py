"""Thin Celery tasks: load, call a service. Each is safe to run twice. The periodic one logs only
when it found something to do."""

import logging

from celery import shared_task

from core import context

from . import services

logger = logging.getLogger(__name__)


@shared_task
def apply_provider_notification(notification_id: str) -> str:
    with context.bound(correlation=f"notification:{notification_id}", causation=notification_id):
        processed = services.notification_process(notification_id=notification_id)
        for released_id in processed.released:
            apply_provider_notification.delay(released_id)
        return processed.status


@shared_task
def retry_provider_notifications() -> int:
    """Applies accepted notifications whose task was lost, and deferred ones that are due again."""
    due = services.notifications_due()
    for notification_id in due:
        apply_provider_notification.delay(notification_id)
    if due:
        logger.info("provider notifications due again: %d queued", len(due))
    return len(due)
