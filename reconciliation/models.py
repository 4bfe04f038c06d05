"""Settlement reports, the runs that reconcile them, every line's classification, and the
discrepancy cases operators resolve. See docs/reconciliation.md.

Amounts are signed minor units. A line's amounts are signed from our side (a sale positive, a
refund or chargeback negative). A case's `amount` is what it holds in `platform:suspense`,
debit-positive like the ledger: positive when we received less than we expected, negative when
we received more.
"""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from providers.settlement import LineKind


class Source(models.TextChoices):
    FETCHED = "fetched", "fetched from the provider"
    UPLOADED = "uploaded", "uploaded by an operator"
    COMMAND = "command", "given to manage.py reconcile"


class ReportStatus(models.TextChoices):
    RECEIVED = "received"  # stored, not reconciled yet
    RECONCILED = "reconciled"
    REJECTED = "rejected"  # malformed, contradicts itself, or its day was reconciled from another file


class SettlementReport(models.Model):
    """A report file as it arrived, stored under RECONCILIATION_REPORTS_DIR by its content hash:
    the same file twice is the same report."""

    provider = models.CharField(max_length=16)
    business_date = models.DateField(help_text="The day whose transactions the report settles.")
    currency = models.CharField(max_length=3)
    sha256 = models.CharField(max_length=64, unique=True, help_text="Of the file's content.")
    size_bytes = models.BigIntegerField()
    original_name = models.CharField(max_length=255, blank=True, default="")
    source = models.CharField(max_length=16, choices=Source.choices)
    received_by = models.CharField(max_length=150, blank=True, default="", help_text="The operator who uploaded it.")
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.RECEIVED)
    error = models.TextField(blank=True, default="", help_text="Why the report was rejected.")
    received_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        indexes = [models.Index(fields=["provider", "business_date"], name="recon_report_day_idx")]

    def __str__(self) -> str:
        return f"{self.provider} {self.business_date} {self.currency} ({self.sha256[:12]})"


class RunStatus(models.TextChoices):
    SETTLING = "settling"  # classified, money posted; matched payments being moved to settled
    COMPLETED = "completed"


class Run(models.Model):
    """The reconciliation of one report: at most one per provider, day and currency, so that a
    day is never settled twice."""

    report = models.OneToOneField(SettlementReport, on_delete=models.PROTECT, related_name="run")
    provider = models.CharField(max_length=16)
    business_date = models.DateField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.SETTLING)
    line_count = models.PositiveIntegerField(default=0)
    gross_total = models.BigIntegerField(default=0, help_text="As the report's trailer states them.")
    fee_total = models.BigIntegerField(default=0)
    net_total = models.BigIntegerField(default=0)
    summary = models.JSONField(
        default=dict, help_text='Per classification: {"count", "gross", "fee", "net"}; "missing" for payments.'
    )
    settlement_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    adjustment_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Settling goes through the run's payments in id order, a batch per transaction; a retried run
    # resumes after the last payment whose batch committed.
    settled_through_payment = models.CharField(max_length=40, blank=True, default="")
    settled_payments = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(db_default=Now(), editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "business_date", "currency"], name="recon_one_run_per_day"),
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="recon_run_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.business_date} {self.currency}"


class Classification(models.TextChoices):
    MATCHED = "matched"
    LATE = "late", "late (a sale of another day)"
    AMOUNT_MISMATCH = "amount_mismatch", "amount mismatch"
    FEE_MISMATCH = "fee_mismatch", "fee mismatch"
    UNKNOWN = "unknown", "unknown to us"
    DUPLICATE = "duplicate"
    ALREADY_SETTLED = "already_settled", "already settled"
    CHARGEBACK = "chargeback"


# The provider paid the sale: its payment is settled by this line and by no other, ever.
SETTLING_CLASSES = (
    Classification.MATCHED,
    Classification.LATE,
    Classification.FEE_MISMATCH,
    Classification.AMOUNT_MISMATCH,
)


