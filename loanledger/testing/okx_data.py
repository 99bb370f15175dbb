"""Simulated OKX accounts: activity that moves the account's books and writes OKX's records.

An `OkxBook` is one account: its state (`state`, an `AccountBooks`: free wallet,
debt and collateral per scope and currency; `orders`, the flexible-loan orders
loan-info reports) and the four history tables the endpoints serve. Every
activity method changes the state and writes the records the way OKX does
(docs/venues/okx.md has the books of every record):

- flexible loan (scope ``okx.flexible_loan``): `borrow` (a `collateral_locked` per
  pledge, then `borrowed`), `repay`, `pledge`, `release`, the liquidation paths
  (`forced_repayment`, `sell_collateral`, `liquidate`: legs a few ms apart, the
  collateral side first), and `accrue_until`: an interest row per open order at every
  hour, ``interest`` = ``loan`` x APY / 8760 rounded up to 8 decimals (the docs'
  example: 0.86599309 x 0.41 / 8760 -> 0.00004054), added to the debt. Interest rows
  older than the 30 days the venue serves are moves no feed shows: `unrecorded` under
  "interest accrued before the interest feed's 30-day window".
- SPOT-mode debt (scope ``okx.spot_debt``): `spot_borrow` (recorded in no feed loanledger
  reads: unrecorded, "spot-mode borrowing no feed records"), `one_click_repay` (sell legs into
  USDT, a buy leg of the debt coin, gross of the 0.1 % trade fee; ``fillDebtSz`` is net of
  it; the fee is in no field: unrecorded, "one-click repay trade fee"). A one-click record
  older than the venue's 7 days is unrecorded too (under the spot residual).
- `convert`: the free wallet only.

`generate` builds a deterministic account over 90 days; `grow` adds newer activity.
The special cases every walk must survive are built in on purpose:

- loan history: more than 100 records sharing one millisecond (the refId cursor must
  still return each once: 65 lock/release pairs on one order), all 12 action types (each
  liquidation path at least once), `amt` sent signed on some rows and unsigned on others,
  18-20 digit amounts;
- interest accrued: one record per open order per hour (three orders: ties at every page
  boundary), rows older than the 30-day window the venue serves (closed historic orders);
- one-click repay v2: a tie straddling the first page boundary, `running` records (the
  newest) that `grow` settles to `filled`, failed records, legs that never filled
  (``fillPx: ""``), rows older than 7 days;
- convert history: a tie of 50 trades across the first page boundary, rejected trades
  (sizes "0" or ""), 20-digit sizes.

No record lies within hours of a retention edge (a test that runs for minutes sees the
same data). This module does not import the client's decoders: it plays the venue.
"""

from __future__ import annotations

import decimal
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .books import AccountBooks

__all__ = [
    "FEED_TABLES",
    "FLEXIBLE",
    "LOAN_ORDERS",
    "LOAN_TYPES",
    "OUTFLOW_LOAN_TYPES",
    "PRE_WINDOW",
    "SPOT",
    "SPOT_BORROWING",
    "TRADE_FEE",
    "OkxBook",
    "Order",
    "SimRecord",
    "generate",
    "grow",
]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
#: how far back the venue serves interest rows and one-click repays
INTEREST_WINDOW_MS = 30 * DAY_MS
ONE_CLICK_WINDOW_MS = 7 * DAY_MS

#: the scopes and residual names (the client declares the same ones; a test checks they agree)
FLEXIBLE = "okx.flexible_loan"
SPOT = "okx.spot_debt"
#: convert trades move the free wallet only (no position to reconcile)
CONVERT = "okx.convert"
PRE_WINDOW = "interest accrued before the interest feed's 30-day window"
SPOT_BORROWING = "spot-mode borrowing no feed records"
TRADE_FEE = "one-click repay trade fee"

#: the 12 documented loan-history action types
LOAN_TYPES = (
    "borrowed", "repaid", "collateral_locked", "collateral_released",
    "forced_repayment_buy", "forced_repayment_sell", "forced_liquidation", "partial_liquidation",
    "sell_collateral", "buy_transition_coin", "sell_transition_coin", "buy_borrowed_coin",
)
#: types whose `amt` the venue sends negative when it sends a sign (the only signed
#: example in the docs is collateral_locked "-0.001")
OUTFLOW_LOAN_TYPES = frozenset({
    "repaid", "collateral_locked", "forced_repayment_sell", "forced_liquidation",
    "partial_liquidation", "sell_collateral", "sell_transition_coin",
})

#: feed id -> OkxBook attribute
FEED_TABLES = {
    "okx.flexible_loan_history": "loan_history",
    "okx.flexible_loan_interest": "interest",
    "okx.one_click_repay_history": "one_click",
    "okx.convert_history": "convert",
}

