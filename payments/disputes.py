"""Dispute services: opening and deciding disputes (from providers' notifications, through
payments.notifications) and the merchant's answer (API, admin), which is sent to the provider
outside any transaction and retried until the provider takes or refuses it.

Money (payments.accounting): the disputed amount is taken from the merchant when the dispute
opens, and given back if it is won; a lost dispute moves the payment to `charged_back`.
Every change writes its event on the payment's stream: dispute.opened, dispute.updated (evidence
submitted), dispute.won, dispute.lost, payment.charged_back.

Locks: payment, then dispute (payments.locks), then ledger accounts inside entry_post.
"""

import logging
import random
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models.functions import Now

from core.errors import InvalidStateTransition
from events.services import event_record
from providers import registry
from providers.port import DisputeResponseRequest, Outcome

from . import accounting
from .errors import DisputeNotFound, EvidenceDueDatePassed
from .locks import lock_dispute, lock_payment
from .models import Dispute, DisputeResponse, DisputeStatus, Payment
from .representations import dispute_to_dict
from .services import _payment_event, _save

logger = logging.getLogger(__name__)

FIRST_RESPONSE_RETRY = timedelta(seconds=30)
MAX_RESPONSE_RETRY = timedelta(hours=1)


def _dispute_event(dispute: Dispute, event_type: str) -> None:
    event_record(
        merchant_id=dispute.merchant_id,
        aggregate_type="payment",
        aggregate_id=dispute.payment_id,
        type=event_type,
        data={"object": dispute_to_dict(dispute)},
    )


def _save_dispute(dispute: Dispute, now: datetime, *fields: str) -> None:
    dispute.updated_at = now
    dispute.save(update_fields=[*fields, "updated_at"])


# --- from the provider (the caller holds the payment's lock) -------------------------------------
def dispute_open(
    *,
    payment: Payment,
    provider_dispute_id: str,
    amount: int,
    reason: str,
    reason_code: str,
    reason_message: str,
    evidence_due_by: datetime | None,
) -> Dispute:
    dispute = Dispute.objects.create(
        merchant_id=payment.merchant_id,
        payment=payment,
        provider=payment.provider,
        provider_dispute_id=provider_dispute_id,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        reason_code=reason_code,
        reason_message=reason_message[:500],
        evidence_due_by=evidence_due_by,
    )
    _dispute_event(dispute, "dispute.opened")
    accounting.post_dispute_opened(payment=payment, dispute=dispute)
    return dispute


def dispute_decide(*, payment: Payment, dispute: Dispute, won: bool) -> None:
    """The provider's decision. Both rows are locked by the caller."""
    if won:
        dispute.win()
        _save_dispute(dispute, payment.db_now, "status")
        _dispute_event(dispute, "dispute.won")
        accounting.post_dispute_won(payment=payment, dispute=dispute)
    else:
        dispute.lose()
        _save_dispute(dispute, payment.db_now, "status")
        _dispute_event(dispute, "dispute.lost")
        _charge_back(payment)


def _charge_back(payment: Payment) -> None:
    payment.charge_back()
    _save(payment, "status")
    _payment_event(payment, "payment.charged_back")


# --- the merchant's answer --------------------------------------------------------------------------
def _lock(*, merchant_id: str | None, dispute_id: str) -> tuple[Payment, Dispute]:
    payment_id = (
        Dispute.objects.filter(pk=dispute_id, **({"merchant_id": merchant_id} if merchant_id else {}))
        .values_list("payment_id", flat=True)
        .first()
    )
    if payment_id is None:
        raise DisputeNotFound(f"No such dispute: {dispute_id}")
    payment = lock_payment(payment_id=payment_id)
    return payment, lock_dispute(dispute_id=dispute_id)


