"""Base views for the merchant API: every view knows its merchant, and every POST is idempotent
and refuses card numbers before anything else reads the body (before the Idempotency-Key is
even claimed, so nothing of such a request is stored)."""

from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed
from core.idempotency import run_idempotently, validate_key
from core.pci import find_card_numbers


def validated(serializer_class, data) -> dict:
    """Runs an input serializer; a bad input raises, and becomes a 400 problem."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class MerchantAPIView(APIView):
    @property
    def merchant_id(self) -> str:
        return self.request.user.id


class IdempotentPostView(MerchantAPIView):
    """Subclasses implement `perform_post(request, *args, **kwargs) -> Response`. The answer,
    errors included, is stored under the Idempotency-Key and replayed byte for byte."""

    def perform_post(self, request, *args, **kwargs) -> Response:
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        key = validate_key(request.headers.get("Idempotency-Key"))
        try:
            data = request.data
        except Exception as exc:  # a body that does not parse is answered, and stored, as before
            unparsable: Exception | None = exc
        else:
            unparsable = None
            refuse_card_numbers(data)

        def handler() -> tuple[int, str, str, bool]:
            storable = True
            try:
                if unparsable is not None:
                    raise unparsable
                response = self.perform_post(request, *args, **kwargs)
            except Exception as exc:  # rendered as a problem by DRF's handler, and stored
                storable = not getattr(exc, "retryable", False)
                response = self.handle_exception(exc)
            body = JSONRenderer().render(response.data).decode()
            return response.status_code, body, response.content_type or "application/json", storable

        stored = run_idempotently(
            merchant_id=self.merchant_id,
            key=key,
            method=request.method,
            path=request.get_full_path(),  # masked by run_idempotently before it is stored
            body=request.body,
            handler=handler,
        )
        response = HttpResponse(stored.body, status=stored.status, content_type=stored.content_type)
        if stored.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


def refuse_card_numbers(data) -> None:
    paths = find_card_numbers(data)
    if paths:
        raise ValidationFailed(
            "Card numbers are never accepted: tokenize the card and send its token.",
            errors=[
                {"field": path, "code": "card_number_rejected", "detail": "Looks like a card number."} for path in paths
            ],
            code="card_number_rejected",
        )