COINS = (
    "BTC", "ETH", "USDT", "USDC", "DOT", "SOL", "XRP", "LTC", "ADA", "TRX", "DOGE", "AVAX",
    "LINK", "ATOM", "UNI", "FIL", "ETC", "BCH", "NEAR", "APT", "ARB", "OP", "SUI", "TON",
    "PEPE", "SHIB", "OKB", "AAVE", "COMP", "MKR", "CRV", "SAND",
)
#: the three orders `generate` keeps open (USDT, USDC and BTC loans)
LOAN_ORDERS = ("680234819012345678", "680234819012345901", "691100000000000007")
#: a rough USD price per coin (loan-info's notionals and LTV only)
PRICES = {c: Decimal(p) for c, p in zip(COINS, (
    "65000", "3400", "1", "1", "6.5", "150", "0.52", "80", "0.45", "0.12", "0.15", "35",
    "14", "8", "9", "5", "25", "450", "6", "9", "1.1", "2.2", "1.5", "7",
    "0.00001", "0.00002", "45", "95", "55", "2500", "0.5", "0.4",
), strict=True)}
FEE_RATE = Decimal("0.001")
_EIGHT = Decimal("0.00000001")
_ZERO = Decimal(0)
#: arithmetic that never rounds silently (interest is rounded explicitly)
_WIDE = decimal.Context(prec=200, traps=[decimal.InvalidOperation, decimal.Inexact, decimal.Overflow])
_DIVIDE = decimal.Context(prec=200)


def _mul(a: Decimal, b: Decimal) -> Decimal:
    return _WIDE.multiply(a, b)


def _add(a: Decimal, b: Decimal) -> Decimal:
    return _WIDE.add(a, b)


def _sub(a: Decimal, b: Decimal) -> Decimal:
    return _WIDE.subtract(a, b)


def _text(value: Decimal) -> str:
    return format(value, "f")


def _neg(value: Decimal) -> Decimal:
    return value.copy_negate() if value else value


def _part(rng: random.Random, whole: Decimal, lo: int = 5, hi: int = 50) -> Decimal:
    """A share of `whole` between lo % and hi %, cut (down) to 8 decimals; never more than `whole`."""
    share = _DIVIDE.multiply(whole, Decimal(rng.randint(lo, hi)) / 100).quantize(_EIGHT, rounding=decimal.ROUND_DOWN)
    return share if share > 0 else whole


@dataclass(eq=False, slots=True)
class SimRecord:
    """One stored record: its wire dict, its ts, the key ties are ordered by, filter facts,
    and (one-click repays still running) what settling it will do."""

    ts: int
    key: str
    wire: dict[str, Any]
    order_id: str = ""
    ccy: str = ""
    plan: dict[str, Any] | None = None

    def sort_key(self) -> tuple[int, int | str]:
        return (self.ts, int(self.key) if self.key.isdigit() else self.key)


@dataclass(eq=False)
class Order:
    """A flexible-loan order: what loan-info reports for it (debt per loan currency, collateral
    per pledged currency) and its APY."""

    id: str
    loan_ccy: str
    rate: Decimal
    debt: dict[str, Decimal] = field(default_factory=dict)
    collateral: dict[str, Decimal] = field(default_factory=dict)

    @property
    def owed(self) -> Decimal:
        return self.debt.get(self.loan_ccy, _ZERO)

    def pledged(self, ccy: str) -> Decimal:
        return self.collateral.get(ccy, _ZERO)


