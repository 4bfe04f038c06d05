from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.money import format_amount
from providers.settlement import LAYOUTS
from providers.settlement.fetch import ReportFetchFailed, ReportUnavailable
from reconciliation import services, storage
from reconciliation.errors import ReportRejected
from reconciliation.models import Source


class Command(BaseCommand):
    help = (
        "Reconciles a provider's settlement report of a day: the given file, or, without --file, the report "
        "fetched from the provider. The same file twice is recognised and not applied again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", required=True, choices=sorted(LAYOUTS))
        parser.add_argument("--date", required=True, type=date.fromisoformat, help="the report's day, YYYY-MM-DD")
        parser.add_argument("--file", type=Path, help="the report file; fetched from the provider when left out")
        parser.add_argument("--currency", default="BRL")

    def handle(self, *args, provider: str, date: date, file: Path | None, currency: str, **options) -> None:
        try:
            if file is None:
                report, new = services.report_fetch(provider=provider, business_date=date, currency=currency)
            else:
                if not file.is_file():
                    raise CommandError(f"{file}: no such file")
                report, new = services.report_receive(
                    provider=provider,
                    business_date=date,
                    currency=currency,
                    source=Source.COMMAND,
                    chunks=storage.file_chunks(file),
                    original_name=file.name[:255],
                )
            if not new:
                self.stdout.write(
                    f"This file was received before, as report #{report.pk} ({report.provider}, "
                    f"{report.business_date}, {report.currency}): it is not applied again."
                )
            run = services.report_reconcile(report_id=report.pk)
        except (ReportRejected, ReportUnavailable, ReportFetchFailed) as exc:
            raise CommandError(f"not reconciled: {getattr(exc, 'detail', exc)}") from exc
        self.stdout.write(f"Report #{report.pk}, run #{run.pk} ({run.status}): {run.line_count} lines")
        for name, totals in sorted(run.summary.get("lines", {}).items()):
            self.stdout.write(
                f"  {name:<16} {totals['count']:>9}  gross {format_amount(totals['gross'], run.currency)}"
            )
        for name, totals in sorted(run.summary.get("cases", {}).items()):
            self.stdout.write(
                f"  case {name:<11} {totals['count']:>9}  {format_amount(totals['amount'], run.currency)}"
            )
        net = format_amount(run.net_total, run.currency)
        self.stdout.write(self.style.SUCCESS(f"Settled {run.settled_payments} payments; net {net} to the bank."))
