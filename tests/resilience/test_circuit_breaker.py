"""The circuit breaker's rules, on Redis (shared by processes) and in process memory (no Redis)."""

import time

import pytest
from django.conf import settings
from prometheus_client import REGISTRY

from providers.circuits import (
    CircuitBreaker,
    CircuitConfig,
    CircuitState,
    LocalCircuitStore,
    Permit,
    RedisCircuitStore,
    is_failure,
)
from providers.port import Outcome, ProviderResult
from tests.payments.helpers import run_concurrently

PROVIDER = "cielo"
CONFIG = CircuitConfig(failure_threshold=3, failure_rate=0.5, minimum_calls=6, window_seconds=60, cooldown_seconds=30)


@pytest.fixture(params=["redis", "local"])
def store(request, sandbox_providers):
    # sandbox_providers resets the providers' circuits in Redis before and after each test.
    return RedisCircuitStore.from_url(settings.REDIS_URL) if request.param == "redis" else LocalCircuitStore()


@pytest.fixture
def breaker(store, clock):
    return CircuitBreaker(PROVIDER, store=store, config=CONFIG)


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        permit = breaker.allow()
        assert permit is not None
        breaker.record(permit, failed=True, failure="HTTP 503")


def succeed(breaker: CircuitBreaker) -> None:
    permit = breaker.allow()
    assert permit is not None
    breaker.record(permit, failed=False)


def test_a_closed_circuit_lets_calls_through_and_counts_failures(breaker):
    fail(breaker, 2)

    snapshot = breaker.snapshot()
    assert snapshot.state == CircuitState.CLOSED
    assert (snapshot.consecutive_failures, snapshot.window_failures, snapshot.window_calls) == (2, 2, 2)
    assert snapshot.last_failure == "HTTP 503"
    assert breaker.allow() == Permit.CALL


def test_it_opens_after_the_threshold_of_consecutive_failures_and_refuses_calls(breaker):
    fail(breaker, 3)

    snapshot = breaker.snapshot()
    assert snapshot.state == CircuitState.OPEN
    assert snapshot.opens == 1
    assert snapshot.opened_at is not None
    assert breaker.allow() is None
    assert breaker.rejects_calls()


def test_a_success_starts_the_consecutive_count_again(breaker):
    fail(breaker, 2)
    succeed(breaker)
    fail(breaker, 2)

    assert breaker.snapshot().state == CircuitState.CLOSED
    assert breaker.snapshot().consecutive_failures == 2


def test_it_opens_when_the_failure_rate_in_the_window_is_too_high(breaker):
    for _ in range(3):  # never two failures in a row, but half of six calls failed
        succeed(breaker)
        fail(breaker)

    assert breaker.snapshot().state == CircuitState.OPEN


def test_the_failure_rate_needs_the_minimum_number_of_calls(breaker):
    fail(breaker)
    succeed(breaker)
    fail(breaker)
    succeed(breaker)  # 50% of 4 calls: fewer than the minimum of 6

    assert breaker.snapshot().state == CircuitState.CLOSED


def test_the_window_forgets_older_calls(breaker, clock):
    for _ in range(2):
        fail(breaker)
        succeed(breaker)
    clock.advance(CONFIG.window_seconds)
    assert (breaker.snapshot().window_failures, breaker.snapshot().window_calls) == (0, 0)

    succeed(breaker)
    fail(breaker)  # 3 failures in 6 calls, had the window not moved on

    snapshot = breaker.snapshot()
    assert snapshot.state == CircuitState.CLOSED
    assert (snapshot.window_failures, snapshot.window_calls) == (1, 2)


def test_after_the_cooldown_one_trial_call_goes_through_and_its_success_closes(breaker, clock):
    fail(breaker, 3)
    clock.advance(CONFIG.cooldown_seconds - 1)
    assert breaker.allow() is None

    clock.advance(1)
    assert breaker.snapshot().state == CircuitState.HALF_OPEN
    assert not breaker.rejects_calls()  # the next call may be the trial
    trial = breaker.allow()
    assert trial == Permit.TRIAL
    assert breaker.allow() is None  # only one trial at a time
    assert breaker.rejects_calls()
    breaker.record(trial, failed=False)

    snapshot = breaker.snapshot()
    assert snapshot.state == CircuitState.CLOSED
    assert (snapshot.consecutive_failures, snapshot.window_calls) == (0, 0)
    assert breaker.allow() == Permit.CALL


def test_a_failed_trial_opens_the_circuit_for_another_cooldown(breaker, clock):
    fail(breaker, 3)
    clock.advance(CONFIG.cooldown_seconds)
    breaker.record(breaker.allow(), failed=True, failure="HTTP 503")

    assert breaker.snapshot().state == CircuitState.OPEN
    assert breaker.snapshot().opens == 2
    clock.advance(CONFIG.cooldown_seconds - 1)
    assert breaker.allow() is None
    clock.advance(1)
    assert breaker.allow() == Permit.TRIAL