@dataclass(eq=False)
class OkxBook:
    """One simulated account: its state and the four history tables (each newest first
    once `sort()` ran; the endpoints read them through `table()`, which sorts)."""

    loan_history: list[SimRecord] = field(default_factory=list)
    interest: list[SimRecord] = field(default_factory=list)
    one_click: list[SimRecord] = field(default_factory=list)
    convert: list[SimRecord] = field(default_factory=list)
    serial: int = 0  # order ids handed out so far
    state: AccountBooks = field(default_factory=AccountBooks)
    orders: dict[str, Order] = field(default_factory=dict)
    #: the venue clock the activity is judged against: what lies outside the served windows
    now_ms: int = 0
    #: the last hour mark interest was accrued at
    accrued_to: int | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    _seq: dict[tuple[str, int], int] = field(default_factory=dict)
    _unsorted: set[str] = field(default_factory=set)

    # --- tables -------------------------------------------------------------------------------

    def table(self, feed_id: str) -> list[SimRecord]:
        name = FEED_TABLES.get(feed_id)
        if name is None:
            raise KeyError(f"unknown OKX feed {feed_id!r}; known: {', '.join(FEED_TABLES)}")
        rows: list[SimRecord] = getattr(self, name)
        if name in self._unsorted:
            rows.sort(key=SimRecord.sort_key, reverse=True)
            self._unsorted.discard(name)
        return rows

    def add(self, feed_id: str, records: list[SimRecord]) -> None:
        """Store records as they are (the state does not move: see the activity methods)."""
        rows = self.table(feed_id)
        rows.extend(records)
        rows.sort(key=SimRecord.sort_key, reverse=True)

    def sort(self) -> None:
        for feed_id in FEED_TABLES:
            self.table(feed_id)

    def newest_ts(self, feed_id: str) -> int | None:
        rows = self.table(feed_id)
        return rows[0].ts if rows else None

    def next_order_id(self) -> str:
        self.serial += 1
        return str(2_338_478_000_000_000_000 + self.serial * 7919)

    def _ref(self, table: str, ts: int) -> str:
        """refId: the creation ms then a sequence within that ms (the shape of both doc examples)."""
        k = self._seq.get((table, ts), 0)
        self._seq[(table, ts)] = k + 1
        return str(ts * 10_000 + k)

    def _write(self, table: str, record: SimRecord) -> None:
        getattr(self, table).append(record)
        self._unsorted.add(table)

    # --- the flexible loan ------------------------------------------------------------------------

    def open_order(self, loan_ccy: str, rate: Decimal, order_id: str | None = None) -> Order:
        oid = order_id or str(690_000_000_000_000_000 + len(self.orders) * 104_729 + 17)
        if oid in self.orders:
            raise ValueError(f"order {oid} exists")
        order = Order(oid, loan_ccy, rate)
        self.orders[oid] = order
        return order

    def _move(self, order: Order, ccy: str, *, wallet: Decimal = _ZERO, debt: Decimal = _ZERO,
              collateral: Decimal = _ZERO, unrecorded: str | None = None) -> None:
        """Move the account's books and the order's own figures together."""
        self.state.move(FLEXIBLE, ccy, wallet=wallet, debt=debt, collateral=collateral, unrecorded=unrecorded)
        for table, value in ((order.debt, debt), (order.collateral, collateral)):
            if value:
                total = _add(table.get(ccy, _ZERO), value)
                if total < 0:
                    raise ValueError(f"order {order.id}: {ccy} would go negative ({total})")
                if total:
                    table[ccy] = total
                else:
                    table.pop(ccy, None)

    def _loan(self, ts: int, kind: str, ccy: str, amount: Decimal, order: Order) -> None:
        """Write one loan-history record (`amt` signed or not, as the venue may send it)."""
        rng = self.rng
        magnitude = _text(amount)
        signed = kind in OUTFLOW_LOAN_TYPES and rng.random() < 0.5
        ref = self._ref("loan_history", ts)
        wire: dict[str, Any] = {"amt": f"-{magnitude}" if signed else magnitude, "ccy": ccy, "refId": ref,
                                "ts": str(ts), "type": kind}
        if rng.random() < 0.15:
            wire["ordId"] = order.id
            wire.update(_extras(rng, ts))
        self._write("loan_history", SimRecord(ts, ref, wire, order_id=order.id, ccy=ccy))

    def borrow(self, ts: int, order: Order, amount: Decimal, collateral: Sequence[tuple[str, Decimal]] = ()) -> int:
        """Borrow `amount` of the order's loan currency, pledging `collateral` first (a
        `collateral_locked` per currency, then `borrowed`, 1 ms apart). Returns the next free ms."""
        for ccy, amt in collateral:
            ts = self.pledge(ts, order, ccy, amt)
        self._loan(ts, "borrowed", order.loan_ccy, amount, order)
        self._move(order, order.loan_ccy, wallet=amount, debt=amount)
        return ts + 1

    def repay(self, ts: int, order: Order, amount: Decimal) -> int:
        """Repay principal and interest from the wallet (`repaid`)."""
        self._loan(ts, "repaid", order.loan_ccy, amount, order)
        self._move(order, order.loan_ccy, wallet=_neg(amount), debt=_neg(amount))
        return ts + 1

    def pledge(self, ts: int, order: Order, ccy: str, amount: Decimal) -> int:
        self._loan(ts, "collateral_locked", ccy, amount, order)
        self._move(order, ccy, wallet=_neg(amount), collateral=amount)
        return ts + 1

    def release(self, ts: int, order: Order, ccy: str, amount: Decimal) -> int:
        self._loan(ts, "collateral_released", ccy, amount, order)
        self._move(order, ccy, wallet=amount, collateral=_neg(amount))
        return ts + 1

    def forced_repayment(self, ts: int, order: Order, ccy: str, sold: Decimal, bought: Decimal) -> int:
        """Forced repayment: pledged `ccy` sold, the loan currency bought to repay the debt."""
        self._loan(ts, "forced_repayment_sell", ccy, sold, order)
        self._move(order, ccy, collateral=_neg(sold))
        ts += self.rng.randint(1, 3_000)
        self._loan(ts, "forced_repayment_buy", order.loan_ccy, bought, order)
        self._move(order, order.loan_ccy, debt=_neg(bought))
        return ts + 1

    def sell_collateral(self, ts: int, order: Order, ccy: str, sold: Decimal, transition: str,
                        through: Decimal, bought: Decimal) -> int:
        """Collateral sold into the borrowed coin through a transition coin (four legs); the
        transition coin never leaves the liquidation path."""
        rng = self.rng
        self._loan(ts, "sell_collateral", ccy, sold, order)
        self._move(order, ccy, collateral=_neg(sold))
        ts += rng.randint(1, 3_000)
        self._loan(ts, "buy_transition_coin", transition, through, order)
        self._move(order, transition, collateral=through)
        ts += rng.randint(1, 3_000)
        self._loan(ts, "sell_transition_coin", transition, through, order)
        self._move(order, transition, collateral=_neg(through))
        ts += rng.randint(1, 3_000)
        self._loan(ts, "buy_borrowed_coin", order.loan_ccy, bought, order)
        self._move(order, order.loan_ccy, debt=_neg(bought))
        return ts + 1

    def liquidate(self, ts: int, order: Order, ccy: str, seized: Decimal, cleared: Decimal, *,
                  partial: bool) -> int:
        """A (partial) liquidation as two records: the collateral seized, then the debt it closed."""
        kind = "partial_liquidation" if partial else "forced_liquidation"
        self._loan(ts, kind, ccy, seized, order)
        self._move(order, ccy, collateral=_neg(seized))
        ts += self.rng.randint(1, 3_000)
        self._loan(ts, kind, order.loan_ccy, cleared, order)
        self._move(order, order.loan_ccy, debt=_neg(cleared))
        return ts + 1

    def accrue(self, ts: int, orders: Iterable[Order] | None = None) -> int:
        """One interest row per open order (or per order of `orders` that owes), at `ts`:
        interest on the debt including earlier interest, added to the debt. Returns the rows written."""
        written = 0
        for order in self.orders.values() if orders is None else orders:
            owed = order.owed
            if not owed:
                continue
            interest = _DIVIDE.divide(_mul(owed, order.rate), Decimal(8760)).quantize(
                _EIGHT, rounding=decimal.ROUND_UP)
            ref = self._ref("interest", ts)
            wire: dict[str, Any] = {"ccy": order.loan_ccy, "interest": _text(interest),
                                    "interestRate": _text(order.rate), "loan": _text(owed), "refId": ref,
                                    "ts": str(ts)}
            if self.rng.random() < 0.1:
                wire.update(_extras(self.rng, ts))
            self._write("interest", SimRecord(ts, ref, wire, order_id=order.id, ccy=order.loan_ccy))
            old = ts < self.now_ms - INTEREST_WINDOW_MS  # never served: no feed shows it
            self._move(order, order.loan_ccy, debt=interest, unrecorded=PRE_WINDOW if old else None)
            written += 1
        return written

    def accrue_until(self, ts: int) -> None:
        """Accrue every hour mark after the last one up to `ts` (the first call starts at `ts`)."""
        hour = (self.accrued_to if self.accrued_to is not None else ts - ts % HOUR_MS) + HOUR_MS
        while hour <= ts:
            self.accrue(hour)
            hour += HOUR_MS
        self.accrued_to = hour - HOUR_MS

    # --- SPOT-mode debt and one-click repay ---------------------------------------------------------

    def spot_borrow(self, ccy: str, amount: Decimal) -> None:
        """SPOT-mode borrowing (auto-borrow by a trade): no feed loanledger reads records it (the
        coins it lent were spent by that trade, also in no feed: the wallet does not move)."""
        self.state.move(SPOT, ccy, debt=amount, unrecorded=SPOT_BORROWING)

    def _spot(self, ccy: str, *, wallet: Decimal = _ZERO, debt: Decimal = _ZERO, old: bool,
              unrecorded: str | None = None) -> None:
        if debt and _add(self.state.owed(SPOT, ccy), debt) < 0:
            raise ValueError(f"spot debt in {ccy} would go negative")
        self.state.move(SPOT, ccy, wallet=wallet, debt=debt, unrecorded=SPOT_BORROWING if old else unrecorded)

    def _order_leg(self, inst: str, side: str, c_time: int, size: Decimal | None, px: Decimal,
                   *, old: bool) -> dict[str, Any]:
        """One IOC order of a one-click repay; `size` None: it never filled. A fill moves the wallet
        (gross) and the fee (in the received coin, recorded nowhere)."""
        rng = self.rng
        base, quote = inst.split("-")
        leg: dict[str, Any] = {
            "cTime": str(c_time), "fillPx": _text(px) if size is not None else "",
            "fillSz": _text(size) if size is not None else "0", "instId": inst, "ordId": self.next_order_id(),
            "ordType": "ioc", "px": _text(px), "side": side, "state": "filled" if size is not None else "canceled",
            "sz": _text(size) if size is not None else _amount(rng),
        }
        if rng.random() < 0.2:
            leg["fee"] = f"-{_small(rng)}"
            leg["avgPx"] = _text(px)
        if size is not None:
            value = _mul(size, px)
            got, got_amt, paid, paid_amt = (base, size, quote, value) if side == "buy" else (quote, value, base, size)
            self._spot(got, wallet=got_amt, old=old)
            self._spot(paid, wallet=_neg(paid_amt), old=old)
            self._spot(got, wallet=_neg(_mul(got_amt, FEE_RATE)), old=old, unrecorded=TRADE_FEE)
        return leg

    def one_click_repay(self, ts: int, debt_ccy: str, *, pay: Sequence[tuple[str, Decimal | None]] = (),
                  buy: Decimal | None = None, repaid: Decimal | None = None, status: str = "filled",
                  shown: str | None = None) -> SimRecord:
        """A one-click repay (v2) of the SPOT-mode debt in `debt_ccy`: `pay` coins sold into USDT
        (size None: the order never filled), then `buy` of the debt coin with USDT (not for a USDT
        debt); ``fillDebtSz`` = what the buy received net of the fee (or `repaid` for a USDT
        debt). `status` running: the sells are written, the buy and the repay wait for `settle`
        (`shown` is the interim ``fillDebtSz``); failed: nothing fills."""
        rng = self.rng
        old = ts < self.now_ms - ONE_CLICK_WINDOW_MS
        legs: list[dict[str, Any]] = []
        c_time = ts + rng.randint(1, 500)
        for ccy, size in pay:
            if ccy in ("USDT", debt_ccy):
                continue
            legs.append(self._order_leg(f"{ccy}-USDT", "sell", c_time, None if status == "failed" else size,
                                        PRICES.get(ccy, Decimal(1)), old=old))
            c_time += rng.randint(1, 3_000)
        if debt_ccy == "USDT":
            buy = None
            final = repaid if repaid is not None else _ZERO
        else:
            final = _sub(buy, _mul(buy, FEE_RATE)) if buy is not None else _ZERO
        wire: dict[str, Any] = {
            "debtCcy": debt_ccy, "fillDebtSz": "0", "ordIdInfo": legs,
            "repayCcyList": [debt_ccy] + [c for c, _ in pay if c != debt_ccy], "status": status, "ts": str(ts),
        }
        if rng.random() < 0.15:
            wire.update(_extras(rng, ts))
        rec = SimRecord(ts, debt_ccy, wire, ccy=debt_ccy)
        if status == "running":
            wire["fillDebtSz"] = shown if shown is not None else ""
            rec.plan = {"buy": buy, "repaid": final, "c_time": c_time, "old": old}
        elif status == "filled":
            if buy is not None:
                legs.append(self._order_leg(f"{debt_ccy}-USDT", "buy", c_time, buy, PRICES.get(debt_ccy, Decimal(1)),
                                            old=old))
            wire["fillDebtSz"] = _text(final)
            self._spot(debt_ccy, wallet=_neg(final), debt=_neg(final), old=old)
        elif status == "failed":
            if buy is not None and debt_ccy != "USDT":
                legs.append(self._order_leg(f"{debt_ccy}-USDT", "buy", c_time, None,
                                            PRICES.get(debt_ccy, Decimal(1)), old=old))
        else:
            raise ValueError(f"status {status!r}")
        self._write("one_click", rec)
        return rec

    def settle(self, rec: SimRecord) -> None:
        """A running one-click repay finishes: same ts and debtCcy; the buy leg fills, ``fillDebtSz``
        takes its final size and the debt is repaid."""
        plan = rec.plan
        if plan is None or rec.wire["status"] != "running":
            raise ValueError("not a running one-click repay")
        debt = rec.wire["debtCcy"]
        buy: Decimal | None = plan["buy"]
        if buy is not None:
            rec.wire["ordIdInfo"].append(self._order_leg(
                f"{debt}-USDT", "buy", plan["c_time"] + self.rng.randint(1, 2_000), buy,
                PRICES.get(debt, Decimal(1)), old=plan["old"]))
        final: Decimal = plan["repaid"]
        rec.wire["fillDebtSz"] = _text(final)
        rec.wire["status"] = "filled"
        rec.plan = None
        self._spot(debt, wallet=_neg(final), debt=_neg(final), old=plan["old"])

    # --- convert ---------------------------------------------------------------------------------------

    def convert_trade(self, ts: int, trade_id: str, base: str, quote: str, side: str, base_sz: str,
                      quote_sz: str, *, rejected: bool = False, client_id: str = "") -> SimRecord:
        """A convert trade: the wallet receives one coin and pays the other (nothing if rejected)."""
        rng = self.rng
        wire: dict[str, Any] = {
            "baseCcy": base, "clTReqId": client_id, "fillBaseSz": base_sz,
            "fillPx": f"{rng.randint(0, 60_000)}.{rng.randint(1, 10**6 - 1):06d}", "fillQuoteSz": quote_sz,
            "instId": f"{base}-{quote}", "quoteCcy": quote, "side": side,
            "state": "rejected" if rejected else "fullyFilled", "tradeId": trade_id, "ts": str(ts),
        }
        if rng.random() < 0.15:
            wire.update(_extras(rng, ts))
        if not rejected:
            b, q = Decimal(base_sz), Decimal(quote_sz)
            got, got_amt, paid, paid_amt = (base, b, quote, q) if side == "buy" else (quote, q, base, b)
            self.state.move(CONVERT, got, wallet=got_amt)
            self.state.move(CONVERT, paid, wallet=_neg(paid_amt))
        rec = SimRecord(ts, trade_id, wire, ccy=base)
        self._write("convert", rec)
        return rec


