"""Read-only: what each provider sent, what we answered, and what applying it did. What the
request carried is shown masked (core.pci.mask): no card number or signature on an admin page."""

import json

from django.contrib import admin
from django.utils.html import format_html

from core.admin import ReadOnlyModelAdmin
from core.pci import mask, mask_data

from .models import InboundNotification


@admin.register(InboundNotification)
class InboundNotificationAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "provider",
        "received_at",
        "verdict",
        "rejection",
        "kind",
        "payment_reference",
        "status",
        "attempts",
        "result",
    )
    list_filter = ("verdict", "rejection", "status", "provider", "kind", "received_at")
    search_fields = ("id", "event_id", "payment_reference", "remote_addr")
    date_hierarchy = "received_at"
    fields = (
        "id",
        "provider",
        "received_at",
        "remote_addr",
        "verdict",
        "rejection",
        "detail",
        "event_id",
        "duplicate_of",
        "kind",
        "payment_reference",
        "status",
        "result",
        "attempts",
        "next_attempt_at",
        "processed_at",
        "headers_display",
        "body_display",
        "notification_display",
    )
    readonly_fields = fields

    @admin.display(description="headers")
    def headers_display(self, obj: InboundNotification) -> str:
        return format_html("<pre>{}</pre>", json.dumps(mask_data(obj.headers), indent=2, sort_keys=True))

    @admin.display(description="body (as received)")
    def body_display(self, obj: InboundNotification) -> str:
        return format_html("<pre>{} bytes\n{}</pre>", obj.body_size, mask(bytes(obj.body).decode("utf-8", "replace")))

    @admin.display(description="as the provider's adapter read it")
    def notification_display(self, obj: InboundNotification) -> str:
        if obj.notification is None:
            return "-"
        return format_html("<pre>{}</pre>", json.dumps(mask_data(obj.notification), indent=2, sort_keys=True))
