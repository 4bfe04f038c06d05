"""Prints a `.env` for docker-compose: every secret production needs, each random and its own
(production refuses the public sandbox defaults). The sandbox container reads the same file, so
both ends of each provider agree.

    python scripts/compose_env.py > .env
"""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, from anywhere

from providers.credentials import CREDENTIAL_VARIABLES


def main() -> None:
    print(f"SECRET_KEY={secrets.token_urlsafe(64)}")
    print(f"FIELD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}")
    print(f"METRICS_TOKEN={secrets.token_urlsafe(32)}")
    for name in CREDENTIAL_VARIABLES:
        print(f"{name}={secrets.token_urlsafe(24)}")


if __name__ == "__main__":
    main()
