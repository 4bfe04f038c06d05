"""Serving the sandbox: a threaded HTTP/1.1 server from the standard library, and `Sandbox`, the
handle to a running one (in the foreground for `python -m sandbox`, or in a background
thread on an ephemeral port for tests).

wsgiref's server answers HTTP/1.0 and closes every connection, which would defeat the adapters'
connection pools; this server keeps connections alive and runs one thread per connection, so a
request held back on purpose (tok_timeout) never delays another.
"""

import io
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import TCPServer, ThreadingMixIn
from typing import Any

from .app import SandboxApp
from .config import SandboxSettings
from .faults import FaultTable
from .notifications import Notifier
from .store import Store

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


class _WsgiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "payments-sandbox"
    # Idle keep-alive connections are dropped after this long. It must stay above httpx's
    # keep-alive expiry (5 s), so that a client never reuses a connection the server just closed.
    timeout = 30
    # Buffer each answer and send it in one write (flushed after every request). Unbuffered, the
    # headers and the body leave as two small segments, and Nagle's algorithm holds the second
    # until the client's delayed ACK of the first: ~40 ms a request.
    wbufsize = 64 * 1024
    server: "_ThreadingServer"

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _serve(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self.send_error(411, "Send a Content-Length")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length),
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            environ[f"HTTP_{name.upper().replace('-', '_')}"] = value
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started[:] = [status, headers]

        payload = b"".join(self.server.app(environ, start_response))
        status, headers = started
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            self.send_header(name, value)  # "Connection: close" also ends the keep-alive loop
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, fmt: str, *args: Any) -> None:
        logger.debug("%s - " + fmt, self.client_address[0], *args)


class _ThreadingServer(ThreadingMixIn, TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SandboxApp):
        self.app = app
        super().__init__(address, _WsgiHandler)


class Sandbox:
    """A sandbox bound to its port. `start()` serves it from a background thread;
    `serve_forever()` from the calling one."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state: str | Path = ":memory:",
        settings: SandboxSettings | None = None,
    ):
        self.settings = settings or SandboxSettings()
        self.store = Store(state)
        self.app = SandboxApp(self.store, self.settings)
        # Transactions outlive a restart, as a provider's would; faults start again from nothing.
        self.app.faults.clear()
        self._server = _ThreadingServer((host, port), self.app)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def faults(self) -> FaultTable:
        return self.app.faults

    @property
    def notifier(self) -> Notifier:
        return self.app.notifier

    def revoke_access_tokens(self) -> None:
        """Invalidate every OAuth token issued so far, as a provider's key rotation would."""
        self.app.getnet.revoke_tokens()

    @classmethod
    def start(
        cls,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state: str | Path = ":memory:",
        settings: SandboxSettings | None = None,
    ) -> "Sandbox":
        sandbox = cls(host=host, port=port, state=state, settings=settings)
        sandbox._thread = threading.Thread(target=sandbox._run, name="provider-sandbox", daemon=True)
        sandbox._thread.start()
        return sandbox

    def serve_forever(self) -> None:
        logger.info("provider sandbox listening on %s", self.url)
        self._run()

    def _run(self) -> None:
        self.app.notifier.start()
        try:
            self._server.serve_forever(poll_interval=0.1)
        finally:
            self.app.notifier.stop()
            self._server.server_close()
            self.store.close()

    def stop(self) -> None:
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
