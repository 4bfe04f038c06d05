"""A chargeback line in a settlement report: the provider takes a disputed amount back. When we
heard of the dispute (its notification opened it and took the amount from the merchant), the line
only confirms it; a chargeback we never heard of waits in suspense for an operator."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from ledger import chart
from ledger.services import account_balance
from ledger.verification import verify
from payments import disputes
from payments.accounting import merchant_payable
from payments.locks import lock_payment
from payments.models import Payment
from reconciliation.models import Discrepancy, Line
from tests.reconciliation.helpers import balance, cases_of, classes_of, receivable, reconcile

pytestmark = pytest.mark.django_db(transaction=True)


def _open_dispute(payment: dict, amount: int):
    """As the provider's dispute notification does."""
    with transaction.atomic():
        return disputes.dispute_open(
            payment=lock_payment(payment_id=payment["id"]),
            provider_dispute_id=f"cb-{payment['id']}",
            amount=amount,
            reason="fraudulent",
            reason_code="10.4",
            reason_message="Other Fraud - Card-Absent Environment",
            evidence_due_by=timezone.now() + timedelta(days=7),
        )


def _payable(payment: dict) -> int:
    return account_balance(account=merchant_payable(Payment.objects.get(pk=payment["id"])))


@pytest.mark.parametrize("provider", ["cielo", "rede", "getnet"])
def test_a_chargeback_we_know_of_is_confirmed_and_the_merchant_is_charged_once(
    provider, traffic, settlement_faults, today
):
    pay = traffic(provider)
    known = pay.captured(15_000)
    unheard_of = pay.captured(9_000)
    dispute = _open_dispute(known, 15_000)
    payable_after_the_dispute = _payable(known)
    settlement_faults.set(provider, today, chargeback=[known["id"], unheard_of["id"]])

    run = reconcile(provider, today)

    assert classes_of(run, known) == [("sale", "matched"), ("chargeback", "matched")]
    assert Line.objects.get(run=run, kind="chargeback", payment_id=known["id"]).dispute_id == dispute.id
    assert cases_of(known) == []  # nothing left for an operator to charge the merchant again
    assert _payable(known) == payable_after_the_dispute
    assert classes_of(run, unheard_of) == [("sale", "matched"), ("chargeback", "chargeback")]
    assert cases_of(unheard_of) == [("chargeback", 9_000, "open")]

    assert receivable(provider) == 0  # the dispute's opening and the line cancel out
    assert balance(chart.PLATFORM_SUSPENSE) == sum(Discrepancy.objects.values_list("amount", flat=True))
    assert verify() == []


def test_a_chargeback_of_another_amount_than_the_dispute_is_a_case(traffic, settlement_faults, today):
    pay = traffic("cielo")
    partly = pay.captured(15_000)
    _open_dispute(partly, 5_000)  # the provider's line takes the whole 15,000
    settlement_faults.set("cielo", today, chargeback=[partly["id"]])

    run = reconcile("cielo", today)

    assert classes_of(run, partly) == [("sale", "matched"), ("chargeback", "chargeback")]
    assert cases_of(partly) == [("chargeback", 15_000, "open")]
    assert verify() == []
