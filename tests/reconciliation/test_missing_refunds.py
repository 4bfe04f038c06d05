"""A refund that succeeded on a report's day but that the report does not take out of the payout:
the provider paid us the refund's amount as well, so the money waits in suspense as a
`refund_missing` case (negative: we received more than we expected) until an operator resolves it."""

import io
from datetime import date

import pytest
from django.core.management import call_command

from events.models import DomainEvent
from ledger import chart
from ledger.models import JournalEntry
from ledger.verification import verify
from payments.models import Payment, Refund
from providers.registry import reset_providers
from providers.settlement import LAYOUTS, LineKind, ReportHeader, SettlementLine
from reconciliation import services
from reconciliation.errors import ResolutionNotAllowed
from reconciliation.models import CaseKind, CaseStatus, Discrepancy, Line, Resolution, Run, Source
from reconciliation.selectors import CSV_COLUMNS, run_result_rows
from reconciliation.services import discrepancy_resolve
from tests.payments.helpers import refund as refund_request
from tests.reconciliation.helpers import balance, cases_of, classes_of, receivable, reconcile

pytestmark = pytest.mark.django_db(transaction=True)


def open_cases_total() -> int:
    return sum(Discrepancy.objects.filter(status=CaseStatus.OPEN).values_list("amount", flat=True))


def books() -> dict:
    """Everything running the same report again must leave as it was."""
    return {
        "lines": Line.objects.count(),
        "cases": list(Discrepancy.objects.order_by("pk").values_list("kind", "amount", "status", "refund_id")),
        "entries": JournalEntry.objects.count(),
        "events": DomainEvent.objects.count(),
        "receivable": receivable("cielo"),
        "suspense": balance(chart.PLATFORM_SUSPENSE),
    }


def resolve(case: Discrepancy, resolution: str) -> Discrepancy:
    return discrepancy_resolve(discrepancy_id=case.pk, resolution=resolution, operator="ana", note="checked")


@pytest.fixture
def missing_refund(traffic, settlement_faults, today):
    """A cielo day whose report leaves out one of two refunds: (the case, the refund it is about)."""
    pay = traffic("cielo")
    payment = pay.captured(20_000)
    left_out = pay.refunded(payment, 3_000)
    reported = pay.captured(10_000)
    pay.refunded(reported, 4_000)
    settlement_faults.set("cielo", today, refund_missing=[payment["id"]])
    reconcile("cielo", today)
    return Discrepancy.objects.get(payment_id=payment["id"]), left_out


@pytest.mark.parametrize("provider", ["cielo", "rede", "getnet"])
def test_a_refund_the_report_leaves_out_is_a_case_in_suspense(provider, traffic, settlement_faults, today):
    pay = traffic(provider)
    reported = pay.captured(10_000)
    reported_refund = pay.refunded(reported, 4_000)
    left_out = pay.captured(20_000)
    left_out_refund = pay.refunded(left_out, 5_000)
    settlement_faults.set(provider, today, refund_missing=[left_out["id"]])

    run = reconcile(provider, today)

    # The refund the report carries is matched, and opens nothing.
    assert classes_of(run, reported) == [("sale", "matched"), ("refund", "matched")]
    assert Line.objects.get(run=run, kind="refund", payment_id=reported["id"]).refund_id == reported_refund["id"]
    assert cases_of(reported) == []
    # The one it leaves out is a case for the refund's amount, negative: we received more.
    assert classes_of(run, left_out) == [("sale", "matched")]
    assert cases_of(left_out) == [("refund_missing", -5_000, "open")]
    case = Discrepancy.objects.get(payment_id=left_out["id"])
    assert (case.refund_id, case.line_id, case.run_id, case.counter_account) == (
        left_out_refund["id"],
        None,
        run.pk,
        "receivable",
    )
    assert run.summary["cases"]["refund_missing"] == {"count": 1, "amount": -5_000}

    # The adjustment entry moved it from the receivable into suspense: the receivable holds nothing
    # of the day, suspense is the open cases, and ledger_verify agrees.
    parked = sum(
        run.adjustment_entry.postings.filter(account__code="platform:suspense").values_list("amount", flat=True)
    )
    assert parked == sum(Discrepancy.objects.filter(run=run).values_list("amount", flat=True))
    assert receivable(provider) == 0
    assert balance(chart.PLATFORM_SUSPENSE) == open_cases_total()
    assert verify() == []
    out = io.StringIO()
    call_command("ledger_verify", stdout=out)  # raises CommandError on any problem
    assert "ledger OK" in out.getvalue()


