from django.contrib import admin

from core.admin import ReadOnlyModelAdmin

from .models import DomainEvent


@admin.register(DomainEvent)
class DomainEventAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "type", "aggregate_id", "sequence", "merchant", "occurred_at", "published_at")
    list_filter = ("type", "aggregate_type")
    search_fields = ("id", "aggregate_id", "correlation_id")
    readonly_fields = [f.name for f in DomainEvent._meta.fields]
