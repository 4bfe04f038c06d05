"""Which providers a payment that names none may go to, in the order to try them.

`settings.PROVIDER_ROUTING_RULES` is a list of rules (JSON in the environment variable of the same
name). The first rule that matches the payment decides which providers are eligible and in what
order; a payment no rule matches may go to every provider of `PROVIDER_ROUTING_ORDER`, in that
order (so no rules at all is the plain ordered routing). A rule:

    {"currencies": ["BRL"], "min_amount": 100, "max_amount": 500000, "providers": ...}

- `currencies` (optional): the payment's currency is one of these;
- `min_amount`, `max_amount` (optional, inclusive, in the currency's minor unit): the payment's
  amount is in this range. Amounts of different currencies do not compare, so pair them with
  `currencies`;
- `providers`: either a list, tried in that order, or weights such as
  `{"cielo": 70, "rede": 30, "getnet": 0}`: the order is drawn at random for each payment, a
  provider coming first with a probability proportional to its weight, then the next among the
  rest likewise; weight 0 never comes first but stays eligible as a last resort.

Providers whose circuit refuses calls (open, or half-open with its trial call under way) move to
the end of the list, still to be tried if every other one fails before reaching its provider. A
half-open provider with no trial under way keeps its place: the next payment is its trial.
"""

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.money import is_known_currency

from .circuits import circuit_breaker
from .registry import PROVIDER_NAMES

_RULE_KEYS = {"currencies", "min_amount", "max_amount", "providers"}
_random = random.Random()


@dataclass(frozen=True)
class Rule:
    providers: tuple[str, ...]  # in order, or in the order weights were given
    weights: tuple[int, ...] | None = None  # None: a fixed order
    currencies: frozenset[str] | None = None
    min_amount: int | None = None
    max_amount: int | None = None

    def matches(self, *, currency: str, amount: int) -> bool:
        return (
            (self.currencies is None or currency in self.currencies)
            and (self.min_amount is None or amount >= self.min_amount)
            and (self.max_amount is None or amount <= self.max_amount)
        )

    def order(self, rng: random.Random) -> list[str]:
        if self.weights is None:
            return list(self.providers)
        weighted = [(p, w) for p, w in zip(self.providers, self.weights, strict=True) if w > 0]
        drawn = []
        while weighted:
            (index,) = rng.choices(range(len(weighted)), weights=[w for _, w in weighted])
            drawn.append(weighted.pop(index)[0])
        return drawn + [p for p, w in zip(self.providers, self.weights, strict=True) if w == 0]


def candidates(*, currency: str, amount: int, rng: random.Random | None = None) -> list[str]:
    """The providers to try for a payment, best first (see the module's docstring). `rng` draws
    the weighted orders; tests pass a seeded one."""
    for rule in routing_rules():
        if rule.matches(currency=currency, amount=amount):
            chosen = rule.order(rng or _random)
            break
    else:
        chosen = default_order()
    refusing = {name for name in chosen if circuit_breaker(name).rejects_calls()}
    return [name for name in chosen if name not in refusing] + [name for name in chosen if name in refusing]


def default_order() -> list[str]:
    order = list(settings.PROVIDER_ROUTING_ORDER)
    _check_names(order, "PROVIDER_ROUTING_ORDER")
    if not order:
        raise ImproperlyConfigured("PROVIDER_ROUTING_ORDER names no provider")
    return list(dict.fromkeys(order))  # in order, each once


def routing_rules() -> list[Rule]:
    """settings.PROVIDER_ROUTING_RULES, checked; ImproperlyConfigured says what is wrong."""
    raw = settings.PROVIDER_ROUTING_RULES
    if not isinstance(raw, list):
        raise ImproperlyConfigured("PROVIDER_ROUTING_RULES must be a list of rules")
    return [_parse_rule(rule, f"PROVIDER_ROUTING_RULES[{index}]") for index, rule in enumerate(raw)]


def _parse_rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(f"{where} must be an object")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise ImproperlyConfigured(f"{where} has unknown keys: {', '.join(unknown)}")
    currencies = raw.get("currencies")
    if currencies is not None:
        if not isinstance(currencies, list) or not currencies:
            raise ImproperlyConfigured(f"{where}.currencies must be a non-empty list")
        bad = [c for c in currencies if not isinstance(c, str) or not is_known_currency(c)]
        if bad:
            raise ImproperlyConfigured(f"{where}.currencies: unknown currencies {bad}")
        currencies = frozenset(currencies)
    bounds = {name: raw.get(name) for name in ("min_amount", "max_amount")}
    for name, value in bounds.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ImproperlyConfigured(f"{where}.{name} must be an integer of at least 0")
    if None not in bounds.values() and bounds["min_amount"] > bounds["max_amount"]:
        raise ImproperlyConfigured(f"{where}: min_amount is above max_amount")
    providers, weights = _parse_providers(raw.get("providers"), where)
    return Rule(providers=providers, weights=weights, currencies=currencies, **bounds)


def _parse_providers(raw: Any, where: str) -> tuple[tuple[str, ...], tuple[int, ...] | None]:
    if isinstance(raw, list):
        if not raw or len(set(raw)) != len(raw):
            raise ImproperlyConfigured(f"{where}.providers must list at least one provider, each once")
        _check_names(raw, f"{where}.providers")
        return tuple(raw), None
    if isinstance(raw, Mapping):
        _check_names(raw, f"{where}.providers")
        weights = tuple(raw.values())
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights) or not any(weights):
            raise ImproperlyConfigured(f"{where}.providers: weights are integers of at least 0, one above 0")
        return tuple(raw), weights
    raise ImproperlyConfigured(f"{where}.providers must be a list of providers or an object of weights")


def _check_names(names: Iterable[Any], where: str) -> None:
    unknown = sorted({str(name) for name in names} - set(PROVIDER_NAMES))
    if unknown:
        raise ImproperlyConfigured(f"{where} names unknown providers: {', '.join(unknown)}")
