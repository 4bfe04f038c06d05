"""Strict input fields. DRF's own fields coerce ("100" -> 100, 10.0 -> 10, 1 -> "1"); money input
must not be guessed at, so these accept exactly one JSON type."""

import re

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import CURRENCY_EXPONENTS, MAX_AMOUNT, is_known_currency


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be an integer (a JSON number with no fraction)."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class AmountField(StrictIntegerField):
    """An amount in the currency's minor unit: an integer from 1 to 99,999,999,999."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_AMOUNT)
        super().__init__(**kwargs)


class StrictCharField(serializers.CharField):
    """A JSON string, taken as sent: DRF's default trimming would accept "  " for a required
    field's minimum length of 1 and a string longer than its maximum, and change what was sent."""

    default_error_messages = {"invalid": "Must be a string."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# For text that must say something: not only whitespace (also the schema's pattern).
NOT_BLANK = RegexValidator(r"\S", message="Must not be blank.", code="blank")


@extend_schema_field({"type": "string", "pattern": "^[A-Z]{3}$", "enum": sorted(CURRENCY_EXPONENTS)})
class CurrencyField(StrictCharField):
    default_error_messages = {"unknown_currency": "Must be an upper-case ISO 4217 currency code, such as BRL."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 3)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not is_known_currency(value):
            self.fail("unknown_currency")
        return value


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


_METADATA_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,40}")


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": 20,
        "additionalProperties": {"type": "string", "maxLength": 500},
        # OpenAPI 3.0 has no propertyNames (and 3.1's integers would take 1.0, which we refuse).
        "description": "Up to 20 keys of 1-40 letters, digits, '_', '-' or '.'; values up to 500 characters.",
    }
)
class MetadataField(serializers.DictField):
    """Up to 20 string keys with string values of at most 500 characters, like Stripe's."""

    default_error_messages = {"invalid_metadata": "{reason}"}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        if len(data) > 20:
            self.fail("invalid_metadata", reason="At most 20 keys.")
        for key, value in data.items():
            if not _METADATA_KEY.fullmatch(key):
                self.fail("invalid_metadata", reason=f"Key {key[:40]!r} must be 1-40 letters, digits, '_', '-' or '.'.")
            if not isinstance(value, str) or len(value) > 500:
                self.fail("invalid_metadata", reason=f"Value of {key!r} must be a string of at most 500 characters.")
        return dict(data)
