from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models.functions import Now
from django.template.response import TemplateResponse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from core import tracing
from core.admin import ReadOnlyModelAdmin, ReadOnlyTabularInline
from core.errors import ApplicationError
from core.money import format_amount
from events.models import DomainEvent

from . import disputes
from .models import Dispute, DisputeStatus, Payment, ProviderOperation, Refund


class RefundInline(ReadOnlyTabularInline):
    model = Refund
    fields = ("id", "amount", "status", "reason", "failure_code", "created_at")
    readonly_fields = fields


class OperationInline(ReadOnlyTabularInline):
    model = ProviderOperation
    fk_name = "payment"
    fields = ("kind", "provider", "amount", "status", "result_code", "latency_ms", "status_checks", "created_at")
    readonly_fields = fields


class DisputeInline(ReadOnlyTabularInline):
    model = Dispute
    fields = ("id", "amount", "status", "reason", "evidence_due_by", "response", "created_at")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyModelAdmin):
    """Operators read payments here; every change of money goes through the services (API,
    tasks), so nothing on this page edits a payment."""

    list_display = ("id", "merchant", "status", "amount_display", "provider", "reference", "created_at")
    list_filter = ("status", "provider", "capture_method", "currency", "created_at")
    search_fields = ("id", "reference", "provider_reference", "merchant__id", "merchant__name")
    date_hierarchy = "created_at"
    list_select_related = ("merchant",)
    inlines = [RefundInline, OperationInline, DisputeInline]
    readonly_fields = [f.name for f in Payment._meta.fields] + ["events", "traces"]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj: Payment) -> str:
        return format_amount(obj.amount, obj.currency)

    @admin.display(description="events")
    def events(self, obj: Payment) -> str:
        rows = DomainEvent.objects.filter(aggregate_type="payment", aggregate_id=obj.id).order_by("sequence")
        return "\n".join(f"#{e.sequence} {e.type} at {e.occurred_at:%Y-%m-%d %H:%M:%S}" for e in rows) or "-"

    @admin.display(description="traces")
    def traces(self, obj: Payment) -> str:
        """The traces its events were recorded in (core.tracing), oldest first, each linked to
        the trace viewer at TRACE_UI_URL when one is set."""
        contexts = (
            DomainEvent.objects.filter(aggregate_type="payment", aggregate_id=obj.id, trace_context__isnull=False)
            .order_by("sequence")
            .values_list("trace_context", flat=True)
        )
        trace_ids = [trace_id for trace_id in dict.fromkeys(map(tracing.trace_id_of, contexts)) if trace_id]
        if not trace_ids:
            return "-"
        viewer = settings.TRACE_UI_URL.rstrip("/")
        if not viewer:
            return "\n".join(trace_ids)
        return format_html_join(
            mark_safe("<br>"), '<a href="{}/trace/{}" rel="noopener">{}</a>', ((viewer, t, t) for t in trace_ids)
        )


@admin.register(Refund)
class RefundAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "payment", "amount", "currency", "status", "created_at")
    list_filter = ("status", "currency")
    search_fields = ("id", "payment__id")
    readonly_fields = [f.name for f in Refund._meta.fields]


@admin.register(ProviderOperation)
class ProviderOperationAdmin(ReadOnlyModelAdmin):
    """Provider calls, including those whose outcome is still unknown and being polled."""

    list_display = (
        "id",
        "payment",
        "kind",
        "provider",
        "status",
        "result_code",
        "latency_ms",
        "status_checks",
        "created_at",
    )
    list_filter = ("status", "kind", "provider")
    search_fields = ("id", "payment__id", "reference", "provider_reference")
    readonly_fields = [f.name for f in ProviderOperation._meta.fields]


class EvidenceDueFilter(admin.SimpleListFilter):
    title = "evidence due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("3d", "Within 3 days"), ("7d", "Within 7 days")]

    def queryset(self, request, queryset):
        days = {"3d": 3, "7d": 7}.get(self.value())
        if self.value() == "overdue":
            return queryset.filter(status=DisputeStatus.NEEDS_RESPONSE, evidence_due_by__lt=Now())
        if days:
            return queryset.filter(
                status=DisputeStatus.NEEDS_RESPONSE,
                evidence_due_by__gte=Now(),
                evidence_due_by__lt=Now() + timedelta(days=days),
            )
        return queryset


class EvidenceForm(forms.Form):
    evidence = forms.CharField(widget=forms.Textarea(attrs={"rows": 12, "cols": 100}), max_length=20_000, strip=True)


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyModelAdmin):
    """Disputes by due date. Read-only, except the two answers a dispute allows, which operators
    give for merchants through the same services as the API (permission `answer_dispute`)."""

    list_display = (
        "id",
        "payment",
        "merchant",
        "status",
        "amount_display",
        "reason",
        "evidence_due_by",
        "response",
        "response_delivery",
        "created_at",
    )
    list_filter = ("status", EvidenceDueFilter, "reason", "provider", "response", "created_at")
    search_fields = ("id", "payment__id", "provider_dispute_id", "merchant__id", "merchant__name")
    date_hierarchy = "created_at"
    ordering = ("evidence_due_by", "id")
    list_select_related = ("merchant", "payment")
    readonly_fields = [f.name for f in Dispute._meta.fields] + ["events"]
    actions = ["submit_evidence", "accept"]

    def has_answer_permission(self, request) -> bool:
        return request.user.has_perm("payments.answer_dispute")

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj: Dispute) -> str:
        return format_amount(obj.amount, obj.currency)

    @admin.display(description="delivered to provider")
    def response_delivery(self, obj: Dispute) -> str:
        if not obj.response:
            return "-"
        if obj.response_sent_at:
            return f"yes, {obj.response_sent_at:%Y-%m-%d %H:%M}"
        return f"refused: {obj.response_error}" if obj.response_error else f"pending ({obj.response_attempts} tries)"

    @admin.display(description="events")
    def events(self, obj: Dispute) -> str:
        rows = DomainEvent.objects.filter(
            aggregate_type="payment", aggregate_id=obj.payment_id, type__startswith="dispute."
        ).order_by("sequence")
        return "\n".join(f"#{e.sequence} {e.type} at {e.occurred_at:%Y-%m-%d %H:%M:%S}" for e in rows) or "-"

    @admin.action(description="Submit evidence for the selected dispute", permissions=["answer"])
    def submit_evidence(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one dispute to submit evidence for.", messages.ERROR)
            return None
        dispute = queryset.get()
        form = EvidenceForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                dispute = disputes.dispute_submit_evidence(
                    merchant_id=None, dispute_id=dispute.id, evidence=form.cleaned_data["evidence"]
                )
            except ApplicationError as exc:
                self.message_user(request, f"{dispute.id}: {exc.detail}", messages.ERROR)
                return None
            self.message_user(request, f"{dispute.id}: evidence submitted; the dispute is under review.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Submit evidence for dispute {dispute.id}",
            "opts": self.model._meta,
            "dispute": dispute,
            "amount": format_amount(dispute.amount, dispute.currency),
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/payments/dispute/submit_evidence.html", context)

    @admin.action(description="Accept the selected disputes (they are lost)", permissions=["answer"])
    def accept(self, request, queryset):
        for dispute_id in queryset.values_list("id", flat=True):
            try:
                disputes.dispute_accept(merchant_id=None, dispute_id=dispute_id)
            except ApplicationError as exc:
                self.message_user(request, f"{dispute_id}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{dispute_id}: accepted; the payment is charged back.")
