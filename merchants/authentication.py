from rest_framework import authentication, exceptions

from core import context

from .models import ApiKey
from .services import api_key_digest


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <api key>`: one indexed lookup by digest, merchant joined in."""

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != "bearer" or not raw_key.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        api_key = (
            ApiKey.objects.select_related("merchant")
            .filter(digest=api_key_digest(raw_key.strip()), revoked_at__isnull=True, merchant__is_active=True)
            .first()
        )
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        context.merchant_id.set(api_key.merchant_id)
        return api_key.merchant, api_key

    def authenticate_header(self, request):
        return "Bearer"
