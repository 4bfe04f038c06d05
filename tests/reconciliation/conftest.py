"""Reconciliation against the provider sandbox (tests/fixtures/sandbox.py): payments are made
through the API, the sandbox writes the day's settlement report from what it processed, with the
faults a test sets through its control resource, and the report is fetched over HTTP the way the
nightly job fetches it.

The sandbox lives for the whole session, so a day's report also holds what other tests made
that day; their payments are gone from the database by then, so those lines are unknown to us.
Tests assert on their own payments' lines, and on balances that hold whatever else is there."""

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from django.db import connection

from tests.reconciliation.helpers import SettlementFaults, Traffic


@pytest.fixture(autouse=True)
def reports_dir(settings, tmp_path):
    settings.RECONCILIATION_REPORTS_DIR = str(tmp_path / "settlement_reports")
    return tmp_path / "settlement_reports"


@pytest.fixture(autouse=True)
def settlement_faults(sandbox_providers) -> Iterator[SettlementFaults]:
    faults = SettlementFaults(sandbox_providers.url)
    faults.clear()
    yield faults
    faults.clear()


@pytest.fixture
def today() -> date:
    """Today (UTC) by the database's clock, the day captures are reconciled under."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_TIMESTAMP")
        return cursor.fetchone()[0].date()


@pytest.fixture
def tomorrow(today) -> date:
    return today + timedelta(days=1)


@pytest.fixture
def traffic(api):
    """`traffic("cielo").captured(10_000)`: payments of the test's merchant through one provider."""
    return lambda provider: Traffic(api, provider)
