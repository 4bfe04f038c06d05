"""Reconciliation: receive a provider's settlement report, match it against our payments, settle
what matches, park every difference in suspense as a case, and resolve cases.

A report is reconciled by one run, in two steps (docs/reconciliation.md):

1. classify and post, in one transaction: the lines are streamed into a staging table and
   classified in SQL (matching.py); cases are opened; the report's money is posted (one
   `settlement:{provider}:{day}:{currency}` entry: bank, provider fees, provider receivable) and
   so are the cases' differences (one `reconciliation:{provider}:{day}:{currency}:adjustment`
   entry: suspense against receivable or fees). Either all of it happens or none of it does, and
   a second run of the same day cannot be created (one run per provider, day and currency).
2. settle: the payments the report paid move `captured -> settled`, a batch per transaction, in
   payment-id order; the run records how far it got, so a retry resumes there.

Lock order: payment, then discrepancy, then (inside ledger.services.entry_post, last) ledger
accounts. No provider is called inside a transaction: a report is fetched, stored, then read.
"""

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Now

from core import tracing
from core.money import is_known_currency
from events.selectors import latest_trace_context
from ledger import chart
from ledger.models import JournalEntry
from ledger.services import PostingLine, entry_post, platform_account_get_or_create
from payments.accounting import merchant_payable
from payments.locks import lock_payment
from payments.settlement import payment_settle, payments_settle
from providers.settlement import LAYOUTS, LineKind, ReportFormatError
from providers.settlement.fetch import fetch_report

from . import matching, storage
from .errors import DiscrepancyAlreadyResolved, ReportRejected, ResolutionNotAllowed
from .locks import lock_discrepancy
from .models import (
    CaseKind,
    CaseStatus,
    Classification,
    CounterAccount,
    Discrepancy,
    Line,
    ReportStatus,
    Resolution,
    Run,
    RunStatus,
    SettlementReport,
    Source,
)

logger = logging.getLogger(__name__)

# Classes whose payment moves to settled with the run; an amount mismatch waits for its case.
SETTLED_WITH_THE_RUN = (Classification.MATCHED, Classification.LATE, Classification.FEE_MISMATCH)
AUTOMATIC = "reconciliation"  # who resolves the cases a later report settles


# --- receiving reports ------------------------------------------------------------------------
def report_receive(
    *,
    provider: str,
    business_date: date,
    currency: str,
    source: str,
    chunks: Iterable[bytes],
    original_name: str = "",
    received_by: str = "",
) -> tuple[SettlementReport, bool]:
    """Stores a report file; returns the report and whether it is new. The same content received
    again (by any way, for any day) is the report already received, and nothing is stored twice."""
    _check_report_details(provider=provider, currency=currency)
    with storage.IncomingFile() as incoming:
        for chunk in chunks:
            incoming.write(chunk)
    return _report_record(
        incoming,
        provider=provider,
        business_date=business_date,
        currency=currency,
        source=source,
        original_name=original_name,
        received_by=received_by,
    )


def report_fetch(*, provider: str, business_date: date, currency: str) -> tuple[SettlementReport, bool]:
    """Fetches the provider's report of a day (outside any transaction) and stores it.
    ReportUnavailable and ReportFetchFailed (providers.settlement.fetch) are for the caller to
    retry later."""
    _check_report_details(provider=provider, currency=currency)
    assert not transaction.get_connection().in_atomic_block, "never call a provider inside a transaction"
    with storage.IncomingFile() as incoming:
        fetch_report(provider=provider, business_date=business_date, currency=currency, into=incoming)
    return _report_record(
        incoming,
        provider=provider,
        business_date=business_date,
        currency=currency,
        source=Source.FETCHED,
        original_name=f"{provider}-{business_date:%Y%m%d}-{currency}",
    )


def _check_report_details(*, provider: str, currency: str) -> None:
    if provider not in LAYOUTS:
        raise ReportRejected(f"Unknown provider {provider!r}; expected one of {', '.join(LAYOUTS)}.")
    if not is_known_currency(currency):
        raise ReportRejected(f"Unknown currency {currency!r}.")