def dispute_submit_evidence(*, merchant_id: str | None, dispute_id: str, evidence: str) -> Dispute:
    """Contests the dispute: it goes under review, and the evidence to the provider. `merchant_id`
    None is an operator acting for the merchant (admin)."""
    with transaction.atomic():
        payment, dispute = _lock(merchant_id=merchant_id, dispute_id=dispute_id)
        _check_answerable(payment, dispute)
        dispute.submit_evidence(evidence=evidence)
        dispute.responded_at = dispute.response_next_attempt_at = payment.db_now
        _save_dispute(
            dispute, payment.db_now, "status", "evidence", "response", "responded_at", "response_next_attempt_at"
        )
        _dispute_event(dispute, "dispute.updated")
    return dispute_send_response(dispute_id=dispute_id)


def dispute_accept(*, merchant_id: str | None, dispute_id: str) -> Dispute:
    """Accepts the dispute: it is lost (the payment charged back), and the provider is told."""
    with transaction.atomic():
        payment, dispute = _lock(merchant_id=merchant_id, dispute_id=dispute_id)
        _check_answerable(payment, dispute)
        dispute.accept()
        dispute.responded_at = dispute.response_next_attempt_at = payment.db_now
        _save_dispute(dispute, payment.db_now, "status", "response", "responded_at", "response_next_attempt_at")
        _dispute_event(dispute, "dispute.lost")
        _charge_back(payment)
    return dispute_send_response(dispute_id=dispute_id)


def _check_answerable(payment: Payment, dispute: Dispute) -> None:
    if dispute.status != DisputeStatus.NEEDS_RESPONSE:
        raise InvalidStateTransition(f"A dispute in status '{dispute.status}' cannot be answered.")
    if dispute.evidence_due_by is not None and payment.db_now >= dispute.evidence_due_by:
        raise EvidenceDueDatePassed("The evidence due date of this dispute has passed.")


def dispute_send_response(*, dispute_id: str) -> Dispute:
    """Sends the merchant's answer to the provider, outside any transaction, and records whether
    the provider took it (done), refused it (for good: recorded, not retried) or could not be
    reached (retried later with backoff). Safe to run twice: the providers take the same answer
    again as a repeat."""
    assert not transaction.get_connection().in_atomic_block, "never call a provider inside a transaction"
    dispute = Dispute.objects.get(pk=dispute_id)
    if not dispute.response or dispute.response_sent_at or dispute.response_error:
        return dispute
    result = registry.get_provider(dispute.provider).respond_to_dispute(
        DisputeResponseRequest(
            dispute_id=dispute.provider_dispute_id,
            reference=dispute.id,
            accept=dispute.response == DisputeResponse.ACCEPTANCE,
            evidence=dispute.evidence,
        )
    )
    with transaction.atomic():
        payment, dispute = _lock(merchant_id=None, dispute_id=dispute_id)
        if dispute.response_sent_at or dispute.response_error:
            return dispute
        dispute.response_attempts += 1
        if result.outcome == Outcome.APPROVED:
            dispute.response_sent_at, dispute.response_next_attempt_at = payment.db_now, None
        elif result.outcome == Outcome.DECLINED:
            dispute.response_error = (result.failure_message or result.failure_code or "refused")[:500]
            dispute.response_next_attempt_at = None
            logger.warning(
                "provider refused a dispute response",
                extra={"dispute_id": dispute.id, "provider": dispute.provider, "detail": dispute.response_error},
            )
        else:
            backoff = min(FIRST_RESPONSE_RETRY * 2 ** min(dispute.response_attempts - 1, 10), MAX_RESPONSE_RETRY)
            dispute.response_next_attempt_at = payment.db_now + backoff * random.uniform(0.5, 1.0)
        _save_dispute(
            dispute,
            payment.db_now,
            "response_attempts",
            "response_sent_at",
            "response_error",
            "response_next_attempt_at",
        )
    return dispute


def disputes_with_unsent_responses(*, limit: int = 100) -> list[str]:
    return list(
        Dispute.objects.exclude(response="")
        .filter(response_sent_at__isnull=True, response_error="", response_next_attempt_at__lte=Now())
        .order_by("response_next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
