"""Every credential and secret each provider's settings carry, and the environment variable that
sets each one. Plain data, importable without Django: the benchmarks and `scripts/compose_env.py`
generate values for exactly these."""

CREDENTIAL_SETTINGS = {
    "cielo": {
        "merchant_id": "CIELO_MERCHANT_ID",
        "merchant_key": "CIELO_MERCHANT_KEY",
        "webhook_secret": "CIELO_WEBHOOK_SECRET",
    },
    "rede": {"pv": "REDE_PV", "token": "REDE_TOKEN", "webhook_secret": "REDE_WEBHOOK_SECRET"},
    "getnet": {
        "client_id": "GETNET_CLIENT_ID",
        "client_secret": "GETNET_CLIENT_SECRET",
        "seller_id": "GETNET_SELLER_ID",
        "webhook_secret": "GETNET_WEBHOOK_SECRET",
    },
}
CREDENTIAL_VARIABLES = tuple(variable for settings in CREDENTIAL_SETTINGS.values() for variable in settings.values())
SANDBOX_DEFAULT_PREFIX = "sandbox-"  # every default in config/settings/base.py starts so
