from django.urls import path

from . import disputes, views

urlpatterns = [
    path("payments", views.PaymentListCreateView.as_view(), name="payment-list"),
    path("payments/<object_id:payment_id>", views.PaymentDetailView.as_view(), name="payment-detail"),
    path("payments/<object_id:payment_id>/authorize", views.PaymentAuthorizeView.as_view(), name="payment-authorize"),
    path("payments/<object_id:payment_id>/capture", views.PaymentCaptureView.as_view(), name="payment-capture"),
    path("payments/<object_id:payment_id>/cancel", views.PaymentCancelView.as_view(), name="payment-cancel"),
    path("payments/<object_id:payment_id>/refunds", views.PaymentRefundsView.as_view(), name="payment-refunds"),
    path("payments/<object_id:payment_id>/events", views.PaymentEventsView.as_view(), name="payment-events"),
    path("refunds/<object_id:refund_id>", views.RefundDetailView.as_view(), name="refund-detail"),
    path("disputes", disputes.DisputeListView.as_view(), name="dispute-list"),
    path("disputes/<object_id:dispute_id>", disputes.DisputeDetailView.as_view(), name="dispute-detail"),
    path("disputes/<object_id:dispute_id>/evidence", disputes.DisputeEvidenceView.as_view(), name="dispute-evidence"),
    path("disputes/<object_id:dispute_id>/accept", disputes.DisputeAcceptView.as_view(), name="dispute-accept"),
]
