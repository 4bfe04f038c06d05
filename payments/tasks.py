"""Thin Celery tasks: load, call a service. Each is safe to run twice. The periodic ones log
only when they found something to do: an idle sweep writes no line."""

import logging

from celery import shared_task

from core import context

from . import disputes, services

logger = logging.getLogger(__name__)


@shared_task
def resolve_pending_provider_operations() -> int:
    """Status polling: fans out one task per open operation whose next check is due."""
    due = services.operations_due_for_status_check()
    for operation_id in due:
        resolve_provider_operation.delay(operation_id)
    if due:
        logger.info("provider operations due for a status check: %d queued", len(due))
    return len(due)


@shared_task
def resolve_provider_operation(operation_id: str) -> str:
    with context.bound(correlation=f"janitor:{operation_id}", causation=operation_id):
        return services.operation_resolve(operation_id=operation_id)


@shared_task
def cancel_expired_authorizations() -> int:
    canceled = 0
    for payment_id in services.expired_authorizations():
        with context.bound(correlation=f"expiry:{payment_id}", causation=payment_id, payment=payment_id):
            if services.payment_expire_authorization(payment_id=payment_id):
                logger.info("authorization expired: payment canceled")
                canceled += 1
    return canceled


@shared_task
def capture_missed_automatic_captures() -> int:
    """Automatic captures that did not happen (a crash, a provider that was unreachable): tried again."""
    captured = 0
    for payment_id in services.automatic_captures_due():
        with context.bound(correlation=f"auto-capture:{payment_id}", causation=payment_id, payment=payment_id):
            if services.payment_capture_automatically(payment_id=payment_id):
                logger.info("missed automatic capture done: payment captured")
                captured += 1
    return captured


@shared_task
def send_dispute_responses() -> int:
    """Merchants' answers to disputes that the provider has not taken yet: sent again."""
    due = disputes.disputes_with_unsent_responses()
    for dispute_id in due:
        with context.bound(correlation=f"dispute-response:{dispute_id}", causation=dispute_id):
            disputes.dispute_send_response(dispute_id=dispute_id)
    if due:
        logger.info("dispute responses sent again: %d", len(due))
    return len(due)
