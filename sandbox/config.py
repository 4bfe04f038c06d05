"""What a sandbox accepts as credentials and how it behaves for the slow test tokens."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

# No delay the sandbox injects (tok_async, tok_timeout, fault latency) holds a server thread
# longer than this, whatever a test or an operator configured.
MAX_DELAY_SECONDS = 60.0


def bounded_delay(seconds: float) -> float:
    return max(0.0, min(float(seconds), MAX_DELAY_SECONDS))


@dataclass(frozen=True)
class Credentials:
    """The one merchant account each simulated provider knows. Field names are the environment
    variables the product's settings read, so a single environment configures both ends."""

    cielo_merchant_id: str = "sandbox-merchant"
    cielo_merchant_key: str = "sandbox-key"
    rede_pv: str = "sandbox-pv"
    rede_token: str = "sandbox-token"
    getnet_client_id: str = "sandbox-client"
    getnet_client_secret: str = "sandbox-secret"
    getnet_seller_id: str = "sandbox-seller"
    # The keys each provider signs its notifications with (sandbox/notifications.py).
    cielo_webhook_secret: str = "sandbox-cielo-webhook-secret"
    rede_webhook_secret: str = "sandbox-rede-webhook-secret"
    getnet_webhook_secret: str = "sandbox-getnet-webhook-secret"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Credentials":
        return cls(**{f.name: environ.get(f.name.upper(), f.default) for f in fields(cls)})

    def webhook_secret(self, provider: str) -> str:
        return getattr(self, f"{provider}_webhook_secret")


@dataclass
class NotificationSettings:
    """How the providers notify (sandbox/notifications.py) and how their disputes go
    (sandbox/disputes.py). Each field is read from `SANDBOX_<FIELD NAME>` and can be
    changed at run time through `/_control/notifications`."""

    # Each provider's notifications are POSTed to `{webhook_url}/{provider}/`; empty: none are sent.
    webhook_url: str = ""
    # A notification leaves this long after its event, plus up to the jitter at random.
    webhook_delay_seconds: float = 1.0
    webhook_jitter_seconds: float = 0.0
    # Shares of notifications delivered twice, and held back `webhook_reorder_delay_seconds`
    # longer so that later ones overtake them.
    webhook_duplicate_rate: float = 0.0
    webhook_reorder_rate: float = 0.0
    webhook_reorder_delay_seconds: float = 2.0
    # tok_chargeback: the cardholder disputes the payment this long after its capture, and the
    # provider decides the dispute this long after opening it (or when told to, through
    # `/_control/disputes/decide`).
    chargeback_delay_seconds: float = 5.0
    dispute_decision_delay_seconds: float = 60.0
    evidence_due_days: int = 7

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "NotificationSettings":
        return cls(
            **{
                f.name: type(f.default)(environ[f"SANDBOX_{f.name.upper()}"])
                for f in fields(cls)
                if f"SANDBOX_{f.name.upper()}" in environ
            }
        )


@dataclass
class SandboxSettings:
    """Mutable on purpose: tests change the delays of a running sandbox between test cases."""

    credentials: Credentials = field(default_factory=Credentials)
    # tok_async answers "pending" and is approved this long after the authorization.
    async_delay_seconds: float = 5.0
    # tok_timeout (and the timeout_rate fault) hold the answer this long: a bit more than the
    # adapters' default 5 s timeout, so that they give up first.
    timeout_delay_seconds: float = 6.0
    # Seed of the fault injector's random source; None seeds it from the OS.
    seed: int | None = None
    notifications: NotificationSettings = field(default_factory=NotificationSettings)

    @property
    def async_delay(self) -> float:
        return bounded_delay(self.async_delay_seconds)

    @property
    def timeout_delay(self) -> float:
        return bounded_delay(self.timeout_delay_seconds)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "SandboxSettings":
        seed = environ.get("SANDBOX_SEED")
        return cls(
            credentials=Credentials.from_env(environ),
            async_delay_seconds=float(environ.get("SANDBOX_ASYNC_DELAY_SECONDS", cls.async_delay_seconds)),
            timeout_delay_seconds=float(environ.get("SANDBOX_TIMEOUT_DELAY_SECONDS", cls.timeout_delay_seconds)),
            seed=int(seed) if seed else None,
            notifications=NotificationSettings.from_env(environ),
        )
