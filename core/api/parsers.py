"""The API's JSON parser: DRF's, plus the refusals PostgreSQL and Python would otherwise turn
into a 500 later (a NUL character or a lone surrogate cannot be stored in jsonb or text; a
document nested thousands deep overflows Python's recursion)."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_NESTING = 32


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON nested more than {MAX_NESTING} levels deep.") from exc
        problem = find_unstorable(data)
        if problem:
            raise ParseError(problem)
        return data


def _bad_text(text: str) -> bool:
    return "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text)


def find_unstorable(data) -> str | None:
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
