"""The port's contract, kept by each adapter against its sandbox over real HTTP."""

import socket

import pytest

from core.ids import new_payment_id, new_refund_id
from providers.port import AuthorizeRequest, Operation, Outcome
from providers.registry import PROVIDER_NAMES, get_provider, reset_providers

from .support import authorize, authorized, capture, refund, status, void


@pytest.fixture(params=PROVIDER_NAMES)
def provider(request):
    return get_provider(request.param)


# --- test tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["tok_approve", "tok_chargeback", "tok_visa_gold_2"])
def test_approving_tokens_authorize_at_once(provider, token):
    _, result = authorize(provider, token)

    assert result.outcome == Outcome.APPROVED
    assert result.provider_reference
    assert result.reached_provider
    assert {"tid", "nsu", "authorization_code"} <= result.details.keys()


@pytest.mark.parametrize(
    ("token", "failure_code"),
    [("tok_decline", "card_declined"), ("tok_insufficient_funds", "insufficient_funds")],
)
def test_declining_tokens_fail_with_a_normalised_code(provider, token, failure_code):
    reference, result = authorize(provider, token)

    assert result.outcome == Outcome.DECLINED
    assert result.failure_code == failure_code
    assert result.raw_code
    assert status(provider, Operation.AUTHORIZE, reference=reference).outcome == Outcome.DECLINED


@pytest.mark.parametrize("token", ["4111111111111111", "tok-approve", ""])
def test_a_malformed_token_is_an_invalid_request(provider, token):
    reference, result = authorize(provider, token)

    assert result.outcome == Outcome.DECLINED
    assert result.failure_code == "invalid_request"
    assert status(provider, Operation.AUTHORIZE, reference=reference).outcome == Outcome.NOT_FOUND


def test_async_token_is_pending_until_the_provider_decides(provider, sandbox_providers):
    sandbox_providers.settings.async_delay_seconds = 60
    pending_reference, pending = authorize(provider, "tok_async")
    sandbox_providers.settings.async_delay_seconds = 0
    decided_reference, _ = authorize(provider, "tok_async")

    assert pending.outcome == Outcome.PENDING
    assert pending.provider_reference
    assert status(provider, Operation.AUTHORIZE, reference=pending_reference).outcome == Outcome.PENDING
    decided = status(provider, Operation.AUTHORIZE, reference=decided_reference)
    assert decided.outcome == Outcome.APPROVED
    assert decided.details["authorization_code"]


def test_async_token_with_capture_is_captured_once_approved(provider, sandbox_providers):
    sandbox_providers.settings.async_delay_seconds = 0
    reference, result = authorize(provider, "tok_async", capture=True)

    assert result.outcome == Outcome.PENDING
    assert status(provider, Operation.CAPTURE, reference=reference).outcome == Outcome.APPROVED


def test_timeout_token_is_unknown_and_the_status_query_finds_it_authorized(provider):
    reference, result = authorize(provider, "tok_timeout")

    assert result.outcome == Outcome.UNKNOWN
    assert result.reached_provider  # it may have happened: the caller must not fall back
    found = status(provider, Operation.AUTHORIZE, reference=reference)  # no provider_reference: by our id
    assert found.outcome == Outcome.APPROVED
    assert found.provider_reference
    assert found.details["tid"]


def test_repeating_a_timed_out_authorization_answers_the_first_one(provider):
    reference, timed_out = authorize(provider, "tok_timeout")
    repeat = provider.authorize(AuthorizeRequest(reference, 10_000, "BRL", "tok_timeout"))

    assert timed_out.outcome == Outcome.UNKNOWN
    assert repeat.outcome == Outcome.APPROVED
    assert repeat.provider_reference == status(provider, Operation.AUTHORIZE, reference=reference).provider_reference


# --- idempotency ----------------------------------------------------------------------------------


def test_a_repeated_authorization_is_the_same_charge(provider):
    reference, first = authorize(provider, amount=5_000)
    second = provider.authorize(AuthorizeRequest(reference, 5_000, "BRL", "tok_approve"))

    assert second.outcome == Outcome.APPROVED
    assert second.provider_reference == first.provider_reference
    assert capture(provider, first.provider_reference, 5_000).outcome == Outcome.APPROVED


