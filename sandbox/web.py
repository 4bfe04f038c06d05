"""The little HTTP toolkit the simulated providers share: a request read from the WSGI environ, a
response, and a router from (method, path pattern) to handler."""

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

JSON_HEADERS = (("Content-Type", "application/json; charset=utf-8"),)


class BadJson(ValueError):
    pass


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> "Request":
        headers = {
            name[5:].replace("_", "-").lower(): value for name, value in environ.items() if name.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = environ.get("CONTENT_LENGTH") or "0"
        body = environ["wsgi.input"].read(int(length)) if length.isdigit() and int(length) else b""
        return cls(
            method=environ["REQUEST_METHOD"].upper(),
            path=environ.get("PATH_INFO") or "/",
            query=dict(parse_qsl(environ.get("QUERY_STRING", ""))),
            headers=headers,
            body=body,
        )

    def with_path(self, path: str) -> "Request":
        return Request(self.method, path, self.query, self.headers, self.body)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadJson(str(exc)) from exc

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise BadJson("the body is not a JSON object")
        return data

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("latin-1")))

    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    def bearer_token(self) -> str | None:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        return (value.strip() or None) if scheme.lower() == "bearer" else None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS
    delay: float = 0.0  # seconds to hold the answer back after the work is done and committed

    @classmethod
    def json(cls, status: int, data: Any, *, headers: tuple[tuple[str, str], ...] = ()) -> "Response":
        return cls(status, json.dumps(data, separators=(",", ":")).encode(), JSON_HEADERS + headers)

    def text(self) -> str:
        return self.body.decode()


Handler = Callable[..., Response]


@dataclass
class Router:
    _routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """`pattern` is a regular expression matched against the whole path; its named groups
        are passed to the handler as keyword arguments."""
        self._routes.append((method, re.compile(pattern), handler))

    def dispatch(self, request: Request, **context: Any) -> Response | None:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return handler(request, **context, **match.groupdict())
        return None


def positive_int(value: Any, maximum: int = 99_999_999_999) -> int | None:
    """An amount as acquirers take it: a JSON integer (not a bool, not a float) in 1..maximum."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= maximum:
        return None
    return value


def query_amount(query: Mapping[str, str], name: str = "amount") -> int | None:
    """An optional amount in a query string; ValueError when it is there but not a valid amount."""
    raw = query.get(name)
    if raw is None:
        return None
    amount = positive_int(int(raw)) if raw.isdigit() else None
    if amount is None:
        raise ValueError(f"{name} must be a positive integer")
    return amount


def currency_code(value: Any) -> str | None:
    return value if isinstance(value, str) and re.fullmatch(r"[A-Z]{3}", value) else None
