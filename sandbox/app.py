"""The sandbox as one WSGI application: each simulated provider under its own path prefix
(`/cielo`, `/rede`, `/getnet`) with the fault injector in front of it, and the control resource
`/_control/faults`:

- `GET` shows the fault settings in force, by scope (`all` or a provider);
- `POST {"provider"?: "cielo", "error_rate"?, "timeout_rate"?, "latency_ms"?, "outage"?,
  "duration_seconds"?}` replaces the settings of one scope (all providers when `provider` is left
  out); all-zero settings remove the scope;
- `DELETE` removes every fault.

and the notifier's (`/_control/notifications`, notifications.py) and the disputes'
(`/_control/disputes`, disputes.py), and the settlement reports' faults (`/_control/settlement`,
settlement.py).
"""

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from http import HTTPStatus
from typing import Any, Protocol

from .cielo import CieloApi
from .config import SandboxSettings
from .faults import FaultTable
from .getnet import GetnetApi
from .notifications import Notifier
from .rede import RedeApi
from .settlement import SettlementReports
from .store import Store
from .web import BadJson, Request, Response

logger = logging.getLogger(__name__)


class ProviderApi(Protocol):
    name: str

    def handle(self, request: Request) -> Response: ...

    def error(self, status: int, message: str) -> Response:
        """An error in this provider's own format."""
        ...


class SandboxApp:
    def __init__(self, store: Store, settings: SandboxSettings):
        self.store = store
        self.settings = settings
        self.getnet = GetnetApi(store, settings)
        self.providers: dict[str, ProviderApi] = {
            api.name: api for api in (CieloApi(store, settings), RedeApi(store, settings), self.getnet)
        }
        self.faults = FaultTable(store, self.providers, seed=settings.seed)
        acquirers = {name: api.acquirer for name, api in self.providers.items()}
        self.notifier = Notifier(store, settings, acquirers, seed=settings.seed)
        self.notifier.disputes.install(self.providers)
        self.settlement = SettlementReports(store, settings)
        self.settlement.install(self.providers)

    def __call__(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            response = self.respond(Request.from_environ(environ))
        except Exception:
            logger.exception("sandbox failed on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            response = Response.json(500, {"error": "internal error"})
        if response.delay:
            time.sleep(response.delay)
        status = HTTPStatus(response.status)
        start_response(
            f"{status.value} {status.phrase}", [*response.headers, ("Content-Length", str(len(response.body)))]
        )
        return [response.body]

    def respond(self, request: Request) -> Response:
        prefix, _, rest = request.path.lstrip("/").partition("/")
        if prefix == "_control":
            return self._control(request, rest)
        api = self.providers.get(prefix)
        if api is None:
            return Response.json(404, {"error": f"no provider at /{prefix}"})
        return self._serve(api, request.with_path(f"/{rest}"))

    def _serve(self, api: ProviderApi, request: Request) -> Response:
        faults = self.faults.for_provider(api.name)
        if faults.outage:
            down = api.error(503, "Service unavailable")
            return replace(down, headers=(*down.headers, ("Connection", "close")))
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if self.faults.chance(faults.error_rate):
            return api.error(500, "Internal error")
        try:
            response = api.handle(request)
        except Exception:
            logger.exception("sandbox %s failed on %s %s", api.name, request.method, request.path)
            return api.error(500, "Internal error")
        if self.faults.chance(faults.timeout_rate):
            response = replace(response, delay=max(response.delay, self.settings.timeout_delay))
        return response

    def _control(self, request: Request, path: str) -> Response:
        resource, _, rest = path.partition("/")
        if resource == "notifications":
            return self.notifier.control(request, rest)
        if resource == "disputes":
            return self.notifier.disputes.control(request, rest)
        if path == "settlement":
            return self.settlement.control(request)
        if path != "faults":
            return Response.json(404, {"error": "unknown control resource"})
        if request.method == "POST":
            try:
                self.faults.set_from_request(request.json_object())
            except (BadJson, TypeError, ValueError) as exc:
                return Response.json(400, {"error": str(exc)})
        elif request.method == "DELETE":
            self.faults.clear()
        elif request.method != "GET":
            return Response.json(405, {"error": "use GET, POST or DELETE"})
        return Response.json(200, self.faults.snapshot())
