"""What the production settings need to start on a benchmark machine: every provider credential
and the field-encryption key its own (production refuses the public sandbox defaults). The
sandbox reads the same variables, so both ends agree."""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, from anywhere

from providers.credentials import CREDENTIAL_VARIABLES


def production_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": "bench-" + secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        **{name: f"bench-{secrets.token_urlsafe(16)}" for name in CREDENTIAL_VARIABLES},
    }
