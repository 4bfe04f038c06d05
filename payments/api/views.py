from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from core import context
from core.api.pagination import page_body, paginate, parse_cursor
from core.api.query import LIMIT_DEFAULT, ListQuerySerializer
from core.api.schema import idempotent_post_schema, list_parameters, page_of, problems
from core.api.views import IdempotentPostView, MerchantAPIView, validated
from core.errors import ValidationFailed
from core.formats import rfc3339
from payments import selectors, services
from payments.representations import payment_to_dict, refund_to_dict

from .serializers import (
    CaptureSerializer,
    EmptySerializer,
    EventOutputSerializer,
    PaymentCreateSerializer,
    PaymentListQuerySerializer,
    PaymentOutputSerializer,
    RefundCreateSerializer,
    RefundOutputSerializer,
)


class PaymentSubject:
    """The payment in the URL is the request's subject: its id goes on every log line."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authenticated first (the middleware resets it)
        context.payment_id.set(kwargs["payment_id"])


class PaymentListCreateView(IdempotentPostView):
    @extend_schema(
        operation_id="payments_list",
        parameters=[PaymentListQuerySerializer, *list_parameters("pay")],
        responses={200: page_of("PaymentList", PaymentOutputSerializer())},
    )
    def get(self, request):
        query = validated(PaymentListQuerySerializer, request.query_params.dict())
        payments = selectors.payment_list(merchant_id=self.merchant_id, filters=query)
        rows, has_more, cursor = paginate(payments, params=query, prefix="pay")
        return Response(page_body([payment_to_dict(p) for p in rows], has_more, cursor))

    @idempotent_post_schema(
        PaymentCreateSerializer, PaymentOutputSerializer, status_code=201, operation_id="payments_create"
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request):
        data = validated(PaymentCreateSerializer, request.data)
        payment = services.payment_create(merchant_id=self.merchant_id, **data)
        context.payment_id.set(payment.id)
        return Response(payment_to_dict(payment), status=status.HTTP_201_CREATED)


class PaymentDetailView(PaymentSubject, MerchantAPIView):
    @extend_schema(operation_id="payments_retrieve", responses={200: PaymentOutputSerializer})
    def get(self, request, payment_id: str):
        payment = selectors.payment_get(merchant_id=self.merchant_id, payment_id=payment_id)
        return Response(payment_to_dict(payment))


class PaymentAuthorizeView(PaymentSubject, IdempotentPostView):
    @idempotent_post_schema(
        EmptySerializer,
        PaymentOutputSerializer,
        operation_id="payments_authorize",
        errors=problems(s409="invalid_state_transition, or operation_in_progress (retry)."),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, payment_id: str):
        validated(EmptySerializer, request.data)
        payment = services.payment_authorize(merchant_id=self.merchant_id, payment_id=payment_id)
        return Response(payment_to_dict(payment))


class PaymentCaptureView(PaymentSubject, IdempotentPostView):
    @idempotent_post_schema(
        CaptureSerializer,
        PaymentOutputSerializer,
        operation_id="payments_capture",
        errors=problems(
            s400="amount_exceeds_capturable.",
            s402="provider_declined.",
            s409="invalid_state_transition, capture_window_expired, or operation_in_progress (retry).",
            s503="provider_unavailable: the provider could not be reached and nothing was sent; retry.",
        ),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, payment_id: str):
        data = validated(CaptureSerializer, request.data)
        payment = services.payment_capture(
            merchant_id=self.merchant_id, payment_id=payment_id, amount=data.get("amount")
        )
        return Response(payment_to_dict(payment))


class PaymentCancelView(PaymentSubject, IdempotentPostView):
    @idempotent_post_schema(
        EmptySerializer,
        PaymentOutputSerializer,
        operation_id="payments_cancel",
        errors=problems(
            s402="provider_declined.",
            s409="invalid_state_transition, or operation_in_progress (retry).",
            s503="provider_unavailable: the provider could not be reached and nothing was sent; retry.",
        ),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, payment_id: str):
        validated(EmptySerializer, request.data)
        payment = services.payment_cancel(merchant_id=self.merchant_id, payment_id=payment_id)
        return Response(payment_to_dict(payment))


class PaymentRefundsView(PaymentSubject, IdempotentPostView):
    @idempotent_post_schema(
        RefundCreateSerializer,
        RefundOutputSerializer,
        status_code=201,
        operation_id="payments_refunds_create",
        errors=problems(
            s409="invalid_state_transition, payment_disputed, amount_exceeds_refundable, "
            "or operation_in_progress (retry).",
        ),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, payment_id: str):
        data = validated(RefundCreateSerializer, request.data)
        refund = services.refund_create(
            merchant_id=self.merchant_id,
            payment_id=payment_id,
            amount=data.get("amount"),
            reason=data.get("reason", ""),
        )
        return Response(refund_to_dict(refund), status=status.HTTP_201_CREATED)


class PaymentEventsView(PaymentSubject, MerchantAPIView):
    """The payment's domain events, oldest first, paginated by sequence."""

    @extend_schema(
        operation_id="payments_events_list",
        parameters=list_parameters("evt"),
        responses={200: page_of("EventList", EventOutputSerializer())},
    )
    def get(self, request, payment_id: str):
        query = validated(ListQuerySerializer, request.query_params.dict())
        limit = query.get("limit", LIMIT_DEFAULT)
        events = selectors.payment_events(merchant_id=self.merchant_id, payment_id=payment_id)
        cursor = parse_cursor(query.get("starting_after"), prefix="evt")
        if cursor is not None:
            after = events.filter(pk=cursor).values_list("sequence", flat=True).first()
            if after is None:
                raise ValidationFailed(
                    "starting_after must be an event of this payment.",
                    errors=[{"field": "starting_after", "code": "invalid", "detail": "Unknown event id."}],
                )
            events = events.filter(sequence__gt=after)
        rows = list(events[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        data = [
            {"id": e.id, "type": e.type, "sequence": e.sequence, "data": e.data, "occurred_at": rfc3339(e.occurred_at)}
            for e in rows
        ]
        return Response(page_body(data, has_more, rows[-1].id if has_more else None))


class RefundDetailView(MerchantAPIView):
    @extend_schema(operation_id="refunds_retrieve", responses={200: RefundOutputSerializer})
    def get(self, request, refund_id: str):
        refund = selectors.refund_get(merchant_id=self.merchant_id, refund_id=refund_id)
        return Response(refund_to_dict(refund))
