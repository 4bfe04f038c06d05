from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from core.api.pagination import page_body, paginate
from core.api.schema import idempotent_post_schema, list_parameters, page_of, problems
from core.api.views import IdempotentPostView, MerchantAPIView, validated
from wallets import selectors, services
from wallets.representations import movement_to_dict, wallet_to_dict

from .serializers import (
    MovementCreateSerializer,
    MovementListQuerySerializer,
    MovementOutputSerializer,
    MovementRevertSerializer,
    WalletCreateSerializer,
    WalletOutputSerializer,
)


class WalletCreateView(IdempotentPostView):
    @idempotent_post_schema(
        WalletCreateSerializer, WalletOutputSerializer, status_code=201, operation_id="wallets_create"
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request):
        data = validated(WalletCreateSerializer, request.data)
        wallet = services.wallet_create(merchant_id=self.merchant_id, **data)
        wallet = selectors.wallet_get(merchant_id=self.merchant_id, wallet_id=wallet.id)  # with its balances
        return Response(wallet_to_dict(wallet), status=status.HTTP_201_CREATED)


class WalletDetailView(MerchantAPIView):
    @extend_schema(operation_id="wallets_retrieve", responses={200: WalletOutputSerializer})
    def get(self, request, wallet_id: str):
        wallet = selectors.wallet_get(merchant_id=self.merchant_id, wallet_id=wallet_id)
        return Response(wallet_to_dict(wallet))


class WalletMovementsView(IdempotentPostView):
    @extend_schema(
        operation_id="wallets_movements_list",
        parameters=list_parameters("mov"),
        responses={200: page_of("MovementList", MovementOutputSerializer())},
    )
    def get(self, request, wallet_id: str):
        query = validated(MovementListQuerySerializer, request.query_params.dict())
        movements = selectors.movement_list(merchant_id=self.merchant_id, wallet_id=wallet_id)
        rows, has_more, cursor = paginate(movements, params=query, prefix="mov")
        return Response(page_body([movement_to_dict(m) for m in rows], has_more, cursor))

    @idempotent_post_schema(
        MovementCreateSerializer,
        MovementOutputSerializer,
        status_code=201,
        operation_id="wallets_movements_create",
        errors=problems(s409="insufficient_funds: an expense larger than the available balance."),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, wallet_id: str):
        data = validated(MovementCreateSerializer, request.data)
        movement = services.movement_create(merchant_id=self.merchant_id, wallet_id=wallet_id, **data)
        return Response(movement_to_dict(movement), status=status.HTTP_201_CREATED)


class MovementRevertView(IdempotentPostView):
    @idempotent_post_schema(
        MovementRevertSerializer,
        MovementOutputSerializer,
        status_code=201,
        operation_id="movements_revert",
        errors=problems(s409="already_reverted, movement_not_revertible, or insufficient_funds."),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, movement_id: str):
        data = validated(MovementRevertSerializer, request.data)
        movement = services.movement_revert(
            merchant_id=self.merchant_id, movement_id=movement_id, reason=data["reason"]
        )
        return Response(movement_to_dict(movement), status=status.HTTP_201_CREATED)
