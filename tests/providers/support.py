"""Short ways to call a provider port in tests, each with fresh references."""

from core.ids import new_id, new_payment_id, new_refund_id
from providers.port import (
    AuthorizeRequest,
    CaptureRequest,
    Operation,
    Outcome,
    ProviderPort,
    ProviderResult,
    RefundRequest,
    StatusRequest,
    VoidRequest,
)

CURRENCY = "BRL"


def authorize(
    provider: ProviderPort, token: str = "tok_approve", *, amount: int = 10_000, capture: bool = False
) -> tuple[str, ProviderResult]:
    """Authorize a new payment; returns our payment reference and the result."""
    reference = new_payment_id()
    return reference, provider.authorize(AuthorizeRequest(reference, amount, CURRENCY, token, capture))


def authorized(provider: ProviderPort, *, amount: int = 10_000, capture: bool = False) -> str:
    """A new approved authorization; returns the provider's reference."""
    _, result = authorize(provider, amount=amount, capture=capture)
    assert result.outcome == Outcome.APPROVED, result
    return result.provider_reference


def capture(provider: ProviderPort, provider_reference: str, amount: int, reference: str = "") -> ProviderResult:
    request = CaptureRequest(reference or new_id("cap"), provider_reference, amount, CURRENCY)
    return provider.capture(request)


def void(provider: ProviderPort, provider_reference: str, amount: int, reference: str = "") -> ProviderResult:
    return provider.void(VoidRequest(reference or new_id("void"), provider_reference, amount, CURRENCY))


def refund(provider: ProviderPort, provider_reference: str, amount: int, reference: str = "") -> ProviderResult:
    return provider.refund(RefundRequest(reference or new_refund_id(), provider_reference, amount, CURRENCY))


def status(
    provider: ProviderPort,
    operation: Operation,
    *,
    reference: str,
    payment_reference: str = "",
    provider_reference: str = "",
) -> ProviderResult:
    request = StatusRequest(operation, reference, payment_reference or reference, provider_reference)
    return provider.get_status(request)
