from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from core.api.pagination import page_body, paginate
from core.api.query import ListQuerySerializer
from core.api.schema import idempotent_post_schema, list_parameters, page_of, problems
from core.api.views import IdempotentPostView, MerchantAPIView, validated
from outbox import selectors, services
from outbox.representations import delivery_to_dict, endpoint_to_dict, event_to_dict

from .serializers import (
    DeletedOutputSerializer,
    DeliveryOutputSerializer,
    EndpointCreateSerializer,
    EndpointOutputSerializer,
    EndpointWithSecretOutputSerializer,
    EventListQuerySerializer,
    EventObjectSerializer,
    RedeliverSerializer,
    RotateSecretSerializer,
)


class EndpointListCreateView(IdempotentPostView):
    @extend_schema(
        operation_id="webhook_endpoints_list",
        parameters=list_parameters("we"),
        responses={200: page_of("WebhookEndpointList", EndpointOutputSerializer())},
    )
    def get(self, request):
        query = validated(ListQuerySerializer, request.query_params.dict())
        endpoints = selectors.endpoint_list(merchant_id=self.merchant_id)
        rows, has_more, cursor = paginate(endpoints, params=query, prefix="we")
        return Response(page_body([endpoint_to_dict(e) for e in rows], has_more, cursor))

    @idempotent_post_schema(
        EndpointCreateSerializer,
        EndpointWithSecretOutputSerializer,
        status_code=201,
        operation_id="webhook_endpoints_create",
        errors=problems(s409="webhook_endpoint_limit_reached."),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request):
        data = validated(EndpointCreateSerializer, request.data)
        endpoint, secret = services.endpoint_create(merchant_id=self.merchant_id, **data)
        return Response(endpoint_to_dict(endpoint, secret=secret), status=status.HTTP_201_CREATED)


class EndpointDetailView(MerchantAPIView):
    @extend_schema(operation_id="webhook_endpoints_retrieve", responses={200: EndpointOutputSerializer})
    def get(self, request, endpoint_id: str):
        endpoint = selectors.endpoint_get(merchant_id=self.merchant_id, endpoint_id=endpoint_id)
        return Response(endpoint_to_dict(endpoint))

    @extend_schema(operation_id="webhook_endpoints_delete", responses={200: DeletedOutputSerializer})
    def delete(self, request, endpoint_id: str):
        endpoint = services.endpoint_delete(merchant_id=self.merchant_id, endpoint_id=endpoint_id)
        return Response({"id": endpoint.id, "object": "webhook_endpoint", "deleted": True})


class EndpointRotateSecretView(IdempotentPostView):
    @idempotent_post_schema(
        RotateSecretSerializer, EndpointWithSecretOutputSerializer, operation_id="webhook_endpoints_rotate_secret"
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, endpoint_id: str):
        validated(RotateSecretSerializer, request.data)
        endpoint, secret = services.endpoint_rotate_secret(merchant_id=self.merchant_id, endpoint_id=endpoint_id)
        return Response(endpoint_to_dict(endpoint, secret=secret))


class EventListView(MerchantAPIView):
    """Every event of the merchant of the last 30 days, newest first."""

    @extend_schema(
        operation_id="events_list",
        parameters=[
            *list_parameters("evt"),
            OpenApiParameter("type", {"type": "string", "maxLength": 64}, description="Only events of this type."),
        ],
        responses={200: page_of("EventObjectList", EventObjectSerializer())},
    )
    def get(self, request):
        query = validated(EventListQuerySerializer, request.query_params.dict())
        events = selectors.event_list(merchant_id=self.merchant_id, type=query.get("type"))
        rows, has_more, cursor = paginate(events, params=query, prefix="evt")
        return Response(page_body([event_to_dict(e) for e in rows], has_more, cursor))


class EventDetailView(MerchantAPIView):
    @extend_schema(operation_id="events_retrieve", responses={200: EventObjectSerializer})
    def get(self, request, event_id: str):
        return Response(event_to_dict(selectors.event_get(merchant_id=self.merchant_id, event_id=event_id)))


class EventRedeliverView(IdempotentPostView):
    """Sends the event to one of the merchant's endpoints again, now (202: it is queued)."""

    @idempotent_post_schema(
        RedeliverSerializer,
        DeliveryOutputSerializer,
        status_code=202,
        operation_id="events_redeliver",
        errors=problems(s409="webhook_endpoint_disabled."),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, event_id: str):
        data = validated(RedeliverSerializer, request.data)
        delivery = services.event_redeliver(
            merchant_id=self.merchant_id, event_id=event_id, endpoint_id=data["endpoint"]
        )
        return Response(delivery_to_dict(delivery), status=status.HTTP_202_ACCEPTED)
