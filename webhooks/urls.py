from django.urls import re_path

from . import views

urlpatterns = [
    # Any name, known or not, reaches the view: a request for an unknown provider is stored too.
    re_path(r"^(?P<provider>[^/]{1,64})/?$", views.ProviderNotificationView.as_view(), name="provider-notification"),
]
