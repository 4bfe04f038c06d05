"""Reconciliation reads."""

from collections.abc import Iterator
from datetime import date, timedelta

from django.db import connection

from .models import Discrepancy, Line, Run

CSV_COLUMNS = (
    "line_no",
    "kind",
    "classification",
    "sale_date",
    "currency",
    "gross",
    "fee",
    "net",
    "expected_gross",
    "expected_fee",
    "transaction_key",
    "tid",
    "nsu",
    "authorization_code",
    "order_reference",
    "payment",
    "refund",
    "case",
    "case_kind",
    "case_amount",
    "case_status",
)


def database_yesterday() -> date:
    """Yesterday, UTC, by the database's clock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_TIMESTAMP")
        (now,) = cursor.fetchone()
    return now.date() - timedelta(days=1)


def run_result_rows(*, run: Run) -> Iterator[tuple]:
    """Every line of the run with its classification and case, then every payment the report
    should have paid and every refund it should have deducted and did not, as CSV_COLUMNS;
    streamed from the database."""
    lines = (
        Line.objects.filter(run=run)
        .order_by("line_no")
        .values_list(
            "line_no",
            "kind",
            "classification",
            "sale_date",
            "gross",
            "fee",
            "net",
            "expected_gross",
            "expected_fee",
            "transaction_key",
            "tid",
            "nsu",
            "authorization_code",
            "order_reference",
            "payment_id",
            "refund_id",
            "discrepancy__id",
            "discrepancy__kind",
            "discrepancy__amount",
            "discrepancy__status",
        )
    )
    for line_no, kind, classification, sale_date, *amounts_and_ids in lines.iterator(chunk_size=5_000):
        yield (line_no, kind, classification, sale_date.isoformat(), run.currency, *amounts_and_ids)
    missing = Discrepancy.objects.filter(run=run, line__isnull=True).order_by("pk")
    for case in missing.iterator():
        yield (
            *("", "", "", ""),
            case.currency,
            *("", "", "", "", ""),
            *("", "", "", "", ""),
            case.payment_id,
            case.refund_id or "",
            case.pk,
            case.kind,
            case.amount,
            case.status,
        )
