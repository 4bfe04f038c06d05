"""`python -m sandbox`: serve the provider sandboxes until interrupted.

Options fall back to the environment: SANDBOX_ASYNC_DELAY_SECONDS, SANDBOX_TIMEOUT_DELAY_SECONDS,
SANDBOX_SEED, SANDBOX_FAULTS (JSON by scope, as GET /_control/faults shows it), SANDBOX_WEBHOOK_URL
and the other notification settings (config.NotificationSettings), and the providers' credentials
and webhook secrets under the names the product's settings use (CIELO_MERCHANT_ID, REDE_PV,
CIELO_WEBHOOK_SECRET, ...).
"""

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from dataclasses import replace

from .config import SandboxSettings
from .server import Sandbox


def main(argv: list[str] | None = None) -> None:
    defaults = SandboxSettings.from_env()
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--state", default=":memory:", help="SQLite file for the sandbox's state, or :memory:")
    parser.add_argument("--async-delay", type=float, default=defaults.async_delay_seconds, metavar="SECONDS")
    parser.add_argument("--timeout-delay", type=float, default=defaults.timeout_delay_seconds, metavar="SECONDS")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the fault injector's random source")
    parser.add_argument("--faults", default=os.environ.get("SANDBOX_FAULTS", ""), help="initial faults, as JSON")
    parser.add_argument(
        "--webhook-url",
        default=defaults.notifications.webhook_url,
        help="where notifications go: {URL}/{provider}/ (none are sent without it)",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = SandboxSettings(
        credentials=defaults.credentials,
        async_delay_seconds=args.async_delay,
        timeout_delay_seconds=args.timeout_delay,
        seed=args.seed,
        notifications=replace(defaults.notifications, webhook_url=args.webhook_url),
    )
    sandbox = Sandbox(host=args.host, port=args.port, state=args.state, settings=settings)
    if args.faults:
        sandbox.faults.load(json.loads(args.faults))
    # Stop cleanly on `docker stop` / honcho's SIGTERM as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        sandbox.serve_forever()


if __name__ == "__main__":
    main()
