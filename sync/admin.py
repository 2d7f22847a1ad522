from django.contrib import admin, messages

from sync import tasks
from sync.models import CalendarConnection


@admin.register(CalendarConnection)
class CalendarConnectionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "status", "last_success_at", "last_error", "queue_depth"]
    list_filter = ["kind", "status"]
    readonly_fields = [
        "status",
        "last_synced_at",
        "last_success_at",
        "last_error",
        "warnings",
        "available_calendars",
        "queue_depth",
    ]
    exclude = [
        "google_refresh_token",
        "google_access_token",
        "etag",
        "last_modified",
        "content_hash",
    ]
    actions = ["sync_now"]

    @admin.display(description="Wachtrij")
    def queue_depth(self, connection):
        return connection.outbox.filter(done_at__isnull=True).count()

    @admin.action(description="Nu synchroniseren")
    def sync_now(self, request, queryset):
        for connection in queryset:
            if connection.kind == CalendarConnection.Kind.ICS:
                tasks.ics_sync.delay(connection.pk, force=True)
            else:
                tasks.outbox_drain.delay(connection.pk)
                tasks.google_pull.delay(connection.pk)
        messages.success(request, f"{queryset.count()} koppeling(en) worden nu gesynchroniseerd.")
