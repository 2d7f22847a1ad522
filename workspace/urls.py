from django.urls import path
from django.views.decorators.cache import never_cache

from workspace import views

app_name = "workspace"

urlpatterns = [
    path("inloggen/", views.LoginView.as_view(), name="login"),
    path("uitloggen/", views.logout, name="logout"),
    path("", views.agenda, name="agenda"),
    path("afspraken/<int:booking_id>/", views.booking_detail, name="booking"),
    path("afspraken/<int:booking_id>/annuleren/", views.booking_cancel_view, name="booking-cancel"),
    path("afspraken/<int:booking_id>/verzetten/", views.booking_move, name="booking-move"),
    path("afspraak-maken/", views.book_choose, name="book-choose"),
    path("afspraak-maken/<int:type_id>/", views.book_for_client, name="book"),
    path("uren/", views.hours, name="hours"),
    path("vrije-dagen/", views.days_off, name="days-off"),
    path("vrije-dagen/<int:override_id>/verwijderen/", views.day_off_delete, name="day-off-delete"),
    path("soorten/", views.types, name="types"),
    path("soorten/nieuw/", views.type_edit, name="type-new"),
    path("soorten/<int:type_id>/", views.type_edit, name="type"),
    path("agendas/", views.calendars, name="calendars"),
    path("agendas/ics/", views.calendar_add_ics, name="calendar-add-ics"),
    path("agendas/caldav/", views.calendar_add_caldav, name="calendar-add-caldav"),
    path("agendas/google/", views.calendar_google, name="calendar-google"),
    path("agendas/<int:connection_id>/wijzigen/", views.calendar_change, name="calendar-change"),
    path("agendas/<int:connection_id>/sync/", views.calendar_sync, name="calendar-sync"),
    path("agendas/<int:connection_id>/verwijderen/", views.calendar_delete, name="calendar-delete"),
    path("agendas/feeds/vernieuwen/", views.feeds_rotate, name="feeds-rotate"),
    path("vragen/", views.questions, name="questions"),
    path("vragen/<int:question_id>/", views.question_detail, name="question"),
]

# Every workspace page shows the practice's or its clients' data (the agenda, a booking, a
# question, the calendars with their feed secrets), and the rest redirect to those: none
# may be kept by a browser's back button, a shared computer's cache or a proxy. Applied to
# every route here, so a page added later is covered too (tests walk this list).
for _route in urlpatterns:
    _route.callback = never_cache(_route.callback)
