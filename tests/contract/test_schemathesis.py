"""The OpenAPI document says exactly what the server does: schemathesis, with every check, drives
the real server (gunicorn, production settings) from it, in all its phases: the examples, the
coverage of each constraint's edges, fuzzing with valid and invalid data, and stateful sequences
that follow the document's links (create a payment, then authorize, capture, refund it...).

Any failure is either the document promising something the server does not do, or a server bug.
Bounded: a few examples per operation and phase, a fixed seed, so that it stays within about two
minutes on a two-core machine and fails the same way twice."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Overridable to explore further locally, e.g. SCHEMATHESIS_MAX_EXAMPLES=200 SCHEMATHESIS_SEED=7.
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15")
SEED = os.environ.get("SCHEMATHESIS_SEED", "20260101")
RUN_TIMEOUT_SECONDS = 300


@pytest.fixture
def merchant_key(gunicorn_server):
    from merchants.services import api_key_issue
    from tests.factories import MerchantFactory

    return api_key_issue(merchant=MerchantFactory(name="Contract test merchant"))


def test_the_server_does_what_its_openapi_document_says(gunicorn_server, merchant_key, tmp_path):
    # The document as the live server serves it (to merchants: it needs the key, too).
    with gunicorn_server.client(headers={"Authorization": f"Bearer {merchant_key}"}) as client:
        response = client.get("/api/schema/", params={"format": "json"})
    assert response.status_code == 200, response.text
    document = tmp_path / "openapi.json"
    document.write_bytes(response.content)
    command = [
        str(Path(sys.executable).parent / "st"),
        f"--config-file={HERE / 'schemathesis.toml'}",
        "run",
        str(document),
        f"--url={gunicorn_server.url}",
        "--checks=all",
        "--phases=examples,coverage,fuzzing,stateful",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--generation-database=none",
        # The server refuses NUL characters and unpaired surrogates in any string (400
        # malformed_json: PostgreSQL cannot store them); JSON Schema has no way to say so.
        "--generation-allow-x00=false",
        "--generation-codec=utf-8",
        "--workers=2",
        "--request-timeout=10",
        "--max-response-time=10",
        "--report=junit",
        f"--report-dir={tmp_path}",
        "--no-color",
        "--output-truncate=false",
    ]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        env={
            **os.environ,
            "PAYMENTS_CORE_API_KEY": merchant_key,
            "SCHEMATHESIS_HOOKS": "tests.contract.hooks",
            "PYTHONPATH": str(ROOT),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-30_000:]
    # It really ran, and every generated case passed every check.
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts and int(counts[1]) > 500 and counts[1] == counts[2], output[-30_000:]
    assert "Failures:" not in output, output[-30_000:]
