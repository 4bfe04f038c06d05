"""GET /payments: cursor pagination and filters."""

from datetime import UTC, datetime

import pytest

from payments.models import Payment
from tests.factories import PaymentFactory
from tests.payments.helpers import get

pytestmark = pytest.mark.django_db


def _walk(api, params: dict) -> tuple[list[str], list[int]]:
    """Follows next_cursor until has_more is false; returns every id and the size of each page."""
    ids: list[str] = []
    sizes: list[int] = []
    cursor = None
    for _ in range(100):
        page = get(api, "/payments", {**params, **({"starting_after": cursor} if cursor else {})})
        assert page.status_code == 200, page.content
        body = page.json()
        page_ids = [row["id"] for row in body["data"]]
        ids += page_ids
        sizes.append(len(page_ids))
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return ids, sizes
        assert body["next_cursor"] == page_ids[-1]
        cursor = body["next_cursor"]
    raise AssertionError("pagination never ended")


def test_pages_cover_every_payment_once_in_id_order(api, merchant):
    payments = PaymentFactory.create_batch(45, merchant=merchant)

    ids, sizes = _walk(api, {"limit": "20"})

    assert sizes == [20, 20, 5]
    assert ids == sorted((p.id for p in payments), reverse=True)


def test_default_page_is_20(api, merchant):
    PaymentFactory.create_batch(21, merchant=merchant)

    body = get(api, "/payments").json()

    assert len(body["data"]) == 20
    assert body["has_more"] is True
    assert body["next_cursor"] == body["data"][-1]["id"]


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_accepted(api, merchant, limit):
    PaymentFactory.create_batch(3, merchant=merchant)

    ids, sizes = _walk(api, {"limit": str(limit)})

    assert len(ids) == len(set(ids)) == 3
    assert max(sizes) <= limit


def test_a_full_last_page_says_there_is_no_more(api, merchant):
    PaymentFactory.create_batch(4, merchant=merchant)

    body = get(api, "/payments", {"limit": "4"}).json()

    assert len(body["data"]) == 4
    assert (body["has_more"], body["next_cursor"]) == (False, None)


def test_empty_list(api):
    body = get(api, "/payments").json()

    assert (body["data"], body["has_more"], body["next_cursor"]) == ([], False, None)


def test_list_items_are_full_payment_objects(api, merchant):
    payment = PaymentFactory(merchant=merchant, reference="order-1")

    (row,) = get(api, "/payments").json()["data"]

    assert row == get(api, f"/payments/{payment.id}").json()


def test_filter_by_status(api, merchant):
    PaymentFactory.create_batch(3, merchant=merchant)
    captured = PaymentFactory.create_batch(2, merchant=merchant, captured=True)
    PaymentFactory(merchant=merchant, status="canceled")

    ids, _ = _walk(api, {"status": "captured"})

    assert sorted(ids) == sorted(p.id for p in captured)


def test_filter_by_provider(api, merchant):
    PaymentFactory.create_batch(2, merchant=merchant, provider="cielo")
    rede = PaymentFactory(merchant=merchant, provider="rede")
    PaymentFactory(merchant=merchant, provider="getnet")

    ids, _ = _walk(api, {"provider": "rede"})

    assert ids == [rede.id]


def test_filter_by_reference_is_exact(api, merchant):
    wanted = PaymentFactory(merchant=merchant, reference="order-7")
    PaymentFactory(merchant=merchant, reference="order-70")
    PaymentFactory(merchant=merchant, reference="ORDER-7")

    ids, _ = _walk(api, {"reference": "order-7"})

    assert ids == [wanted.id]


def test_filter_by_creation_time(api, merchant):
    day = {n: datetime(2025, 1, n, tzinfo=UTC) for n in (1, 2, 3)}
    payments = {n: PaymentFactory(merchant=merchant) for n in day}
    for n, payment in payments.items():
        Payment.objects.filter(pk=payment.pk).update(created_at=day[n])

    gte, _ = _walk(api, {"created_gte": "2025-01-02T00:00:00Z"})
    lt, _ = _walk(api, {"created_lt": "2025-01-03T00:00:00Z"})
    both, _ = _walk(api, {"created_gte": "2025-01-02T00:00:00Z", "created_lt": "2025-01-03T00:00:00Z"})

    assert sorted(gte) == sorted([payments[2].id, payments[3].id])  # inclusive
    assert sorted(lt) == sorted([payments[1].id, payments[2].id])  # exclusive
    assert both == [payments[2].id]


def test_filters_hold_across_pages(api, merchant):
    captured = PaymentFactory.create_batch(5, merchant=merchant, captured=True)
    PaymentFactory.create_batch(5, merchant=merchant)

    ids, sizes = _walk(api, {"status": "captured", "limit": "2"})

    assert sizes == [2, 2, 1]
    assert ids == sorted((p.id for p in captured), reverse=True)