def test_a_repeated_capture_captures_once(provider):
    provider_reference = authorized(provider, amount=5_000)
    reference = new_payment_id()

    first = capture(provider, provider_reference, 3_000, reference)
    repeat = capture(provider, provider_reference, 3_000, reference)

    assert (first.outcome, repeat.outcome) == (Outcome.APPROVED, Outcome.APPROVED)
    # 3,000 captured, not 6,000: refunds beyond 3,000 are refused
    assert refund(provider, provider_reference, 3_001).outcome == Outcome.DECLINED
    assert refund(provider, provider_reference, 3_000).outcome == Outcome.APPROVED


def test_a_repeated_refund_refunds_once(provider):
    provider_reference = authorized(provider, amount=5_000, capture=True)
    reference = new_refund_id()

    first = refund(provider, provider_reference, 2_000, reference)
    repeat = refund(provider, provider_reference, 2_000, reference)

    assert (first.outcome, repeat.outcome) == (Outcome.APPROVED, Outcome.APPROVED)
    assert refund(provider, provider_reference, 3_000).outcome == Outcome.APPROVED  # 2,000 + 3,000 = all
    assert refund(provider, provider_reference, 1).outcome == Outcome.DECLINED


def test_a_repeated_void_is_answered_as_the_first(provider):
    provider_reference = authorized(provider, amount=5_000)
    reference = new_payment_id()

    assert void(provider, provider_reference, 5_000, reference).outcome == Outcome.APPROVED
    assert void(provider, provider_reference, 5_000, reference).outcome == Outcome.APPROVED


# --- amount and state rules -----------------------------------------------------------------------


def test_capture_is_at_most_the_authorized_amount_and_happens_once(provider):
    provider_reference = authorized(provider, amount=5_000)

    over = capture(provider, provider_reference, 5_001)
    partial = capture(provider, provider_reference, 4_000)
    again = capture(provider, provider_reference, 1_000)

    assert over.outcome == Outcome.DECLINED
    assert over.failure_code == "invalid_request"
    assert partial.outcome == Outcome.APPROVED
    assert again.outcome == Outcome.DECLINED


def test_void_only_before_capture(provider):
    captured = authorized(provider, amount=5_000, capture=True)
    open_authorization = authorized(provider, amount=5_000)

    assert void(provider, captured, 5_000).outcome == Outcome.DECLINED
    assert refund(provider, captured, 5_000).outcome == Outcome.APPROVED  # the money was not refunded by the void
    assert void(provider, open_authorization, 5_000).outcome == Outcome.APPROVED
    assert capture(provider, open_authorization, 5_000).outcome == Outcome.DECLINED


def test_refund_only_after_capture_and_at_most_what_was_captured(provider):
    provider_reference = authorized(provider, amount=5_000)

    before_capture = refund(provider, provider_reference, 1_000)
    assert capture(provider, provider_reference, 4_000).outcome == Outcome.APPROVED
    over = refund(provider, provider_reference, 4_001)
    partial = refund(provider, provider_reference, 1_500)
    rest = refund(provider, provider_reference, 2_500)

    assert before_capture.outcome == Outcome.DECLINED
    assert over.outcome == Outcome.DECLINED
    assert (partial.outcome, rest.outcome) == (Outcome.APPROVED, Outcome.APPROVED)


# --- status queries -------------------------------------------------------------------------------


def test_status_of_each_operation(provider):
    payment_reference, authorization = authorize(provider, amount=5_000)
    provider_reference = authorization.provider_reference
    capture_reference, refund_reference, other_refund = new_payment_id(), new_refund_id(), new_refund_id()

    def outcome(operation, reference):
        return status(
            provider,
            operation,
            reference=reference,
            payment_reference=payment_reference,
            provider_reference=provider_reference,
        ).outcome

    assert outcome(Operation.CAPTURE, capture_reference) == Outcome.NOT_FOUND
    capture(provider, provider_reference, 5_000, capture_reference)
    refund(provider, provider_reference, 1_000, refund_reference)

    assert outcome(Operation.AUTHORIZE, payment_reference) == Outcome.APPROVED
    assert outcome(Operation.CAPTURE, capture_reference) == Outcome.APPROVED
    assert outcome(Operation.REFUND, refund_reference) == Outcome.APPROVED
    assert outcome(Operation.REFUND, other_refund) == Outcome.NOT_FOUND
    assert outcome(Operation.VOID, new_payment_id()) == Outcome.NOT_FOUND


