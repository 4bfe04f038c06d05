"""`manage.py reconcile --provider X --file F --date D`, and without --file, fetched."""

import io
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from payments.models import Payment
from reconciliation.models import Line, Run, SettlementReport

pytestmark = pytest.mark.django_db(transaction=True)


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("reconcile", *args, stdout=out)
    return out.getvalue()


def download(sandbox, day) -> bytes:
    """Cielo's report of the day, as an operator would have saved it."""
    config = settings.PROVIDERS["cielo"]
    headers = {"MerchantId": config["merchant_id"], "MerchantKey": config["merchant_key"]}
    response = httpx.get(f"{sandbox.url}/cielo/1/edi/payments/{day:%Y%m%d}", headers=headers)
    assert response.status_code == 200
    return response.content


def test_a_file_is_reconciled_once_and_recognised_the_second_time(traffic, sandbox, today, tmp_path):
    pay = traffic("cielo")
    payments = [pay.captured(10_000), pay.captured(20_000)]
    report_file = tmp_path / "cielo-extrato.txt"
    report_file.write_bytes(download(sandbox, today))

    first = run_command("--provider", "cielo", "--file", str(report_file), "--date", today.isoformat())

    assert "matched" in first
    assert "Settled 2 payments" in first
    assert all(Payment.objects.get(pk=payment["id"]).status == "settled" for payment in payments)
    lines = Line.objects.count()

    second = run_command("--provider", "cielo", "--file", str(report_file), "--date", today.isoformat())

    assert "received before" in second
    assert SettlementReport.objects.count() == Run.objects.count() == 1
    assert Line.objects.count() == lines
    assert SettlementReport.objects.get().source == "command"


def test_without_a_file_the_report_is_fetched_from_the_provider(traffic, today):
    payment = traffic("rede").captured(10_000)

    output = run_command("--provider", "rede", "--date", today.isoformat())

    assert "Settled 1 payments" in output
    assert Payment.objects.get(pk=payment["id"]).status == "settled"
    assert SettlementReport.objects.get().source == "fetched"


def test_a_file_whose_trailer_disagrees_with_its_lines_is_rejected(sandbox, today, tmp_path):
    text = download(sandbox, today).decode("latin-1")
    trailer = text.rstrip("\r\n").rsplit("\r\n", 1)[-1]
    wrong = trailer[:13] + f"{int(trailer[13:30]) + 1:017d}" + trailer[30:]  # the net total, one cent more
    report_file = tmp_path / "tampered.txt"
    report_file.write_bytes(text.replace(trailer, wrong).encode("latin-1"))

    with pytest.raises(CommandError, match="the trailer says"):
        run_command("--provider", "cielo", "--file", str(report_file), "--date", today.isoformat())

    report = SettlementReport.objects.get()
    assert report.status == "rejected"
    assert "the trailer says" in report.error
    assert not Run.objects.exists()


def test_a_report_of_another_day_is_rejected(sandbox, today, tmp_path):
    report_file = tmp_path / "cielo.txt"
    report_file.write_bytes(download(sandbox, today))

    with pytest.raises(CommandError, match=f"report of {today}, not of {today + timedelta(days=1)}"):
        run_command(
            "--provider", "cielo", "--file", str(report_file), "--date", (today + timedelta(days=1)).isoformat()
        )

    assert not Run.objects.exists()
