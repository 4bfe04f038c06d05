"""Settlement reports, as each simulated acquirer sends them: for a day (UTC), what it really
processed (the captures and refunds in its own store), in its own layout (providers.settlement),
less its contracted fee, and with the faults set for that day.

Each provider serves them beside its API, behind its own authentication:

| provider | report of a day |
|---|---|
| Cielo | `GET /cielo/1/edi/payments/{AAAAMMDD}?currency=BRL` |
| Rede | `GET /rede/v1/edi/{AAAAMMDD}?currency=BRL` |
| Getnet | `GET /getnet/v1/edi/{AAAAMMDD}?currency=BRL` |

A report covers one currency (BRL unless asked otherwise); a day without traffic still has a
report, with no lines.

Faults, per provider and day, at `/_control/settlement`: `POST {"provider": "cielo", "date":
"2025-01-15", <fault>: <count or list of order references>, ...}` replaces that day's faults
(an empty set removes them), `GET` lists them, `DELETE` removes all. A count picks the day's
earliest sales not already picked by another fault. The faults:

- `missing`: the sale is left out;
- `amount_mismatch`: the sale is reported 1% (at least 0.01) lower than captured;
- `fee_mismatch`: the fee kept is 1% of the sale (at least 0.01) above the contract's;
- `duplicate`: the sale is reported twice;
- `chargeback`: a chargeback of the whole sale is reported too;
- `late`: the sale is left out and reported in the next day's report instead;
- `unknown`: a count of sales the provider reports but nobody made;
- `refund_missing`: the refunds of the named sales (or a count of the day's earliest refunds) are
  left out.

Like the other fault settings, they live in memory and start again from nothing with the sandbox.
"""

import io
import random
import threading
import uuid
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from providers.settlement import LAYOUTS, LineKind, ReportHeader, SettlementLine

from .config import SandboxSettings
from .store import Db, Store
from .web import BadJson, Request, Response

# The contracted fee (MDR) each simulated acquirer keeps, in basis points of the sale. The
# product's contract (settings.PROVIDER_FEE_BPS) has the same defaults.
FEE_BPS = {"cielo": 199, "rede": 185, "getnet": 210}
ESTABLISHMENT_DIGITS = {"cielo": 10, "rede": 9, "getnet": 15}
PICKED_FAULTS = ("missing", "late", "amount_mismatch", "fee_mismatch", "duplicate", "chargeback")
FAULTS = (*PICKED_FAULTS, "unknown", "refund_missing")
TEXT_PLAIN = (("Content-Type", "text/plain; charset=iso-8859-1"),)

# Captures (and authorizations captured at once) and refunds that took effect in [start, end), with
# the date their transaction was captured.
_OPERATIONS = """
SELECT o.effect, o.amount, o.created_at, t.id, t.order_ref, t.tid, t.nsu, t.authorization_code,
       t.auto_capture, t.captured_amount,
       (SELECT min(c.created_at) FROM operations c
         WHERE c.provider = o.provider AND c.transaction_id = o.transaction_id AND c.effect = 'capture') AS captured_at
FROM operations o
JOIN transactions t ON t.provider = o.provider AND t.id = o.transaction_id
WHERE o.provider = ? AND o.merchant = ? AND t.currency = ? AND o.created_at >= ? AND o.created_at < ?
  AND (o.effect IN ('capture', 'refund') OR (o.effect = 'authorize' AND t.auto_capture = 1 AND t.captured_amount > 0))
ORDER BY o.created_at, t.id
"""


def contract_fee(provider: str, amount: int) -> int:
    return (amount * FEE_BPS[provider] + 5_000) // 10_000