# --- amounts -------------------------------------------------------------------------------------------


def _amount(rng: random.Random) -> str:
    """A positive decimal string: 20 digits, 18 decimals, everyday values, integers."""
    pick = rng.random()
    if pick < 0.25:
        return f"{rng.randint(10**10, 10**11 - 1)}.{rng.randint(0, 10**9 - 1):09d}"  # 20 digits
    if pick < 0.5:
        return f"0.{rng.randint(10**17, 10**18 - 1)}"  # 18 decimals
    if pick < 0.85:
        return f"{rng.randint(1, 99_999)}.{rng.randint(0, 10**8 - 1):08d}"
    return str(rng.randint(1, 5_000))


def _small(rng: random.Random) -> str:
    return f"0.{rng.randint(10**9, 10**18 - 1):018d}"


def _extras(rng: random.Random, ts: int) -> dict[str, Any]:
    """Fields the docs do not list (the client must ignore them)."""
    return {
        "uTime": str(ts + rng.randint(0, 999)),
        "extInfo": {"src": rng.choice(["app", "api", "web"]), "seq": [rng.randint(0, 9), None]},
        "tag": None,
    }


def _descending(rng: random.Random, top: int, count: int, mean_gap: int) -> list[int]:
    """`count` timestamps from `top` downwards, distinct, gaps averaging `mean_gap`."""
    out: list[int] = []
    t = top
    for _ in range(count):
        out.append(t)
        t -= rng.randint(1, 2 * mean_gap)
    return out


