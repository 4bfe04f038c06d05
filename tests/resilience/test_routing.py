"""Routing rules: by currency, by amount, by weight; open circuits last."""

import random
from collections import Counter

import pytest
from django.core.exceptions import ImproperlyConfigured

from providers.checks import provider_settings
from providers.registry import get_provider
from providers.routing import candidates
from tests.payments.helpers import authorize, create_payment

from .conftest import COOLDOWN_SECONDS, THRESHOLD

RULES = [
    {"currencies": ["USD", "EUR"], "providers": ["getnet"]},
    {"currencies": ["BRL"], "min_amount": 1_000_000, "providers": ["rede", "cielo"]},
    {"currencies": ["BRL"], "max_amount": 999_999, "providers": {"cielo": 70, "rede": 20, "getnet": 10}},
]


@pytest.fixture
def rules(settings):
    settings.PROVIDER_ROUTING_RULES = RULES
    return RULES


def trip(provider: str) -> None:
    circuit = get_provider(provider).circuit
    for _ in range(THRESHOLD):
        circuit.record(circuit.allow(), failed=True, failure="HTTP 503")


def test_without_rules_routing_is_the_configured_order(settings):
    settings.PROVIDER_ROUTING_RULES = []
    settings.PROVIDER_ROUTING_ORDER = ["rede", "getnet", "cielo"]

    assert candidates(currency="BRL", amount=100) == ["rede", "getnet", "cielo"]


def test_the_default_settings_route_as_before():
    assert candidates(currency="BRL", amount=100) == ["cielo", "rede", "getnet"]


@pytest.mark.usefixtures("rules")
def test_a_currency_rule_decides_the_only_eligible_providers():
    assert candidates(currency="USD", amount=100) == ["getnet"]
    assert candidates(currency="EUR", amount=99_999_999) == ["getnet"]


@pytest.mark.usefixtures("rules")
def test_amount_ranges_include_their_bounds():
    assert candidates(currency="BRL", amount=1_000_000) == ["rede", "cielo"]
    assert candidates(currency="BRL", amount=5_000_000) == ["rede", "cielo"]
    assert len(candidates(currency="BRL", amount=999_999)) == 3  # the weighted rule


@pytest.mark.usefixtures("rules")
def test_a_payment_no_rule_matches_follows_the_default_order():
    assert candidates(currency="JPY", amount=500) == ["cielo", "rede", "getnet"]


@pytest.mark.usefixtures("rules")
def test_weights_decide_how_often_each_provider_comes_first():
    rng = random.Random(7)

    orders = [candidates(currency="BRL", amount=10_000, rng=rng) for _ in range(2_000)]

    assert all(sorted(order) == ["cielo", "getnet", "rede"] for order in orders)  # each once, all eligible
    first = Counter(order[0] for order in orders)
    assert abs(first["cielo"] / 2_000 - 0.70) < 0.03
    assert abs(first["rede"] / 2_000 - 0.20) < 0.03
    assert abs(first["getnet"] / 2_000 - 0.10) < 0.03
    # After cielo, rede and getnet share the rest 2:1.
    after_cielo = Counter(order[1] for order in orders if order[0] == "cielo")
    assert abs(after_cielo["rede"] / sum(after_cielo.values()) - 2 / 3) < 0.04


@pytest.mark.usefixtures("rules")
def test_a_seeded_rng_draws_the_same_orders():
    def draw(seed: int) -> list[list[str]]:
        rng = random.Random(seed)
        return [candidates(currency="BRL", amount=10_000, rng=rng) for _ in range(20)]

    assert draw(3) == draw(3)
    assert len({tuple(order) for order in draw(3)}) > 1


def test_weight_zero_is_a_last_resort(settings):
    settings.PROVIDER_ROUTING_RULES = [{"providers": {"getnet": 0, "cielo": 1, "rede": 1}}]
    rng = random.Random(1)

    orders = [candidates(currency="BRL", amount=100, rng=rng) for _ in range(200)]

    assert {order[2] for order in orders} == {"getnet"}
    assert {order[0] for order in orders} == {"cielo", "rede"}


@pytest.mark.usefixtures("breaker_settings")
def test_a_provider_whose_circuit_is_open_goes_last_and_keeps_its_place_once_a_trial_is_possible(clock):
    trip("cielo")

    assert candidates(currency="BRL", amount=100) == ["rede", "getnet", "cielo"]
    clock.advance(COOLDOWN_SECONDS)
    assert candidates(currency="BRL", amount=100) == [
        "cielo",
        "rede",
        "getnet",
    ]  # half-open: the next call is its trial
    assert get_provider("cielo").circuit.allow() is not None  # ... taken by someone
    assert candidates(currency="BRL", amount=100) == ["rede", "getnet", "cielo"]


@pytest.mark.usefixtures("breaker_settings")
def test_open_circuits_keep_their_order_among_themselves(settings, clock):
    settings.PROVIDER_ROUTING_RULES = [{"providers": ["getnet", "rede", "cielo"]}]
    trip("getnet")
    trip("rede")

    assert candidates(currency="BRL", amount=100) == ["cielo", "getnet", "rede"]


@pytest.mark.django_db(transaction=True)
def test_the_api_routes_a_payment_by_the_rules(api, rules):
    payment = create_payment(api, amount=2_500, currency="USD")

    body = authorize(api, payment["id"]).json()

    assert (body["status"], body["provider"]) == ("captured", "getnet")


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ({"providers": ["cielo"]}, "must be a list of rules"),
        ([["cielo"]], r"RULES\[0\] must be an object"),
        ([{"providers": ["cielo"], "currency": "BRL"}], "unknown keys: currency"),
        ([{"providers": ["stone"]}], "unknown providers: stone"),
        ([{"providers": []}], "at least one provider"),
        ([{"providers": ["cielo", "cielo"]}], "each once"),
        ([{"providers": {"cielo": 0}}], "one above 0"),
        ([{"providers": {"cielo": -1, "rede": 2}}], "one above 0"),
        ([{"providers": {"cielo": 1.5}}], "one above 0"),
        ([{"providers": "cielo"}], "a list of providers or an object of weights"),
        ([{"currencies": ["BRX"], "providers": ["cielo"]}], "unknown currencies"),
        ([{"currencies": [], "providers": ["cielo"]}], "non-empty list"),
        ([{"min_amount": "100", "providers": ["cielo"]}], "min_amount must be an integer"),
        ([{"min_amount": 10, "max_amount": 9, "providers": ["cielo"]}], "min_amount is above max_amount"),
        ([{"currencies": ["BRL"], "providers": ["cielo"]}, {"max_amount": True, "providers": ["rede"]}], r"RULES\[1\]"),
    ],
)
def test_bad_rules_are_refused_with_the_reason_and_reported_by_the_system_check(settings, rules, problem):
    settings.PROVIDER_ROUTING_RULES = rules

    with pytest.raises(ImproperlyConfigured, match=problem):
        candidates(currency="BRL", amount=100)
    assert [message.id for message in provider_settings()] == ["providers.E005"]
