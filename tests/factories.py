from datetime import timedelta

import factory
from django.utils import timezone

from merchants.models import Merchant


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")


class PaymentFactory(factory.django.DjangoModelFactory):
    """A payment row written directly, for tests about reading, listing and refusing input.
    Tests about the lifecycle go through the API instead."""

    class Meta:
        model = "payments.Payment"

    class Params:
        authorized = factory.Trait(
            status="authorized",
            provider="cielo",
            provider_reference=factory.Sequence(lambda n: f"prov-{n}"),
            amount_capturable=factory.SelfAttribute("amount"),
            capture_before=factory.LazyFunction(lambda: timezone.now() + timedelta(days=7)),
        )
        captured = factory.Trait(
            status="captured",
            provider="cielo",
            provider_reference=factory.Sequence(lambda n: f"prov-{n}"),
            amount_captured=factory.SelfAttribute("amount"),
        )

    merchant = factory.SubFactory(MerchantFactory)
    amount = 10_000
    currency = "BRL"
    payment_method = factory.LazyFunction(lambda: {"type": "card", "token": "tok_approve"})
    capture_method = "manual"


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "payments.Refund"

    payment = factory.SubFactory(PaymentFactory, captured=True)
    merchant = factory.SelfAttribute("payment.merchant")
    amount = 1_000
    currency = factory.SelfAttribute("payment.currency")
    status = "succeeded"
