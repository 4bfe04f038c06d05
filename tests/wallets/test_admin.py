"""Finance operators read wallets and movements in the admin, and can change nothing there."""

import pytest
from django.urls import reverse

from tests.wallets.factories import MovementFactory, WalletFactory
from wallets import services
from wallets.models import MovementType

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet():
    wallet = WalletFactory(owner_reference="customer-7")
    MovementFactory(wallet=wallet, amount=12_345)
    services.wallet_reserve(
        merchant_id=wallet.merchant_id, wallet_id=wallet.id, amount=2_345, currency="BRL", reference="p:1"
    )
    return wallet


def test_operators_see_each_wallets_balances(admin_client, wallet):
    page = admin_client.get(reverse("admin:wallets_wallet_changelist"), {"q": "customer-7"})

    assert page.status_code == 200
    assert wallet.id in page.text
    assert "123.45 BRL" in page.text  # balance
    assert "100.00 BRL" in page.text  # available
    assert "23.45 BRL" in page.text  # reserved


def test_a_wallet_page_links_its_movements_and_lists_its_events(admin_client, wallet):
    page = admin_client.get(reverse("admin:wallets_wallet_change", args=[wallet.pk]))

    assert page.status_code == 200
    assert f"{reverse('admin:wallets_movement_changelist')}?wallet__id__exact={wallet.pk}" in page.text
    assert "#1 wallet.movement_created" in page.text


def test_a_movement_page_links_its_ledger_entry_and_its_revert(admin_client, wallet):
    expense = MovementFactory(wallet=wallet, type=MovementType.EXPENSE, amount=500)
    revert = services.movement_revert(merchant_id=wallet.merchant_id, movement_id=expense.id, reason="charged twice")

    page = admin_client.get(reverse("admin:wallets_movement_change", args=[expense.pk]))

    assert page.status_code == 200
    assert "5.00 BRL" in page.text
    assert reverse("admin:ledger_journalentry_change", args=[expense.entry_id]) in page.text
    assert reverse("admin:wallets_movement_change", args=[revert.pk]) in page.text


def test_the_movements_of_one_wallet_are_listed_alone(admin_client, wallet):
    other = MovementFactory(amount=999)
    ours = wallet.movements.get()

    page = admin_client.get(reverse("admin:wallets_movement_changelist"), {"wallet__id__exact": wallet.pk})

    assert page.status_code == 200
    assert ours.id in page.text
    assert other.id not in page.text


@pytest.mark.parametrize("model", ["wallet", "movement"])
def test_nothing_can_be_added_changed_or_deleted(admin_client, wallet, model):
    obj = wallet if model == "wallet" else wallet.movements.get()

    assert admin_client.get(reverse(f"admin:wallets_{model}_add")).status_code == 403
    assert admin_client.post(reverse(f"admin:wallets_{model}_change", args=[obj.pk]), {}).status_code == 403
    assert (
        admin_client.post(reverse(f"admin:wallets_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    )
