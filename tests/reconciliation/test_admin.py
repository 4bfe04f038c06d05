"""The operators' pages: upload a report, see its run by class with totals, download its result,
find discrepancies and resolve them; nothing else can be changed by hand."""

import csv
import io
from datetime import date

import pytest
from django.contrib.admin.sites import site
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ledger.verification import verify
from providers.settlement import LAYOUTS, LineKind, ReportHeader, SettlementLine
from reconciliation.models import CaseStatus, Discrepancy, Line, Run, SettlementReport

pytestmark = pytest.mark.django_db

DAY = date(2025, 3, 10)


def report_file(*amounts: int) -> bytes:
    """A Getnet report of DAY paying sales nobody here made."""
    lines = [
        SettlementLine(LineKind.SALE, DAY, amount, 0, amount, f"{i:020d}", f"{i:06d}", "123456", f"order-{i}")
        for i, amount in enumerate(amounts, start=1)
    ]
    out = io.StringIO(newline="")
    LAYOUTS["getnet"].write(out, ReportHeader(DAY, DAY, "123456789012345"), [lines])
    return out.getvalue().encode("latin-1")


def upload(admin_client, content: bytes, capture_on_commit):
    data = {"provider": "getnet", "business_date": DAY.isoformat(), "currency": "BRL"}
    with capture_on_commit(execute=True):
        return admin_client.post(
            reverse("admin:reconciliation_settlementreport_upload"),
            {**data, "file": SimpleUploadedFile("getnet.txt", content, content_type="text/plain")},
            follow=True,
        )


def test_an_uploaded_report_is_reconciled_and_shown_by_class_with_its_totals(
    admin_client, django_capture_on_commit_callbacks
):
    reports = admin_client.get(reverse("admin:reconciliation_settlementreport_changelist"))
    assert reports.status_code == 200
    assert reverse("admin:reconciliation_settlementreport_upload") in reports.text
    assert admin_client.get(reverse("admin:reconciliation_settlementreport_upload")).status_code == 200

    page = upload(admin_client, report_file(10_000, 2_550), django_capture_on_commit_callbacks)

    assert page.status_code == 200
    assert "being reconciled" in page.text
    run = Run.objects.get()
    assert (run.report.status, run.report.received_by, run.line_count) == ("reconciled", "admin", 2)
    run_page = admin_client.get(reverse("admin:reconciliation_run_change", args=[run.pk]))
    assert run_page.status_code == 200
    assert "unknown to us" in run_page.text
    assert "125.50 BRL" in run_page.text  # the day's gross
    listing = admin_client.get(reverse("admin:reconciliation_run_changelist"))
    assert listing.status_code == 200
    assert "125.50 BRL" in listing.text

    again = upload(admin_client, report_file(10_000, 2_550), django_capture_on_commit_callbacks)

    assert "received before" in again.text
    assert SettlementReport.objects.count() == Run.objects.count() == 1


def test_the_result_of_a_run_downloads_as_csv(admin_client, django_capture_on_commit_callbacks):
    upload(admin_client, report_file(10_000, 2_550), django_capture_on_commit_callbacks)
    run = Run.objects.get()

    response = admin_client.get(reverse("admin:reconciliation_run_csv", args=[run.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["line_no"], row["classification"], row["gross"], row["case_kind"]) for row in rows] == [
        ("1", "unknown", "10000", "unknown"),
        ("2", "unknown", "2550", "unknown"),
    ]
    assert rows[0]["case_amount"] == "-10000"


def test_operators_filter_discrepancies_and_resolve_them_in_bulk(admin_client, django_capture_on_commit_callbacks):
    upload(admin_client, report_file(10_000, 2_550), django_capture_on_commit_callbacks)
    url = reverse("admin:reconciliation_discrepancy_changelist")

    listing = admin_client.get(url, {"status__exact": "open", "kind__exact": "unknown"})
    assert listing.status_code == 200
    assert "100.00 BRL (received more)" in listing.text
    cases = list(Discrepancy.objects.values_list("pk", flat=True))

    response = admin_client.post(url, {"action": "write_off", "_selected_action": cases}, follow=True)

    assert response.status_code == 200
    assert "2 discrepancies written off" in response.text
    assert not Discrepancy.objects.filter(status=CaseStatus.OPEN).exists()
    case = Discrepancy.objects.get(pk=cases[0])
    case_page = admin_client.get(reverse("admin:reconciliation_discrepancy_change", args=[case.pk]))
    assert case_page.status_code == 200
    assert reverse("admin:ledger_journalentry_change", args=[case.resolution_entry_id]) in case_page.text
    assert verify() == []


def test_an_action_that_does_not_apply_is_refused_and_said_so(admin_client, django_capture_on_commit_callbacks):
    upload(admin_client, report_file(10_000), django_capture_on_commit_callbacks)
    case = Discrepancy.objects.get()

    response = admin_client.post(
        reverse("admin:reconciliation_discrepancy_changelist"),
        {"action": "accept", "_selected_action": [case.pk]},
        follow=True,
    )

    assert f"#{case.pk}: Discrepancy #{case.pk} (unknown to us) has no merchant" in response.text
    assert Discrepancy.objects.get().status == CaseStatus.OPEN


@pytest.mark.parametrize("model", [SettlementReport, Run, Line, Discrepancy])
def test_nobody_edits_reconciliation_records_by_hand(
    admin_client, admin_user, rf, model, django_capture_on_commit_callbacks
):
    upload(admin_client, report_file(10_000), django_capture_on_commit_callbacks)
    request = rf.get("/")
    request.user = admin_user
    model_admin = site._registry[model]
    obj = model.objects.first()

    assert model_admin.has_view_permission(request, obj)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    name = model._meta.model_name
    assert admin_client.get(reverse(f"admin:reconciliation_{name}_change", args=[obj.pk])).status_code == 200
    assert admin_client.post(reverse(f"admin:reconciliation_{name}_change", args=[obj.pk]), {}).status_code == 403
