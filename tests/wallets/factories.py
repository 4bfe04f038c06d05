import factory

from tests.factories import MerchantFactory
from wallets import services
from wallets.models import Movement, MovementType, Wallet


class WalletFactory(factory.django.DjangoModelFactory):
    """A wallet opened through the service, so that its ledger accounts exist like in production."""

    class Meta:
        model = Wallet

    merchant = factory.SubFactory(MerchantFactory)
    currency = "BRL"
    owner_reference = factory.Sequence(lambda n: f"customer-{n}")

    @classmethod
    def _create(cls, model_class, *, merchant, currency, owner_reference):
        return services.wallet_create(merchant_id=merchant.id, currency=currency, owner_reference=owner_reference)


class MovementFactory(factory.django.DjangoModelFactory):
    """A movement recorded through the service (it posts to the ledger). Defaults to an income."""

    class Meta:
        model = Movement

    wallet = factory.SubFactory(WalletFactory)
    type = MovementType.INCOME
    amount = 10_000
    reference = ""
    description = ""

    @classmethod
    def _create(cls, model_class, *, wallet, **fields):
        return services.movement_create(merchant_id=wallet.merchant_id, wallet_id=wallet.id, **fields)
