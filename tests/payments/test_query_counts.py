"""Pins the number of SQL statements on the hot path, so that an N+1 or a lost select_related
shows up as a failing test. The comments give the counts measured when the limits were set
(BEGIN, COMMIT and SAVEPOINT statements included); each limit adds a small margin."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PaymentFactory
from tests.payments.helpers import (
    authorize,
    authorized_payment,
    capture,
    captured_payment,
    create_payment,
    get,
    new_key,
    payment_body,
    post,
    refund,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def warm(api):
    """A first payment captured and partly refunded, so that the merchant's ledger accounts exist
    and what is measured is the steady state, not the first-time setup."""
    payment = captured_payment(api)
    assert refund(api, payment["id"], 100).status_code == 201


def test_create(api, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):  # measured: 7
        response = post(api, "/payments", payment_body())
    assert response.status_code == 201


def test_replay(api, django_assert_max_num_queries):
    key = new_key()
    post(api, "/payments", payment_body(), key=key)
    with django_assert_max_num_queries(4):  # measured: 3
        response = post(api, "/payments", payment_body(), key=key)
    assert response["Idempotent-Replayed"] == "true"


def test_authorize_with_manual_capture(api, django_assert_max_num_queries):
    payment = create_payment(api, capture_method="manual")
    with django_assert_max_num_queries(18):  # measured: 16
        response = authorize(api, payment["id"])
    assert response.json()["status"] == "authorized"


def test_authorize_with_automatic_capture(api, warm, django_assert_max_num_queries):
    payment = create_payment(api)
    with django_assert_max_num_queries(39):  # measured: 36 (authorize, capture, ledger entry)
        response = authorize(api, payment["id"])
    assert response.json()["status"] == "captured"


def test_capture(api, warm, django_assert_max_num_queries):
    payment = authorized_payment(api)
    with django_assert_max_num_queries(25):  # measured: 23 (with the ledger entry)
        response = capture(api, payment["id"])
    assert response.json()["status"] == "captured"


def test_refund(api, warm, django_assert_max_num_queries):
    payment = captured_payment(api)
    with django_assert_max_num_queries(30):  # measured: 28 (with the ledger entry)
        response = refund(api, payment["id"], 100)
    assert response.json()["status"] == "succeeded"


def test_get_payment(api, django_assert_max_num_queries):
    payment = create_payment(api)
    with django_assert_max_num_queries(3):  # measured: 2 (API key, payment)
        response = get(api, f"/payments/{payment['id']}")
    assert response.status_code == 200


def test_events(api, django_assert_max_num_queries):
    payment = captured_payment(api)
    with django_assert_max_num_queries(4):  # measured: 3 (API key, payment, events)
        response = get(api, f"/payments/{payment['id']}/events")
    assert len(response.json()["data"]) == 4


def test_list_does_not_grow_with_the_page(api, merchant):
    PaymentFactory(merchant=merchant)
    with CaptureQueriesContext(connection) as one_row:
        get(api, "/payments")
    PaymentFactory.create_batch(30, merchant=merchant)
    with CaptureQueriesContext(connection) as full_page:
        response = get(api, "/payments", {"limit": "20"})

    assert len(response.json()["data"]) == 20
    assert len(full_page) == len(one_row) <= 3  # measured: 2 (API key, one page of payments)