def test_reconciling_the_same_report_again_changes_nothing(missing_refund, today):
    case, _ = missing_refund
    before = books()

    report, new = services.report_fetch(provider="cielo", business_date=today, currency="BRL")
    assert not new
    assert services.report_reconcile(report_id=report.pk) == case.run
    assert books() == before
    assert Discrepancy.objects.filter(kind=CaseKind.REFUND_MISSING).count() == 1


def test_marked_fixed_it_goes_back_to_the_receivable_for_the_provider_to_deduct(missing_refund):
    case, left_out = missing_refund
    assert (case.amount, case.refund_id) == (-3_000, left_out["id"])
    owed_by_provider, parked = receivable("cielo"), balance(chart.PLATFORM_SUSPENSE)

    resolved = resolve(case, Resolution.FIXED)

    assert (resolved.status, resolved.resolution) == (CaseStatus.RESOLVED, Resolution.FIXED)
    assert receivable("cielo") == owed_by_provider - 3_000  # the provider owes us the refund back
    assert balance(chart.PLATFORM_SUSPENSE) == parked + 3_000 == open_cases_total()
    assert verify() == []


def test_written_off_the_platform_keeps_what_the_provider_did_not_deduct(missing_refund):
    case, _ = missing_refund
    write_offs, parked = balance(chart.PLATFORM_SETTLEMENT_WRITE_OFFS), balance(chart.PLATFORM_SUSPENSE)

    resolve(case, Resolution.WRITTEN_OFF)

    assert balance(chart.PLATFORM_SETTLEMENT_WRITE_OFFS) == write_offs - 3_000
    assert balance(chart.PLATFORM_SUSPENSE) == parked + 3_000 == open_cases_total()
    assert receivable("cielo") == 0
    assert verify() == []


def test_the_providers_figure_cannot_be_accepted_for_a_refund(missing_refund):
    case, _ = missing_refund

    with pytest.raises(ResolutionNotAllowed, match="refund"):
        resolve(case, Resolution.ACCEPTED)

    case.refresh_from_db()
    assert (case.status, case.resolution, case.resolution_entry) == (CaseStatus.OPEN, "", None)
    assert not JournalEntry.objects.filter(entry_type="reconciliation.resolution").exists()
    assert balance(chart.PLATFORM_SUSPENSE) == open_cases_total()


def test_a_failed_refund_opens_no_case(api, traffic, settings, today):
    payment = traffic("cielo").captured(10_000)
    reachable = settings.PROVIDERS
    settings.PROVIDERS = {**reachable, "cielo": {**reachable["cielo"], "base_url": "http://127.0.0.1:9/nothing"}}
    reset_providers()
    failed = refund_request(api, payment["id"], 2_000)
    settings.PROVIDERS = reachable
    reset_providers()
    assert failed.json()["status"] == "failed"

    run = reconcile("cielo", today)

    assert Refund.objects.get(pk=failed.json()["id"]).operation.completed_at.date() == today
    assert classes_of(run, payment) == [("sale", "matched")]
    assert cases_of(payment) == []
    assert verify() == []


def test_a_refund_is_looked_for_only_in_the_report_of_the_day_it_succeeded(traffic, settlement_faults, today, tomorrow):
    pay = traffic("getnet")
    payment = pay.captured(10_000)
    refund = pay.refunded(payment, 2_500)
    settlement_faults.set("getnet", today, refund_missing=[payment["id"]])

    reconcile("getnet", tomorrow)  # a report of another day: not the refund's

    assert cases_of(payment) == []

    run = reconcile("getnet", today)

    assert cases_of(payment) == [("refund_missing", -2_500, "open")]
    case = Discrepancy.objects.get(payment_id=payment["id"])
    assert case.refund_id == refund["id"]
    # The run's result lists it after the lines, with its refund.
    row = dict(zip(CSV_COLUMNS, next(r for r in run_result_rows(run=run) if r[-4] == case.pk), strict=True))
    assert (row["payment"], row["refund"], row["case_kind"], row["case_amount"]) == (
        payment["id"],
        refund["id"],
        "refund_missing",
        -2_500,
    )
    assert Payment.objects.get(pk=payment["id"]).status == "settled"
    assert balance(chart.PLATFORM_SUSPENSE) == open_cases_total()
    assert verify() == []


