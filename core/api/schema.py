"""OpenAPI pieces shared by every app's views (drf-spectacular)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers

IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=True,
    type=str,
    description="1-255 printable characters. The same key and request replay the stored answer.",
)

LIST_PARAMETERS = [
    OpenApiParameter("limit", int, description="1 to 100, default 20."),
    OpenApiParameter("starting_after", str, description="The `next_cursor` of the previous page."),
]

PROBLEM = inline_serializer(
    name="Problem",
    fields={
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "errors": serializers.ListField(child=serializers.DictField()),
    },
)


def page_of(name: str, item: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(
        name=name,
        fields={
            "object": serializers.CharField(default="list"),
            "data": serializers.ListField(child=item),
            "has_more": serializers.BooleanField(),
            "next_cursor": serializers.CharField(allow_null=True),
        },
    )


ERRORS = dict.fromkeys((400, 401, 402, 404, 409, 422), PROBLEM)


def idempotent_post_schema(request, response, status_code: int = 200, **kwargs):
    """Documents an idempotent POST: its body, its answer and the problem answers."""
    return extend_schema(
        request=request,
        responses={status_code: response, **ERRORS},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        **kwargs,
    )
