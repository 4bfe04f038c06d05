"""A day of real sandbox traffic with every fault, reconciled the way the nightly job does it, for
each provider: every line classified, what matches settled, every difference a case in suspense,
the books right, and running it again changes nothing."""

import pytest
from django.db.models import Count

from events.models import DomainEvent
from ledger import chart
from ledger.models import JournalEntry
from ledger.verification import verify
from payments.models import Payment
from reconciliation import services
from reconciliation.errors import ReportRejected
from reconciliation.models import CaseStatus, Discrepancy, Line, Resolution, RunStatus, SettlementReport
from tests.reconciliation.helpers import balance, cases_of, classes_of, receivable, reconcile

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDERS = ["cielo", "rede", "getnet"]
FEE_BPS = {"cielo": 199, "rede": 185, "getnet": 210}


def fee(provider: str, amount: int) -> int:
    return (amount * FEE_BPS[provider] + 5_000) // 10_000


def status(payment: dict) -> str:
    return Payment.objects.get(pk=payment["id"]).status


def open_cases_total() -> int:
    return sum(Discrepancy.objects.filter(status=CaseStatus.OPEN).values_list("amount", flat=True))


def books() -> dict:
    """Everything a second run must leave as it was."""
    return {
        "lines": Line.objects.count(),
        "cases": list(Discrepancy.objects.order_by("pk").values_list("kind", "amount", "status")),
        "entries": JournalEntry.objects.count(),
        "events": DomainEvent.objects.count(),
        "settled": Payment.objects.filter(status="settled").count(),
        "bank": balance(chart.PLATFORM_BANK),
        "suspense": balance(chart.PLATFORM_SUSPENSE),
    }


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_day_with_every_fault_is_classified_settled_and_parked_in_suspense(
    provider, traffic, settlement_faults, today, tomorrow
):
    pay = traffic(provider)
    matched = pay.captured(10_000)
    refunded = pay.captured(20_000)
    refund = pay.refunded(refunded, 5_000)
    missing = pay.captured(11_000)
    short = pay.captured(12_000)
    overcharged = pay.captured(13_000)
    doubled = pay.captured(14_000)
    disputed = pay.captured(15_000)
    late = pay.captured(16_000)
    settlement_faults.set(
        provider,
        today,
        missing=[missing["id"]],
        amount_mismatch=[short["id"]],
        fee_mismatch=[overcharged["id"]],
        duplicate=[doubled["id"]],
        chargeback=[disputed["id"]],
        late=[late["id"]],
        unknown=1,
    )

    run = reconcile(provider, today)

    assert run.status == RunStatus.COMPLETED
    assert classes_of(run, matched) == [("sale", "matched")]
    assert classes_of(run, refunded) == [("sale", "matched"), ("refund", "matched")]
    assert Line.objects.get(run=run, kind="refund", payment_id=refunded["id"]).refund_id == refund["id"]
    assert classes_of(run, short) == [("sale", "amount_mismatch")]
    assert classes_of(run, overcharged) == [("sale", "fee_mismatch")]
    assert classes_of(run, doubled) == [("sale", "matched"), ("sale", "duplicate")]
    assert classes_of(run, disputed) == [("sale", "matched"), ("chargeback", "chargeback")]
    assert classes_of(run, missing) == classes_of(run, late) == []
    invented = Line.objects.filter(run=run, order_reference__startswith="unknown-")
    assert [line.classification for line in invented] == ["unknown"]
    assert invented[0].payment_id is None

    # What matched is settled, each with its event; an amount mismatch waits for its case.
    for payment in (matched, refunded, overcharged, doubled, disputed):
        assert status(payment) == "settled"
        assert DomainEvent.objects.filter(aggregate_id=payment["id"], type="payment.settled").count() == 1
    for payment in (short, missing, late):
        assert status(payment) == "captured"
    assert run.settled_payments == 5

    # Every difference is a case, for what it holds in suspense (+ received less, - received more).
    assert cases_of(short) == [("amount_mismatch", 120, "open")]
    assert cases_of(overcharged) == [("fee_mismatch", 130, "open")]
    assert cases_of(doubled) == [("duplicate", -14_000, "open")]
    assert cases_of(disputed) == [("chargeback", 15_000, "open")]
    assert cases_of(missing) == [("missing", 11_000, "open")]
    assert cases_of(late) == [("missing", 16_000, "open")]
    assert Discrepancy.objects.get(line=invented[0]).amount == -invented[0].gross

    # One settlement entry: what the report pays, to the bank, its fees to expense, out of the
    # receivable; every other difference sits in suspense; the receivable is settled to nothing.
    settlement = JournalEntry.objects.get(reference=f"settlement:{provider}:{today}:BRL")
    assert settlement == run.settlement_entry
    assert balance(chart.PLATFORM_BANK) == run.net_total
    ours = [matched, refunded, short, overcharged, doubled, disputed]
    charged = sum(Line.objects.filter(run=run, payment_id__in=[p["id"] for p in ours]).values_list("fee", flat=True))
    contract = sum(fee(provider, amount) for amount in (10_000, 20_000, 12_000 - 120, 13_000, 14_000, 14_000, 15_000))
    assert charged == contract + 130  # the overcharge on top of the contract's fees
    assert balance(chart.PLATFORM_PROVIDER_FEES) == run.fee_total - 130  # the overcharge waits in suspense
    assert balance(chart.PLATFORM_SUSPENSE) == open_cases_total()
    assert receivable(provider) == 0
    assert verify() == []

    # The same report again, fetched or reconciled, changes nothing.
    before = books()
    report, new = services.report_fetch(provider=provider, business_date=today, currency="BRL")
    assert not new and report == run.report
    assert services.report_reconcile(report_id=report.pk) == run
    assert books() == before

    # The next day: the late sale arrives (its missing case closes by itself), and the provider
    # pays a sale it already paid.
    settlement_faults.set(provider, today, late=[late["id"], matched["id"]])
    next_run = reconcile(provider, tomorrow)

    assert classes_of(next_run, late) == [("sale", "late")]
    assert classes_of(next_run, matched) == [("sale", "already_settled")]
    assert status(late) == "settled"
    assert [(kind, status_) for kind, _, status_ in cases_of(late)] == [("missing", "resolved")]
    fixed = Discrepancy.objects.get(payment_id=late["id"])
    assert (fixed.resolution, fixed.resolution_entry) == (Resolution.FIXED, next_run.adjustment_entry)
    assert cases_of(matched) == [("already_settled", -10_000, "open")]
    assert receivable(provider) == 0
    assert balance(chart.PLATFORM_SUSPENSE) == open_cases_total()
    assert verify() == []


def test_a_second_file_for_a_day_already_reconciled_is_refused(traffic, today, settlement_faults):
    traffic("cielo").captured(10_000)
    first = reconcile("cielo", today)
    settlement_faults.set("cielo", today, unknown=1)  # the provider's file of that day, changed

    report, new = services.report_fetch(provider="cielo", business_date=today, currency="BRL")

    assert new
    with pytest.raises(ReportRejected, match="already reconciled"):
        services.report_reconcile(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "rejected"
    assert "already reconciled" in report.error
    assert Line.objects.values("run").annotate(n=Count("id")).count() == 1
    assert first.report.status == "reconciled"
    assert SettlementReport.objects.count() == 2