def test_status_of_a_void(provider):
    payment_reference, authorization = authorize(provider, amount=5_000)
    void_reference = new_payment_id()
    void(provider, authorization.provider_reference, 5_000, void_reference)

    result = status(
        provider,
        Operation.VOID,
        reference=void_reference,
        payment_reference=payment_reference,
        provider_reference=authorization.provider_reference,
    )

    assert result.outcome == Outcome.APPROVED


def test_status_of_a_payment_the_provider_never_saw(provider):
    assert status(provider, Operation.AUTHORIZE, reference=new_payment_id()).outcome == Outcome.NOT_FOUND


# --- credentials and faults -----------------------------------------------------------------------

CREDENTIALS = {"cielo": "merchant_key", "rede": "token", "getnet": "client_secret"}


@pytest.mark.parametrize("name", PROVIDER_NAMES)
def test_wrong_credentials_fail_the_call_and_leave_status_unknown(name, settings):
    settings.PROVIDERS[name][CREDENTIALS[name]] = "wrong"
    reset_providers()
    provider = get_provider(name)

    reference, result = authorize(provider)

    assert result.outcome == Outcome.DECLINED
    assert result.failure_code == "provider_error"
    assert result.raw_code
    assert status(provider, Operation.AUTHORIZE, reference=reference).outcome == Outcome.UNKNOWN


def test_a_5xx_is_unknown_and_nothing_happened(provider, sandbox_providers):
    authorized(provider)  # Getnet holds its access token from here on
    sandbox_providers.faults.set_from_request({"provider": provider.name, "error_rate": 1})

    reference, result = authorize(provider)
    during = status(provider, Operation.AUTHORIZE, reference=reference)
    sandbox_providers.faults.clear()

    assert result.outcome == Outcome.UNKNOWN
    assert result.reached_provider
    assert result.raw_code == "500"
    assert during.outcome == Outcome.UNKNOWN
    assert status(provider, Operation.AUTHORIZE, reference=reference).outcome == Outcome.NOT_FOUND


def test_an_answer_lost_to_a_timeout_is_unknown_although_it_happened(provider, sandbox_providers):
    provider_reference = authorized(provider, amount=5_000)
    capture_reference = new_payment_id()
    sandbox_providers.faults.set_from_request({"provider": provider.name, "timeout_rate": 1})

    result = capture(provider, provider_reference, 5_000, capture_reference)
    sandbox_providers.faults.clear()

    assert result.outcome == Outcome.UNKNOWN
    assert result.reached_provider
    found = status(provider, Operation.CAPTURE, reference=capture_reference, provider_reference=provider_reference)
    assert found.outcome == Outcome.APPROVED


def test_an_outage_is_unknown_and_nothing_happened(provider, sandbox_providers):
    authorized(provider)
    sandbox_providers.faults.set_from_request({"provider": provider.name, "outage": True})

    reference, result = authorize(provider)
    sandbox_providers.faults.clear()

    # The 503 comes from the provider's side of the wire: by the port's rules its outcome is
    # unknown (reached_provider stays True), and the status query then shows nothing happened.
    assert result.outcome == Outcome.UNKNOWN
    assert result.raw_code == "503"
    assert status(provider, Operation.AUTHORIZE, reference=reference).outcome == Outcome.NOT_FOUND


def test_outage_of_one_provider_leaves_the_others_up(sandbox_providers):
    sandbox_providers.faults.set_from_request({"provider": "cielo", "outage": True})

    assert authorize(get_provider("cielo"))[1].outcome == Outcome.UNKNOWN
    assert authorize(get_provider("rede"))[1].outcome == Outcome.APPROVED


@pytest.mark.parametrize("name", PROVIDER_NAMES)
def test_an_unreachable_provider_was_certainly_not_reached(name, settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.PROVIDERS[name]["base_url"] = f"http://127.0.0.1:{port}/{name}"
    reset_providers()
    provider = get_provider(name)

    _, result = authorize(provider)
    provider_reference = "0" * 20
    others = [
        capture(provider, provider_reference, 100),
        void(provider, provider_reference, 100),
        refund(provider, provider_reference, 100),
    ]

    assert result.outcome == Outcome.UNKNOWN
    assert not result.reached_provider  # safe to try another provider
    assert all(r.outcome == Outcome.UNKNOWN and not r.reached_provider for r in others)
