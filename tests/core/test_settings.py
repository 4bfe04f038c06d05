"""Production settings refuse to start without a real SECRET_KEY, and pass Django's deploy
checks when given one."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings.production", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_placeholder_secret_key():
    result = _manage("check", SECRET_KEY="change-me")

    assert result.returncode != 0


PROVIDER_SECRETS = (
    "CIELO_MERCHANT_KEY",
    "CIELO_WEBHOOK_SECRET",
    "REDE_TOKEN",
    "REDE_WEBHOOK_SECRET",
    "GETNET_CLIENT_SECRET",
    "GETNET_WEBHOOK_SECRET",
)


def test_production_passes_the_deploy_checks():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(64),
        REDIS_URL="redis://127.0.0.1:6379/15",
        **{name: secrets.token_urlsafe(32) for name in PROVIDER_SECRETS},
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_deploy_checks_name_provider_secrets_left_at_their_public_sandbox_defaults():
    environment = {name: secrets.token_urlsafe(32) for name in PROVIDER_SECRETS if name != "REDE_WEBHOOK_SECRET"}
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(64),
        REDIS_URL="redis://127.0.0.1:6379/15",
        **environment,
    )

    assert result.returncode != 0
    assert "providers.W003" in result.stderr
    assert "REDE_WEBHOOK_SECRET" in result.stderr
    assert "CIELO_WEBHOOK_SECRET" not in result.stderr
