"""Getnet's OAuth2 access token: fetched once, reused, fetched again when refused."""

import httpx
import pytest

from providers.adapters.getnet import GetnetAdapter
from providers.port import Outcome

from .support import authorize

TOKEN_PATH = "/getnet/auth/oauth/v2/token"


class RecordingTransport(httpx.HTTPTransport):
    """A real transport that remembers the path of every request it sends."""

    def __init__(self):
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


@pytest.fixture
def transport():
    return RecordingTransport()


@pytest.fixture
def getnet(settings, transport):
    config = settings.PROVIDERS["getnet"]
    adapter = GetnetAdapter(
        base_url=config["base_url"],
        client_id=config["client_id"],
        client_secret=config["client_secret"],
        seller_id=config["seller_id"],
        timeout=config["timeout"],
        transport=transport,
    )
    yield adapter
    adapter.close()


def test_the_token_is_fetched_once_and_reused(getnet, transport):
    results = [authorize(getnet)[1] for _ in range(3)]

    assert all(result.outcome == Outcome.APPROVED for result in results)
    assert transport.paths.count(TOKEN_PATH) == 1


def test_a_refused_token_is_replaced_once_and_the_call_goes_through(getnet, transport, sandbox_providers):
    authorize(getnet)
    sandbox_providers.revoke_access_tokens()

    _, result = authorize(getnet)

    assert result.outcome == Outcome.APPROVED
    assert transport.paths.count(TOKEN_PATH) == 2
    assert transport.paths[-3:] == ["/getnet/v1/payments/credit", TOKEN_PATH, "/getnet/v1/payments/credit"]


def test_when_no_token_can_be_had_the_payment_was_never_sent(getnet, transport, sandbox_providers):
    sandbox_providers.faults.set_from_request({"provider": "getnet", "error_rate": 1})

    _, result = authorize(getnet)

    assert result.outcome == Outcome.UNKNOWN
    assert not result.reached_provider  # only the token endpoint was called: safe to fall back
    assert transport.paths == [TOKEN_PATH]
