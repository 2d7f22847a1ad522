from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from scheduler.admin.scope import PractitionerScopedAdmin
from sync import connectors
from sync.ics.fetch import FeedFetchError
from sync.models import CalendarConnection, FeedToken
from web.tenancy import register_path

register_path(CalendarConnection, "practitioner")
register_path(FeedToken, "practitioner")


class CalendarConnectionForm(forms.ModelForm):
    def clean(self):
        """An address typed here obeys the rules of the API, as its kind's connector says
        (no private host; for CalDAV no plain http:// unless allowed: the password would
        travel in clear)."""
        cleaned = super().clean()
        kind = cleaned.get("kind") or self.instance.kind
        url = cleaned.get("url")
        if kind and url and "url" in self.changed_data:
            try:
                cleaned["url"] = connectors.get(kind).url_check(url)
            except FeedFetchError as exc:
                self.add_error("url", str(exc))
        return cleaned


@admin.register(CalendarConnection)
class CalendarConnectionAdmin(PractitionerScopedAdmin, admin.ModelAdmin):
    form = CalendarConnectionForm
    list_display = ["__str__", "kind", "status", "last_success_at", "last_error", "queue_depth"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "url"]
    # An allow-list: credentials (OAuth tokens) and sync bookkeeping (validators, hashes,
    # import context, alert time) stay out of the form, and so does any field added later.
    fields = [
        "practitioner",
        "kind",
        "name",
        "url",
        "block_all_day",
        "push_calendar_id",
        "busy_calendar_ids",
        "status",
        "last_synced_at",
        "last_success_at",
        "last_error",
        "warnings",
        "available_calendars",
        "queue_depth",
    ]
    readonly_fields = [
        "status",
        "last_synced_at",
        "last_success_at",
        "last_error",
        "warnings",
        "available_calendars",
        "queue_depth",
    ]
    actions = ["sync_now"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["practitioner", "kind"]  # its busy time and pushes belong to them
        return fields

    def delete_model(self, request, obj):
        # Its connector removes it: its busy time goes with it, a grant is revoked.
        connectors.of(obj).remove(connection=obj, now=timezone.now())

    def delete_queryset(self, request, queryset):
        for connection in queryset:
            connectors.of(connection).remove(connection=connection, now=timezone.now())

    @admin.display(description="Wachtrij")
    def queue_depth(self, connection):
        return connection.outbox.filter(done_at__isnull=True).count()

    @admin.action(description="Nu synchroniseren", permissions=["change"])
    def sync_now(self, request, queryset):
        for connection in queryset:
            connectors.of(connection).sync_soon(connection)
        messages.success(request, f"{queryset.count()} koppeling(en) worden nu gesynchroniseerd.")
