"""An operator resolves each discrepancy: every resolution takes the case's amount out of
suspense with its own ledger entry, into the account the decision names."""

import pytest

from events.models import DomainEvent
from ledger import chart
from ledger.models import JournalEntry
from ledger.selectors import account_balance, account_get
from ledger.verification import verify
from payments.models import Payment
from reconciliation.errors import DiscrepancyAlreadyResolved, ResolutionNotAllowed
from reconciliation.models import CaseStatus, Discrepancy, Resolution
from reconciliation.services import discrepancy_resolve
from tests.reconciliation.helpers import balance, receivable, reconcile

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cases(traffic, settlement_faults, today):
    """A reconciled day of cielo with one case of each kind; returns the cases by kind."""
    pay = traffic("cielo")
    payments = {name: pay.captured(amount) for name, amount in (("short", 12_000), ("fee", 13_000), ("gone", 11_000))}
    payments |= {name: pay.captured(amount) for name, amount in (("disputed", 15_000), ("doubled", 14_000))}
    settlement_faults.set(
        "cielo",
        today,
        amount_mismatch=[payments["short"]["id"]],
        fee_mismatch=[payments["fee"]["id"]],
        missing=[payments["gone"]["id"]],
        chargeback=[payments["disputed"]["id"]],
        duplicate=[payments["doubled"]["id"]],
        unknown=1,
    )
    reconcile("cielo", today)
    # Only this test's: the day's report also holds other tests' traffic (see conftest).
    ours = Discrepancy.objects.filter(payment_id__in=[payment["id"] for payment in payments.values()])
    invented = Discrepancy.objects.get(line__order_reference__startswith="unknown-")
    return {case.kind: case for case in ours} | {"unknown": invented}


def payable(merchant) -> int:
    """What we owe the merchant, the way an accountant reads it."""
    account = account_get(code=chart.merchant_payable_code(merchant.id), currency="BRL")
    return account_balance(account=account) * account.normal_sign


def resolve(case: Discrepancy, resolution: str) -> Discrepancy:
    return discrepancy_resolve(discrepancy_id=case.pk, resolution=resolution, operator="ana", note="checked")


def test_accepting_an_amount_mismatch_charges_the_merchant_and_settles_the_payment(cases, merchant):
    case = cases["amount_mismatch"]
    owed, parked = payable(merchant), balance(chart.PLATFORM_SUSPENSE)

    resolved = resolve(case, Resolution.ACCEPTED)

    assert case.amount == 120
    assert (resolved.status, resolved.resolution, resolved.resolved_by) == (CaseStatus.RESOLVED, "accepted", "ana")
    assert resolved.resolution_entry.reference == f"reconciliation:{case.pk}:resolution"
    assert payable(merchant) == owed - 120
    assert balance(chart.PLATFORM_SUSPENSE) == parked - 120
    assert Payment.objects.get(pk=case.payment_id).status == "settled"
    assert DomainEvent.objects.filter(aggregate_id=case.payment_id, type="payment.settled").count() == 1
    assert verify() == []


def test_each_resolution_moves_the_amount_into_the_account_it_names(cases):
    before = {
        "fees": balance(chart.PLATFORM_PROVIDER_FEES),
        "losses": balance(chart.PLATFORM_CHARGEBACK_LOSSES),
        "write_offs": balance(chart.PLATFORM_SETTLEMENT_WRITE_OFFS),
        "receivable": receivable("cielo"),
    }

    resolve(cases["fee_mismatch"], Resolution.ACCEPTED)  # the overcharge is a fee after all
    resolve(cases["chargeback"], Resolution.WRITTEN_OFF)  # the platform absorbs the chargeback
    resolve(cases["unknown"], Resolution.WRITTEN_OFF)  # money nobody claims: the platform keeps it
    resolve(cases["missing"], Resolution.FIXED)  # the provider will pay it later
    resolve(cases["duplicate"], Resolution.FIXED)  # the provider will take the second payment back

    assert balance(chart.PLATFORM_PROVIDER_FEES) == before["fees"] + 130
    assert balance(chart.PLATFORM_CHARGEBACK_LOSSES) == before["losses"] + 15_000
    assert balance(chart.PLATFORM_SETTLEMENT_WRITE_OFFS) == before["write_offs"] + cases["unknown"].amount < 0
    assert receivable("cielo") == before["receivable"] + 11_000 - 14_000
    still_open = Discrepancy.objects.filter(pk__in=[case.pk for case in cases.values()], status=CaseStatus.OPEN)
    assert list(still_open.values_list("kind", flat=True)) == ["amount_mismatch"]
    assert balance(chart.PLATFORM_SUSPENSE) == sum(
        Discrepancy.objects.filter(status=CaseStatus.OPEN).values_list("amount", flat=True)
    )
    assert JournalEntry.objects.filter(entry_type="reconciliation.resolution").count() == 5
    assert verify() == []


def test_a_case_without_a_merchant_cannot_be_charged_to_one(cases):
    for kind in ("unknown", "duplicate"):
        with pytest.raises(ResolutionNotAllowed):
            resolve(cases[kind], Resolution.ACCEPTED)

    assert not Discrepancy.objects.filter(status=CaseStatus.RESOLVED).exists()
    assert not JournalEntry.objects.filter(entry_type="reconciliation.resolution").exists()


def test_a_case_is_resolved_once(cases):
    resolve(cases["missing"], Resolution.WRITTEN_OFF)

    with pytest.raises(DiscrepancyAlreadyResolved):
        resolve(cases["missing"], Resolution.FIXED)

    assert JournalEntry.objects.filter(entry_type="reconciliation.resolution").count() == 1
    assert Discrepancy.objects.get(pk=cases["missing"].pk).resolution == Resolution.WRITTEN_OFF


def test_a_sale_paid_after_its_merchant_was_charged_for_it_is_given_back(
    traffic, settlement_faults, today, tomorrow, merchant
):
    payment = traffic("getnet").captured(16_000)
    settlement_faults.set("getnet", today, late=[payment["id"]])
    reconcile("getnet", today)
    owed = payable(merchant)
    resolve(Discrepancy.objects.get(payment_id=payment["id"], kind="missing"), Resolution.ACCEPTED)
    assert payable(merchant) == owed - 16_000

    reconcile("getnet", tomorrow)

    late = Discrepancy.objects.get(payment_id=payment["id"], kind="late")
    assert (late.amount, late.status) == (-16_000, CaseStatus.OPEN)
    assert Payment.objects.get(pk=payment["id"]).status == "settled"
    resolve(late, Resolution.ACCEPTED)
    assert payable(merchant) == owed
    assert receivable("getnet") == 0
    assert balance(chart.PLATFORM_SUSPENSE) == sum(
        Discrepancy.objects.filter(status=CaseStatus.OPEN).values_list("amount", flat=True)
    )
    assert verify() == []
