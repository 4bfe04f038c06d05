"""Wallets and movements through the API, as a merchant's system uses them."""

import pytest

from events.models import DomainEvent
from ledger.verification import verify
from tests.payments.helpers import assert_problem, error_fields, get, new_key, post
from tests.wallets.factories import MovementFactory, WalletFactory
from wallets.models import Movement

pytestmark = pytest.mark.django_db

WALLET_FIELDS = {"id", "object", "currency", "balance", "available_balance", "owner_reference", "created_at"}
MOVEMENT_FIELDS = {
    "id",
    "object",
    "wallet",
    "type",
    "amount",
    "currency",
    "reference",
    "description",
    "reverts",
    "reason",
    "created_at",
}


def _wallet(api, **body) -> dict:
    response = post(api, "/wallets", {"currency": "BRL", **body})
    assert response.status_code == 201, response.content
    return response.json()


def _move(api, wallet_id: str, type_: str, amount: int, **body) -> dict:
    response = post(api, f"/wallets/{wallet_id}/movements", {"type": type_, "amount": amount, **body})
    assert response.status_code == 201, response.content
    return response.json()


def _revert(api, movement_id: str, reason: str = "charged by mistake", **kwargs):
    return post(api, f"/movements/{movement_id}/revert", {"reason": reason}, **kwargs)


def _balances(api, wallet_id: str) -> tuple[int, int]:
    body = get(api, f"/wallets/{wallet_id}").json()
    return body["balance"], body["available_balance"]


def _events(wallet_id: str) -> list[DomainEvent]:
    return list(DomainEvent.objects.filter(aggregate_type="wallet", aggregate_id=wallet_id).order_by("sequence"))


# --- wallets ---------------------------------------------------------------------------------------
def test_a_new_wallet_is_empty_and_reads_back_the_same(api):
    wallet = _wallet(api, owner_reference="customer-42")

    assert set(wallet) == WALLET_FIELDS
    assert wallet["id"].startswith("wal_")
    assert wallet["object"] == "wallet"
    assert (wallet["currency"], wallet["balance"], wallet["available_balance"]) == ("BRL", 0, 0)
    assert wallet["owner_reference"] == "customer-42"
    assert wallet["created_at"].endswith("Z")
    assert get(api, f"/wallets/{wallet['id']}").json() == wallet


def test_the_owner_reference_is_optional(api):
    assert _wallet(api, currency="JPY")["owner_reference"] is None


# --- movements -------------------------------------------------------------------------------------
def test_income_and_expense_move_the_balance_and_answer_the_movement(api):
    wallet = _wallet(api)

    income = _move(api, wallet["id"], "income", 10_000, reference="topup-1", description="Top-up by Pix")
    assert _balances(api, wallet["id"]) == (10_000, 10_000)
    expense = _move(api, wallet["id"], "expense", 2_550)
    assert _balances(api, wallet["id"]) == (7_450, 7_450)

    assert set(income) == MOVEMENT_FIELDS
    assert income["id"].startswith("mov_")
    assert income["object"] == "movement"
    assert (income["wallet"], income["type"], income["amount"], income["currency"]) == (
        wallet["id"],
        "income",
        10_000,
        "BRL",
    )
    assert (income["reference"], income["description"]) == ("topup-1", "Top-up by Pix")
    assert (income["reverts"], income["reason"]) == (None, None)
    assert income["created_at"].endswith("Z")
    assert (expense["type"], expense["amount"], expense["reference"], expense["description"]) == (
        "expense",
        2_550,
        None,
        None,
    )
    assert verify() == []


def test_an_expense_of_exactly_the_available_balance_empties_the_wallet(api):
    wallet = _wallet(api)
    _move(api, wallet["id"], "income", 5_000)

    _move(api, wallet["id"], "expense", 5_000)

    assert _balances(api, wallet["id"]) == (0, 0)


def test_an_expense_beyond_the_available_balance_is_refused_and_changes_nothing(api):
    wallet = _wallet(api)
    _move(api, wallet["id"], "income", 5_000)

    response = post(api, f"/wallets/{wallet['id']}/movements", {"type": "expense", "amount": 5_001})

    body = assert_problem(response, 409, "insufficient_funds")
    assert "50.00 BRL available" in body["detail"]
    assert _balances(api, wallet["id"]) == (5_000, 5_000)
    assert Movement.objects.filter(wallet_id=wallet["id"]).count() == 1
    assert [event.type for event in _events(wallet["id"])] == ["wallet.movement_created"]


