from django.apps import AppConfig


class WalletsConfig(AppConfig):
    name = "wallets"
    verbose_name = "Wallets"

    def ready(self) -> None:
        from ledger.verification import register_check

        from .checks import (
            movements_match_their_entries,
            wallet_accounts_not_below_zero,
            wallet_balances_match_their_movements,
        )

        register_check(movements_match_their_entries)
        register_check(wallet_balances_match_their_movements)
        register_check(wallet_accounts_not_below_zero)
