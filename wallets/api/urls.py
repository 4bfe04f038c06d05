from django.urls import path

from . import views

urlpatterns = [
    path("wallets", views.WalletCreateView.as_view(), name="wallet-create"),
    path("wallets/<object_id:wallet_id>", views.WalletDetailView.as_view(), name="wallet-detail"),
    path("wallets/<object_id:wallet_id>/movements", views.WalletMovementsView.as_view(), name="wallet-movements"),
    path("movements/<object_id:movement_id>/revert", views.MovementRevertView.as_view(), name="movement-revert"),
]