def test_a_trial_whose_process_died_is_replaced_after_its_lease(breaker, clock):
    fail(breaker, 3)
    clock.advance(CONFIG.cooldown_seconds)
    assert breaker.allow() == Permit.TRIAL  # and never recorded

    clock.advance(CONFIG.trial_lease_seconds - 1)
    assert breaker.allow() is None
    clock.advance(1)
    assert breaker.allow() == Permit.TRIAL


def test_a_late_success_of_a_call_made_before_the_circuit_opened_does_not_close_it(breaker):
    in_flight = breaker.allow()
    fail(breaker, 3)

    breaker.record(in_flight, failed=False)

    assert breaker.snapshot().state == CircuitState.OPEN


def test_reset_closes_the_circuit(breaker):
    fail(breaker, 3)

    breaker.reset()

    assert breaker.snapshot().state == CircuitState.CLOSED
    assert breaker.allow() == Permit.CALL


def opens_counted() -> float:
    return REGISTRY.get_sample_value("provider_circuit_opens_total", {"provider": PROVIDER}) or 0.0


def test_opening_is_counted_once_and_shown_in_the_metrics(breaker, store):
    opens_before = opens_counted()

    in_flight = [breaker.allow() for _ in range(5)]
    for permit in in_flight:  # failures after the circuit opened do not open it again
        breaker.record(permit, failed=True, failure="HTTP 503")

    assert opens_counted() == opens_before + 1
    # /metrics reads the state from the shared store when scraped: a process-local store's circuit
    # is not what the other processes see.
    shared = isinstance(store, RedisCircuitStore)
    assert REGISTRY.get_sample_value("provider_circuit_state", {"provider": PROVIDER}) == (2 if shared else 0)


@pytest.mark.parametrize(
    ("result", "failure"),
    [
        (ProviderResult(Outcome.UNKNOWN, raw_code="503"), True),
        (ProviderResult(Outcome.UNKNOWN, raw_code="429"), True),
        (ProviderResult(Outcome.UNKNOWN, raw_code=""), True),  # transport error, timeout, garbled answer
        (ProviderResult(Outcome.UNKNOWN, reached_provider=False), True),
        (ProviderResult(Outcome.UNKNOWN, raw_code="404"), False),  # a status query refused: the provider is up
        (ProviderResult(Outcome.DECLINED, failure_code="card_declined"), False),
        (ProviderResult(Outcome.DECLINED, failure_code="provider_error", raw_code="401"), False),
        (ProviderResult(Outcome.PENDING), False),
        (ProviderResult(Outcome.NOT_FOUND), False),
        (ProviderResult(Outcome.APPROVED), False),
    ],
)
def test_only_an_unwell_provider_counts_as_a_failure(result, failure):
    assert is_failure(result) is failure


# --- shared by processes -------------------------------------------------------------------------
def test_two_processes_see_one_state_through_redis(sandbox_providers, clock):
    web = CircuitBreaker(PROVIDER, store=RedisCircuitStore.from_url(settings.REDIS_URL), config=CONFIG)
    worker = CircuitBreaker(PROVIDER, store=RedisCircuitStore.from_url(settings.REDIS_URL), config=CONFIG)

    fail(web, 2)
    fail(worker)  # the third consecutive failure, wherever it happened

    assert worker.allow() is None
    assert web.allow() is None
    clock.advance(CONFIG.cooldown_seconds)
    assert web.allow() == Permit.TRIAL
    assert worker.allow() is None  # the web process holds the trial
    web.record(Permit.TRIAL, failed=False)
    assert worker.allow() == Permit.CALL
    assert worker.snapshot().opens == 1


def test_of_many_processes_asking_at_once_after_the_cooldown_exactly_one_gets_the_trial(sandbox_providers, clock):
    fail(CircuitBreaker(PROVIDER, store=RedisCircuitStore.from_url(settings.REDIS_URL), config=CONFIG), 3)
    clock.advance(CONFIG.cooldown_seconds)
    breakers = [
        CircuitBreaker(PROVIDER, store=RedisCircuitStore.from_url(settings.REDIS_URL), config=CONFIG) for _ in range(12)
    ]

    permits = run_concurrently(len(breakers), lambda index: breakers[index].allow())

    assert permits.count(Permit.TRIAL) == 1
    assert permits.count(None) == len(breakers) - 1


def test_when_redis_is_down_the_breaker_lets_calls_through_at_once(closed_port, clock):
    unreachable = RedisCircuitStore.from_url(f"redis://127.0.0.1:{closed_port}/0")
    breaker = CircuitBreaker(PROVIDER, store=unreachable, config=CONFIG)
    started = time.monotonic()

    assert breaker.allow() == Permit.CALL
    breaker.record(Permit.CALL, failed=True, failure="HTTP 503")  # not counted, and no error
    assert not breaker.rejects_calls()
    assert time.monotonic() - started < 2  # a payment is not held up by the breaker's store
