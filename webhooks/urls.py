from django.urls import re_path

from . import views

urlpatterns = [
    # Any name, known or not, reaches the view (a request for an unknown provider is stored too),
    # if it is ASCII letters, digits and . _ -: anything else (a NUL) is a 404 at routing.
    re_path(
        r"^(?P<provider>[A-Za-z0-9_.-]{1,64})/?$",
        views.ProviderNotificationView.as_view(),
        name="provider-notification",
    ),
]