def test_an_empty_wallet_refuses_any_expense(api):
    wallet = _wallet(api)

    assert_problem(
        post(api, f"/wallets/{wallet['id']}/movements", {"type": "expense", "amount": 1}), 409, "insufficient_funds"
    )


def test_movements_are_listed_newest_first(api):
    wallet = _wallet(api)
    created = [
        _move(api, wallet["id"], "income", 1_000),
        _move(api, wallet["id"], "expense", 300),
        _move(api, wallet["id"], "income", 50),
    ]

    body = get(api, f"/wallets/{wallet['id']}/movements").json()

    assert body["data"] == created[::-1]
    assert (body["object"], body["has_more"], body["next_cursor"]) == ("list", False, None)


def test_movement_pages_cover_every_movement_once(api, merchant):
    wallet = WalletFactory(merchant=merchant)
    movements = MovementFactory.create_batch(7, wallet=wallet, amount=100)
    MovementFactory(amount=100)  # another wallet's, never listed here

    ids, sizes, cursor = [], [], None
    while True:
        page = get(
            api, f"/wallets/{wallet.id}/movements", {"limit": "3", **({"starting_after": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.content
        body = page.json()
        ids += [row["id"] for row in body["data"]]
        sizes.append(len(body["data"]))
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        cursor = body["next_cursor"]
        assert cursor == ids[-1]

    assert sizes == [3, 3, 1]
    assert ids == sorted((m.id for m in movements), reverse=True)


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"starting_after": "pay_123"}, {"sort": "asc"}],
    ids=["limit-0", "limit-101", "limit-text", "cursor-of-another-kind", "unknown-parameter"],
)
def test_bad_list_parameters_answer_400(api, params):
    wallet = _wallet(api)

    assert_problem(get(api, f"/wallets/{wallet['id']}/movements", params), 400)


# --- reverts ---------------------------------------------------------------------------------------
def test_reverting_an_income_records_the_opposite_expense(api):
    wallet = _wallet(api)
    income = _move(api, wallet["id"], "income", 4_000, reference="topup-7")

    response = _revert(api, income["id"], reason="duplicate top-up")

    assert response.status_code == 201, response.content
    revert = response.json()
    assert set(revert) == MOVEMENT_FIELDS
    assert revert["id"] != income["id"]
    assert (revert["type"], revert["amount"], revert["reverts"], revert["reason"]) == (
        "expense",
        4_000,
        income["id"],
        "duplicate top-up",
    )
    assert _balances(api, wallet["id"]) == (0, 0)
    assert get(api, f"/wallets/{wallet['id']}/movements").json()["data"][0] == revert
    assert verify() == []


def test_reverting_an_expense_gives_the_money_back(api):
    wallet = _wallet(api)
    _move(api, wallet["id"], "income", 4_000)
    expense = _move(api, wallet["id"], "expense", 1_500)

    revert = _revert(api, expense["id"]).json()

    assert (revert["type"], revert["amount"], revert["reverts"]) == ("income", 1_500, expense["id"])
    assert _balances(api, wallet["id"]) == (4_000, 4_000)


def test_a_movement_is_reverted_at_most_once(api):
    wallet = _wallet(api)
    income = _move(api, wallet["id"], "income", 4_000)
    first = _revert(api, income["id"]).json()

    body = assert_problem(_revert(api, income["id"], reason="again"), 409, "already_reverted")

    assert first["id"] in body["detail"]
    assert Movement.objects.filter(wallet_id=wallet["id"]).count() == 2
    assert _balances(api, wallet["id"]) == (0, 0)


def test_a_revert_cannot_be_reverted(api):
    wallet = _wallet(api)
    income = _move(api, wallet["id"], "income", 4_000)
    revert = _revert(api, income["id"]).json()

    assert_problem(_revert(api, revert["id"]), 409, "movement_not_revertible")

    assert Movement.objects.filter(wallet_id=wallet["id"]).count() == 2
    assert _balances(api, wallet["id"]) == (0, 0)


def test_reverting_an_income_already_spent_is_insufficient_funds(api):
    wallet = _wallet(api)
    income = _move(api, wallet["id"], "income", 4_000)
    _move(api, wallet["id"], "expense", 3_000)

    assert_problem(_revert(api, income["id"]), 409, "insufficient_funds")

    assert _balances(api, wallet["id"]) == (1_000, 1_000)
    assert not Movement.objects.filter(reverts_id=income["id"]).exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": ""}, {"reason": "   "}, {"reason": 7}, {"reason": "x" * 501}, {"reason": "ok", "amount": 1}],
    ids=["missing", "empty", "blank", "number", "too-long", "unknown-field"],
)
def test_a_revert_needs_a_reason_and_nothing_else(api, body):
    wallet = _wallet(api)
    income = _move(api, wallet["id"], "income", 4_000)

    problem = assert_problem(post(api, f"/movements/{income['id']}/revert", body), 400, "validation_error")

    assert error_fields(problem) & {"reason", "amount"}
    assert Movement.objects.filter(wallet_id=wallet["id"]).count() == 1


