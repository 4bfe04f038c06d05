"""Fetching a day's settlement report from a provider, streamed to a file as it arrives.

Each provider serves its reports beside its API, with the same credentials as the adapters
(settings.PROVIDERS): Cielo's MerchantId/MerchantKey headers, Rede's PV and token (HTTP Basic),
Getnet's OAuth2 client credentials and seller id. A report the provider has not produced yet
answers 404: ReportUnavailable, to try again later.
"""

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, BinaryIO

import httpx
from django.conf import settings

CONNECT_TIMEOUT_SECONDS = 5.0
# A report is large and produced on demand: allow this long between two chunks of it.
READ_TIMEOUT_SECONDS = 120.0
CHUNK_BYTES = 256 * 1024


class ReportUnavailable(Exception):
    """The provider has no report for that day (yet)."""


class ReportFetchFailed(Exception):
    """The provider refused the request or failed to answer it."""


def _cielo(client: httpx.Client, config: Mapping[str, Any]) -> dict[str, Any]:
    return {"headers": {"MerchantId": config["merchant_id"], "MerchantKey": config["merchant_key"]}}


def _rede(client: httpx.Client, config: Mapping[str, Any]) -> dict[str, Any]:
    return {"auth": httpx.BasicAuth(config["pv"], config["token"])}


def _getnet(client: httpx.Client, config: Mapping[str, Any]) -> dict[str, Any]:
    reply = client.post(
        "/auth/oauth/v2/token",
        data={"scope": "oob", "grant_type": "client_credentials"},
        auth=httpx.BasicAuth(config["client_id"], config["client_secret"]),
    )
    try:
        token = reply.json().get("access_token")
    except (ValueError, AttributeError):
        token = None
    if reply.status_code != 200 or not isinstance(token, str):
        raise ReportFetchFailed(f"getnet: no access token (HTTP {reply.status_code})")
    return {"headers": {"Authorization": f"Bearer {token}", "seller_id": config["seller_id"]}}


# Where each provider serves a day's report, and how a request for it authenticates.
_PATHS = {"cielo": "/1/edi/payments/{day:%Y%m%d}", "rede": "/v1/edi/{day:%Y%m%d}", "getnet": "/v1/edi/{day:%Y%m%d}"}
_CREDENTIALS: dict[str, Callable[[httpx.Client, Mapping[str, Any]], dict[str, Any]]] = {
    "cielo": _cielo,
    "rede": _rede,
    "getnet": _getnet,
}


def fetch_report(*, provider: str, business_date: date, currency: str, into: BinaryIO) -> int:
    """Streams the provider's report of `business_date` in `currency` into `into`; returns its size
    in bytes. Raises ReportUnavailable (404) or ReportFetchFailed (any other refusal, or no answer)."""
    config = settings.PROVIDERS[provider]
    timeout = httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
    try:
        with httpx.Client(base_url=config["base_url"].rstrip("/"), timeout=timeout) as client:
            credentials = _CREDENTIALS[provider](client, config)
            path = _PATHS[provider].format(day=business_date)
            with client.stream("GET", path, params={"currency": currency}, **credentials) as response:
                if response.status_code == 404:
                    raise ReportUnavailable(f"{provider} has no report of {business_date} in {currency}")
                if response.status_code != 200:
                    raise ReportFetchFailed(
                        f"{provider}: HTTP {response.status_code} for the report of {business_date}"
                    )
                size = 0
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    into.write(chunk)
                    size += len(chunk)
                return size
    except httpx.HTTPError as exc:
        raise ReportFetchFailed(f"{provider}: {exc!r}") from exc
