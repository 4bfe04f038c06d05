"""The wrapper around each adapter: retries with backoff and jitter, only of calls that cannot do
anything twice, and the breaker in front of every network call; against the sandbox over HTTP."""

import random

import pytest

from providers.port import DisputeResponseRequest, Operation, Outcome
from providers.registry import get_provider, reset_providers
from providers.resilience import CIRCUIT_OPEN, RetryPolicy
from tests.providers.support import authorize, authorized, capture, status

from .conftest import COOLDOWN_SECONDS

pytestmark = pytest.mark.usefixtures("breaker_settings")

ATTEMPTS = 3  # PROVIDER_RETRY's default
BASE = 0.05


def test_a_status_query_is_asked_again_with_growing_pauses_until_the_provider_answers(clock, outgoing, failing_next):
    rede = get_provider("rede")
    reference, _ = authorize(rede)
    failing_next("/rede/v1/transactions", 2)

    found = status(rede, Operation.AUTHORIZE, reference=reference)

    assert found.outcome == Outcome.APPROVED
    assert outgoing.count("rede") == 1 + 3  # the authorization, then three status queries
    first, second = clock.sleeps
    assert BASE / 2 <= first <= BASE
    assert BASE <= second <= 2 * BASE
    assert found.latency_ms >= round((first + second) * 1000)  # the whole wait is the call's latency


def test_status_query_retries_are_bounded_and_count_once_for_the_breaker(clock, outgoing, sandbox_providers):
    cielo = get_provider("cielo")
    reference, _ = authorize(cielo)
    sandbox_providers.faults.set_from_request({"provider": "cielo", "outage": True})

    during = status(cielo, Operation.AUTHORIZE, reference=reference)

    assert during.outcome == Outcome.UNKNOWN
    assert outgoing.count("cielo") == 1 + ATTEMPTS
    assert len(clock.sleeps) == ATTEMPTS - 1
    assert cielo.circuit.snapshot().consecutive_failures == 1


def test_a_call_that_may_have_reached_the_provider_is_never_repeated(clock, outgoing, sandbox_providers):
    getnet = get_provider("getnet")
    provider_reference = authorized(getnet)  # the access token is fetched here
    sandbox_providers.faults.set_from_request({"provider": "getnet", "error_rate": 1})

    results = [authorize(getnet)[1], capture(getnet, provider_reference, 10_000)]

    assert [(r.outcome, r.reached_provider) for r in results] == [(Outcome.UNKNOWN, True)] * 2
    assert outgoing.count("getnet") == 2 + 2  # token and authorization, then one try of each
    assert clock.sleeps == []


def test_a_call_that_never_left_is_retried_whatever_it_is(settings, clock, outgoing, closed_port):
    settings.PROVIDERS["cielo"]["base_url"] = f"http://127.0.0.1:{closed_port}/cielo"
    reset_providers()
    cielo = get_provider("cielo")

    _, result = authorize(cielo)

    assert (result.outcome, result.reached_provider) == (Outcome.UNKNOWN, False)
    assert outgoing.count("cielo") == ATTEMPTS  # connection refused each time: nothing was sent
    assert len(clock.sleeps) == ATTEMPTS - 1


def test_getnets_access_token_is_fetched_again_when_the_first_tries_fail(clock, outgoing, failing_next):
    failing_next("/getnet/auth/oauth/v2/token", 2)

    _, result = authorize(get_provider("getnet"))

    assert result.outcome == Outcome.APPROVED
    assert outgoing.paths == ["/getnet/auth/oauth/v2/token"] * 3 + ["/getnet/v1/payments/credit"]
    assert len(clock.sleeps) == 2


def test_an_open_circuit_refuses_status_queries_too_without_a_request(clock, outgoing, sandbox_providers):
    rede = get_provider("rede")
    reference, _ = authorize(rede)
    sandbox_providers.faults.set_from_request({"provider": "rede", "outage": True})
    for _ in range(3):
        status(rede, Operation.AUTHORIZE, reference=reference)
    sent = len(outgoing.paths)

    refused = status(rede, Operation.AUTHORIZE, reference=reference)

    assert (refused.outcome, refused.reached_provider, refused.failure_code) == (Outcome.UNKNOWN, False, CIRCUIT_OPEN)
    assert len(outgoing.paths) == sent
    sandbox_providers.faults.clear()
    clock.advance(COOLDOWN_SECONDS)
    assert status(rede, Operation.AUTHORIZE, reference=reference).outcome == Outcome.APPROVED  # the trial
    assert rede.circuit.snapshot().state == "closed"


def test_one_attempt_means_no_retry(settings, clock, outgoing, sandbox_providers):
    settings.PROVIDER_RETRY = {**settings.PROVIDER_RETRY, "attempts": 1}
    reset_providers()
    sandbox_providers.faults.set_from_request({"provider": "rede", "outage": True})

    status(get_provider("rede"), Operation.AUTHORIZE, reference="pay_unknown")

    assert outgoing.count("rede") == 1
    assert clock.sleeps == []


def test_pauses_double_up_to_the_maximum_and_are_spread_by_jitter():
    policy = RetryPolicy(attempts=10, base_delay_seconds=0.1, max_delay_seconds=1.0)
    rng = random.Random(4)

    pauses = [[policy.delay(retry, rng) for retry in range(1, 8)] for _ in range(200)]

    for retry, ceiling in enumerate([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]):
        drawn = [row[retry] for row in pauses]
        assert all(ceiling / 2 <= pause <= ceiling for pause in drawn)
        assert max(drawn) - min(drawn) > ceiling / 4  # not all the same: processes spread out


def test_each_provider_retries_as_the_settings_say(settings):
    settings.PROVIDER_RETRY = {"attempts": 5, "base_delay_seconds": 0.2, "max_delay_seconds": 3.0}
    reset_providers()

    assert get_provider("getnet").retry == RetryPolicy(attempts=5, base_delay_seconds=0.2, max_delay_seconds=3.0)


def test_a_dispute_response_goes_through_the_breaker_too(outgoing):
    cielo = get_provider("cielo")
    answer = DisputeResponseRequest(dispute_id="cb_unknown", reference="dp_test", accept=True)
    cielo.respond_to_dispute(answer)
    assert outgoing.count("cielo") == 1
    for _ in range(3):
        cielo.circuit.record(cielo.circuit.allow(), failed=True, failure="HTTP 503")

    refused = cielo.respond_to_dispute(answer)

    assert (refused.outcome, refused.reached_provider, refused.failure_code) == (Outcome.UNKNOWN, False, CIRCUIT_OPEN)
    assert outgoing.count("cielo") == 1


def test_adapter_methods_beyond_the_port_are_passed_through():
    cielo = get_provider("cielo")

    assert cielo.name == "cielo"
    assert cielo.close == cielo.adapter.close
    assert cielo.verify_notification == cielo.adapter.verify_notification  # local: no breaker needed
    with pytest.raises(AttributeError):
        cielo.no_such_thing  # noqa: B018
