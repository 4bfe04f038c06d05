"""Operators see endpoints, deliveries with every attempt, and the relay's backlog. Nothing here
is edited directly: retry, replay, enable and disable are actions that call outbox.services,
for operators with the `outbox.operate_webhooks` permission."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyModelAdmin, ReadOnlyTabularInline
from core.errors import ApplicationError
from core.pci import mask

from . import services
from .models import RelayBacklogEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .selectors import relay_status


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "merchant", "url", "status", "disabled_reason", "failing_since", "created_at")
    list_filter = ("status", "disabled_reason")
    search_fields = ("id", "url", "merchant__id", "merchant__name")
    list_select_related = ("merchant",)
    # Never the secrets.
    fields = (
        "id",
        "merchant",
        "url",
        "event_types",
        "status",
        "disabled_reason",
        "failing_since",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
        "deliveries_link",
        "replay_link",
    )
    readonly_fields = fields
    actions = ["enable", "disable"]

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm("outbox.operate_webhooks")

    @admin.display(description="deliveries")
    def deliveries_link(self, endpoint: WebhookEndpoint) -> str:
        url = reverse("admin:outbox_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">Deliveries to this endpoint</a>', url, endpoint.pk)

    @admin.display(description="replay")
    def replay_link(self, endpoint: WebhookEndpoint) -> str:
        url = reverse("admin:outbox_webhookendpoint_replay", args=[endpoint.pk])
        return format_html('<a href="{}">Replay the events of a time range</a>', url)

    @admin.action(
        description="Enable the selected endpoints (pending deliveries go out again)", permissions=["operate"]
    )
    def enable(self, request, queryset):
        enabled = sum(services.endpoint_enable(endpoint_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{enabled} endpoint(s) enabled.")

    @admin.action(description="Disable the selected endpoints (nothing is sent to them)", permissions=["operate"])
    def disable(self, request, queryset):
        disabled = sum(services.endpoint_disable(endpoint_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{disabled} endpoint(s) disabled.")

    def get_urls(self):
        replay = self.admin_site.admin_view(self.replay_view)
        return [path("<path:object_id>/replay/", replay, name="outbox_webhookendpoint_replay"), *super().get_urls()]

    def replay_view(self, request, object_id: str):
        if not self.has_operate_permission(request):
            raise PermissionDenied
        endpoint = self.get_object(request, object_id)
        if endpoint is None:
            raise Http404(f"No such webhook endpoint: {object_id}")
        form = ReplayForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                count = services.endpoint_replay(
                    endpoint_id=endpoint.pk, since=form.cleaned_data["since"], until=form.cleaned_data["until"]
                )
            except ApplicationError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(request, f"{count} event(s) scheduled for redelivery to {endpoint.pk}.")
                return redirect(reverse("admin:outbox_webhookendpoint_change", args=[endpoint.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Replay events to {endpoint.pk}",
            "endpoint": endpoint,
            "form": form,
        }
        return TemplateResponse(request, "admin/outbox/webhookendpoint/replay.html", context)


class ReplayForm(forms.Form):
    since = forms.DateTimeField(help_text="UTC, e.g. 2026-11-23 14:00:00")
    until = forms.DateTimeField(help_text="UTC, excluded")


class AttemptInline(ReadOnlyTabularInline):
    model = WebhookAttempt
    fields = ("attempted_at", "delivered", "status_code", "latency_ms", "error_masked", "response_masked")
    readonly_fields = fields
    ordering = ("-attempted_at",)

    # What a merchant's endpoint answered is its text, not ours: shown masked (core.pci.mask).
    @admin.display(description="error")
    def error_masked(self, attempt: WebhookAttempt) -> str:
        return mask(attempt.error)

    @admin.display(description="response excerpt")
    def response_masked(self, attempt: WebhookAttempt) -> str:
        return mask(attempt.response_excerpt)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "endpoint",
        "event",
        "event_type",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("id", "event__id", "endpoint__id", "aggregate_id")
    list_select_related = ("endpoint", "event")
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    fields = (
        "id",
        "endpoint",
        "event",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "sequence",
        "status",
        "attempt_count",
        "first_attempt_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "lease_expires_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ["retry_now"]

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm("outbox.operate_webhooks")

    @admin.action(description="Send the selected deliveries again now", permissions=["operate"])
    def retry_now(self, request, queryset):
        retried = 0
        for delivery_id in queryset.values_list("pk", flat=True):
            try:
                services.delivery_retry(delivery_id=delivery_id)
                retried += 1
            except ApplicationError as exc:
                self.message_user(request, f"{delivery_id}: {exc.detail}", level=messages.WARNING)
        self.message_user(request, f"{retried} delivery(ies) scheduled to be sent now.")


@admin.register(RelayBacklogEvent)
class RelayBacklogAdmin(ReadOnlyModelAdmin):
    """The events waiting for the relay, oldest first, under a headline of backlog and lag."""

    list_display = ("id", "type", "aggregate_id", "sequence", "merchant", "occurred_at")
    list_filter = ("type", "aggregate_type")
    search_fields = ("id", "aggregate_id")
    ordering = ("id",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(published_at__isnull=True)

    def changelist_view(self, request, extra_context=None):
        status = relay_status()
        title = (
            f"Relay backlog: {status.backlog} unpublished event(s), oldest waiting {status.lag_seconds:.1f} s; "
            f"{status.pending_deliveries} webhook delivery(ies) pending"
        )
        return super().changelist_view(request, extra_context={**(extra_context or {}), "title": title})