def _report_record(incoming: storage.IncomingFile, **details) -> tuple[SettlementReport, bool]:
    existing = SettlementReport.objects.filter(sha256=incoming.sha256).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            report = SettlementReport.objects.create(sha256=incoming.sha256, size_bytes=incoming.size, **details)
    except IntegrityError:  # the same file, received at the same moment by another process
        return SettlementReport.objects.get(sha256=incoming.sha256), False
    return report, True


# --- reconciling ------------------------------------------------------------------------------
def provider_day_reconcile(*, provider: str, business_date: date) -> list[Run]:
    """The nightly job of one provider: fetch the day's report in each settlement currency
    (RECONCILIATION_CURRENCIES) and reconcile it. A report that is rejected is logged and left to
    an operator (a retry would fetch the same file); one not available yet raises, to retry."""
    runs = []
    for currency in settings.RECONCILIATION_CURRENCIES:
        report, _ = report_fetch(provider=provider, business_date=business_date, currency=currency)
        try:
            runs.append(report_reconcile(report_id=report.pk))
        except ReportRejected as exc:  # a bad file is a refusal, not a bug: left to an operator
            logger.warning(
                "settlement report rejected", extra={"report_id": report.pk, "provider": provider, "error": exc.detail}
            )
    return runs


def report_reconcile(*, report_id: int) -> Run:
    """Reconciles a received report, or finishes reconciling it: safe to call again at any point
    (a retried task). Raises ReportRejected, and records why, for a report that cannot be."""
    with tracing.span("reconciliation run", **{"reconciliation.report.id": report_id}) as span:
        run = _report_reconcile(report_id)
        span.set_attributes(
            {
                "reconciliation.run.id": run.pk,
                "payment.provider": run.provider,
                "reconciliation.business_date": str(run.business_date),
                "reconciliation.status": run.status,
            }
        )
        _link_case_payments(run)
        return run


# A run may open thousands of cases: its span links to the traces of this many of their payments.
TRACE_LINKED_CASES = 32


def _link_case_payments(run: Run) -> None:
    """The run's trace is its own; it links to the traces of the payments it found a difference
    for (each payment's newest stored trace context), so an operator can go from one to the other."""
    if not tracing.enabled():
        return
    payment_ids = (
        Discrepancy.objects.filter(run=run, payment_id__isnull=False)
        .order_by("pk")
        .values_list("payment_id", flat=True)[:TRACE_LINKED_CASES]
    )
    for payment_id in payment_ids:
        context = latest_trace_context(aggregate_type="payment", aggregate_id=payment_id)
        tracing.link_current(context, **{"link.kind": "payment", "payment.id": payment_id})


def _report_reconcile(report_id: int) -> Run:
    report = SettlementReport.objects.get(pk=report_id)
    if report.status == ReportStatus.REJECTED:
        raise ReportRejected(report.error)
    run = Run.objects.filter(report=report).first() or _classify_and_post(report)
    if run.status != RunStatus.COMPLETED:
        _settle(run)
        run.refresh_from_db()
    return run