class Line(models.Model):
    """One line of a report, as read, with what it matched and how it was classified.

    A night writes up to millions of these, so they reference their run, payment, refund and dispute
    without database foreign keys: checking one locks the referenced row (FOR KEY SHARE), which
    for a million lines rewrites a million payment rows' headers and takes longer than the rest of
    the import. The references come only from the matcher's joins on those tables, in the run's
    transaction, and runs, payments, refunds and disputes are never deleted (PROTECT everywhere)."""

    # Indexed by (run, line_no) below.
    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="lines", db_constraint=False, db_index=False)
    line_no = models.PositiveIntegerField(help_text="Its position among the report's lines.")
    kind = models.CharField(max_length=16, choices=[(kind.value, kind.value) for kind in LineKind])
    sale_date = models.DateField()
    gross = models.BigIntegerField()
    fee = models.BigIntegerField()
    net = models.BigIntegerField()
    transaction_key = models.CharField(max_length=64, help_text="The field the provider's layout identifies it by.")
    tid = models.CharField(max_length=64, blank=True, default="")
    nsu = models.CharField(max_length=16, blank=True, default="")
    authorization_code = models.CharField(max_length=16, blank=True, default="")
    order_reference = models.CharField(max_length=64, blank=True, default="")
    provider_payment_id = models.CharField(max_length=64, blank=True, default="")
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    refund = models.ForeignKey(
        "payments.Refund",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # A chargeback line's dispute: we heard of it (and took its amount from the merchant) when it
    # opened, so the line only confirms it.
    dispute = models.ForeignKey(
        "payments.Dispute",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    classification = models.CharField(max_length=16, choices=Classification.choices)
    expected_gross = models.BigIntegerField(null=True, blank=True, help_text="What we captured.")
    expected_fee = models.BigIntegerField(null=True, blank=True, help_text="The contract's fee on the gross.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "line_no"], name="recon_line_position_unique"),
            # The database, not the matcher, guarantees that a sale is settled once.
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(kind=LineKind.SALE.value, classification__in=SETTLING_CLASSES),
                name="recon_payment_settled_once",
            ),
            models.UniqueConstraint(
                fields=["refund"], condition=Q(refund__isnull=False), name="recon_refund_matched_once"
            ),
            models.UniqueConstraint(
                fields=["dispute"], condition=Q(dispute__isnull=False), name="recon_dispute_matched_once"
            ),
            models.CheckConstraint(
                condition=Q(classification__in=Classification.values), name="recon_line_class_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"line {self.line_no} of {self.run}"


class CaseKind(models.TextChoices):
    AMOUNT_MISMATCH = "amount_mismatch", "amount mismatch"
    FEE_MISMATCH = "fee_mismatch", "fee mismatch"
    MISSING = "missing", "missing in the report"
    UNKNOWN = "unknown", "unknown to us"
    DUPLICATE = "duplicate"
    ALREADY_SETTLED = "already_settled", "already settled"
    CHARGEBACK = "chargeback"
    LATE = "late", "paid after it was written off"
    REFUND_MISSING = "refund_missing", "refund missing in the report"


class CounterAccount(models.TextChoices):
    """The account the case's amount came out of (or went into) when it was moved to suspense."""

    RECEIVABLE = "receivable", "provider receivable"
    PROVIDER_FEES = "provider_fees", "provider fees"


class CaseStatus(models.TextChoices):
    OPEN = "open"
    RESOLVED = "resolved"


class Resolution(models.TextChoices):
    ACCEPTED = "accepted", "the provider's figure accepted"
    WRITTEN_OFF = "written_off", "written off"
    FIXED = "fixed", "fixed (settled by the provider later)"


class Discrepancy(models.Model):
    """A difference between a report and our books, parked in `platform:suspense` by its run's
    adjustment entry until an operator (or a later report) resolves it with an entry of its own."""

    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="discrepancies")
    line = models.OneToOneField(Line, on_delete=models.PROTECT, null=True, blank=True, related_name="discrepancy")
    payment = models.ForeignKey("payments.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # A `refund_missing` case's refund: no line names it, so the case does.
    refund = models.ForeignKey("payments.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=16, choices=CaseKind.choices)
    counter_account = models.CharField(max_length=16, choices=CounterAccount.choices)
    amount = models.BigIntegerField(help_text="Held in suspense; positive: we received less than expected.")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True, default="")
    resolved_by = models.CharField(max_length=150, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_entry = models.ForeignKey(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        verbose_name_plural = "discrepancies"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="recon_case_amount_not_zero"),
            models.CheckConstraint(
                condition=(Q(status=CaseStatus.OPEN) & Q(resolution="") & Q(resolution_entry__isnull=True))
                | (Q(status=CaseStatus.RESOLVED) & ~Q(resolution="") & Q(resolution_entry__isnull=False)),
                name="recon_case_resolution_consistent",
            ),
            # A payment is missing from one report at most: the report of the day it was captured.
            models.UniqueConstraint(
                fields=["payment"], condition=Q(kind=CaseKind.MISSING), name="recon_payment_missing_once"
            ),
            # Likewise a refund: from the report of the day it succeeded.
            models.UniqueConstraint(
                fields=["refund"], condition=Q(kind=CaseKind.REFUND_MISSING), name="recon_refund_missing_once"
            ),
        ]
        indexes = [models.Index(fields=["status", "kind"], name="recon_case_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"
