from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api.v1 import (
    appointment_types,
    auth,
    availability,
    bookings,
    busy,
    calendars,
    clients,
    feeds,
    practitioners,
    slots,
    waitlist,
)
from web import converters  # noqa: F401 - registers <manage_token:...>

v1 = [
    path("auth/token/", auth.AuthTokenApi.as_view(), name="auth-token"),
    path("auth/token/rotate/", auth.AuthTokenRotateApi.as_view(), name="auth-token-rotate"),
    path(
        "availability/weekly/",
        availability.WeeklyAvailabilityApi.as_view(),
        name="availability-weekly",
    ),
    path(
        "availability/overrides/",
        availability.DateOverrideListApi.as_view(),
        name="availability-overrides",
    ),
    path(
        "availability/overrides/<int:pk>/",
        availability.DateOverrideDetailApi.as_view(),
        name="availability-override",
    ),
    path(
        "appointment-types/",
        appointment_types.AppointmentTypeListApi.as_view(),
        name="appointment-types",
    ),
    path(
        "appointment-types/<int:pk>/",
        appointment_types.AppointmentTypeDetailApi.as_view(),
        name="appointment-type",
    ),
    path("bookings/", bookings.BookingListCreateApi.as_view(), name="bookings"),
    path("busy/", busy.BusyListApi.as_view(), name="busy"),
    path("calendars/", calendars.CalendarListApi.as_view(), name="calendars"),
    path("calendars/<int:pk>/", calendars.CalendarDetailApi.as_view(), name="calendar"),
    path(
        "calendars/google/connect/",
        calendars.GoogleConnectApi.as_view(),
        name="calendars-google-connect",
    ),
    path("clients/export/", clients.ClientExportApi.as_view(), name="clients-export"),
    path("clients/erase/", clients.ClientEraseApi.as_view(), name="clients-erase"),
    path("feeds/", feeds.FeedListApi.as_view(), name="feeds"),
    path("feeds/rotate/", feeds.FeedRotateApi.as_view(), name="feeds-rotate"),
    path("slots/", slots.SlotListApi.as_view(), name="slots"),
    path("waitlist/", waitlist.WaitlistListCreateApi.as_view(), name="waitlist"),
    path("slots/options/", slots.SlotOptionsApi.as_view(), name="slot-options"),
    path(
        "practitioners/<slug:slug>/",
        practitioners.PractitionerDetailApi.as_view(),
        name="practitioner",
    ),
    path("manage/<manage_token:token>/", bookings.ManageDetailApi.as_view(), name="manage"),
    path(
        "manage/<manage_token:token>/cancel/",
        bookings.ManageCancelApi.as_view(),
        name="manage-cancel",
    ),
    path(
        "manage/<manage_token:token>/reschedule/",
        bookings.ManageRescheduleApi.as_view(),
        name="manage-reschedule",
    ),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]
