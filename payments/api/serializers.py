"""Input validation only. Output is payments.representations, shared with domain events."""

import re

from rest_framework import serializers

from core.api.fields import AmountField, CurrencyField, MetadataField, StrictCharField, StrictChoiceField
from core.api.query import ListQuerySerializer, QueryDateTime, QueryText
from core.api.serializers import StrictInputSerializer
from payments.models import CaptureMethod, PaymentStatus
from providers.registry import PROVIDER_NAMES

_TOKEN = re.compile(r"^tok_[A-Za-z0-9_]{1,60}$")
_WALLET = re.compile(r"^wal_[A-Za-z0-9]{1,40}$")


class PaymentMethodSerializer(StrictInputSerializer):
    type = StrictChoiceField(choices=["card", "wallet"])
    token = StrictCharField(required=False, max_length=64)
    wallet = StrictCharField(required=False, max_length=48)

    def validate(self, attrs):
        if attrs["type"] == "card":
            if "wallet" in attrs:
                raise serializers.ValidationError({"wallet": "Not allowed for a card payment method."})
            if not _TOKEN.match(attrs.get("token", "")):
                raise serializers.ValidationError({"token": "A card token such as 'tok_approve' is required."})
        else:
            if "token" in attrs:
                raise serializers.ValidationError({"token": "Not allowed for a wallet payment method."})
            if not _WALLET.match(attrs.get("wallet", "")):
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
    id = serializers.CharField()
    object = serializers.CharField(default="payment")
    status = serializers.ChoiceField(choices=PaymentStatus.values)
    amount = serializers.IntegerField()
    currency = serializers.CharField()
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
    id = serializers.CharField()
    object = serializers.CharField(default="refund")
    payment = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "succeeded", "failed"])
    reason = serializers.CharField(allow_null=True)
    failure_code = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class EventOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    sequence = serializers.IntegerField()
    data = serializers.DictField()
    occurred_at = serializers.DateTimeField()
