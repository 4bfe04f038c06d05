"""JSON from outside, read so that it cannot crash us later: a document nested deeper than we
need overflows Python's recursion (a 500), and a NUL character or a lone surrogate cannot be
stored in PostgreSQL's text or jsonb (a 500 at the first query that carries it). Both are refused
here, at the edge, as a ValueError the caller turns into a 4xx. The API's parser and every
provider notification read JSON through `loads`."""

import json
from typing import Any

MAX_NESTING = 32


class UnacceptableJSON(ValueError):
    pass


def loads(data: bytes | str) -> Any:
    try:
        value = json.loads(data)
    except RecursionError:
        raise UnacceptableJSON(f"JSON nested more than {MAX_NESTING} levels deep.") from None
    problem = find_unstorable(value)
    if problem:
        raise UnacceptableJSON(problem)
    return value


def _bad_text(text: str) -> bool:
    return "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text)


def find_unstorable(data: Any) -> str | None:
    """Walks the document without recursion; returns why it cannot be accepted, or None."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            return f"JSON nested more than {MAX_NESTING} levels deep."
        if isinstance(value, dict):
            for key, item in value.items():
                if _bad_text(key):
                    return "JSON keys may not contain NUL characters or unpaired surrogates."
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and _bad_text(value):
            return "JSON strings may not contain NUL characters or unpaired surrogates."
    return None
