"""Input validation only. Output is outbox.representations, shared with webhooks and events."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import StrictCharField
from core.api.query import ListQuerySerializer, QueryText
from core.api.schema import ConstantField, object_id
from core.api.serializers import StrictInputSerializer
from outbox.services import MAX_EVENT_TYPES

_EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"  # outbox.services._EVENT_TYPE


# What outbox.services.event_types_normalize accepts (repeats are dropped): `"*"` alone (every
# type), or event types by their shape.
@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "string", "enum": ["*"]}, "minItems": 1, "maxItems": MAX_EVENT_TYPES},
            {
                "type": "array",
                "items": {"type": "string", "maxLength": 64, "pattern": _EVENT_TYPE_PATTERN},
                "minItems": 1,
                "maxItems": MAX_EVENT_TYPES,
            },
        ]
    }
)
class EventTypesField(serializers.ListField):
    pass


class EndpointCreateSerializer(StrictInputSerializer):
    url = StrictCharField(max_length=2048)
    event_types = EventTypesField(child=StrictCharField(max_length=64), min_length=1, max_length=MAX_EVENT_TYPES)


class RotateSecretSerializer(StrictInputSerializer):
    """No fields: the new secret is generated."""


class RedeliverSerializer(StrictInputSerializer):
    endpoint = StrictCharField(max_length=64, help_text="The webhook endpoint (`we_...`) to send the event to.")


class EventListQuerySerializer(ListQuerySerializer):
    type = QueryText(required=False, max_length=64, help_text="Only events of this type.")


# --- response shapes, for the OpenAPI schema only (outbox.representations renders them) ---------
class EndpointOutputSerializer(serializers.Serializer):
    id = object_id("we")
    object = ConstantField("webhook_endpoint")
    url = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField(help_text="`enabled` or `disabled`.")
    disabled_reason = serializers.CharField(allow_null=True, help_text="`gone`, `failing` or `operator`.")
    created_at = serializers.DateTimeField()


class EndpointWithSecretOutputSerializer(EndpointOutputSerializer):
    secret = serializers.CharField(help_text="`whsec_...`: shown only in this answer.")


class DeletedOutputSerializer(serializers.Serializer):
    id = object_id("we")
    object = ConstantField("webhook_endpoint")
    deleted = serializers.BooleanField()


class EventObjectSerializer(serializers.Serializer):
    id = object_id("evt")
    type = serializers.CharField()
    created_at = serializers.DateTimeField()
    data = serializers.DictField(help_text='`{"object": {...}}`: the object as it was when the event occurred.')


class DeliveryOutputSerializer(serializers.Serializer):
    id = object_id("whd")
    object = ConstantField("webhook_delivery")
    endpoint = object_id("we")
    event = object_id("evt")
    event_type = serializers.CharField()
    status = serializers.CharField(help_text="`pending`, `delivered` or `failed`.")
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
