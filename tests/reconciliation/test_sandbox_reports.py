"""The sandbox's settlement reports: what each simulated acquirer really processed that day, less
its fee, in its own layout, behind its own authentication, fetched the way the nightly job does."""

import io
from datetime import UTC, datetime

import httpx
import pytest

from providers import registry
from providers.settlement import LAYOUTS, KeySource, LineKind
from providers.settlement.fetch import ReportFetchFailed, fetch_report
from tests.providers.support import authorize, capture, refund

FEE_BPS = {"cielo": 199, "rede": 185, "getnet": 210}


def fetched(provider: str, day, currency: str = "BRL") -> list:
    buffer = io.BytesIO()
    fetch_report(provider=provider, business_date=day, currency=currency, into=buffer)
    reader = LAYOUTS[provider].reader(io.StringIO(buffer.getvalue().decode("latin-1"), newline=""))
    return list(reader)


@pytest.mark.parametrize("provider", ["cielo", "rede", "getnet"])
def test_a_day_s_report_holds_its_captures_less_the_fee_and_its_refunds(provider):
    adapter = registry.get_provider(provider)
    order, authorization = authorize(adapter, amount=30_000)
    reference = authorization.provider_reference
    assert capture(adapter, reference, 30_000).outcome == "approved"
    assert refund(adapter, reference, 4_000).outcome == "approved"
    day = datetime.now(UTC).date()

    lines = fetched(provider, day)

    match_key = LAYOUTS[provider].match_key
    ours = order if match_key.source == KeySource.ORDER_REFERENCE else reference
    sales = [line for line in lines if line.kind == LineKind.SALE and getattr(line, match_key.line_field) == ours]
    fee = (30_000 * FEE_BPS[provider] + 5_000) // 10_000
    assert [(line.kind, line.sale_date, line.gross, line.fee, line.net) for line in sales] == [
        ("sale", day, 30_000, fee, 30_000 - fee)
    ]
    refunds = [line for line in lines if line.kind == LineKind.REFUND and line.nsu == sales[0].nsu]
    assert [(line.gross, line.sale_date) for line in refunds] == [(-4_000, day)]
    assert all(getattr(line, match_key.line_field) != ours for line in fetched(provider, day, currency="USD"))


def test_a_report_needs_the_provider_s_credentials(sandbox):
    day = datetime.now(UTC).date()

    assert httpx.get(f"{sandbox.url}/cielo/1/edi/payments/{day:%Y%m%d}").status_code == 401
    assert httpx.get(f"{sandbox.url}/rede/v1/edi/{day:%Y%m%d}", auth=("sandbox-pv", "wrong")).status_code == 401


def test_an_unreachable_provider_is_a_failed_fetch_to_retry(sandbox):
    httpx.post(f"{sandbox.url}/_control/faults", json={"provider": "getnet", "outage": True}).raise_for_status()

    with pytest.raises(ReportFetchFailed, match="getnet"):
        fetched("getnet", datetime.now(UTC).date())


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"provider": "stone", "date": "2025-01-15"}, "provider must be one of"),
        ({"provider": "cielo", "date": "15/01/2025"}, "Invalid isoformat"),
        ({"provider": "cielo", "date": "2025-01-15", "lost": 1}, "unknown faults: lost"),
        ({"provider": "cielo", "date": "2025-01-15", "unknown": ["pay_1"]}, "unknown takes a count"),
        ({"provider": "cielo", "date": "2025-01-15", "missing": "pay_1"}, "missing takes a count or a list"),
    ],
)
def test_settlement_faults_are_checked_before_they_are_kept(sandbox, spec, error):
    control = f"{sandbox.url}/_control/settlement"

    response = httpx.post(control, json=spec)

    assert response.status_code == 400
    assert error in response.json()["error"]
    assert httpx.get(control).json() == []
