"""Input validation only. Output is outbox.representations, shared with webhooks and events."""

from rest_framework import serializers

from core.api.fields import StrictCharField
from core.api.query import ListQuerySerializer, QueryText
from core.api.serializers import StrictInputSerializer


class EndpointCreateSerializer(StrictInputSerializer):
    url = StrictCharField(max_length=2048)
    event_types = serializers.ListField(child=StrictCharField(max_length=64), min_length=1, max_length=100)


class RotateSecretSerializer(StrictInputSerializer):
    """No fields: the new secret is generated."""


class RedeliverSerializer(StrictInputSerializer):
    endpoint = StrictCharField(max_length=64, help_text="The webhook endpoint (`we_...`) to send the event to.")


class EventListQuerySerializer(ListQuerySerializer):
    type = QueryText(required=False, max_length=64, help_text="Only events of this type.")


# --- response shapes, for the OpenAPI schema only (outbox.representations renders them) ---------
class EndpointOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="webhook_endpoint")
    url = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField(help_text="`enabled` or `disabled`.")
    disabled_reason = serializers.CharField(allow_null=True, help_text="`gone`, `failing` or `operator`.")
    created_at = serializers.DateTimeField()


class EndpointWithSecretOutputSerializer(EndpointOutputSerializer):
    secret = serializers.CharField(help_text="`whsec_...`: shown only in this answer.")


class DeletedOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="webhook_endpoint")
    deleted = serializers.BooleanField()


class EventObjectSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    created_at = serializers.DateTimeField()
    data = serializers.DictField(help_text='`{"object": {...}}`: the object as it was when the event occurred.')


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="webhook_delivery")
    endpoint = serializers.CharField()
    event = serializers.CharField()
    event_type = serializers.CharField()
    status = serializers.CharField(help_text="`pending`, `delivered` or `failed`.")
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
