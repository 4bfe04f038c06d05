from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Events out: relay and webhooks"

    def ready(self) -> None:
        from .metrics import register_backlog_collector

        register_backlog_collector()