# --- events ------------------------------------------------------------------------------------------
def test_every_movement_is_one_event_on_the_wallet_stream_carrying_what_get_shows(api, merchant):
    wallet = _wallet(api)
    income = _move(api, wallet["id"], "income", 4_000)
    revert = _revert(api, income["id"]).json()

    events = _events(wallet["id"])

    assert [(e.sequence, e.type) for e in events] == [(1, "wallet.movement_created"), (2, "wallet.movement_reverted")]
    assert [e.data for e in events] == [{"object": income}, {"object": revert}]
    assert {e.merchant_id for e in events} == {merchant.id}


# --- idempotency -----------------------------------------------------------------------------------
def test_a_retried_movement_is_recorded_once_and_answered_alike(api):
    wallet = _wallet(api)
    key = new_key()
    body = {"type": "income", "amount": 700}

    first = post(api, f"/wallets/{wallet['id']}/movements", body, key=key)
    again = post(api, f"/wallets/{wallet['id']}/movements", body, key=key)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Movement.objects.filter(wallet_id=wallet["id"]).count() == 1
    assert _balances(api, wallet["id"]) == (700, 700)


def test_a_refused_expense_is_replayed_as_refused_even_after_income_arrives(api):
    wallet = _wallet(api)
    key = new_key()
    body = {"type": "expense", "amount": 700}
    assert_problem(post(api, f"/wallets/{wallet['id']}/movements", body, key=key), 409, "insufficient_funds")
    _move(api, wallet["id"], "income", 1_000)

    again = post(api, f"/wallets/{wallet['id']}/movements", body, key=key)

    assert_problem(again, 409, "insufficient_funds")
    assert again["Idempotent-Replayed"] == "true"
    assert _balances(api, wallet["id"]) == (1_000, 1_000)


def test_a_key_reused_for_another_request_is_422(api):
    wallet = _wallet(api)
    key = new_key()
    post(api, f"/wallets/{wallet['id']}/movements", {"type": "income", "amount": 700}, key=key)

    response = post(api, f"/wallets/{wallet['id']}/movements", {"type": "income", "amount": 800}, key=key)

    assert_problem(response, 422, "idempotency_key_reused")
    assert _balances(api, wallet["id"]) == (700, 700)


@pytest.mark.parametrize(
    "path",
    ["/wallets", "/wallets/{wallet}/movements", "/movements/{movement}/revert"],
    ids=["wallet", "movement", "revert"],
)
def test_every_post_requires_an_idempotency_key(api, merchant, path):
    movement = MovementFactory(wallet=WalletFactory(merchant=merchant))
    url = "/api/v1" + path.format(wallet=movement.wallet_id, movement=movement.id)

    response = api.post(url, {"currency": "BRL", "type": "income", "amount": 1, "reason": "x"}, format="json")

    assert_problem(response, 400, "idempotency_key_required")


# --- other merchants' and unknown ids -------------------------------------------------------------
def test_another_merchants_wallets_and_movements_answer_404_and_stay_untouched(api, other_merchant):
    theirs = WalletFactory(merchant=other_merchant)
    their_income = MovementFactory(wallet=theirs, amount=5_000)

    assert_problem(get(api, f"/wallets/{theirs.id}"), 404, "resource_missing")
    assert_problem(get(api, f"/wallets/{theirs.id}/movements"), 404, "resource_missing")
    assert_problem(post(api, f"/wallets/{theirs.id}/movements", {"type": "expense", "amount": 10}), 404)
    assert_problem(_revert(api, their_income.id), 404, "resource_missing")

    assert list(Movement.objects.filter(wallet=theirs)) == [their_income]
    assert [e.type for e in _events(theirs.id)] == ["wallet.movement_created"]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/wallets/wal_unknown", None),
        ("/wallets/wal_unknown/movements", None),
        ("/wallets/wal_unknown/movements", {"type": "income", "amount": 1}),
        ("/movements/mov_unknown/revert", {"reason": "x"}),
    ],
    ids=["get-wallet", "list-movements", "create-movement", "revert"],
)
def test_unknown_ids_answer_404(api, path, body):
    response = get(api, path) if body is None else post(api, path, body)

    assert_problem(response, 404, "resource_missing")
