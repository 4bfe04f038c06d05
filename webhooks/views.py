"""`POST /webhooks/providers/{provider}/`: a provider's notification. No API key and no CSRF
token: the provider's signature over the raw body is what authenticates it (verified by its
adapter), so the body is read as bytes, never parsed before it is verified."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services, tasks
from .models import Verdict


class ProviderNotificationView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_scope = "provider_webhooks"  # per client address, RATE_LIMIT_PROVIDER_WEBHOOKS

    @extend_schema(exclude=True)
    def post(self, request, provider: str):
        try:
            size = max(0, int(request.META.get("CONTENT_LENGTH") or 0))
        except ValueError:
            size = 0
        # Over the cap, the body is not even read.
        body = request.body if size <= services.max_body_bytes() else b""
        notification = services.notification_receive(
            provider=provider,
            headers=request.headers,
            body=body,
            size=max(size, len(body)),
            remote_addr=request.META.get("REMOTE_ADDR"),
        )
        if notification.verdict == Verdict.ACCEPTED:
            # Applied by a task once stored; if the broker is down, the sweep applies it later.
            transaction.on_commit(lambda: tasks.apply_provider_notification.delay(notification.id), robust=True)
        return Response(
            {"received": True, "id": notification.id, "duplicate": notification.verdict == Verdict.DUPLICATE}
        )
