"""Sentry's options, in one place: settings initialise the SDK with them when SENTRY_DSN is set (so
web, worker and beat processes all do: they all load settings), and the tests with a transport of
their own, to prove what leaves.

Release: SENTRY_RELEASE, else the commit baked in at build time (GIT_COMMIT, a Docker build
argument), else the commit of the checkout we run from, else the package version."""

import logging
import os
import subprocess
import tomllib
from pathlib import Path

from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

from .pci import sentry_before_send

ROOT = Path(__file__).resolve().parent.parent

# Sentry's scrubber drops values under these names; ours then masks card numbers and secrets in
# every remaining string of the event (URL, query, headers, messages, breadcrumbs, locals).
DENYLIST = [
    *DEFAULT_DENYLIST,
    *("api-key", "http_authorization", "signature", "webhook-signature", "webhook_signature", "webhook_secret"),
    *(f"x{sep}{provider}{sep}signature" for provider in ("cielo", "rede", "getnet") for sep in "-_"),
]


def sentry_options(*, dsn: str, environ=os.environ, **overrides) -> dict:
    """The keyword arguments of sentry_sdk.init."""
    return {
        "dsn": dsn,
        "environment": environ.get("SENTRY_ENVIRONMENT") or "production",
        "release": release(environ),
        "traces_sample_rate": float(environ.get("SENTRY_TRACES_SAMPLE_RATE") or 0.0),
        "send_default_pii": False,
        "integrations": [
            DjangoIntegration(),
            CeleryIntegration(),
            # Lines from INFO up are breadcrumbs of the event that follows; ERROR lines are events.
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        "event_scrubber": EventScrubber(denylist=DENYLIST, recursive=True),
        "before_send": sentry_before_send,
        "before_send_transaction": sentry_before_send,
        **overrides,
    }


def release(environ=os.environ) -> str:
    return environ.get("SENTRY_RELEASE") or environ.get("GIT_COMMIT") or _checkout_commit() or _package_version()


def _checkout_commit() -> str | None:
    if not (ROOT / ".git").exists():
        return None
    try:
        answer = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):  # no git in the image, not a repository
        return None
    return answer.stdout.strip() or None


def _package_version() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return f"{project['name']}@{project['version']}"