def deducted_later(payment: dict, amount: int, day: date) -> Run:
    """A getnet report of `day` (given as a file) that deducts the refund the earlier one left out."""
    line = SettlementLine(LineKind.REFUND, day, -amount, 0, -amount, f"{1:020d}", "000001", "123456", payment["id"])
    out = io.StringIO(newline="")
    LAYOUTS["getnet"].write(out, ReportHeader(day, day, "123456789012345"), [[line]])
    report, _ = services.report_receive(
        provider="getnet",
        business_date=day,
        currency="BRL",
        source=Source.COMMAND,
        chunks=[out.getvalue().encode("latin-1")],
    )
    return services.report_reconcile(report_id=report.pk)


@pytest.fixture
def left_out_refund(traffic, settlement_faults, today):
    """A getnet day whose report leaves out a refund: (its payment, its case)."""
    pay = traffic("getnet")
    payment = pay.captured(10_000)
    pay.refunded(payment, 2_500)
    settlement_faults.set("getnet", today, refund_missing=[payment["id"]])
    reconcile("getnet", today)
    return payment, Discrepancy.objects.get(payment_id=payment["id"])


def test_a_refund_deducted_in_a_later_report_closes_its_case(left_out_refund, tomorrow):
    payment, case = left_out_refund

    run = deducted_later(payment, 2_500, tomorrow)

    assert classes_of(run, payment) == [("refund", "matched")]
    case.refresh_from_db()
    assert (case.status, case.resolution, case.resolution_entry) == (
        CaseStatus.RESOLVED,
        Resolution.FIXED,
        run.adjustment_entry,
    )
    assert cases_of(payment) == [("refund_missing", -2_500, "resolved")]
    assert receivable("getnet") == 0
    assert balance(chart.PLATFORM_SUSPENSE) == open_cases_total()
    assert verify() == []


def test_a_refund_deducted_after_it_was_written_off_is_a_new_case(left_out_refund, tomorrow):
    payment, case = left_out_refund
    write_offs = balance(chart.PLATFORM_SETTLEMENT_WRITE_OFFS)
    resolve(case, Resolution.WRITTEN_OFF)  # the platform kept the 25.00

    deducted_later(payment, 2_500, tomorrow)

    assert cases_of(payment) == [("refund_missing", -2_500, "resolved"), ("late", 2_500, "open")]
    late = Discrepancy.objects.get(payment_id=payment["id"], kind=CaseKind.LATE)
    with pytest.raises(ResolutionNotAllowed, match="refund"):  # the merchant paid for it already
        resolve(late, Resolution.ACCEPTED)
    resolve(late, Resolution.WRITTEN_OFF)
    assert balance(chart.PLATFORM_SETTLEMENT_WRITE_OFFS) == write_offs
    assert receivable("getnet") == 0
    assert balance(chart.PLATFORM_SUSPENSE) == open_cases_total()
    assert verify() == []


def test_a_refund_deducted_after_its_sales_missing_case_was_closed_is_no_late_sale(
    traffic, settlement_faults, today, tomorrow
):
    """`late` is for a sale paid after its `missing` case was closed: the refund lines of that
    payment are refunds, matched as such."""
    pay = traffic("getnet")
    payment = pay.captured(10_000)
    settlement_faults.set("getnet", today, missing=[payment["id"]])
    reconcile("getnet", today)
    resolve(Discrepancy.objects.get(payment_id=payment["id"], kind=CaseKind.MISSING), Resolution.WRITTEN_OFF)
    pay.refunded(payment, 1_000)

    run = deducted_later(payment, 1_000, tomorrow)

    assert classes_of(run, payment) == [("refund", "matched")]
    assert cases_of(payment) == [("missing", 10_000, "resolved")]
    assert balance(chart.PLATFORM_SUSPENSE) == open_cases_total()
    assert verify() == []
