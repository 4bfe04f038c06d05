from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "reconciliation"
    verbose_name = "Reconciliation"

    def ready(self) -> None:
        from ledger.verification import register_check

        from .checks import reconciliation_matches_ledger
        from .metrics import register_reconciliation_collector

        register_check(reconciliation_matches_ledger)
        register_reconciliation_collector()
