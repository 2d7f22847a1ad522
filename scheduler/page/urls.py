from django.urls import path, register_converter

from api.urls import ManageTokenConverter
from scheduler.page import views

register_converter(ManageTokenConverter, "manage_token")

urlpatterns = [
    path("manage/<manage_token:token>/", views.manage_page, name="manage-page"),
]
