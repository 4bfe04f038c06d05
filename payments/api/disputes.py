"""Disputes in the merchant API: list, read, and answer (evidence or acceptance) once."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api.fields import NOT_BLANK, AmountField, CurrencyField, StrictCharField, StrictChoiceField
from core.api.pagination import page_body, paginate
from core.api.query import ListQuerySerializer, QueryText
from core.api.schema import ConstantField, idempotent_post_schema, list_parameters, object_id, page_of, problems
from core.api.serializers import StrictInputSerializer
from core.api.views import IdempotentPostView, MerchantAPIView, validated
from payments import disputes, selectors
from payments.models import DisputeReason, DisputeResponse, DisputeStatus
from payments.representations import dispute_to_dict

from .serializers import EmptySerializer

MAX_EVIDENCE_CHARS = 20_000


class DisputeListQuerySerializer(ListQuerySerializer):
    status = StrictChoiceField(choices=DisputeStatus.values, required=False)
    payment = QueryText(required=False, max_length=64)


class EvidenceSerializer(StrictInputSerializer):
    # Taken as sent, but not only whitespace (the validator is the schema's pattern, too).
    evidence = StrictCharField(max_length=MAX_EVIDENCE_CHARS, validators=[NOT_BLANK])


class DisputeOutputSerializer(serializers.Serializer):
    """The response shape, for the OpenAPI schema (payments.representations renders it)."""

    id = object_id("dp")
    object = ConstantField("dispute")
    payment = object_id("pay")
    amount = AmountField()
    currency = CurrencyField()
    status = serializers.ChoiceField(choices=DisputeStatus.values)
    reason = serializers.ChoiceField(choices=DisputeReason.values)
    evidence = serializers.CharField(allow_null=True)
    evidence_due_by = serializers.DateTimeField(allow_null=True)
    response = serializers.ChoiceField(choices=DisputeResponse.values, allow_null=True)
    responded_at = serializers.DateTimeField(allow_null=True)
    response_delivery = serializers.ChoiceField(choices=["pending", "delivered", "refused"], allow_null=True)
    provider = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class DisputeListView(MerchantAPIView):
    @extend_schema(
        operation_id="disputes_list",
        parameters=[DisputeListQuerySerializer, *list_parameters("dp")],
        responses={200: page_of("DisputeList", DisputeOutputSerializer())},
    )
    def get(self, request):
        query = validated(DisputeListQuerySerializer, request.query_params.dict())
        rows, has_more, cursor = paginate(
            selectors.dispute_list(merchant_id=self.merchant_id, filters=query), params=query, prefix="dp"
        )
        return Response(page_body([dispute_to_dict(d) for d in rows], has_more, cursor))


class DisputeDetailView(MerchantAPIView):
    @extend_schema(operation_id="disputes_retrieve", responses={200: DisputeOutputSerializer})
    def get(self, request, dispute_id: str):
        return Response(dispute_to_dict(selectors.dispute_get(merchant_id=self.merchant_id, dispute_id=dispute_id)))


class DisputeEvidenceView(IdempotentPostView):
    @idempotent_post_schema(
        EvidenceSerializer,
        DisputeOutputSerializer,
        operation_id="disputes_evidence",
        errors=problems(s409="invalid_state_transition (already answered or closed), or evidence_due_date_passed."),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, dispute_id: str):
        data = validated(EvidenceSerializer, request.data)
        dispute = disputes.dispute_submit_evidence(
            merchant_id=self.merchant_id, dispute_id=dispute_id, evidence=data["evidence"]
        )
        return Response(dispute_to_dict(dispute))


class DisputeAcceptView(IdempotentPostView):
    @idempotent_post_schema(
        EmptySerializer,
        DisputeOutputSerializer,
        operation_id="disputes_accept",
        errors=problems(s409="invalid_state_transition (already answered or closed), or evidence_due_date_passed."),
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, dispute_id: str):
        validated(EmptySerializer, request.data)
        dispute = disputes.dispute_accept(merchant_id=self.merchant_id, dispute_id=dispute_id)
        return Response(dispute_to_dict(dispute))
