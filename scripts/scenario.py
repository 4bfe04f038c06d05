"""The end-to-end scenario at scale: `make scenario` (or `python scripts/scenario.py --payments N`).

Runs tests/webhooks/test_scenario.py in-process, with a real HTTP server on loopback (the test's
live server, which the provider sandbox calls back with its notifications) and the sandbox
serving the three providers from its own threads: N payments (600 unless told otherwise) through
faults, asynchronous approvals, timeouts, late, duplicated and reordered notifications and
disputes. It passes when every payment ends in the state its token and its merchant's actions
imply (and that the provider agrees with), every notification was applied once and the ledger
verifies; it prints what happened on the way.

Needs PostgreSQL and Redis like `make test` (DATABASE_URL, REDIS_URL).
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=int(os.environ.get("SCENARIO_PAYMENTS", "600")))
    parser.add_argument("--deadline", type=float, help="seconds the payments have to settle (default: scaled)")
    args = parser.parse_args()
    env = {**os.environ, "SCENARIO_PAYMENTS": str(args.payments)}
    if args.deadline:
        env["SCENARIO_DEADLINE_SECONDS"] = str(args.deadline)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/webhooks/test_scenario.py"]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