def _rate(rng: random.Random) -> Decimal:
    return Decimal(f"0.{rng.randint(100, 4100):04d}")  # APY 1 % .. 41 %


# --- the flexible loan over 90 days ----------------------------------------------------------------------


_PATHS = ("forced_repayment", "sell_collateral", "partial_liquidation")


def _act(book: OkxBook, rng: random.Random, ts: int, order: Order, what: str) -> int:
    """One activity on an open order (amounts drawn from its state). Returns the next free ms."""
    loan = order.loan_ccy
    pledged = [c for c in order.collateral if c != loan]
    if what == "repay" and order.owed:
        return book.repay(ts, order, _part(rng, order.owed, 2, 25))
    if what == "borrow":
        return book.borrow(ts, order, Decimal(_amount(rng)) if loan == "USDT" else _part(rng, Decimal(2), 10, 90))
    if what == "release" and pledged:
        ccy = rng.choice(pledged)
        return book.release(ts, order, ccy, _part(rng, order.pledged(ccy)))
    if what in _PATHS and pledged and order.owed:
        ccy = rng.choice(pledged)
        sold, cleared = _part(rng, order.pledged(ccy), 5, 40), _part(rng, order.owed, 2, 20)
        if what == "forced_repayment":
            return book.forced_repayment(ts, order, ccy, sold, cleared)
        if what == "sell_collateral" and loan != "USDT" and ccy != "USDT":
            return book.sell_collateral(ts, order, ccy, sold, "USDT", Decimal(_amount(rng)), cleared)
        if what != "sell_collateral":
            return book.liquidate(ts, order, ccy, sold, cleared, partial=True)
    ccy = rng.choice([c for c in COINS[4:16] if c != loan])
    return book.pledge(ts, order, ccy, Decimal(_amount(rng)))