def establishment(provider: str, merchant: str) -> str:
    """The merchant's number at the acquirer (EC, PV, establishment), derived from its API login."""
    width = ESTABLISHMENT_DIGITS[provider]
    return f"{zlib.crc32(merchant.encode()) % 10**width:0{width}d}"


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class SettlementReports:
    def __init__(self, store: Store, settings: SandboxSettings):
        self.store = store
        self.settings = settings
        self._faults: dict[tuple[str, date], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def install(self, apis: Mapping[str, Any]) -> None:
        """Adds each provider's report resource to its router (behind its authentication)."""
        apis["cielo"].router.add("GET", r"/1/edi/payments/(?P<day>\d{8})", self._serve(apis["cielo"]))
        apis["rede"].router.add("GET", r"/v1/edi/(?P<day>\d{8})", self._serve(apis["rede"]))
        apis["getnet"].router.add("GET", r"/v1/edi/(?P<day>\d{8})", self._serve(apis["getnet"]))

    def _serve(self, api: Any) -> Callable[..., Response]:
        def serve(request: Request, *, day: str, merchant: str = "", seller: str = "") -> Response:
            try:
                business_date = datetime.strptime(day, "%Y%m%d").date()
            except ValueError:
                return api.error(400, f"not a date: {day}")
            currency = request.query.get("currency", "BRL")
            if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
                return api.error(400, f"not a currency: {currency}")
            body = self.report(api.name, merchant or seller, business_date, currency)
            return Response(200, body.encode("latin-1"), TEXT_PLAIN)

        return serve

    # --- the report -------------------------------------------------------------------------

    def report(self, provider: str, merchant: str, day: date, currency: str) -> str:
        today, yesterday = self.faults(provider, day), self.faults(provider, day - timedelta(days=1))
        with self.store.atomic() as db:
            sales, debits = self._operations(db, provider, merchant, currency, day)
            late, _ = self._operations(db, provider, merchant, currency, day - timedelta(days=1))
        picked = _pick(today, sales)
        lines = [line for line in sales if line.order_reference not in picked["missing"] | picked["late"]]
        lines = [_amount_fault(provider, line, picked) for line in lines]
        lines += [line for line in sales if line.order_reference in picked["duplicate"]]
        lines += [_chargeback(line) for line in sales if line.order_reference in picked["chargeback"]]
        lines += [line for line in late if line.order_reference in _pick(yesterday, late)["late"]]
        lines += [_unknown_sale(provider, day, number) for number in range(today.get("unknown", 0))]
        lines += _without_missing_refunds(today.get("refund_missing", []), debits)
        header = ReportHeader(
            business_date=day,
            payment_date=day + timedelta(days=1),
            establishment=establishment(provider, merchant),
            sequence=(day - date(2000, 1, 1)).days,
        )
        # Rede's sales carry no fee of their own (only their RV does): one RV per sale keeps each
        # sale's fee. The others group the day in one receivable unit / RV.
        groups = [[line] for line in lines] if provider == "rede" else [lines]
        out = io.StringIO(newline="")
        LAYOUTS[provider].write(out, header, groups)
        return out.getvalue()

    def _operations(
        self, db: Db, provider: str, merchant: str, currency: str, day: date
    ) -> tuple[list[SettlementLine], list[SettlementLine]]:
        """The day's sales (as the provider reports them, less its fee) and refunds."""
        start = _day_start(day)
        rows = db.execute(_OPERATIONS, (provider, merchant, currency, start, start + 86_400)).fetchall()
        sales, refunds = [], []
        for row in rows:
            ids = {
                "tid": row["tid"],
                "nsu": row["nsu"],
                "authorization_code": row["authorization_code"],
                "order_reference": row["order_ref"],
                "provider_payment_id": row["id"],
            }
            if row["effect"] == "refund":
                captured = datetime.fromtimestamp(row["captured_at"] or row["created_at"], UTC).date()
                amount = row["amount"]
                refunds.append(SettlementLine(LineKind.REFUND, captured, -amount, 0, -amount, **ids))
                continue
            amount = row["amount"] if row["effect"] == "capture" else row["captured_amount"]
            fee = contract_fee(provider, amount)
            sales.append(SettlementLine(LineKind.SALE, day, amount, fee, amount - fee, **ids))
        return sales, refunds

    # --- faults -----------------------------------------------------------------------------

    def faults(self, provider: str, day: date) -> dict[str, Any]:
        with self._lock:
            return dict(self._faults.get((provider, day), {}))

    def control(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self._set(request.json_object())
            except (BadJson, TypeError, ValueError) as exc:
                return Response.json(400, {"error": str(exc)})
        elif request.method == "DELETE":
            with self._lock:
                self._faults.clear()
        elif request.method != "GET":
            return Response.json(405, {"error": "use GET, POST or DELETE"})
        with self._lock:
            snapshot = [
                {"provider": provider, "date": day.isoformat(), **faults}
                for (provider, day), faults in sorted(self._faults.items())
            ]
        return Response.json(200, snapshot)

    def _set(self, data: Mapping[str, Any]) -> None:
        spec = dict(data)
        provider, day = spec.pop("provider", None), spec.pop("date", None)
        if provider not in FEE_BPS:
            raise ValueError(f"provider must be one of {', '.join(FEE_BPS)}")
        business_date = date.fromisoformat(day) if isinstance(day, str) else None
        if business_date is None:
            raise ValueError("date must be YYYY-MM-DD")
        unknown = set(spec) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
        for name, value in spec.items():
            count = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1_000
            references = isinstance(value, list) and all(isinstance(item, str) for item in value)
            if not (count or (references and name != "unknown")):
                accepted = "a count" if name == "unknown" else "a count or a list of order references"
                raise ValueError(f"{name} takes {accepted}")
        with self._lock:
            if spec:
                self._faults[(provider, business_date)] = spec
            else:
                self._faults.pop((provider, business_date), None)


def _pick(faults: Mapping[str, Any], sales: list[SettlementLine]) -> dict[str, set[str]]:
    """The order references each fault applies to: those named, or the earliest sales no other
    fault took yet, in the order PICKED_FAULTS lists them."""
    taken: set[str] = set()
    picked: dict[str, set[str]] = {}
    for name in PICKED_FAULTS:
        value = faults.get(name, [])
        if isinstance(value, int):
            free = [line.order_reference for line in sales if line.order_reference not in taken]
            value = free[:value]
        picked[name] = set(value)
        taken |= picked[name]
    return picked


def _without_missing_refunds(fault: int | list[str], refunds: list[SettlementLine]) -> list[SettlementLine]:
    if isinstance(fault, int):
        return refunds[fault:]
    return [line for line in refunds if line.order_reference not in set(fault)]


def _amount_fault(provider: str, line: SettlementLine, picked: Mapping[str, set[str]]) -> SettlementLine:
    gross, fee = line.gross, line.fee
    if line.order_reference in picked["amount_mismatch"]:
        gross -= max(1, gross // 100)
        fee = contract_fee(provider, gross)
    if line.order_reference in picked["fee_mismatch"]:
        fee += max(1, gross // 100)
    return line._replace(gross=gross, fee=fee, net=gross - fee)


def _chargeback(sale: SettlementLine) -> SettlementLine:
    return sale._replace(kind=LineKind.CHARGEBACK, gross=-sale.gross, fee=0, net=-sale.gross)


def _unknown_sale(provider: str, day: date, number: int) -> SettlementLine:
    """A sale nobody made, the same one each time the day's report is asked for: a provider's
    file of a day does not change between two downloads."""
    rng = random.Random(f"{provider}:{day}:{number}")
    amount = rng.randrange(1_000, 50_000)
    fee = contract_fee(provider, amount)
    tid = f"{rng.randrange(10**20):020d}"
    return SettlementLine(
        LineKind.SALE,
        day,
        amount,
        fee,
        amount - fee,
        tid=tid,
        nsu=f"{rng.randrange(10**6):06d}",
        authorization_code=f"{rng.randrange(10**6):06d}",
        order_reference=f"unknown-{day:%Y%m%d}-{number}",
        provider_payment_id=tid if provider == "rede" else str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    )
