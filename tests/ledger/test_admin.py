import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from ledger.models import Account, JournalEntry
from ledger.services import entry_reverse
from tests.ledger.factories import AccountFactory, JournalEntryFactory, LiabilityAccountFactory


@pytest.fixture
def entry():
    bank = AccountFactory(code="test:bank")
    payable = LiabilityAccountFactory(code="merchant:mer_1:payable")
    return JournalEntryFactory(reference="payment:pay_1:capture", debit=bank, credit=payable, amount=12_345)


def test_operators_see_balances_with_their_side_spelled_out(admin_client, entry):
    page = admin_client.get(reverse("admin:ledger_account_changelist"), {"q": "mer_1"})

    assert page.status_code == 200
    assert "merchant:mer_1:payable" in page.text
    assert "123.45 BRL Cr" in page.text
    assert "test:bank" not in page.text


def test_operators_see_an_entry_with_its_postings_and_its_reversal(admin_client, entry):
    reversal = entry_reverse(entry=entry, reference="payment:pay_1:capture:reversal", reason="duplicate capture")

    page = admin_client.get(reverse("admin:ledger_journalentry_change", args=[entry.pk]))

    assert page.status_code == 200
    assert "payment:pay_1:capture" in page.text
    assert "123.45 BRL Dr" in page.text
    assert "123.45 BRL Cr" in page.text
    assert reverse("admin:ledger_journalentry_change", args=[reversal.pk]) in page.text


def test_operators_find_the_entries_of_an_account(admin_client, entry):
    JournalEntryFactory(reference="other:1")
    payable = Account.objects.get(code="merchant:mer_1:payable")
    account_page = admin_client.get(reverse("admin:ledger_account_change", args=[payable.pk]))
    link = f"{reverse('admin:ledger_journalentry_changelist')}?postings__account__id__exact={payable.pk}"
    assert link in account_page.text

    page = admin_client.get(link)

    assert page.status_code == 200
    assert "payment:pay_1:capture" in page.text
    assert "other:1" not in page.text


@pytest.mark.parametrize("model", [Account, JournalEntry])
def test_nobody_can_add_change_or_delete_ledger_records_in_the_admin_not_even_a_superuser(
    admin_client, admin_user, rf, entry, model
):
    model_admin = site._registry[model]
    request = rf.get("/")
    request.user = admin_user
    obj = model.objects.first()

    assert model_admin.has_view_permission(request, obj)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    name = model._meta.model_name
    assert admin_client.get(reverse(f"admin:ledger_{name}_add")).status_code == 403
    assert admin_client.get(reverse(f"admin:ledger_{name}_delete", args=[obj.pk])).status_code == 403
    assert admin_client.post(reverse(f"admin:ledger_{name}_change", args=[obj.pk]), {}).status_code == 403
