"""Simulated acquirers (Cielo, Rede, Getnet), each in its own wire format, for development, tests
and benchmarks. A standalone WSGI application on the standard library only: it never imports
Django, and its state is its own SQLite database, not the product's.

    python -m sandbox --host 127.0.0.1 --port 8100 --state var/sandbox.sqlite3

or, in-process, `Sandbox.start(port=0)` and `sandbox.stop()`.
"""

from .config import Credentials, SandboxSettings
from .server import Sandbox

__all__ = ["Credentials", "Sandbox", "SandboxSettings"]
