from django.apps import AppConfig
from django.core import checks


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from . import checks as core_checks
        from . import throttling
        from .heartbeat import register_heartbeat_collector

        checks.register(throttling.rate_settings)
        checks.register(core_checks.encryption_keys)
        checks.register(core_checks.production_defaults_refused)
        register_heartbeat_collector()
