"""Two workers on the same day at once (a task delivered twice, an upload racing the nightly job):
the database lets one run settle the day, once."""

import pytest

from events.models import DomainEvent
from ledger.models import JournalEntry
from ledger.verification import verify
from payments.models import Payment
from reconciliation import services
from reconciliation.errors import ReportRejected
from reconciliation.models import Line, Run
from tests.payments.helpers import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_same_report_reconciled_twice_at_once_settles_each_payment_once(traffic, today):
    pay = traffic("cielo")
    payments = [pay.captured(10_000 + n) for n in range(6)]
    report, _ = services.report_fetch(provider="cielo", business_date=today, currency="BRL")

    runs = run_concurrently(2, lambda _: services.report_reconcile(report_id=report.pk).pk)

    assert runs[0] == runs[1] == Run.objects.get().pk
    assert all(Payment.objects.get(pk=payment["id"]).status == "settled" for payment in payments)
    for payment in payments:
        assert DomainEvent.objects.filter(aggregate_id=payment["id"], type="payment.settled").count() == 1
        assert Line.objects.filter(payment_id=payment["id"]).count() == 1
    assert Run.objects.get().settled_payments == len(payments)
    assert JournalEntry.objects.filter(entry_type="provider.settlement").count() == 1
    assert verify() == []


def test_two_different_files_of_one_day_at_once_one_is_refused(traffic, today, settlement_faults):
    traffic("rede").captured(10_000)
    first, _ = services.report_fetch(provider="rede", business_date=today, currency="BRL")
    settlement_faults.set("rede", today, unknown=1)
    second, _ = services.report_fetch(provider="rede", business_date=today, currency="BRL")

    def reconcile(index: int) -> str:
        try:
            services.report_reconcile(report_id=(first, second)[index].pk)
        except ReportRejected:
            return "rejected"
        return "reconciled"

    outcomes = run_concurrently(2, reconcile)

    assert sorted(outcomes) == ["reconciled", "rejected"]
    assert Run.objects.count() == 1
    assert JournalEntry.objects.filter(entry_type="provider.settlement").count() == 1
    assert verify() == []
