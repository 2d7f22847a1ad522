from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import TokenProxy

from scheduler.admin.scope import (
    PractitionerScopedAdmin,
    PractitionerScopedInline,
    restrict_to_superusers,
)
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
from web.tenancy import register_path, sees_all

register_path(Practitioner, "")
for _model in (WeeklyRule, DateOverride, AppointmentType, Booking, Session, BusyBlock):
    register_path(_model, "practitioner")
register_path(DateOverrideRange, "override__practitioner")

# Accounts, API tokens and login records span all practitioners: superusers only.
restrict_to_superusers(User, Group, TokenProxy, AccessAttempt, AccessLog, AccessFailureLog)


class WeeklyRuleInline(PractitionerScopedInline, admin.TabularInline):
    model = WeeklyRule
    extra = 0


@admin.register(Practitioner)
class PractitionerAdmin(PractitionerScopedAdmin, admin.ModelAdmin):
    list_display = ["name", "slug", "timezone"]
    search_fields = ["name", "slug"]
    inlines = [WeeklyRuleInline]
    readonly_fields = ["schedule_version", "schedule_changed_at", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not sees_all(request.user):
            fields.append("user")  # a practitioner cannot hand their profile to someone else
        return fields

    def has_add_permission(self, request):
        # One profile per account: new practitioners are made by a superuser.
        return sees_all(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return sees_all(request.user) and super().has_delete_permission(request, obj)


class DateOverrideRangeInline(PractitionerScopedInline, admin.TabularInline):
    model = DateOverrideRange
    extra = 0


@admin.register(DateOverride)
class DateOverrideAdmin(PractitionerScopedAdmin, admin.ModelAdmin):
    list_display = ["date", "practitioner"]
    search_fields = ["date"]
    inlines = [DateOverrideRangeInline]


@admin.register(AppointmentType)
class AppointmentTypeAdmin(PractitionerScopedAdmin, admin.ModelAdmin):
    list_display = ["name", "practitioner", "duration_minutes", "active"]
    search_fields = ["name", "slug"]


class SessionInline(PractitionerScopedInline, admin.TabularInline):
    model = Session
    extra = 0
    fields = ["position", "start", "end", "status", "sequence"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class BookingForm(forms.ModelForm):
    def clean_appointment_type(self):
        appointment_type = self.cleaned_data["appointment_type"]
        # A superuser's dropdown holds every practice's types: a booking keeps its own.
        if appointment_type.practitioner_id != self.instance.practitioner_id:
            raise forms.ValidationError("Kies een soort afspraak van deze behandelaar.")
        return appointment_type


@admin.register(Booking)
class BookingAdmin(PractitionerScopedAdmin, admin.ModelAdmin):
    form = BookingForm
    list_display = ["id", "client_name", "appointment_type", "status", "created_at"]
    # Related-only: the type filter lists the types of the bookings one can see.
    list_filter = ["status", ("appointment_type", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["client_name", "client_email"]
    # An allow-list: the internal fields (hashes of the manage token and idempotency key,
    # the sealed token, the request fingerprint) and any added later stay out of the form.
    fields = [
        "practitioner",
        "appointment_type",
        "client_name",
        "client_email",
        "client_phone",
        "notes",
        "language",
        "status",
        "created_at",
        "updated_at",
        "cancelled_at",
        "anonymised_at",
    ]
    readonly_fields = [
        "practitioner",  # the sessions carry it too; a booking never moves
        # Moved only by the booking service, along its lifecycle (scheduler/lifecycle.py),
        # with its sessions and the client's e-mail: the desk's quick cancel, the workspace.
        "status",
        "created_at",
        "updated_at",
        "cancelled_at",
        "anonymised_at",
    ]
    inlines = [SessionInline]

    def has_add_permission(self, request):
        # Bookings are made through the booking service (page, API), which issues the
        # client's manage token and holds the slot; the admin cannot do that.
        return False


@admin.register(BusyBlock)
class BusyBlockAdmin(PractitionerScopedAdmin, admin.ModelAdmin):
    list_display = ["start", "end", "source", "practitioner"]
    search_fields = ["source"]
