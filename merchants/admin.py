from django.contrib import admin

from .models import ApiKey, Merchant


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ("prefix", "created_at", "revoked_at")
    readonly_fields = ("prefix", "created_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # keys are issued with `create_merchant`, which shows the secret once


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "is_active", "rate_limit", "created_at")
    search_fields = ("id", "name")
    readonly_fields = ("id", "created_at")
    inlines = [ApiKeyInline]
