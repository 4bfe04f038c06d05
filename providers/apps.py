from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self) -> None:
        from django.core import checks as django_checks

        from . import checks
        from .circuits import circuit_breaker
        from .metrics import register_circuit_collector
        from .registry import PROVIDER_NAMES

        django_checks.register(checks.provider_settings)
        django_checks.register(checks.breakers_shared, deploy=True)
        django_checks.register(checks.provider_credentials_not_public)
        django_checks.register(checks.provider_credentials_set, deploy=True)
        register_circuit_collector(PROVIDER_NAMES, circuit_breaker)
