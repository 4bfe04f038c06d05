"""Read-only: a wallet's money changes only through wallets.services, which post to the ledger."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyModelAdmin
from core.money import format_amount
from events.models import DomainEvent

from .accounts import with_balances
from .models import Movement, Wallet


@admin.register(Wallet)
class WalletAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "merchant",
        "currency",
        "balance_display",
        "available_display",
        "reserved_display",
        "created_at",
    )
    list_filter = ("currency", "created_at")
    search_fields = ("id", "owner_reference", "merchant__id", "merchant__name")
    date_hierarchy = "created_at"
    list_select_related = ("merchant",)
    fields = (
        "id",
        "merchant",
        "currency",
        "owner_reference",
        "balance_display",
        "available_display",
        "reserved_display",
        "created_at",
        "movements_link",
        "events",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return with_balances(super().get_queryset(request))

    @admin.display(description="balance")
    def balance_display(self, wallet: Wallet) -> str:
        return format_amount(wallet.available_balance + wallet.reserved_balance, wallet.currency)

    @admin.display(description="available", ordering="available_balance")
    def available_display(self, wallet: Wallet) -> str:
        return format_amount(wallet.available_balance, wallet.currency)

    @admin.display(description="reserved for payments", ordering="reserved_balance")
    def reserved_display(self, wallet: Wallet) -> str:
        return format_amount(wallet.reserved_balance, wallet.currency)

    @admin.display(description="movements")
    def movements_link(self, wallet: Wallet) -> str:
        url = reverse("admin:wallets_movement_changelist")
        return format_html('<a href="{}?wallet__id__exact={}">Movements of this wallet</a>', url, wallet.pk)

    @admin.display(description="events")
    def events(self, wallet: Wallet) -> str:
        rows = DomainEvent.objects.filter(aggregate_type="wallet", aggregate_id=wallet.id).order_by("sequence")
        return "\n".join(f"#{e.sequence} {e.type} at {e.occurred_at:%Y-%m-%d %H:%M:%S}" for e in rows) or "-"


@admin.register(Movement)
class MovementAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "wallet", "type", "amount_display", "reference", "reverts", "created_at")
    list_filter = ("type", "created_at")
    search_fields = ("id", "wallet__id", "reference", "entry__id")
    date_hierarchy = "created_at"
    list_select_related = ("wallet", "reverts")
    fields = (
        "id",
        "wallet",
        "type",
        "amount_display",
        "reference",
        "description",
        "reverts",
        "reverted_by_link",
        "reason",
        "entry_link",
        "created_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("wallet")

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, movement: Movement) -> str:
        return format_amount(movement.amount, movement.wallet.currency)

    @admin.display(description="reverted by")
    def reverted_by_link(self, movement: Movement) -> str:
        revert = Movement.objects.filter(reverts=movement).first()
        if revert is None:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:wallets_movement_change", args=[revert.pk]), revert)

    @admin.display(description="ledger entry")
    def entry_link(self, movement: Movement) -> str:
        url = reverse("admin:ledger_journalentry_change", args=[movement.entry_id])
        return format_html('<a href="{}">{}</a>', url, movement.entry_id)
