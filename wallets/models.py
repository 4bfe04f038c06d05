"""Customer wallets. A wallet's money is not stored here: it is the balance of the wallet's two
ledger accounts (wallets.accounts). These rows carry identity, the lock that serialises every
change of a wallet, and the movements that explain its balance."""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now

from core.ids import new_id
from core.money import MAX_AMOUNT


def new_wallet_id() -> str:
    return new_id("wal")


def new_movement_id() -> str:
    return new_id("mov")


class Wallet(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_wallet_id, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="wallets")
    currency = models.CharField(max_length=3)
    owner_reference = models.CharField(
        max_length=255, blank=True, default="", help_text="The merchant's own id for the wallet's holder."
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="wallet_currency_format"),
        ]

    def __str__(self) -> str:
        return self.id


class MovementType(models.TextChoices):
    INCOME = "income"
    EXPENSE = "expense"


class Movement(models.Model):
    """One change of a wallet's balance, and the ledger entry that made it. Immutable: a mistake
    is corrected by a revert, a new movement in the opposite direction."""

    id = models.CharField(primary_key=True, max_length=40, default=new_movement_id, editable=False)
    # Indexed by (wallet, -id) below, which also serves plain lookups by wallet.
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="movements", db_index=False)
    type = models.CharField(max_length=16, choices=MovementType.choices)
    amount = models.BigIntegerField()
    reference = models.CharField(max_length=255, blank=True, default="")
    description = models.CharField(max_length=1000, blank=True, default="")
    # One-to-one: the unique index is what makes "a movement is reverted at most once" true.
    reverts = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reverted_by")
    reason = models.CharField(max_length=500, blank=True, default="", help_text="Why it was reverted (reverts only).")
    entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1, amount__lte=MAX_AMOUNT), name="movement_amount_range"),
            models.CheckConstraint(condition=Q(type__in=MovementType.values), name="movement_type_valid"),
            models.CheckConstraint(condition=~Q(reverts=F("id")), name="movement_not_self_reverting"),
            models.CheckConstraint(
                condition=Q(reverts__isnull=True, reason="") | (Q(reverts__isnull=False) & ~Q(reason="")),
                name="movement_reason_iff_revert",
            ),
        ]
        indexes = [models.Index(fields=["wallet", "-id"], name="movement_wallet_idx")]

    def __str__(self) -> str:
        return self.id
