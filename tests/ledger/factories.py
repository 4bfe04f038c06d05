import factory

from ledger.models import NORMAL_BALANCE_OF_TYPE, Account, AccountType, JournalEntry
from ledger.services import PostingLine, entry_post


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    code = factory.Sequence(lambda n: f"test:account_{n}")
    currency = "BRL"
    type = AccountType.ASSET
    normal_balance = factory.LazyAttribute(lambda account: NORMAL_BALANCE_OF_TYPE[account.type])
    name = factory.LazyAttribute(lambda account: f"Test account {account.code}")


class LiabilityAccountFactory(AccountFactory):
    type = AccountType.LIABILITY


class JournalEntryFactory(factory.Factory):
    """An entry posted through the service: `amount` from `credit` to `debit`."""

    class Meta:
        model = JournalEntry

    reference = factory.Sequence(lambda n: f"test:entry_{n}")
    entry_type = "test.transfer"
    debit = factory.SubFactory(AccountFactory)
    credit = factory.SubFactory(AccountFactory, currency=factory.SelfAttribute("..debit.currency"))
    amount = 1000

    @classmethod
    def _create(cls, model_class, *, reference, entry_type, debit, credit, amount):
        return entry_post(
            reference=reference,
            entry_type=entry_type,
            lines=[PostingLine(account=debit, amount=amount), PostingLine(account=credit, amount=-amount)],
        )
