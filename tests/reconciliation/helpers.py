"""Short ways to make payments through the API, fetch and reconcile a day's report, and read
what a run decided."""

from dataclasses import dataclass
from datetime import date

import httpx

from ledger import chart
from ledger.selectors import account_balance
from ledger.services import platform_account_get_or_create
from reconciliation import services
from reconciliation.models import Discrepancy, Line, Run
from tests.payments.helpers import captured_payment, refund


class SettlementFaults:
    """The sandbox's settlement-report faults, set through /_control/settlement."""

    def __init__(self, url: str):
        self.url = f"{url}/_control/settlement"

    def set(self, provider: str, day: date, **faults: object) -> None:
        response = httpx.post(self.url, json={"provider": provider, "date": day.isoformat(), **faults})
        assert response.status_code == 200, response.text

    def clear(self) -> None:
        assert httpx.delete(self.url).status_code == 200


@dataclass
class Traffic:
    """A merchant's payments through the API, each captured at once by the named provider."""

    api: object
    provider: str

    def captured(self, amount: int) -> dict:
        return captured_payment(self.api, amount=amount, provider=self.provider)

    def refunded(self, payment: dict, amount: int) -> dict:
        response = refund(self.api, payment["id"], amount)
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "succeeded", response.json()
        return response.json()


def reconcile(provider: str, day: date, currency: str = "BRL") -> Run:
    """The nightly job's two steps: fetch the day's report from the provider, reconcile it."""
    report, _ = services.report_fetch(provider=provider, business_date=day, currency=currency)
    return services.report_reconcile(report_id=report.pk)


def lines_of(run: Run, payment: dict) -> list[Line]:
    return list(Line.objects.filter(run=run, payment_id=payment["id"]).order_by("line_no"))


def classes_of(run: Run, payment: dict) -> list[tuple[str, str]]:
    return [(line.kind, line.classification) for line in lines_of(run, payment)]


def cases_of(payment: dict) -> list[tuple[str, int, str]]:
    cases = Discrepancy.objects.filter(payment_id=payment["id"]).order_by("pk")
    return [(case.kind, case.amount, case.status) for case in cases]


def balance(code: str, currency: str = "BRL") -> int:
    return account_balance(account=platform_account_get_or_create(code=code, currency=currency))


def receivable(provider: str, currency: str = "BRL") -> int:
    return balance(chart.provider_receivable_code(provider), currency)
