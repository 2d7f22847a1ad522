from django.contrib import admin
from django.urls import include, path

from api.urls import urlpatterns as api_docs
from api.urls import v1
from scheduler.admin import desk
from scheduler.page import urls as page_urls
from sync import urls as sync_urls
from sync.health import HealthView

urlpatterns = [
    path("admin/agenda/", desk.agenda, name="desk-agenda"),
    path("admin/agenda/cancel/<int:booking_id>/", desk.quick_cancel, name="desk-cancel"),
    path("admin/", admin.site.urls),
    path("praktijk/", include("workspace.urls")),
    path("health/", HealthView.as_view(), name="health"),
    path("api/v1/", include(v1)),
    path("api/", include(api_docs)),
    path("", include(sync_urls)),
    path("", include(page_urls)),
]
