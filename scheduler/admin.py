from django.contrib import admin

from scheduler.models import (
    AppointmentType,
    Booking,
    BusyBlock,
    DateOverride,
    DateOverrideRange,
    Practitioner,
    Session,
    WeeklyRule,
)


class WeeklyRuleInline(admin.TabularInline):
    model = WeeklyRule
    extra = 0


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone"]
    inlines = [WeeklyRuleInline]


class DateOverrideRangeInline(admin.TabularInline):
    model = DateOverrideRange
    extra = 0


@admin.register(DateOverride)
class DateOverrideAdmin(admin.ModelAdmin):
    list_display = ["date", "practitioner"]
    inlines = [DateOverrideRangeInline]


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "practitioner", "duration_minutes", "active"]


class SessionInline(admin.TabularInline):
    model = Session
    extra = 0
    fields = ["position", "start", "end", "status", "sequence"]
    readonly_fields = fields
    can_delete = False


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ["id", "client_name", "appointment_type", "status", "created_at"]
    list_filter = ["status", "appointment_type"]
    search_fields = ["client_name", "client_email"]
    exclude = ["manage_token_hash", "request_fingerprint", "idempotency_key"]
    inlines = [SessionInline]


@admin.register(BusyBlock)
class BusyBlockAdmin(admin.ModelAdmin):
    list_display = ["start", "end", "source", "practitioner"]
