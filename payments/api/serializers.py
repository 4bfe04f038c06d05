"""Input validation only. Output is payments.representations, shared with domain events."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import AmountField, CurrencyField, MetadataField, StrictCharField, StrictChoiceField
from core.api.query import ListQuerySerializer, QueryDateTime, QueryText
from core.api.schema import ConstantField, object_id
from core.api.serializers import StrictInputSerializer
from payments.models import CaptureMethod, PaymentStatus
from providers.registry import PROVIDER_NAMES

_TOKEN = r"tok_[A-Za-z0-9_]{1,60}"
_WALLET = r"wal_[A-Za-z0-9]{1,40}"


def _method_schema(kind: str, field: str, pattern: str) -> dict:
    return {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": [kind]},
            field: {"type": "string", "pattern": f"^{pattern}$"},
        },
        "required": ["type", field],
        "additionalProperties": False,
    }


# Which fields go with which type is checked in validate(): the schema says it with oneOf.
@extend_schema_field(
    {"oneOf": [_method_schema("card", "token", _TOKEN), _method_schema("wallet", "wallet", _WALLET)]},
    component_name="PaymentMethod",
)
class PaymentMethodSerializer(StrictInputSerializer):
    type = StrictChoiceField(choices=["card", "wallet"])
    token = StrictCharField(required=False, max_length=64)
    wallet = StrictCharField(required=False, max_length=48)

    def validate(self, attrs):
        if attrs["type"] == "card":
            if "wallet" in attrs:
                raise serializers.ValidationError({"wallet": "Not allowed for a card payment method."})
            if not re.fullmatch(_TOKEN, attrs.get("token", "")):
                raise serializers.ValidationError({"token": "A card token such as 'tok_approve' is required."})
        else:
            if "token" in attrs:
                raise serializers.ValidationError({"token": "Not allowed for a wallet payment method."})
            if not re.fullmatch(_WALLET, attrs.get("wallet", "")):
                raise serializers.ValidationError({"wallet": "A wallet id such as 'wal_...' is required."})
        return attrs


class PaymentCreateSerializer(StrictInputSerializer):
    amount = AmountField()
    currency = CurrencyField()
    payment_method = PaymentMethodSerializer()
    capture_method = StrictChoiceField(choices=CaptureMethod.values, required=False, default=CaptureMethod.AUTOMATIC)
    provider = StrictChoiceField(choices=list(PROVIDER_NAMES), required=False)
    reference = StrictCharField(required=False, max_length=255, allow_blank=True)
    description = StrictCharField(required=False, max_length=1000, allow_blank=True)
    metadata = MetadataField(required=False)


class EmptySerializer(StrictInputSerializer):
    """For actions that take no parameters: anything sent is an unknown field."""


class CaptureSerializer(StrictInputSerializer):
    amount = AmountField(required=False)


class RefundCreateSerializer(StrictInputSerializer):
    amount = AmountField(required=False)
    reason = StrictCharField(required=False, max_length=500, allow_blank=True)


class PaymentListQuerySerializer(ListQuerySerializer):
    status = StrictChoiceField(choices=PaymentStatus.values, required=False)
    provider = StrictChoiceField(choices=[*PROVIDER_NAMES, "wallet"], required=False)
    reference = QueryText(required=False, max_length=255)
    created_gte = QueryDateTime(required=False)
    created_lt = QueryDateTime(required=False)


# --- response shapes, for the OpenAPI schema only (payments.representations renders them) -------
class PaymentOutputSerializer(serializers.Serializer):
    id = object_id("pay")
    object = ConstantField("payment")
    status = serializers.ChoiceField(choices=PaymentStatus.values)
    amount = AmountField()
    currency = CurrencyField()
    amount_capturable = serializers.IntegerField()
    amount_captured = serializers.IntegerField()
    amount_refunded = serializers.IntegerField()
    capture_method = serializers.ChoiceField(choices=CaptureMethod.values)
    capture_before = serializers.DateTimeField(allow_null=True)
    provider = serializers.CharField(allow_null=True)
    provider_reference = serializers.CharField(allow_null=True)
    payment_method = serializers.DictField()
    reference = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    failure_code = serializers.CharField(allow_null=True)
    failure_message = serializers.CharField(allow_null=True)
    cancellation_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RefundOutputSerializer(serializers.Serializer):
    id = object_id("re")
    object = ConstantField("refund")
    payment = object_id("pay")
    amount = AmountField()
    currency = CurrencyField()
    status = serializers.ChoiceField(choices=["pending", "succeeded", "failed"])
    reason = serializers.CharField(allow_null=True)
    failure_code = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class EventOutputSerializer(serializers.Serializer):
    id = object_id("evt")
    type = serializers.CharField()
    sequence = serializers.IntegerField()
    data = serializers.DictField()
    occurred_at = serializers.DateTimeField()