def _historic(book: OkxBook, rng: random.Random, start: int, end: int, count: int) -> None:
    """`count` orders opened and closed between `start` and `end` (fully repaid and released, or
    liquidated whole), with hourly interest while they owe."""
    span = (end - start) // count
    for i in range(count):
        t0 = start + i * span + rng.randint(0, span // 4)
        life = min(span // 2, rng.randint(2, 30) * HOUR_MS)
        loan = rng.choice(("USDT", "USDC", "ETH"))
        order = book.open_order(loan, _rate(rng))
        coll = rng.choice([c for c in ("BTC", "ETH", "SOL", "DOT") if c != loan])
        book.accrue_until(t0)
        ts = book.borrow(t0, order, Decimal(_amount(rng)), [(coll, Decimal(_amount(rng)))])
        steps = rng.randint(1, 4)
        for k in range(steps):
            at = t0 + (k + 1) * life // (steps + 2) + rng.randint(0, 5 * MINUTE_MS)
            book.accrue_until(at)
            ts = _act(book, rng, max(at, ts + 2 * MINUTE_MS), order,
                      rng.choice(("repay", "pledge", "release", "forced_repayment", "repay")))
        at = max(t0 + life, ts + 2 * MINUTE_MS)
        book.accrue_until(at)
        if len(order.collateral) == 1 and rng.random() < 0.3:  # liquidated whole
            (ccy, amt), = order.collateral.items()
            book.liquidate(at, order, ccy, amt, order.owed, partial=False)
        else:
            ts = book.repay(at, order, order.owed)
            for ccy, amt in sorted(order.collateral.items()):
                ts = book.release(ts + rng.randint(1, 999), order, ccy, amt)


def _session(book: OkxBook, rng: random.Random, t0: int, what: str) -> None:
    """An order opened, worked and closed (repaid and released, or liquidated whole) within the
    first 50 minutes of one hour: it never owes at an hour mark, so it accrues no interest."""
    loan = rng.choice(("USDC", "ETH", "SOL") if what == "sell_collateral" else ("USDT", "USDC", "ETH", "SOL"))
    order = book.open_order(loan, _rate(rng))
    coll = [c for c in ("BTC", "ETH", "DOT", "TRX") if c != loan]
    ts = book.borrow(t0, order, Decimal(_amount(rng)), [(c, Decimal(_amount(rng))) for c in rng.sample(coll, 1)])
    for k in range(0 if what == "liquidate" else rng.randint(0, 2)):
        ts = _act(book, rng, max(ts, t0 + (k + 1) * 8 * MINUTE_MS), order,
                  rng.choice(("repay", "pledge", "release", "borrow")))
    if what != "liquidate":
        ts = _act(book, rng, max(ts, t0 + 25 * MINUTE_MS), order, what)
    at = max(ts + 2 * MINUTE_MS, t0 + 35 * MINUTE_MS)
    if len(order.collateral) == 1 and (what == "liquidate" or rng.random() < 0.3):  # liquidated whole
        (ccy, amt), = order.collateral.items()
        book.liquidate(at, order, ccy, amt, order.owed, partial=False)
        return
    ts = book.repay(at, order, order.owed)
    for ccy, amt in sorted(order.collateral.items()):
        ts = book.release(ts + rng.randint(1, 999), order, ccy, amt)


def _flexible_loan(book: OkxBook, rng: random.Random, anchor: int, scale: float) -> None:
    now = book.now_ms
    # before the 30 days the interest feed serves: orders that came and went, accruing interest
    _historic(book, rng, anchor - 90 * DAY_MS, now - INTEREST_WINDOW_MS - 12 * HOUR_MS, max(2, round(8 * scale)))
    hours = max(3, round(70 * scale))
    start = anchor - hours * HOUR_MS
    # inside the window, until the standing orders open: short sessions (every liquidation path
    # at least once), each within one hour
    first = now - INTEREST_WINDOW_MS + 12 * HOUR_MS
    sessions = ["forced_repayment", "sell_collateral", "partial_liquidation", "liquidate"]
    sessions += [rng.choice(("repay", "pledge", "release", *_PATHS)) for _ in range(max(1, round(30 * scale)))]
    rng.shuffle(sessions)
    span = (start - 2 * HOUR_MS - first) // len(sessions)
    for i, what in enumerate(sessions):
        t0 = first + i * span + rng.randint(0, max(0, span - 2 * HOUR_MS))
        t0 += HOUR_MS - t0 % HOUR_MS + rng.randint(1, 9) * MINUTE_MS  # early in an hour
        book.accrue_until(t0)
        _session(book, rng, t0, what)
    # the last `hours`: three orders open all along (an interest row each every hour), busy
    standing = [
        book.open_order("USDT", Decimal("0.0876"), LOAN_ORDERS[0]),
        book.open_order("USDC", Decimal("0.41"), LOAN_ORDERS[1]),
        book.open_order("BTC", Decimal("0.0312"), LOAN_ORDERS[2]),
    ]
    book.accrue_until(start)
    ts = book.borrow(start, standing[0], Decimal("54321987654.123456789"),
                     [("BTC", Decimal("1.5")), ("ETH", Decimal("0.123456789012345678"))])
    ts = book.borrow(ts + 5 * MINUTE_MS, standing[1], Decimal("0.865993090000000001"), [("DOT", Decimal("0.5"))])
    ts = book.borrow(ts + 5 * MINUTE_MS, standing[2], Decimal("1.2345678"), [("ETH", Decimal("40"))])
    count = max(8, round(40 * scale))
    plan = ["forced_repayment", "sell_collateral", "partial_liquidation", "release", "repay"]
    plan += [rng.choice(("repay", "repay", "pledge", "release", "borrow", *_PATHS)) for _ in range(count - len(plan))]
    rng.shuffle(plan)
    gap = (anchor - 2 * MINUTE_MS - ts) // (count + 1)
    for i, what in enumerate(plan):
        at = max(ts + 2 * MINUTE_MS, start + 20 * MINUTE_MS + (i + 1) * gap)
        book.accrue_until(at)
        order = standing[rng.choice((1, 2))] if what == "sell_collateral" else rng.choice(standing)  # not USDT
        ts = _act(book, rng, at, order, what)
    book.accrue_until(anchor)


def _tie(book: OkxBook, rng: random.Random) -> None:
    """130 more records in the millisecond of the 41st newest record: 65 lock/release pairs
    (more than a page of records sharing one ms; the books are the same before and after)."""
    rows = book.table("okx.flexible_loan_history")
    at = rows[min(40, len(rows) - 1)]
    order = book.orders[at.order_id]
    for _ in range(65):
        amount = Decimal(_amount(rng))
        book.pledge(at.ts, order, "DOT", amount)
        book.release(at.ts, order, "DOT", amount)


# --- one-click repay: the past 6 days and a few older ---------------------------------------------------


def _one_click_at(book: OkxBook, rng: random.Random, ts: int, debt: str, status: str) -> SimRecord:
    others = [c for c in COINS if c != debt]
    pay = [(c, Decimal(_amount(rng)) if rng.random() < 0.85 else None) for c in rng.sample(others, rng.randint(1, 2))]
    if debt == "USDT":
        buy, repaid = None, Decimal(_amount(rng))
    else:
        buy, repaid = Decimal(_amount(rng)), None
    owed = repaid if repaid is not None else _sub(buy or _ZERO, _mul(buy or _ZERO, FEE_RATE))
    if status != "failed" or rng.random() < 0.5:
        # the debt it pays back (and sometimes more, still owed after): borrowed in SPOT mode before
        book.spot_borrow(debt, owed if rng.random() < 0.7 else _add(owed, Decimal(_amount(rng))))
    shown = rng.choice(["", "0", _text(_part(rng, owed))]) if status == "running" else None
    return book.one_click_repay(ts, debt, pay=pay, buy=buy, repaid=repaid, status=status, shown=shown)


def _one_click(book: OkxBook, rng: random.Random, anchor: int, scale: float) -> None:
    n = max(6, round(150 * scale))
    stamps = _descending(rng, anchor, n, 6 * DAY_MS // n)
    tie_from = max(0, min(95, n - 10))
    tie_to = min(tie_from + 10, n)
    for i in range(tie_from, tie_to):  # straddles the first page boundary (100)
        stamps[i] = stamps[tie_from]
    used: dict[int, set[str]] = {}
    for i, ts in enumerate(stamps):
        taken = used.setdefault(ts, set())
        debt = rng.choice([c for c in COINS if c not in taken])
        taken.add(debt)
        status = "running" if i < 2 else ("failed" if rng.random() < 0.06 else "filled")
        _one_click_at(book, rng, ts, debt, status)
    # older than the 7 days the venue serves
    for d in range(4):
        _one_click_at(book, rng, anchor - (8 + d) * DAY_MS, rng.choice(COINS), "filled")


# --- convert history -----------------------------------------------------------------------------------------


def _convert_at(book: OkxBook, rng: random.Random, ts: int, trade_id: str) -> SimRecord:
    base = rng.choice(COINS[4:20])
    quote = rng.choice(("USDT", "USDT", "USDC", "BTC"))
    base_sz = _amount(rng)
    quote_sz = f"{rng.randint(1, 10**11 - 1)}.{rng.randint(0, 10**9 - 1):09d}"
    rejected = rng.random() < 0.06
    if rejected:
        base_sz = quote_sz = rng.choice(["0", ""])
    client = f"cl{rng.randint(10**6, 10**7)}" if rng.random() < 0.3 else ""
    return book.convert_trade(ts, trade_id, base, quote, rng.choice(("buy", "sell")), base_sz, quote_sz,
                              rejected=rejected, client_id=client)


def _convert(book: OkxBook, rng: random.Random, anchor: int, scale: float) -> None:
    n = max(4, round(200 * scale))
    stamps = _descending(rng, anchor, n, 60 * DAY_MS // n)
    # 50 trades in one millisecond across the first page boundary (positions 75..124)
    at = min(75, n // 2)
    stamps[at:at] = [stamps[at]] * 49
    for i, ts in enumerate(stamps):
        _convert_at(book, rng, ts, f"trader{ts}{i:04d}")


def generate(seed: int, now_ms: int, scale: float = 1.0) -> OkxBook:
    """A fresh account whose newest record is 10 minutes before `now_ms`."""
    if not scale > 0:
        raise ValueError(f"scale: {scale!r} must be positive")
    rng = random.Random(seed)
    anchor = now_ms - 10 * MINUTE_MS
    book = OkxBook(now_ms=now_ms, rng=rng)
    _flexible_loan(book, rng, anchor, scale)
    _tie(book, rng)
    _one_click(book, rng, anchor, scale)
    _convert(book, rng, anchor, scale)
    book.sort()
    return book


# --- growth ----------------------------------------------------------------------------------------------


def _fresh_stamps(last: int | None, now_ms: int, n: int) -> list[int]:
    """`n` timestamps after `last`, not after `now_ms` when there is room."""
    start = (last if last is not None else now_ms - HOUR_MS) + 1
    step = max(1, min(1_000, (now_ms - start) // (n + 1)))
    return [start + i * step for i in range(n)]


def grow(book: OkxBook, seed: int, now_ms: int, n: int = 3) -> None:
    """Add `n` records per table, newer than everything present (one user action per loan-history
    record, an accrual per interest row, new trades and repays), and settle the one-click repays
    still `running`."""
    if n < 0:
        raise ValueError(f"n: {n!r} must be >= 0")
    rng = book.rng = random.Random(seed)
    book.now_ms = now_ms

    open_orders = [o for o in book.orders.values() if o.owed]
    stamps = _fresh_stamps(book.newest_ts("okx.flexible_loan_history"), now_ms, n)
    for ts in stamps:
        order = rng.choice(open_orders) if open_orders else book.open_order("USDT", _rate(rng))
        what = rng.choice(("repay", "pledge", "release", "borrow")) if order.owed else "borrow"
        pledged = [c for c in order.collateral if c != order.loan_ccy]
        if what == "repay":
            book.repay(ts, order, _part(rng, order.owed))
        elif what == "release" and pledged:
            ccy = rng.choice(pledged)
            book.release(ts, order, ccy, _part(rng, order.pledged(ccy)))
        elif what == "borrow":
            book.borrow(ts, order, _part(rng, order.owed or Decimal(100)))
        else:
            book.pledge(ts, order, rng.choice(COINS[4:12]), Decimal(_amount(rng)))
        open_orders = [o for o in book.orders.values() if o.owed]

    stamps = _fresh_stamps(book.newest_ts("okx.flexible_loan_interest"), now_ms, n)
    for i, ts in enumerate(stamps):
        if open_orders:
            book.accrue(ts, [open_orders[i % len(open_orders)]])

    stamps = _fresh_stamps(book.newest_ts("okx.convert_history"), now_ms, n)
    for i, ts in enumerate(stamps):
        _convert_at(book, rng, ts, f"trader{ts}{9000 + i:04d}")

    for rec in book.table("okx.one_click_repay_history"):
        if rec.wire["status"] == "running":
            book.settle(rec)
    stamps = _fresh_stamps(book.newest_ts("okx.one_click_repay_history"), now_ms, n)
    fresh = rng.sample(COINS, n) if n <= len(COINS) else [COINS[i % len(COINS)] for i in range(n)]
    for ts, debt in zip(stamps, fresh, strict=True):
        _one_click_at(book, rng, ts, debt, "filled")
    book.sort()
