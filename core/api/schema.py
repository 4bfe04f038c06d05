"""OpenAPI pieces shared by every app's views (drf-spectacular), and the AutoSchema that makes the
document say exactly what the server does: every error an operation can give, typed
application/problem+json; the headers each answer carries; request bodies closed to unknown fields
(StrictInputSerializer refuses them); ids' patterns. tests/contract runs schemathesis against it."""

import inspect
import re

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

from .problems import PROBLEM_CONTENT_TYPE
from .serializers import StrictInputSerializer

# The ids' prefixes (core.ids), by the name of the path parameter that carries one.
ID_PREFIXES = {
    "payment_id": "pay",
    "refund_id": "re",
    "dispute_id": "dp",
    "event_id": "evt",
    "wallet_id": "wal",
    "movement_id": "mov",
    "endpoint_id": "we",
}


def id_pattern(prefix: str) -> str:
    """Ids are the prefix and a ULID in Crockford base32 (core.ids)."""
    return rf"^{prefix}_[0-9A-HJKMNP-TV-Z]{{26}}$"


class ConstantField(serializers.CharField):
    """A response field that always holds one string (`"object": "payment"`)."""

    def __init__(self, value: str, **kwargs):
        self.value = value
        super().__init__(default=value, **kwargs)


class ConstantFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ConstantField

    def map_serializer_field(self, auto_schema, direction):
        # A pattern, not a one-value enum: drf-spectacular would make each an enum component.
        return {"type": "string", "pattern": f"^{re.escape(self.target.value)}$"}


def object_id(prefix: str, **kwargs) -> serializers.RegexField:
    """An id in a response shape, with its pattern."""
    return serializers.RegexField(id_pattern(prefix), **kwargs)


# What survives HTTP of core.idempotency.validate_key's rule (1-255 printable ASCII characters):
# a header value's leading and trailing spaces are stripped on the way, so it cannot start or
# end with one.
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[!-~]([ -~]*[!-~])?$",
}
IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=True,
    type=IDEMPOTENCY_KEY_SCHEMA,
    description="1-255 printable ASCII characters. The same key and request replay the stored answer.",
)

# Response headers (core.middleware, core.api.views, core.api.exception_handler).
REQUEST_ID_HEADER = OpenApiParameter(
    name="X-Request-ID",
    location=OpenApiParameter.HEADER,
    type={"type": "string", "pattern": r"^[A-Za-z0-9._:\-]{1,128}$"},
    required=True,
    response=True,
    description="The request's correlation id: the caller's X-Request-ID when it is sane, else a new one.",
)
IDEMPOTENT_REPLAYED_HEADER = OpenApiParameter(
    name="Idempotent-Replayed",
    location=OpenApiParameter.HEADER,
    type={"type": "string", "enum": ["true"]},
    response=True,
    description="Present when this is the stored answer to an earlier request with the same Idempotency-Key.",
)
WWW_AUTHENTICATE_HEADER = OpenApiParameter(
    name="WWW-Authenticate",
    location=OpenApiParameter.HEADER,
    type={"type": "string", "enum": ["Bearer"]},
    required=True,
    response=[401],
)
# core.edge marks every API answer so.
CACHE_CONTROL_HEADER = OpenApiParameter(
    name="Cache-Control",
    location=OpenApiParameter.HEADER,
    type={"type": "string", "enum": ["no-store"]},
    required=True,
    response=True,
)
# core.throttling: on every answer of a throttled view (not while the limiter fails open).
RATE_LIMIT_HEADERS = [
    OpenApiParameter(
        name="RateLimit",
        location=OpenApiParameter.HEADER,
        type={"type": "string"},
        response=True,
        description='What is left of the quota: `"api";r=42;t=1` (r requests remaining, t seconds to reset).',
    ),
    OpenApiParameter(
        name="RateLimit-Policy",
        location=OpenApiParameter.HEADER,
        type={"type": "string"},
        response=True,
        description='The quota: `"api";q=100;w=1` (q requests per window of w seconds).',
    ),
    OpenApiParameter(
        name="Retry-After",
        location=OpenApiParameter.HEADER,
        type={"type": "integer", "minimum": 0},
        required=True,
        response=[429],
        description="Seconds until the window resets.",
    ),
]

LIMIT_PARAMETER = OpenApiParameter(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    description="1 to 100 (ASCII digits), default 20.",
)


