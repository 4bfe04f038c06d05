"""Input validation only. Output is wallets.representations, shared with domain events."""

from rest_framework import serializers

from core.api.fields import NOT_BLANK, AmountField, CurrencyField, StrictCharField, StrictChoiceField
from core.api.query import ListQuerySerializer
from core.api.schema import ConstantField, object_id
from core.api.serializers import StrictInputSerializer
from wallets.models import MovementType


class WalletCreateSerializer(StrictInputSerializer):
    currency = CurrencyField()
    owner_reference = StrictCharField(required=False, max_length=255, allow_blank=True)


class MovementCreateSerializer(StrictInputSerializer):
    type = StrictChoiceField(choices=MovementType.values)
    amount = AmountField()
    reference = StrictCharField(required=False, max_length=255, allow_blank=True)
    description = StrictCharField(required=False, max_length=1000, allow_blank=True)


class MovementRevertSerializer(StrictInputSerializer):
    reason = StrictCharField(max_length=500, validators=[NOT_BLANK])


class MovementListQuerySerializer(ListQuerySerializer):
    pass


# --- response shapes, for the OpenAPI schema only (wallets.representations renders them) --------
class WalletOutputSerializer(serializers.Serializer):
    id = object_id("wal")
    object = ConstantField("wallet")
    currency = CurrencyField()
    balance = serializers.IntegerField(help_text="available_balance plus what authorized payments hold reserved.")
    available_balance = serializers.IntegerField()
    owner_reference = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class MovementOutputSerializer(serializers.Serializer):
    id = object_id("mov")
    object = ConstantField("movement")
    wallet = object_id("wal")
    # A plain string here: the enum is documented once, on the input (MovementCreate), so that
    # drf-spectacular names it without a collision with other apps' `type` enums.
    type = serializers.CharField(help_text="`income` or `expense`.")
    amount = AmountField()
    currency = CurrencyField()
    reference = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    reverts = object_id("mov", allow_null=True, help_text="The movement this one reverts.")
    reason = serializers.CharField(allow_null=True, help_text="Why it was reverted (reverts only).")
    created_at = serializers.DateTimeField()
