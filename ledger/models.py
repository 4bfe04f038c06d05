"""A generic double-entry ledger: accounts, journal entries and their postings.

Sign convention: a posting's `amount` is signed minor units, positive = debit, negative = credit.
`Account.balance` is the sum of the account's postings in that same convention, so a liability
that holds money has a negative `balance`; `Account.natural_balance` turns it the other way round.

Entries and postings are append-only. The database refuses UPDATE and DELETE on them and, on
PostgreSQL, refuses at commit any entry that does not balance (see migration 0002 and
docs/ledger.md). Only an account's `balance`, `version`, `updated_at` and `name` ever change.
"""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now

from core.ids import new_id


def new_entry_id() -> str:
    return new_id("je")


class AccountType(models.TextChoices):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"


class NormalBalance(models.TextChoices):
    DEBIT = "debit"
    CREDIT = "credit"


class Account(models.Model):
    code = models.CharField(max_length=200, help_text="e.g. merchant:mer_X:payable, platform:fees")
    currency = models.CharField(max_length=3)
    type = models.CharField(max_length=16, choices=AccountType.choices)
    normal_balance = models.CharField(
        max_length=6,
        choices=NormalBalance.choices,
        help_text="The side that increases the account. Differs from the type's usual side only for contra accounts.",
    )
    name = models.CharField(max_length=200)
    balance = models.BigIntegerField(default=0, help_text="Sum of the postings, minor units, debit positive.")
    version = models.PositiveBigIntegerField(default=0, help_text="Incremented by every entry that posts here.")
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "ledger_account"
        constraints = [
            models.UniqueConstraint(fields=["code", "currency"], name="ledger_account_code_currency_unique"),
            models.CheckConstraint(condition=Q(type__in=AccountType.values), name="ledger_account_type_valid"),
            models.CheckConstraint(
                condition=Q(normal_balance__in=NormalBalance.values), name="ledger_account_normal_balance_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.currency})"

    @property
    def normal_sign(self) -> int:
        """+1 for debit-normal accounts, -1 for credit-normal ones: multiply a debit-positive
        amount by it to read it the way the account is normally read."""
        return 1 if self.normal_balance == NormalBalance.DEBIT else -1

    @property
    def natural_balance(self) -> int:
        """The balance as an accountant reads it: positive when the account holds its normal kind
        of balance (an asset that is owed to us, a liability we owe, revenue earned)."""
        return self.balance * self.normal_sign


# The usual normal balance of each account type; contra accounts override it explicitly.
NORMAL_BALANCE_OF_TYPE: dict[str, str] = {
    AccountType.ASSET: NormalBalance.DEBIT,
    AccountType.EXPENSE: NormalBalance.DEBIT,
    AccountType.LIABILITY: NormalBalance.CREDIT,
    AccountType.EQUITY: NormalBalance.CREDIT,
    AccountType.REVENUE: NormalBalance.CREDIT,
}


class JournalEntry(models.Model):
    """One business event, recorded as postings that sum to zero in every currency."""

    id = models.CharField(primary_key=True, max_length=40, default=new_entry_id, editable=False)
    reference = models.CharField(
        max_length=255, unique=True, help_text="Idempotency key of the event, e.g. payment:pay_X:capture."
    )
    entry_type = models.CharField(max_length=100, help_text="e.g. payment.capture")
    description = models.CharField(max_length=1000, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    # One-to-one: the unique index is what makes "an entry is reversed at most once" true.
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    created_at = models.DateTimeField(db_default=Now(), editable=False, db_index=True)

    class Meta:
        db_table = "ledger_journal_entry"
        verbose_name_plural = "journal entries"
        constraints = [
            models.CheckConstraint(condition=~Q(reverses=F("id")), name="ledger_entry_not_self_reversing"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.id})"


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    # Indexed by (account, created_at) below, which also serves plain lookups by account.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False)
    amount = models.BigIntegerField(help_text="Minor units; positive = debit, negative = credit.")
    currency = models.CharField(max_length=3, help_text="Always the account's currency.")
    # The entry's own timestamp (on PostgreSQL a trigger copies it), so that an as-of balance
    # never sees part of an entry.
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "ledger_posting"
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_posting_amount_not_zero")]
        indexes = [models.Index(fields=["account", "created_at"], name="ledger_posting_account_time")]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.account_id} {self.amount} {self.currency}"


class VerificationRun(models.Model):
    """One run of the ledger's verification (the nightly task or `manage.py ledger_verify`): what
    it found, kept so that any process can export the last result (ledger.metrics)."""

    class Source(models.TextChoices):
        TASK = "task", "nightly task"
        COMMAND = "command", "manage.py ledger_verify"

    source = models.CharField(max_length=16, choices=Source.choices)
    finished_at = models.DateTimeField(db_default=Now(), editable=False)
    ok = models.BooleanField()
    problem_count = models.PositiveIntegerField(default=0)
    problems = models.TextField(blank=True, default="", help_text="The first problems found, one a line.")

    def __str__(self) -> str:
        return f"{self.get_source_display()} at {self.finished_at:%Y-%m-%d %H:%M}: {'ok' if self.ok else 'failed'}"