def list_parameters(prefix: str) -> list[OpenApiParameter]:
    """`limit` and `starting_after` (core.api.pagination) of a list of `prefix` ids."""
    return [
        LIMIT_PARAMETER,
        OpenApiParameter(
            "starting_after",
            {"type": "string", "pattern": rf"^{prefix}_[A-Za-z0-9]{{1,60}}$"},
            description="The `next_cursor` of the previous page.",
        ),
    ]


PROBLEM = inline_serializer(
    name="Problem",
    fields={
        "type": serializers.URLField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(min_value=400, max_value=599),
        "detail": serializers.CharField(),
        "code": serializers.RegexField(r"^[a-z][a-z0-9_]*$"),
        "errors": serializers.ListField(
            child=inline_serializer(
                name="ProblemError",
                fields={
                    "field": serializers.CharField(allow_null=True),
                    "code": serializers.CharField(),
                    "detail": serializers.CharField(),
                },
            )
        ),
    },
)


def problems(**by_status: str) -> dict[int, OpenApiResponse]:
    """An operation's own problem answers: `problems(s409="invalid_state_transition, ...")`."""
    return {int(key.removeprefix("s")): OpenApiResponse(PROBLEM, description=text) for key, text in by_status.items()}


def page_of(name: str, item: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(
        name=name,
        fields={
            "object": ConstantField("list"),
            "data": serializers.ListField(child=item),
            "has_more": serializers.BooleanField(),
            "next_cursor": serializers.CharField(allow_null=True),
        },
    )


def idempotent_post_schema(request, response, status_code: int = 200, errors: dict | None = None, **kwargs):
    """Documents an idempotent POST: its body, its answer and its own problem answers (AutoSchema
    adds those every idempotent POST can give)."""
    return extend_schema(request=request, responses={status_code: response, **(errors or {})}, **kwargs)


_BAD_REQUEST = (
    "validation_error, malformed_json, card_number_rejected, idempotency_key_required, "
    "idempotency_key_invalid, or another code saying what is wrong"
)


class AutoSchema(openapi.AutoSchema):
    """The project's schema class (REST_FRAMEWORK DEFAULT_SCHEMA_CLASS)."""

    def get_description(self):
        """The view's and method's own docstrings: base classes' (how to subclass them) are not
        about the operation."""
        method = getattr(self.view, self.method.lower(), None)
        doc = getattr(method, "__doc__", None) or vars(type(self.view)).get("__doc__")
        return inspect.cleandoc(doc) if doc else ""

    def get_tags(self):
        """`payments`, `wallets`, ...: the first path segment after /api/v1/."""
        if self._is_merchant_api():
            return [self.path.removeprefix("/api/v1/").split("/")[0]]
        return super().get_tags()

    def _is_merchant_api(self) -> bool:
        return self.path.startswith("/api/v1/")

    def _is_idempotent_post(self) -> bool:
        from .views import IdempotentPostView

        return self.method == "POST" and isinstance(self.view, IdempotentPostView)

    def _common_problems(self) -> dict[int, str]:
        """The problem answers that come from the machinery around every view, not the view."""
        if not self._is_merchant_api():
            return {}
        # core.edge refuses, before any view, request lines and headers over its limits.
        common = {
            401: "authentication_required (no Authorization header) or invalid_api_key.",
            414: "uri_too_long: the request line is over the limit.",
            429: "rate_limited: too many requests for this API key; retry after Retry-After seconds.",
            431: "request_header_fields_too_large: the headers are over the limit.",
        }
        has_query = any(p["in"] == "query" for p in self._get_parameters())
        if self._is_idempotent_post() or has_query:
            common[400] = _BAD_REQUEST + "."
        if "{" in self.path:
            common[404] = "resource_missing: no such object (or another merchant's)."
        if self._is_idempotent_post():
            common[409] = "idempotency_key_in_use: a request with this key is still running."
            common[411] = "length_required: a body the server cannot read to its end."
            common[413] = "request_too_large: the body is over 1 MiB."
            common[415] = "unsupported_media_type: send the body as application/json."
            common[422] = "idempotency_key_reused: the key was used for a different request."
        return common

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if not self._is_merchant_api():
            return responses
        declared = self.get_response_serializers()
        declared = declared if isinstance(declared, dict) else {}
        common = self._common_problems()
        for status in sorted({*common, *(int(s) for s in declared if int(s) >= 400)}):
            own = declared.get(status)
            texts = [t for t in (common.get(status), getattr(own, "description", None)) if t]
            problem = OpenApiResponse(PROBLEM, description=" Also: ".join(texts))
            responses[str(status)] = self._get_response_for_code(
                problem, str(status), [PROBLEM_CONTENT_TYPE], direction
            )
        return dict(sorted(responses.items()))

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_merchant_api():
            parameters += [REQUEST_ID_HEADER, CACHE_CONTROL_HEADER, WWW_AUTHENTICATE_HEADER, *RATE_LIMIT_HEADERS]
            if self._is_idempotent_post():
                parameters += [IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER]
        return parameters

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            prefix = ID_PREFIXES.get(parameter["name"])
            if prefix:
                parameter["schema"] = {"type": "string", "pattern": id_pattern(prefix)}
        return parameters

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        serializer = force_instance(serializer)
        if direction == "request" and isinstance(serializer, StrictInputSerializer):
            schema["additionalProperties"] = False
        if not vars(type(serializer)).get("__doc__"):
            schema.pop("description", None)  # a base class's docstring, not about this body
        return schema


# OpenAPI links: which operation's answer gives the id another operation takes, so that clients
# (and schemathesis' stateful tests) can follow a payment from its creation. drf-spectacular has
# no way to declare them: `add_links` (a postprocessing hook) adds them to the document.
# (operation id, status) -> [(link name, target operation id, {parameter: runtime expression})]
_BODY_ID = "$response.body#/id"
LINKS = {
    ("payments_create", "201"): [
        ("GetPayment", "payments_retrieve", {"payment_id": _BODY_ID}),
        ("AuthorizePayment", "payments_authorize", {"payment_id": _BODY_ID}),
        ("CapturePayment", "payments_capture", {"payment_id": _BODY_ID}),
        ("CancelPayment", "payments_cancel", {"payment_id": _BODY_ID}),
        ("RefundPayment", "payments_refunds_create", {"payment_id": _BODY_ID}),
        ("ListPaymentEvents", "payments_events_list", {"payment_id": _BODY_ID}),
    ],
    ("payments_authorize", "200"): [
        ("GetPayment", "payments_retrieve", {"payment_id": _BODY_ID}),
        ("CapturePayment", "payments_capture", {"payment_id": _BODY_ID}),
        ("CancelPayment", "payments_cancel", {"payment_id": _BODY_ID}),
        ("RefundPayment", "payments_refunds_create", {"payment_id": _BODY_ID}),
    ],
    ("payments_capture", "200"): [
        ("GetPayment", "payments_retrieve", {"payment_id": _BODY_ID}),
        ("RefundPayment", "payments_refunds_create", {"payment_id": _BODY_ID}),
        ("ListPaymentEvents", "payments_events_list", {"payment_id": _BODY_ID}),
    ],
    ("payments_refunds_create", "201"): [
        ("GetRefund", "refunds_retrieve", {"refund_id": _BODY_ID}),
        ("GetPayment", "payments_retrieve", {"payment_id": "$response.body#/payment"}),
    ],
    ("wallets_create", "201"): [
        ("GetWallet", "wallets_retrieve", {"wallet_id": _BODY_ID}),
        ("CreateMovement", "wallets_movements_create", {"wallet_id": _BODY_ID}),
        ("ListMovements", "wallets_movements_list", {"wallet_id": _BODY_ID}),
    ],
    ("wallets_movements_create", "201"): [
        ("RevertMovement", "movements_revert", {"movement_id": _BODY_ID}),
        ("GetWallet", "wallets_retrieve", {"wallet_id": "$response.body#/wallet"}),
    ],
    ("webhook_endpoints_create", "201"): [
        ("GetEndpoint", "webhook_endpoints_retrieve", {"endpoint_id": _BODY_ID}),
        ("RotateEndpointSecret", "webhook_endpoints_rotate_secret", {"endpoint_id": _BODY_ID}),
        ("DeleteEndpoint", "webhook_endpoints_delete", {"endpoint_id": _BODY_ID}),
    ],
}


def add_links(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS POSTPROCESSING_HOOKS)."""
    operations = {
        operation["operationId"]: operation
        for path_item in result.get("paths", {}).values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for (operation_id, status), links in LINKS.items():
        response = operations.get(operation_id, {}).get("responses", {}).get(status)
        if response is None:
            continue  # not in this (possibly filtered) document
        response["links"] = {
            name: {"operationId": target, "parameters": parameters}
            for name, target, parameters in links
            if target in operations
        }
    return result
