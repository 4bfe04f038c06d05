from django.contrib import admin


class ReadOnlyAdminMixin:
    """For records that are facts (payments, events, ledger entries): operators read them, and
    every change goes through a service that writes a new, explicit record."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