class _Steps(dict):
    """Seconds per step of a run, for its log line: where a night's time goes."""

    @contextlib.contextmanager
    def __call__(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = round(self.get(name, 0) + time.perf_counter() - started, 3)


def _classify_and_post(report: SettlementReport) -> Run:
    started = time.perf_counter()
    steps = _Steps()
    try:
        with transaction.atomic():
            run, created = _open_run(report)
            if created:
                _classify(run, report, steps)
            committing = time.perf_counter()
        steps["commit"] = round(time.perf_counter() - committing, 3)
    except ReportFormatError as exc:
        _reject(report, str(exc))
        raise ReportRejected(str(exc)) from exc
    except ReportRejected as exc:
        _reject(report, str(exc.detail))
        raise
    if created:
        logger.info(
            "settlement report classified and posted",
            extra={
                "run_id": run.pk,
                "provider": run.provider,
                "business_date": str(run.business_date),
                "lines": run.line_count,
                "seconds": round(time.perf_counter() - started, 3),
                "steps": steps,
            },
        )
    return run


def _open_run(report: SettlementReport) -> tuple[Run, bool]:
    """The report's new run; or, when another process reconciled it meanwhile, that run. A run of
    the same day from another file means this one is refused."""
    try:
        with transaction.atomic():
            run = Run.objects.create(
                report=report, provider=report.provider, business_date=report.business_date, currency=report.currency
            )
            return run, True
    except IntegrityError:
        other = Run.objects.get(provider=report.provider, business_date=report.business_date, currency=report.currency)
        if other.report_id == report.pk:
            return other, False
        raise ReportRejected(
            f"{report.provider}'s {report.business_date} in {report.currency} was already reconciled from report "
            f"#{other.report_id}; a day is settled once."
        ) from None


def _reject(report: SettlementReport, error: str) -> None:
    SettlementReport.objects.filter(pk=report.pk, status=ReportStatus.RECEIVED).update(
        status=ReportStatus.REJECTED, error=error[:2000]
    )
    logger.warning("settlement report rejected", extra={"report_id": report.pk, "error": error})


def _classify(run: Run, report: SettlementReport, steps: _Steps) -> None:
    layout = LAYOUTS[run.provider]
    matching.prepare_session()
    with steps("read and stage"), storage.open_report(report.sha256) as file:
        reader = layout.reader(file)
        if reader.header.business_date != run.business_date:
            raise ReportRejected(
                f"The file is {run.provider}'s report of {reader.header.business_date}, not of {run.business_date}."
            )
        line_count = matching.stage(reader)
    totals = reader.totals
    key = layout.match_key
    with steps("classify"):
        matching.resolve_missing_keys(provider=run.provider, key_field=key.line_field)
        matching.classify(
            run_id=run.pk,
            provider=run.provider,
            currency=run.currency,
            business_date=run.business_date,
            key_field=key.line_field,
            key_source=key.source,
            fee_bps=settings.PROVIDER_FEE_BPS[run.provider],
        )
    with steps("analyze"):
        matching.refresh_statistics()
    with steps("cases"):
        matching.open_cases(
            run_id=run.pk, provider=run.provider, currency=run.currency, business_date=run.business_date
        )
        paid_late = matching.missing_cases_paid_by(run_id=run.pk)
    matching.unstage()  # if the transaction fails instead, its rollback takes the table away

    with steps("summary and ledger"):
        run.line_count = line_count
        run.gross_total, run.fee_total, run.net_total = totals.gross, totals.fee, totals.net
        run.summary = {
            "lines": matching.line_summary(run_id=run.pk),
            "cases": matching.case_summary(run_id=run.pk),
            "paid_late": {"count": len(paid_late), "amount": sum(amount for _, amount in paid_late)},
        }
        run.settlement_entry = _post_settlement(run)
        run.adjustment_entry = _post_adjustment(run, paid_late)
        run.save()
        if paid_late:
            Discrepancy.objects.filter(pk__in=[case_id for case_id, _ in paid_late]).update(
                status=CaseStatus.RESOLVED,
                resolution=Resolution.FIXED,
                resolved_by=AUTOMATIC,
                resolved_at=Now(),
                resolution_entry=run.adjustment_entry,
                note=f"Found in {run.provider}'s report of {run.business_date}.",
            )
        SettlementReport.objects.filter(pk=report.pk).update(status=ReportStatus.RECONCILED)


def _accounts(run: Run):
    def account(code: str):
        return platform_account_get_or_create(code=code, currency=run.currency)

    return (
        account(chart.PLATFORM_BANK),
        account(chart.PLATFORM_PROVIDER_FEES),
        account(chart.PLATFORM_SUSPENSE),
        account(chart.provider_receivable_code(run.provider)),
    )


def _post(*, reference: str, entry_type: str, lines: list[PostingLine], run: Run) -> JournalEntry | None:
    lines = [line for line in lines if line.amount]
    if not lines:
        return None
    return entry_post(
        reference=reference,
        entry_type=entry_type,
        lines=lines,
        metadata={"run_id": run.pk, "report_id": run.report_id, "provider": run.provider},
    )


def _post_settlement(run: Run) -> JournalEntry | None:
    """What the report says the provider pays: the net to the bank, its fees to expense, the gross
    out of the receivable (refunds and chargebacks the other way round)."""
    bank, fees, _, receivable = _accounts(run)
    return _post(
        reference=f"settlement:{run.provider}:{run.business_date}:{run.currency}",
        entry_type="provider.settlement",
        lines=[
            PostingLine(account=bank, amount=run.net_total),
            PostingLine(account=fees, amount=run.fee_total),
            PostingLine(account=receivable, amount=-run.gross_total),
        ],
        run=run,
    )


def _post_adjustment(run: Run, paid_late: list[tuple[int, int]]) -> JournalEntry | None:
    """The new cases' differences into suspense, from the account each came out of; and the
    earlier `missing` cases this report paid back out of suspense into the receivable."""
    _, fees, suspense, receivable = _accounts(run)
    moved = matching.case_totals(run_id=run.pk)
    counter = {CounterAccount.RECEIVABLE: receivable, CounterAccount.PROVIDER_FEES: fees}
    lines = []
    for name, account in counter.items():
        amount = moved.get(name, 0)
        lines += [PostingLine(account=suspense, amount=amount), PostingLine(account=account, amount=-amount)]
    returned = sum(amount for _, amount in paid_late)
    lines += [PostingLine(account=receivable, amount=returned), PostingLine(account=suspense, amount=-returned)]
    return _post(
        reference=f"reconciliation:{run.provider}:{run.business_date}:{run.currency}:adjustment",
        entry_type="reconciliation.adjustment",
        lines=lines,
        run=run,
    )


def _settle(run: Run) -> None:
    """Moves the payments the run's lines paid to settled, a batch per transaction, resuming after
    the last batch that committed. In payment-id order: ids are time-ordered, so a day's payments
    are neighbours in the table and its indexes, and each batch writes pages the next one would
    otherwise read again (in the report's order, every batch writes all over the table)."""
    started = time.perf_counter()
    batch_size = settings.RECONCILIATION_SETTLE_BATCH_SIZE
    pending = (
        Line.objects.filter(
            run=run,
            kind=LineKind.SALE,
            classification__in=SETTLED_WITH_THE_RUN,
            payment_id__gt=run.settled_through_payment,
        )
        .order_by("payment_id")
        .values_list("payment_id", flat=True)
        .iterator(chunk_size=batch_size)  # a server-side cursor: the ids stream, they are not all held here
    )
    count = 0
    for batch in _batches(pending, batch_size):
        with transaction.atomic():
            settled = payments_settle(payment_ids=batch)
            Run.objects.filter(pk=run.pk).update(
                settled_through_payment=batch[-1], settled_payments=F("settled_payments") + len(settled)
            )
        count += len(settled)
    Run.objects.filter(pk=run.pk, status=RunStatus.SETTLING).update(status=RunStatus.COMPLETED, completed_at=Now())
    logger.info(
        "reconciliation run settled",
        extra={"run_id": run.pk, "payments": count, "seconds": round(time.perf_counter() - started, 3)},
    )


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- resolving cases --------------------------------------------------------------------------
# Where a case's amount goes when it leaves suspense.
ACCEPTABLE = {
    CaseKind.AMOUNT_MISMATCH,  # the merchant gets what the provider paid
    CaseKind.FEE_MISMATCH,  # the fee is what the provider charged
    CaseKind.MISSING,  # the provider never paid it: the merchant is not paid either
    CaseKind.CHARGEBACK,  # passed on to the merchant
    CaseKind.UNKNOWN,  # a refund we do not know of, on one of our payments: charged to its merchant
    CaseKind.LATE,  # paid after all, after the merchant was charged for it: the merchant gets it back
}


def discrepancy_resolve(*, discrepancy_id: int, resolution: str, operator: str, note: str = "") -> Discrepancy:
    """Resolves an open case with a ledger entry that takes its amount out of suspense:

    - `fixed`: the provider corrects it in a later settlement: back to the provider receivable;
    - `written_off`: the platform absorbs it (or keeps it): settlement write-offs, or chargeback
      losses for a chargeback;
    - `accepted`: the provider's figure stands: the difference is the merchant's (their payable),
      or, for a fee, the provider's fee.

    An amount mismatch's payment, which the provider did pay, is settled with the resolution."""
    resolution = Resolution(resolution)
    with transaction.atomic():
        payment_id = Discrepancy.objects.filter(pk=discrepancy_id).values_list("payment_id", flat=True).first()
        if payment_id and tracing.enabled():
            tracing.annotate(payment_id=payment_id, **{"reconciliation.discrepancy.id": discrepancy_id})
            tracing.link_current(latest_trace_context(aggregate_type="payment", aggregate_id=payment_id))
        payment = lock_payment(payment_id=payment_id) if payment_id else None
        case = lock_discrepancy(discrepancy_id=discrepancy_id)
        if case.status != CaseStatus.OPEN:
            raise DiscrepancyAlreadyResolved(f"Discrepancy #{case.pk} was already {case.get_resolution_display()}.")
        target = _resolution_account(case, resolution, payment)
        if case.kind == CaseKind.AMOUNT_MISMATCH and payment is not None:
            payment_settle(payment_id=payment.pk)
        suspense = platform_account_get_or_create(code=chart.PLATFORM_SUSPENSE, currency=case.currency)
        case.status, case.resolution = CaseStatus.RESOLVED, resolution
        case.resolved_by, case.note = operator, note[:500]
        case.resolution_entry = entry_post(
            reference=f"reconciliation:{case.pk}:resolution",
            entry_type="reconciliation.resolution",
            lines=[PostingLine(account=target, amount=case.amount), PostingLine(account=suspense, amount=-case.amount)],
            description=f"{case.get_kind_display()}: {resolution.label}",
            metadata={"discrepancy_id": case.pk, "run_id": case.run_id, "resolution": resolution.value},
        )
        case.resolved_at = case.resolution_entry.created_at
        case.save(update_fields=["status", "resolution", "resolved_by", "resolved_at", "note", "resolution_entry"])
    return case


def _resolution_account(case: Discrepancy, resolution: Resolution, payment):
    currency = case.currency
    if resolution == Resolution.FIXED:
        return platform_account_get_or_create(code=chart.provider_receivable_code(case.run.provider), currency=currency)
    if resolution == Resolution.WRITTEN_OFF:
        chargeback = case.kind == CaseKind.CHARGEBACK
        code = chart.PLATFORM_CHARGEBACK_LOSSES if chargeback else chart.PLATFORM_SETTLEMENT_WRITE_OFFS
        return platform_account_get_or_create(code=code, currency=currency)
    if case.kind == CaseKind.FEE_MISMATCH:
        return platform_account_get_or_create(code=chart.PLATFORM_PROVIDER_FEES, currency=currency)
    late_refund = case.kind == CaseKind.LATE and case.line is not None and case.line.refund_id is not None
    if case.kind == CaseKind.REFUND_MISSING or late_refund:
        # The merchant paid for the refund when it succeeded (refund.succeeded): crediting them now
        # would give them the cardholder's money; charging them, for a late deduction, charges twice.
        raise ResolutionNotAllowed(
            f"Discrepancy #{case.pk} ({case.get_kind_display()}) is about a refund the cardholder already "
            "received and the merchant already paid for: the provider's figure is not the merchant's to bear. "
            "Mark it fixed (the provider deducts it later) or write it off."
        )
    if case.kind not in ACCEPTABLE or payment is None:
        raise ResolutionNotAllowed(
            f"Discrepancy #{case.pk} ({case.get_kind_display()}) has no merchant to take the provider's figure: "
            "write it off or mark it fixed."
        )
    return merchant_payable(payment)
