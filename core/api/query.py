"""The grammar of every query parameter, decided once and used by every list endpoint.

- A value is taken exactly as sent: no trimming, no case folding (` BRL`, `captured ` are not
  `BRL`, `captured`).
- A number is ASCII digits only: no sign, no spaces, no other script's digits. `+5`, `5 `, `²`
  (which `str.isdigit` accepts and `int` refuses) and Arabic-Indic five, U+0665 (which `int` would quietly
  read as 5) are refused, as a 400 problem naming the parameter, never a 500.
- A date-time is ISO 8601 in ASCII (`2026-12-04T10:00:00Z`); a date-time without a zone is UTC.
- A parameter the endpoint does not know is refused (the list serializers are strict).
"""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .serializers import StrictInputSerializer

_ASCII_DIGITS = re.compile(r"[0-9]{1,18}", re.ASCII)

LIMIT_MIN, LIMIT_MAX, LIMIT_DEFAULT = 1, 100, 20


def ascii_integer(raw: str, *, minimum: int, maximum: int) -> int | None:
    """`raw` as an integer if it is ASCII digits within [minimum, maximum], else None."""
    if not isinstance(raw, str) or not _ASCII_DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None


class QueryText(serializers.CharField):
    """Text as sent: DRF would trim it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", 255)
        super().__init__(**kwargs)


@extend_schema_field(OpenApiTypes.INT)
class QueryLimit(serializers.Field):
    default_error_messages = {"invalid": f"Must be an integer from {LIMIT_MIN} to {LIMIT_MAX}, in ASCII digits."}

    def to_internal_value(self, data):
        value = ascii_integer(data, minimum=LIMIT_MIN, maximum=LIMIT_MAX)
        if value is None:
            self.fail("invalid")
        return value

    def to_representation(self, value):
        return value


class QueryDateTime(serializers.DateTimeField):
    default_error_messages = {"ascii": "Must be an ISO 8601 date-time in ASCII, such as 2026-12-04T10:00:00Z."}

    def to_internal_value(self, value):
        if not isinstance(value, str) or not value.isascii() or value != value.strip():
            self.fail("ascii")
        return super().to_internal_value(value)


class ListQuerySerializer(StrictInputSerializer):
    """The paging parameters every list takes; a list's own filters are added by subclassing."""

    limit = QueryLimit(required=False, help_text="1 to 100, default 20.")
    starting_after = QueryText(required=False, max_length=64, help_text="The `next_cursor` of the previous page.")
