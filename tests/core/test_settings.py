"""Production refuses to start without a real SECRET_KEY or with any public default (a sandbox
credential, no encryption key of its own, any host), and passes Django's deploy checks when
given real values."""

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from providers.credentials import CREDENTIAL_VARIABLES

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", **env})
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


def production_environment(**overrides: str) -> dict[str, str]:
    """Everything production needs to start, each secret its own; `overrides` take values away
    (an empty string: the variable is unset) or change them."""
    environment = {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        **{name: secrets.token_urlsafe(32) for name in CREDENTIAL_VARIABLES},
    }
    environment.update(overrides)
    return {name: value for name, value in environment.items() if value != ""}


def test_production_passes_the_deploy_checks():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **production_environment())

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variable", CREDENTIAL_VARIABLES)
def test_production_refuses_a_provider_credential_left_at_its_public_sandbox_default(variable):
    result = _manage("check", **production_environment(**{variable: ""}))

    assert result.returncode != 0
    assert "providers.E008" in result.stderr
    assert f"sandbox defaults: {variable}\n" in result.stderr  # that one, and only that one


def test_production_refuses_to_derive_the_field_encryption_key_from_the_secret_key():
    result = _manage("check", **production_environment(FIELD_ENCRYPTION_KEYS=""))

    assert result.returncode != 0
    assert "core.E002" in result.stderr


def test_production_refuses_any_host():
    result = _manage("check", **production_environment(ALLOWED_HOSTS="*"))

    assert result.returncode != 0
    assert "core.E003" in result.stderr


def test_outside_production_the_deploy_checks_warn_of_sandbox_credentials():
    result = _manage(
        "check",
        "--deploy",
        DJANGO_SETTINGS_MODULE="config.settings.local",
        SECRET_KEY=secrets.token_urlsafe(64),
        REDIS_URL="redis://127.0.0.1:6379/15",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "providers.W003" in result.stderr
    assert "CIELO_WEBHOOK_SECRET" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(command: list[str], environment: dict[str, str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", **environment)
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_gunicorn_does_not_start_production_with_a_public_webhook_secret():
    port = _free_port()
    server = _start(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi:application"],
        {**production_environment(CIELO_WEBHOOK_SECRET=""), "GUNICORN_BIND": f"127.0.0.1:{port}"},
    )
    try:
        output, _ = server.communicate(timeout=60)
    finally:
        server.kill()

    assert server.returncode != 0
    assert "Refusing to start" in output
    assert "CIELO_WEBHOOK_SECRET" in output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1.0)


def test_a_celery_worker_does_not_start_production_with_a_public_credential():
    worker = _start(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "--pool", "solo", "--loglevel", "INFO"],
        production_environment(GETNET_CLIENT_SECRET=""),
    )
    try:
        output, _ = worker.communicate(timeout=60)
    finally:
        worker.kill()

    assert worker.returncode != 0
    assert "Refusing to start" in output
    assert "GETNET_CLIENT_SECRET" in output
