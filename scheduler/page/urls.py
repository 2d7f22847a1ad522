from django.urls import path
from django.views.i18n import set_language

from scheduler.page import views, waitlist_views
from web import converters  # noqa: F401 - registers <manage_token:...>

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:slug>/", views.home, name="practice"),
    path("p/<slug:slug>/book/", views.book_choose, name="book"),
    path("p/<slug:slug>/book/<int:type_id>/", views.book_week, name="book-week"),
    path("p/<slug:slug>/book/<int:type_id>/confirm/", views.book_confirm, name="book-confirm"),
    path("p/<slug:slug>/question/", views.question, name="question"),
    path("manage/<manage_token:token>/", views.manage_page, name="manage-page"),
    path(
        "manage/<manage_token:token>/reschedule/",
        views.manage_reschedule,
        name="manage-reschedule",
    ),
    path(
        "p/<slug:slug>/book/<int:type_id>/waitlist/",
        waitlist_views.waitlist_join_page,
        name="waitlist-join",
    ),
    path("waitlist/<manage_token:token>/", waitlist_views.waitlist_page, name="waitlist-page"),
    path(
        "waitlist/claim/<manage_token:token>/",
        waitlist_views.waitlist_claim_page,
        name="waitlist-claim",
    ),
    path("i18n/setlang/", set_language, name="set_language"),
    path("favicon.ico", views.favicon, name="favicon"),
]
