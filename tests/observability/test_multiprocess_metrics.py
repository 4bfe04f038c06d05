"""With PROMETHEUS_MULTIPROC_DIR, what a Celery worker counts shows on the web's /metrics: here a
separate process (a worker's stand-in) counts an authorization decided by a status poll, and this
process's /metrics, in multi-process mode, exports it beside the figures read at scrape time."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .scrape import samples

ROOT = Path(__file__).resolve().parent.parent.parent

WORKER = """
import django
django.setup()
from payments.metrics import count_decided
for _ in range(3):
    count_decided(kind="authorize", provider="getnet", status="succeeded", outcome="approved", reached_provider=True)
print(__import__("os").getpid())
"""


@pytest.mark.django_db
def test_a_counter_incremented_in_another_process_is_exported_by_this_one(client, tmp_path, monkeypatch):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", WORKER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    worker_pid = done.stdout.strip().splitlines()[-1]
    # Named by host and pid: containers sharing the directory each have their own pid 1, 7, ...
    assert (tmp_path / f"counter_{socket.gethostname()}-{worker_pid}.db").exists()

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    scraped = samples(client)

    approved = ("payments_authorizations_total", frozenset({"provider": "getnet", "outcome": "approved"}.items()))
    assert scraped[approved] == 3
    # The scrape-time collectors are exported in multi-process mode too.
    assert ("provider_circuit_state", frozenset({"provider": "getnet"}.items())) in scraped
    assert ("outbox_lag_seconds", frozenset()) in scraped
