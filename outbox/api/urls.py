from django.urls import path

from . import views

urlpatterns = [
    path("webhook-endpoints", views.EndpointListCreateView.as_view(), name="webhook-endpoint-list"),
    path(
        "webhook-endpoints/<object_id:endpoint_id>", views.EndpointDetailView.as_view(), name="webhook-endpoint-detail"
    ),
    path(
        "webhook-endpoints/<object_id:endpoint_id>/rotate-secret",
        views.EndpointRotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path("events", views.EventListView.as_view(), name="event-list"),
    path("events/<object_id:event_id>", views.EventDetailView.as_view(), name="event-detail"),
    path("events/<object_id:event_id>/redeliver", views.EventRedeliverView.as_view(), name="event-redeliver"),
]
