"""The product's client of the sandbox's fault injection, `/_control/faults` under SANDBOX_URL
(see sandbox/app.py), for the admin's "Sandbox faults" page. Only operators reach it;
it never runs on a payment's path."""

from typing import Any

import httpx
from django.conf import settings

TIMEOUT_SECONDS = 2.0


class SandboxUnavailable(Exception):
    """The sandbox could not be asked (not running, or not answering as expected)."""


class FaultsRefused(Exception):
    """The sandbox refused the settings; the message says why."""


def faults_get() -> dict[str, dict[str, Any]]:
    """The fault settings in force, by scope (`all` or a provider)."""
    return _request("GET")


def faults_set(faults: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Replaces one scope's settings: `{"provider"?: "cielo", "error_rate"?, "timeout_rate"?,
    "latency_ms"?, "outage"?, "duration_seconds"?}`; no provider means all of them."""
    return _request("POST", faults)


def faults_clear() -> dict[str, dict[str, Any]]:
    return _request("DELETE")


def control_url() -> str:
    return f"{settings.SANDBOX_URL.rstrip('/')}/_control/faults"


def _request(method: str, body: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    try:
        response = httpx.request(method, control_url(), json=body, timeout=TIMEOUT_SECONDS)
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SandboxUnavailable(f"the sandbox at {control_url()} did not answer: {exc}") from exc
    if response.status_code == 400 and isinstance(answer, dict):
        raise FaultsRefused(str(answer.get("error", "refused")))
    if response.status_code != 200 or not isinstance(answer, dict):
        raise SandboxUnavailable(f"the sandbox at {control_url()} answered HTTP {response.status_code}")
    return answer
