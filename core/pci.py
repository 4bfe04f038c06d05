"""We never accept or store card numbers. Any string in a request that contains 13-19 digits
(optionally separated by spaces or dashes) passing the Luhn check is refused before it reaches a
serializer, a log line or the idempotency store."""

import re

_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ \-]?){12,18}\d(?!\d)")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def looks_like_card_number(text: str) -> bool:
    for match in _CANDIDATE.finditer(text):
        digits = re.sub(r"[ \-]", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            return True
    return False


def find_card_numbers(value) -> list[str]:
    """Paths (`metadata.note`) of every value in a parsed JSON document that looks like a PAN.
    Iterative, so no document can exhaust the stack."""
    found: list[str] = []
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if looks_like_card_number(str(key)):
                    found.append(path or "(key)")
                stack.append((child, f"{path}.{key}" if path else str(key)))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
        elif isinstance(item, str | int) and not isinstance(item, bool) and looks_like_card_number(str(item)):
            found.append(path or "(body)")
    return sorted(found)
