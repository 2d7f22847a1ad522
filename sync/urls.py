from django.urls import path

from sync import views

urlpatterns = [
    path("feeds/<str:token>/bookings.ics", views.feed, {"kind": "bookings"}, name="feed-bookings"),
    path("feeds/<str:token>/busy.ics", views.feed, {"kind": "busy"}, name="feed-busy"),
    path("sync/google/callback/", views.google_callback, name="google-callback"),
    path("sync/google/webhook/", views.google_webhook, name="google-webhook"),
]
