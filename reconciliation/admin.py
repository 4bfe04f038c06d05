"""Reconciliation for finance operators: reports (and uploading one), runs with their counts and
totals per class and a CSV of their result, every line, and the discrepancy cases with the
actions that resolve them. Nothing is edited by hand: uploads and resolutions go through
reconciliation.services, and everything else is read-only."""

import csv
from collections.abc import Iterable

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyModelAdmin
from core.errors import ApplicationError
from core.money import format_amount

from . import selectors, services
from .forms import ReportUploadForm
from .models import CaseKind, CaseStatus, Classification, Discrepancy, Line, Resolution, Run, SettlementReport, Source
from .tasks import reconcile_report


def _money(amount: int | None, currency: str) -> str:
    return "-" if amount is None else format_amount(amount, currency)


def _link(model: str, pk: object, text: object) -> str:
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{model}_change", args=[pk]), text)


@admin.register(SettlementReport)
class SettlementReportAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "provider", "business_date", "currency", "source", "status", "size_bytes", "received_at")
    list_filter = ("provider", "status", "source", "currency", "business_date")
    search_fields = ("sha256", "original_name", "received_by")
    date_hierarchy = "business_date"
    change_list_template = "admin/reconciliation/settlementreport/change_list.html"
    fields = (
        "provider",
        "business_date",
        "currency",
        "status",
        "error",
        "run_link",
        "source",
        "original_name",
        "received_by",
        "size_bytes",
        "sha256",
        "received_at",
    )
    readonly_fields = fields

    @admin.display(description="run")
    def run_link(self, report: SettlementReport) -> str:
        run = Run.objects.filter(report=report).first()
        return _link("reconciliation_run", run.pk, run) if run else "-"

    def has_upload_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("reconciliation.add_settlementreport")

    def get_urls(self) -> list[URLPattern]:
        upload = path(
            "upload/",
            self.admin_site.admin_view(self.upload_view),
            name="reconciliation_settlementreport_upload",
        )
        return [upload, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_upload": self.has_upload_permission(request)}
        return super().changelist_view(request, extra_context)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_upload_permission(request):
            raise PermissionDenied
        form = ReportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                report, new = services.report_receive(
                    provider=data["provider"],
                    business_date=data["business_date"],
                    currency=data["currency"],
                    source=Source.UPLOADED,
                    chunks=data["file"].chunks(),
                    original_name=data["file"].name[:255],
                    received_by=request.user.get_username(),
                )
            except ApplicationError as exc:
                form.add_error(None, exc.detail)
            else:
                if new:
                    transaction.on_commit(lambda: reconcile_report.delay(report.pk))
                    messages.success(request, f"Report #{report.pk} received; it is being reconciled.")
                else:
                    messages.warning(
                        request, f"This file was received before, as report #{report.pk}: not applied again."
                    )
                return redirect("admin:reconciliation_settlementreport_change", report.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Upload a settlement report",
            "form": form,
        }
        return TemplateResponse(request, "admin/reconciliation/settlementreport/upload.html", context)


@admin.register(Run)
class RunAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "provider",
        "business_date",
        "currency",
        "status",
        "line_count",
        "matched",
        "open_cases",
        "net_display",
        "settled_payments",
    )
    list_filter = ("provider", "status", "currency", "business_date")
    date_hierarchy = "business_date"
    fields = (
        "report_link",
        "provider",
        "business_date",
        "currency",
        "status",
        "summary_table",
        "line_count",
        "gross_display",
        "fee_display",
        "net_display",
        "settled_payments",
        "settlement_entry_link",
        "adjustment_entry_link",
        "links",
        "started_at",
        "completed_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Run]:
        open_cases = Count("discrepancies", filter=Q(discrepancies__status=CaseStatus.OPEN))
        return super().get_queryset(request).annotate(open_case_count=open_cases)

    @admin.display(description="matched")
    def matched(self, run: Run) -> int:
        return run.summary.get("lines", {}).get(Classification.MATCHED, {}).get("count", 0)

    @admin.display(description="open cases", ordering="open_case_count")
    def open_cases(self, run: Run) -> int:
        return run.open_case_count

    @admin.display(description="gross")
    def gross_display(self, run: Run) -> str:
        return _money(run.gross_total, run.currency)

    @admin.display(description="fees")
    def fee_display(self, run: Run) -> str:
        return _money(run.fee_total, run.currency)

    @admin.display(description="net to the bank", ordering="net_total")
    def net_display(self, run: Run) -> str:
        return _money(run.net_total, run.currency)

    @admin.display(description="report")
    def report_link(self, run: Run) -> str:
        return _link("reconciliation_settlementreport", run.report_id, run.report)

    @admin.display(description="settlement entry")
    def settlement_entry_link(self, run: Run) -> str:
        entry = run.settlement_entry_id
        return _link("ledger_journalentry", entry, entry) if entry else "-"

    @admin.display(description="adjustment entry")
    def adjustment_entry_link(self, run: Run) -> str:
        entry = run.adjustment_entry_id
        return _link("ledger_journalentry", entry, entry) if entry else "-"

    @admin.display(description="result")
    def links(self, run: Run) -> str:
        return format_html(
            '<a href="{}">Download the result (CSV)</a> · <a href="{}?run__id__exact={}">Lines</a> · '
            '<a href="{}?run__id__exact={}">Discrepancies</a>',
            reverse("admin:reconciliation_run_csv", args=[run.pk]),
            reverse("admin:reconciliation_line_changelist"),
            run.pk,
            reverse("admin:reconciliation_discrepancy_changelist"),
            run.pk,
        )

    @admin.display(description="by class")
    def summary_table(self, run: Run) -> str:
        currency = run.currency
        rows = [
            (
                Classification(name).label,
                totals["count"],
                *(_money(totals[key], currency) for key in ("gross", "fee", "net")),
            )
            for name, totals in run.summary.get("lines", {}).items()
        ]
        cases = [
            (CaseKind(name).label, totals["count"], _money(totals["amount"], currency))
            for name, totals in run.summary.get("cases", {}).items()
        ]
        return render_to_string("admin/reconciliation/run/summary.html", {"run": run, "rows": rows, "cases": cases})

    def get_urls(self) -> list[URLPattern]:
        csv_path = path("<int:run_id>/csv/", self.admin_site.admin_view(self.csv_view), name="reconciliation_run_csv")
        return [csv_path, *super().get_urls()]

    def csv_view(self, request: HttpRequest, run_id: int) -> StreamingHttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(Run, pk=run_id)
        response = StreamingHttpResponse(_csv(selectors.run_result_rows(run=run)), content_type="text/csv")
        filename = f"reconciliation-{run.provider}-{run.business_date}-{run.currency}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(rows: Iterable[tuple]) -> Iterable[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(selectors.CSV_COLUMNS)
    for row in rows:
        yield writer.writerow(row)


@admin.register(Line)
class LineAdmin(ReadOnlyModelAdmin):
    list_display = (
        "line_no",
        "run",
        "kind",
        "classification",
        "transaction_key",
        "sale_date",
        "gross",
        "fee",
        "payment",
    )
    list_filter = ("classification", "kind", "run__provider", "run__business_date")
    search_fields = ("transaction_key", "tid", "nsu", "order_reference", "payment__id")
    list_select_related = ("run", "payment")
    show_full_result_count = False  # a run has up to millions of lines: no COUNT(*) per page
    readonly_fields = [field.name for field in Line._meta.fields]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup == "run__id__exact" or super().lookup_allowed(lookup, value, request)


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "amount_display",
        "payment",
        "run",
        "resolution",
        "resolved_by",
        "created_at",
    )
    list_filter = ("status", "kind", "resolution", "counter_account", "run__provider", "currency", "run__business_date")
    search_fields = ("payment__id", "line__transaction_key", "line__tid", "note")
    list_select_related = ("run", "payment")
    actions = ("accept", "write_off", "mark_fixed")
    fields = (
        "run",
        "kind",
        "status",
        "amount_display",
        "counter_account",
        "payment",
        "refund",
        "line_link",
        "resolution",
        "resolved_by",
        "resolved_at",
        "resolution_entry_link",
        "note",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="held in suspense", ordering="amount")
    def amount_display(self, case: Discrepancy) -> str:
        side = "received less" if case.amount > 0 else "received more"
        return f"{format_amount(abs(case.amount), case.currency)} ({side})"

    @admin.display(description="line")
    def line_link(self, case: Discrepancy) -> str:
        return _link("reconciliation_line", case.line_id, case.line) if case.line_id else "-"

    @admin.display(description="resolution entry")
    def resolution_entry_link(self, case: Discrepancy) -> str:
        entry = case.resolution_entry_id
        return _link("ledger_journalentry", entry, entry) if entry else "-"

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup == "run__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("reconciliation.change_discrepancy")

    @admin.action(description="Accept the provider's figure", permissions=["resolve"])
    def accept(self, request: HttpRequest, queryset: QuerySet[Discrepancy]) -> None:
        self._resolve(request, queryset, Resolution.ACCEPTED)

    @admin.action(description="Write off", permissions=["resolve"])
    def write_off(self, request: HttpRequest, queryset: QuerySet[Discrepancy]) -> None:
        self._resolve(request, queryset, Resolution.WRITTEN_OFF)

    @admin.action(description="Mark fixed (the provider settles it later)", permissions=["resolve"])
    def mark_fixed(self, request: HttpRequest, queryset: QuerySet[Discrepancy]) -> None:
        self._resolve(request, queryset, Resolution.FIXED)

    def _resolve(self, request: HttpRequest, queryset: QuerySet[Discrepancy], resolution: Resolution) -> None:
        done = 0
        for case_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                services.discrepancy_resolve(
                    discrepancy_id=case_id, resolution=resolution, operator=request.user.get_username()
                )
            except ApplicationError as exc:
                messages.error(request, f"#{case_id}: {exc.detail}")
            else:
                done += 1
        if done:
            messages.success(request, f"{done} discrepancies {resolution.label}, each with its ledger entry.")
