from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from ledger.verification import register_check

        from .checks import disputes_match_ledger, payment_amounts_match_ledger
        from .metrics import register_open_operations_collector

        register_check(payment_amounts_match_ledger)
        register_check(disputes_match_ledger)
        register_open_operations_collector()
