"""Read-only: the ledger changes only through ledger.services, never by hand (see docs/ledger.md)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyModelAdmin, ReadOnlyTabularInline
from core.money import format_amount

from .models import Account, JournalEntry, Posting, VerificationRun


def _debit_credit(amount: int, currency: str) -> str:
    """`-1050, "BRL"` -> `"10.50 BRL Cr"`: the side is spelled out, so the sign convention never
    has to be remembered to read a balance."""
    if amount == 0:
        return format_amount(0, currency)
    return f"{format_amount(abs(amount), currency)} {'Dr' if amount > 0 else 'Cr'}"


@admin.register(Account)
class AccountAdmin(ReadOnlyModelAdmin):
    list_display = ("code", "currency", "type", "normal_balance", "balance_display", "version", "updated_at")
    list_filter = ("type", "currency", "normal_balance")
    search_fields = ("code", "name")
    ordering = ("code", "currency")
    fields = (
        "code",
        "currency",
        "name",
        "type",
        "normal_balance",
        "balance_display",
        "version",
        "created_at",
        "updated_at",
        "entries_link",
    )
    readonly_fields = fields

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, account: Account) -> str:
        return _debit_credit(account.balance, account.currency)

    @admin.display(description="entries")
    def entries_link(self, account: Account) -> str:
        url = reverse("admin:ledger_journalentry_changelist")
        return format_html('<a href="{}?postings__account__id__exact={}">Entries posting here</a>', url, account.pk)


class PostingInline(ReadOnlyTabularInline):
    model = Posting
    fields = ("account", "amount_display", "amount", "currency")
    readonly_fields = fields
    ordering = ("pk",)

    @admin.display(description="debit / credit")
    def amount_display(self, posting: Posting) -> str:
        return _debit_credit(posting.amount, posting.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "reference", "entry_type", "created_at", "reverses")
    list_filter = ("entry_type", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("id", "reference", "postings__account__code")
    ordering = ("-created_at",)
    list_select_related = ("reverses",)
    fields = ("id", "reference", "entry_type", "description", "metadata", "reverses", "reversal", "created_at")
    readonly_fields = fields
    inlines = [PostingInline]

    @admin.display(description="reversed by")
    def reversal(self, entry: JournalEntry) -> str:
        reversal = JournalEntry.objects.filter(reverses=entry).first()
        if reversal is None:
            return "-"
        url = reverse("admin:ledger_journalentry_change", args=[reversal.pk])
        return format_html('<a href="{}">{}</a>', url, reversal)

    def lookup_allowed(self, lookup, value, request):
        # The "entries posting to this account" link on the account page.
        return lookup == "postings__account__id__exact" or super().lookup_allowed(lookup, value, request)


@admin.register(VerificationRun)
class VerificationRunAdmin(ReadOnlyModelAdmin):
    """Every run of the ledger's verification (nightly task, `manage.py ledger_verify`) and what it found."""

    list_display = ("finished_at", "source", "ok", "problem_count")
    list_filter = ("ok", "source")
    ordering = ("-id",)
    readonly_fields = ("source", "finished_at", "ok", "problem_count", "problems")
