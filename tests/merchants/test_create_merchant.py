"""Merchants and their API keys: `create_merchant` and how keys are kept."""

import hashlib
import io
import json

import pytest
from django.core.management import call_command

from merchants.models import ApiKey, Merchant
from tests.payments.helpers import client_for, get

pytestmark = pytest.mark.django_db


def _create_merchant(name: str) -> dict:
    out = io.StringIO()
    call_command("create_merchant", "--name", name, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_create_merchant_prints_id_and_a_working_key():
    printed = _create_merchant("Loja X")

    assert set(printed) == {"id", "api_key"}
    assert printed["id"].startswith("mer_")
    merchant = Merchant.objects.get(pk=printed["id"])
    assert merchant.name == "Loja X"
    response = get(client_for(printed["api_key"]), "/payments")
    assert response.status_code == 200, response.content


def test_api_key_is_stored_only_as_a_digest():
    printed = _create_merchant("Loja Y")
    raw_key = printed["api_key"]

    (stored,) = ApiKey.objects.filter(merchant_id=printed["id"]).values()

    assert stored["digest"] == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key.startswith(stored["prefix"]) and len(stored["prefix"]) < len(raw_key) // 2
    assert not any(isinstance(value, str) and raw_key in value for value in stored.values())


def test_each_merchant_gets_its_own_key():
    one, two = _create_merchant("A"), _create_merchant("B")

    assert one["api_key"] != two["api_key"]
    assert one["id"] != two["id"]


def test_key_of_one_merchant_sees_only_its_own_payments():
    from tests.factories import PaymentFactory

    one, two = _create_merchant("A"), _create_merchant("B")
    mine = PaymentFactory(merchant_id=one["id"])
    PaymentFactory(merchant_id=two["id"])

    data = get(client_for(one["api_key"]), "/payments").json()["data"]

    assert [row["id"] for row in data] == [mine.id]


def test_create_merchant_without_json_prints_both():
    out = io.StringIO()
    call_command("create_merchant", "--name", "Loja Z", stdout=out)

    merchant = Merchant.objects.get(name="Loja Z")
    assert merchant.id in out.getvalue()
    assert ApiKey.objects.get(merchant=merchant).prefix in out.getvalue()
