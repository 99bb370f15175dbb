"""The simulated Bybit account: its state, every loan history table, and the activity that writes them.

One `BybitBook` per account holds the account's state (an `AccountBooks`: free wallet, debt and
collateral per scope; plus each product's own figures: flexible debt and its unpaid interest,
fixed contracts, open legacy loans, INS loans) and the venue's history tables, kept as the wire
JSON (with its int/str drift: `adjustId` a number, `repayTime` a string on the legacy API, fixed
`repayAmount` sometimes a JSON number) plus the ms timestamp and id the endpoints page by.

Every activity (`Activity`) moves the books and writes the records the way the venue does
(docs/venues/bybit.md, "Three books"); what the venue records in no feed is moved `unrecorded`
under the residual name the client's scope reports for it:

- flexible interest accrues onto the debt with no record ("implied accrued interest");
- collateral consumed by a liquidation or a collateral repayment (repayType 2, 5, 6, 7) is in no
  feed ("unrecorded collateral movements");
- a legacy loan's borrow, initial pledge and interest are listed only when the loan completes
  ("legacy loan still open" / "legacy loan open or liquidated" until then; the collateral a
  legacy liquidation sells stays unrecorded).

Choices for what the docs leave open (UNVERIFIED, docs/venues/bybit.md): a borrow's
`collateralList` pledge is listed in the collateral adjustment history as an add at the borrow
time (U9, possibility B); a fixed contract's penalty interest accrues onto the debt and, paid,
moves into `interestPaid` (U12); repayType 4 is paid from the wallet (U11), 5 with collateral
(U10); 8 moves the debt to a flexible loan with no flexible borrow row (U13).

`populate` builds a dataset over the last 170 days (inside every retention) that keeps the
shapes the paging and reliability tests rely on: ties of 1-4 rows at one ms, dust to 20-digit
amounts, unknown fields, processing rows that `grow` settles, multi-leg fixed repayments in
shuffled detail order, a failed repayment without details. Nothing here imports the client's
decoders: `expected_ids` applies the id rules of docs/venues/bybit.md to these rows.
"""

from __future__ import annotations

import decimal
import functools
import heapq
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from .._money import EXACT
from .books import AccountBooks

__all__ = [
    "CRYPTO_LOAN",
    "FEED_IDS",
    "IMPLIED_INTEREST",
    "INSTITUTIONAL",
    "LEGACY",
    "LEGACY_COLLATERAL",
    "LEGACY_OPEN",
    "NEW_COLLATERAL",
    "Activity",
    "BybitBook",
    "LegacyLoan",
    "Row",
    "expected_ids_of",
    "grow_book",
    "populate_book",
]

DAY = 86_400_000
HOUR = 3_600_000

FEED_IDS = (
    "bybit.flexible_borrow_history",
    "bybit.flexible_repayment_history",
    "bybit.fixed_borrow_orders",
    "bybit.fixed_borrow_contracts",
    "bybit.fixed_repayment_history",
    "bybit.collateral_adjustment_history",
    "bybit.legacy_borrow_history",
    "bybit.legacy_repayment_history",
    "bybit.legacy_adjustment_history",
    "bybit.institutional_loan_orders",
    "bybit.institutional_repayment_history",
)

# The scopes and residual names the client reports (written here, not imported from the client:
# a test checks both sides agree).
CRYPTO_LOAN = "bybit.crypto_loan"
LEGACY = "bybit.legacy"
INSTITUTIONAL = "bybit.institutional"
IMPLIED_INTEREST = "implied accrued interest"
NEW_COLLATERAL = "unrecorded collateral movements"
LEGACY_OPEN = "legacy loan still open"
LEGACY_COLLATERAL = "legacy loan open or liquidated"

#: activities per kind at scale 1 (each writes one or more records)
BASE_COUNTS = {
    "flex_borrow": 31,
    "flex_repay": 41,
    "fixed_order": 15,
    "fixed_repay": 19,
    "adjust": 23,
    "legacy_loan": 17,
    "legacy_adjust": 9,
    "ins_loan": 13,
    "ins_repay": 15,
}

#: the status fields where 2 means "processing" (fixed contracts: 2 = fully repaid; legacy
#: completed loans: 2 = repaid by liquidation)
PROCESSING_FIELDS = {
    "bybit.flexible_borrow_history": "status",
    "bybit.flexible_repayment_history": "repayStatus",
    "bybit.fixed_repayment_history": "repayStatus",
    "bybit.collateral_adjustment_history": "status",
    "bybit.legacy_repayment_history": "repayStatus",
}

LOAN_COINS = ("BTC", "ETH", "USDT", "USDC", "SOL", "MNT")
COLLATERAL_COINS = ("BTC", "ETH", "USDT", "XRP")
INS_COINS = ("USDT", "USDC", "BTC")
#: flexible hourly interest rate (the ongoing-coin doc example's)
FLEX_HOURLY_RATE = Decimal("0.0000018847396")
#: legacy hourly interest rate (the completed-loan doc example's)
LEGACY_HOURLY_RATE = Decimal("0.0000010241")
FIXED_RATES = ("0.022", "0.05", "0.0561", "0.08")
ZERO = Decimal(0)
_CALC = decimal.Context(prec=60, rounding=decimal.ROUND_DOWN)
#: fixed interest rounds up at 18 decimals (the doc examples: 0.0025315068493150684... -> "...069",
#: 0.000180821917808219178... -> "0.00018082191780822")
_UP = decimal.Context(prec=60, rounding=decimal.ROUND_UP)
_INTEREST_STEP = Decimal("1E-8")  # the venue's interest precision (ongoing-coin example "0.00000019")
_FIXED_INTEREST_STEP = Decimal("1E-18")  # interestPaid "0.002531506849315069"


def _plus(*values: Decimal) -> Decimal:
    with decimal.localcontext(EXACT):
        total = ZERO
        for v in values:
            total += v
        return total


def _minus(a: Decimal, b: Decimal) -> Decimal:
    with decimal.localcontext(EXACT):
        return a - b


def _s(value: Decimal) -> str:
    """A Decimal as the venue writes it: plain notation, never an exponent; zero is "0"."""
    return format(value, "f") if value else "0"


def _d(value: Any) -> Decimal:
    text = bytes(value).decode() if isinstance(value, msgspec.Raw) else str(value)
    return Decimal(text) if text else ZERO


def _times_rate(amount: Decimal, rate: Decimal, units: int, step: Decimal) -> Decimal:
    """`amount` x `rate` x `units`, rounded down to `step` (how the venue rounds interest)."""
    return _CALC.multiply(_CALC.multiply(amount, rate), Decimal(units)).quantize(step, context=_CALC)


def _part(amount: Decimal, pct: int) -> Decimal:
    """`pct` % of `amount`, rounded down to its own precision (a sub-amount the venue could record)."""
    exp = amount.as_tuple().exponent
    step = Decimal(1).scaleb(min(exp, 0) if isinstance(exp, int) else 0)
    return _CALC.multiply(amount, Decimal(pct) / 100).quantize(step, context=_CALC)


@dataclass(slots=True)
class Row:
    """One history record: its wire JSON, timestamp and id (the paging key). `settle(ts)` applies a
    processing record's moves when it settles (`grow`)."""

    ts: int
    key: str
    wire: dict[str, Any]
    visible_at: int = 0  # INS repayments appear 2-3 minutes after the request
    settle: Callable[[int], None] | None = None


@dataclass
class LegacyLoan:
    """What a legacy loan's completed-loan record will show (ongoing-orders has no initial amounts)."""

    order_id: str
    currency: str
    collateral_currency: str
    borrow_time: int
    loan: Decimal
    pledge: Decimal
    interest: Decimal = ZERO
    penalty: Decimal = ZERO
    last_accrual: int = 0


@dataclass
class BybitBook:
    """One account: its books, each product's state, and the history tables."""

    feeds: dict[str, list[Row]] = field(default_factory=lambda: {f: [] for f in FEED_IDS})
    books: AccountBooks = field(default_factory=AccountBooks)
    #: flexible loans per coin: total debt (principal and interest) and its unpaid interest part
    flex_debt: dict[str, Decimal] = field(default_factory=dict)
    flex_interest: dict[str, Decimal] = field(default_factory=dict)
    #: when flexible interest last accrued, per coin
    flex_accrued: dict[str, int] = field(default_factory=dict)
    #: what processing flexible repayments will take when they settle (not repaid again meanwhile)
    flex_reserved: dict[str, Decimal] = field(default_factory=dict)
    #: legacy ongoing orders by orderId: wire rows of GET /v5/crypto-loan/ongoing-orders
    legacy_open: dict[str, dict[str, Any]] = field(default_factory=dict)
    legacy_loans: dict[str, LegacyLoan] = field(default_factory=dict)
    #: fixed contracts a processing repayment holds (not chosen again until it settles)
    locked: set[str] = field(default_factory=set)
    next_id: int = 10_000

    def new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def legacy_id(self) -> str:
        return "179" + self.new_id().rjust(16, "0")  # 19-digit ids as on the legacy API

    def rows(self, feed: str, now: int | None = None) -> list[Row]:
        rows = self.feeds[feed]
        if now is None:
            return rows
        return [r for r in rows if r.visible_at <= now]

    def newest(self) -> int:
        return max((r.ts for rows in self.feeds.values() for r in rows), default=0)

    def add(self, feed: str, ts: int, key: str, wire: dict[str, Any], *, visible_at: int = 0,
            settle: Callable[[int], None] | None = None) -> Row:
        row = Row(ts, key, wire, visible_at, settle)
        self.feeds[feed].append(row)
        return row

    # --- positions, as the venue computes them ---------------------------------------------------

    def open_contracts(self) -> list[Row]:
        return [r for r in self.feeds["bybit.fixed_borrow_contracts"] if r.wire["status"] in (1, 3)]

    def fixed_debt(self) -> dict[str, Decimal]:
        """Per coin: the open contracts' unpaid principal and penalty interest."""
        out: dict[str, Decimal] = {}
        for r in self.open_contracts():
            w = r.wire
            ccy = w["borrowCurrency"]
            out[ccy] = _plus(out.get(ccy, ZERO), _d(w["residualPrincipal"]), _d(w["residualPenaltyInterest"]))
        return out

    def legacy_processing(self, order_id: str) -> bool:
        """A repayment of this legacy order is still processing (the venue takes no other meanwhile)."""
        return any(r.wire["orderId"] == order_id and r.wire["repayStatus"] == 2
                   for r in self.feeds["bybit.legacy_repayment_history"])

    def ins_unpaid(self) -> dict[str, Decimal]:
        return {c: v for (s, c), v in self.books.debt.items() if s == INSTITUTIONAL and v}


def _amount(rng: random.Random) -> str:
    """Money strings from dust to 18-20 significant digits."""
    pick = rng.random()
    if pick < 0.3:
        return f"{rng.randrange(10**7, 10**8)}.{rng.randrange(10**11, 10**12)}"  # 20 digits
    if pick < 0.5:
        return f"{rng.randrange(1, 10**6)}.{rng.randrange(10**11, 10**12):012d}"  # up to 18 digits
    if pick < 0.7:
        return f"0.{rng.randrange(1, 10**8):08d}"
    return str(rng.randrange(1, 5000))


def _times(rng: random.Random, n: int, lo: int, hi: int) -> list[int]:
    """`n` ascending timestamps in [lo, hi] with ties: clusters of 1-4 rows share one ms."""
    out: list[int] = []
    while len(out) < n:
        t = rng.randrange(lo, hi) if hi > lo else lo
        out.extend([t] * min(n - len(out), rng.choice((1, 1, 2, 3, 4))))
    return sorted(out)


def _extra(rng: random.Random, wire: dict[str, Any]) -> dict[str, Any]:
    if rng.random() < 0.25:
        wire["someNewField"] = {"x": rng.randrange(100)}  # unknown fields must be ignored
    return wire


def _number(text: str) -> msgspec.Raw:
    """A JSON number with exactly these digits (the venue documents repayAmount as long)."""
    return msgspec.Raw(text.encode())


def _record_later(books: AccountBooks, scope: str, currency: str, name: str, *, wallet: Decimal = ZERO,
                  debt: Decimal = ZERO, collateral: Decimal = ZERO) -> None:
    """A move made earlier under `name` (unrecorded) is now listed by a feed: the books stay,
    the unrecorded tally drops by it."""
    books.move(scope, currency, wallet=wallet.copy_negate(), debt=debt.copy_negate(),
               collateral=collateral.copy_negate(), unrecorded=name)
    books.move(scope, currency, wallet=wallet, debt=debt, collateral=collateral)


class Activity:
    """The venue's side of every loan activity on one account: each method moves the books and
    writes the records (the actions of the simulator's endpoints use the same methods)."""

    def __init__(self, book: BybitBook, rng: random.Random | None = None) -> None:
        self.book = book
        self.books = book.books
        self.rng = rng or random.Random(0)
        self._queue: list[tuple[int, int, Callable[[int], None]]] = []
        self._seq = itertools.count()
        #: grow: only fresh contracts are repaid, every repayment by user, nothing processing
        self.fresh = False
        self.fresh_contracts: list[Row] = []
        self.fresh_ins: list[Row] = []

    # --- the timeline --------------------------------------------------------------------------

    def at(self, ts: int, step: Callable[[int], None]) -> None:
        heapq.heappush(self._queue, (ts, next(self._seq), step))

    def run(self) -> None:
        while self._queue:
            ts, _, step = heapq.heappop(self._queue)
            step(ts)

    # --- new crypto loan: flexible ---------------------------------------------------------------

    def accrue_flexible(self, ccy: str, ts: int) -> None:
        """Hourly compounding onto the debt, no record: the scope's implied accrued interest."""
        book = self.book
        last = book.flex_accrued.get(ccy)
        book.flex_accrued[ccy] = max(ts, last or ts)
        debt = book.flex_debt.get(ccy, ZERO)
        if last is None or ts <= last or debt <= 0:
            return
        interest = _times_rate(debt, FLEX_HOURLY_RATE, (ts - last) // HOUR, _INTEREST_STEP)
        if interest:
            book.flex_debt[ccy] = _plus(debt, interest)
            book.flex_interest[ccy] = _plus(book.flex_interest.get(ccy, ZERO), interest)
            self.books.move(CRYPTO_LOAN, ccy, debt=interest, unrecorded=IMPLIED_INTEREST)

    def pledge(self, ts: int, ccy: str, amount: Decimal, *, status: int = 1) -> Row:
        """Collateral added to the shared pool: an adjustment row (direction 0); a processing one
        moves when it settles."""
        aid = self.book.new_id()

        def apply(_: int) -> None:
            self.books.move(CRYPTO_LOAN, ccy, wallet=amount.copy_negate(), collateral=amount)

        if status == 1:
            apply(ts)
        return self.book.add("bybit.collateral_adjustment_history", ts, aid, _extra(self.rng, {
            "adjustId": int(aid), "adjustTime": ts, "afterLTV": "0.51", "amount": _s(amount),
            "collateralCurrency": ccy, "direction": 0, "preLTV": "0.49", "status": status}),
            settle=None if status == 1 else apply)

    def unpledge(self, ts: int, ccy: str, amount: Decimal) -> Row:
        aid = self.book.new_id()
        self.books.move(CRYPTO_LOAN, ccy, wallet=amount, collateral=amount.copy_negate())
        return self.book.add("bybit.collateral_adjustment_history", ts, aid, _extra(self.rng, {
            "adjustId": int(aid), "adjustTime": ts, "afterLTV": "0.62", "amount": _s(amount),
            "collateralCurrency": ccy, "direction": 1, "preLTV": "0.49", "status": 1}))

    def flex_borrow(self, ts: int, ccy: str, amount: Decimal, *, status: int = 1,
                    collateral: Sequence[tuple[str, Decimal]] = ()) -> str:
        """A flexible borrow (+x / +x / 0) and the pledge of its `collateralList` (listed in the
        adjustment history at the borrow time: U9, possibility B)."""
        oid = self.book.new_id()

        def apply(at: int) -> None:
            self.accrue_flexible(ccy, at)
            self.book.flex_debt[ccy] = _plus(self.book.flex_debt.get(ccy, ZERO), amount)
            self.books.move(CRYPTO_LOAN, ccy, wallet=amount, debt=amount)

        if status == 1:
            apply(ts)
            for c, a in collateral:
                self.pledge(ts, c, a)
        self.book.add("bybit.flexible_borrow_history", ts, oid, _extra(self.rng, {
            "borrowTime": ts, "initialLoanAmount": _s(amount), "loanCurrency": ccy, "orderId": oid,
            "status": status}), settle=apply if status == 2 else None)
        return oid

    def flex_repay(self, ts: int, ccy: str, amount: Decimal, *, rtype: int = 1, status: int = 1) -> str:
        """A flexible repayment: interest first, then principal. Type 1 from the wallet; 2, 5, 6, 7
        from collateral (the collateral consumed is in no feed)."""
        rid = self.book.new_id()

        def apply(at: int) -> None:
            book = self.book
            self.accrue_flexible(ccy, at)
            if status == 2:
                book.flex_reserved[ccy] = _minus(book.flex_reserved.get(ccy, ZERO), amount)
            book.flex_debt[ccy] = _minus(book.flex_debt.get(ccy, ZERO), amount)
            unpaid = book.flex_interest.get(ccy, ZERO)
            book.flex_interest[ccy] = _minus(unpaid, min(unpaid, amount))
            self.repay_books(ccy, amount, rtype)

        if status == 1:
            apply(ts)
        elif status == 2:
            self.book.flex_reserved[ccy] = _plus(self.book.flex_reserved.get(ccy, ZERO), amount)
        self.book.add("bybit.flexible_repayment_history", ts, rid, _extra(self.rng, {
            "loanCurrency": ccy, "repayAmount": _s(amount), "repayId": rid, "repayStatus": status,
            "repayTime": ts, "repayType": rtype}), settle=apply if status == 2 else None)
        return rid

    def repay_books(self, ccy: str, amount: Decimal, rtype: int) -> None:
        """A repayment of `amount` of the crypto-loan debt in `ccy`: from collateral (types 2, 5,
        6, 7: the debt falls and part of the pool is sold, in no feed) or from the wallet."""
        if rtype in (2, 5, 6, 7):
            self.books.move(CRYPTO_LOAN, ccy, debt=amount.copy_negate())
            self.consume_collateral()
        else:
            self.books.move(CRYPTO_LOAN, ccy, wallet=amount.copy_negate(), debt=amount.copy_negate())

    def consume_collateral(self) -> None:
        """A liquidation or collateral repayment sells part of the pool (and a fee): no record."""
        pool = sorted((c, v) for (s, c), v in self.books.collateral.items() if s == CRYPTO_LOAN and v > 0)
        if not pool:
            return
        ccy, pledged = self.rng.choice(pool)
        used = _part(pledged, self.rng.randrange(5, 40))
        if used:
            self.books.move(CRYPTO_LOAN, ccy, collateral=used.copy_negate(), unrecorded=NEW_COLLATERAL)

    # --- new crypto loan: fixed term ------------------------------------------------------------

    def fixed_order(self, ts: int, ccy: str, qty: Decimal, *, state: int = 3, contracts: int = 1,
                    term: int = 30, rate: str = "0.022", repay_type: str = "1", match_after: int = 1) -> Row:
        """A fixed borrow order. Matched (state 2 / 3): one contract per fill, the principal credited
        minus the prepaid interest (the order lists +filledQty, each contract -interestPaid).
        State 1 (matching) fills when it settles; 4 / 5 fill nothing."""
        oid = self.book.new_id()
        row = self.book.add("bybit.fixed_borrow_orders", ts, oid, _extra(self.rng, {
            "annualRate": rate, "filledQty": "0", "orderCurrency": ccy, "orderId": int(oid), "orderQty": _s(qty),
            "orderTime": str(ts), "repayType": repay_type, "state": 1, "term": term}))

        def match(at: int, final: int = state) -> None:
            filled = qty if final == 3 else _part(qty, self.rng.randrange(20, 80)) if final == 2 else ZERO
            parts: list[Decimal] = []
            if filled:
                rest = filled
                for _ in range(contracts - 1):
                    p = _part(rest, self.rng.randrange(20, 60))
                    if p and p != rest:
                        parts.append(p)
                        rest = _minus(rest, p)
                parts.append(rest)
            for p in parts:
                self.fixed_contract(at, oid, ccy, p, term=term, rate=rate, repay_type=repay_type)
            row.wire.update(filledQty=_s(filled), state=final)

        if state == 1:
            row.settle = lambda at: match(at, 3)
        else:
            self.at(ts + match_after, match)
        return row

    def fixed_contract(self, ts: int, oid: str, ccy: str, principal: Decimal, *, term: int, rate: str,
                       repay_type: str) -> Row:
        lid = self.book.new_id()
        # P x annualRate x term / 365, up to 18 decimals (the doc example: 1.4 x 0.022 x 30 / 365)
        yearly = _CALC.multiply(_CALC.multiply(principal, Decimal(rate)), Decimal(term))
        interest = _UP.divide(yearly, Decimal(365)).quantize(_FIXED_INTEREST_STEP, context=_UP).normalize(_UP)
        self.books.move(CRYPTO_LOAN, ccy, wallet=principal, debt=principal)  # the order's filledQty
        self.books.move(CRYPTO_LOAN, ccy, wallet=interest.copy_negate())  # the contract's interestPaid
        row = self.book.add("bybit.fixed_borrow_contracts", ts, lid, _extra(self.rng, {
            "annualRate": rate, "autoRepay": "true", "borrowCurrency": ccy, "borrowTime": str(ts),
            "interestPaid": _s(interest), "loanId": lid, "orderId": oid, "repayType": repay_type,
            "repaymentTime": str(ts + term * DAY), "residualPenaltyInterest": "0",
            "residualPrincipal": _s(principal), "status": 1, "term": str(term)}))
        if self.fresh:
            self.fresh_contracts.append(row)
        return row

    def overdue(self, row: Row, penalty: Decimal) -> None:
        """Past its due time: status 3, penalty interest (3x the rate, U12) accrues onto the debt."""
        w = row.wire
        if w["status"] not in (1, 3) or not penalty:
            return
        w["status"] = 3
        w["residualPenaltyInterest"] = _s(_plus(_d(w["residualPenaltyInterest"]), penalty))
        self.books.move(CRYPTO_LOAN, w["borrowCurrency"], debt=penalty)

    def fixed_repay(self, ts: int, rows: list[Row], *, rtype: int = 1, status: int = 1,
                    partial: bool = False, number: bool = False) -> str:
        """One repayment over `rows` (contracts of one coin), one detail leg each, in shuffled
        order. Legs are principal; an overdue contract's penalty is paid beside them and moves
        into `interestPaid` (U12). Type 8 moves the debt to the flexible loan (U13). A processing
        one (`status` 2) holds its contracts (the venue refuses another repayment of them) and
        fails when it settles: the contracts never change under a record already listed as final."""
        rid = self.book.new_id()
        ccy = rows[0].wire["borrowCurrency"]
        legs: list[tuple[Row, Decimal]] = []
        for r in rows:
            residual = _d(r.wire["residualPrincipal"])
            legs.append((r, _part(residual, 50) if partial else residual))

        def apply(at: int) -> None:
            for r, amount in legs:
                w = r.wire
                left = _minus(_d(w["residualPrincipal"]), amount)
                penalty = _d(w["residualPenaltyInterest"]) if not left else ZERO
                w["residualPrincipal"] = _s(left)
                if not left:
                    w.update(status=2, residualPenaltyInterest="0",
                             interestPaid=_s(_plus(_d(w["interestPaid"]), penalty)))
                    if penalty:
                        self.books.move(CRYPTO_LOAN, ccy, wallet=penalty.copy_negate(), debt=penalty.copy_negate())
                self.book.locked.discard(r.key)
                if rtype == 8:
                    self.accrue_flexible(ccy, at)
                    self.book.flex_debt[ccy] = _plus(self.book.flex_debt.get(ccy, ZERO), amount)
                else:
                    self.repay_books(ccy, amount, rtype)

        if status == 1:
            apply(ts)
        else:
            self.book.locked.update(r.key for r, _ in legs)
        details = [{"loanCurrency": ccy, "loanId": r.key, "repayAmount": _s(a)} for r, a in legs]
        self.rng.shuffle(details)  # the venue's detail order is not the id order
        total = _s(_plus(*(a for _, a in legs)))
        row = self.book.add("bybit.fixed_repayment_history", ts, rid, _extra(self.rng, {
            "details": details, "loanCurrency": ccy, "repayAmount": _number(total) if number else total,
            "repayId": rid, "repayStatus": status, "repayTime": ts, "repayType": rtype}))

        def fail(_: int) -> None:
            row.wire["repayStatus"] = 3
            self.book.locked.difference_update(r.key for r, _ in legs)

        if status == 2:
            row.settle = fail
        return rid

    def failed_fixed_repay(self, ts: int, ccy: str, amount: Decimal) -> None:
        """A repayment that failed before any contract was touched: no details, nothing moves."""
        rid = self.book.new_id()
        self.book.add("bybit.fixed_repayment_history", ts, rid, _extra(self.rng, {
            "details": [], "loanCurrency": ccy, "repayAmount": _s(amount), "repayId": rid, "repayStatus": 3,
            "repayTime": ts, "repayType": 1}))

    # --- legacy crypto loan ----------------------------------------------------------------------

    def legacy_borrow(self, ts: int, ccy: str, loan: Decimal, coll_ccy: str, pledge: Decimal, *,
                      term: str = "") -> LegacyLoan:
        """A legacy loan: funds to the wallet, collateral from it. Listed only once completed, so
        every move is unrecorded until then."""
        oid = self.book.legacy_id()
        meta = LegacyLoan(oid, ccy, coll_ccy, ts, loan, pledge, last_accrual=ts)
        self.book.legacy_loans[oid] = meta
        self.books.move(LEGACY, ccy, wallet=loan, debt=loan, unrecorded=LEGACY_OPEN)
        self.books.move(LEGACY, coll_ccy, wallet=pledge.copy_negate(), collateral=pledge, unrecorded=LEGACY_COLLATERAL)
        self.book.legacy_open[oid] = {
            "collateralAmount": _s(pledge), "collateralCurrency": coll_ccy, "currentLTV": "0.45",
            "expirationTime": str(ts + int(term) * DAY) if term else "", "hourlyInterestRate": _s(LEGACY_HOURLY_RATE),
            "loanCurrency": ccy, "loanTerm": term, "orderId": oid, "residualInterest": "0",
            "residualPenaltyInterest": "0", "totalDebt": _s(loan),
        }
        return meta

    def legacy_accrue(self, oid: str, ts: int, *, penalty: bool = False) -> None:
        meta, order = self.book.legacy_loans[oid], self.book.legacy_open[oid]
        hours = max(0, ts - meta.last_accrual) // HOUR
        meta.last_accrual = max(ts, meta.last_accrual)
        interest = _times_rate(_d(order["totalDebt"]), LEGACY_HOURLY_RATE, max(hours, 1), _INTEREST_STEP)
        if not interest:
            return
        name = "residualPenaltyInterest" if penalty else "residualInterest"
        order[name] = _s(_plus(_d(order[name]), interest))
        if penalty:
            meta.penalty = _plus(meta.penalty, interest)
        else:
            meta.interest = _plus(meta.interest, interest)
        self.books.move(LEGACY, meta.currency, debt=interest, unrecorded=LEGACY_OPEN)

    def legacy_repay(self, ts: int, oid: str, amount: Decimal, *, rtype: str = "1", status: int = 1) -> str:
        """Interest (then penalty) first, then principal. The repayment that clears the debt returns
        the collateral left (`collateralReturn`) and completes the loan; by liquidation ("2") the
        venue sold part of the collateral first (in no feed)."""
        book = self.book
        order = book.legacy_open[oid]
        if book.legacy_processing(oid):
            raise ValueError(f"legacy order {oid}: a repayment is still processing")
        rid = book.legacy_id()
        owed = _plus(_d(order["totalDebt"]), _d(order["residualInterest"]), _d(order["residualPenaltyInterest"]))
        final = status == 1 and amount >= owed
        if final:
            amount = owed
        row = book.add("bybit.legacy_repayment_history", ts, rid, _extra(self.rng, {
            "collateralCurrency": order["collateralCurrency"], "collateralReturn": "0",
            "loanCurrency": order["loanCurrency"], "loanTerm": order["loanTerm"], "orderId": oid,
            "repayAmount": _s(amount), "repayId": rid, "repayStatus": status, "repayTime": str(ts),
            "repayType": rtype}))

        def apply(at: int) -> None:
            left = amount
            for name in ("residualInterest", "residualPenaltyInterest", "totalDebt"):
                part = min(left, _d(order[name]))
                order[name] = _s(_minus(_d(order[name]), part))
                left = _minus(left, part)
            ccy = order["loanCurrency"]
            if rtype == "2":
                self.books.move(LEGACY, ccy, debt=amount.copy_negate())
            else:
                self.books.move(LEGACY, ccy, wallet=amount.copy_negate(), debt=amount.copy_negate())
            if final:
                row.wire["collateralReturn"] = _s(self._legacy_complete(at, oid, liquidated=rtype == "2"))

        if status == 1:
            apply(ts)
        else:
            row.settle = apply
        return rid

    def _legacy_complete(self, ts: int, oid: str, *, liquidated: bool) -> Decimal:
        """The loan is closed: what collateral is left returns, the completed-loan record appears
        (stamped with the borrow time, as the venue lists it) and lists what was unrecorded."""
        book = self.book
        order = book.legacy_open.pop(oid)
        meta = book.legacy_loans.pop(oid, None)
        coll_ccy = order["collateralCurrency"]
        left = _d(order["collateralAmount"])
        if liquidated:
            sold = _part(left, self.rng.randrange(50, 95))
            self.books.move(LEGACY, coll_ccy, collateral=sold.copy_negate(), unrecorded=LEGACY_COLLATERAL)
            left = _minus(left, sold)
        if left:
            self.books.move(LEGACY, coll_ccy, wallet=left, collateral=left.copy_negate())
        if meta is None:  # an order made outside the simulator's own activity: nothing to list
            return left
        _record_later(self.books, LEGACY, meta.currency, LEGACY_OPEN, wallet=meta.loan,
                      debt=_plus(meta.loan, meta.interest, meta.penalty))
        _record_later(self.books, LEGACY, meta.collateral_currency, LEGACY_COLLATERAL,
                      wallet=meta.pledge.copy_negate(), collateral=meta.pledge)
        book.add("bybit.legacy_borrow_history", meta.borrow_time, oid, _extra(self.rng, {
            "borrowTime": str(meta.borrow_time), "collateralCurrency": meta.collateral_currency,
            "expirationTime": order["expirationTime"], "hourlyInterestRate": order["hourlyInterestRate"],
            "initialCollateralAmount": _s(meta.pledge), "initialLoanAmount": _s(meta.loan),
            "loanCurrency": meta.currency, "loanTerm": order["loanTerm"], "orderId": oid,
            "repaidInterest": _s(meta.interest), "repaidPenaltyInterest": _s(meta.penalty),
            "status": 2 if liquidated else 1}))
        return left

    def legacy_adjust(self, ts: int, oid: str, direction: int, amount: Decimal) -> None:
        """A user's collateral adjustment of an open legacy loan (listed: direction 0 add, 1 reduce)."""
        order = self.book.legacy_open[oid]
        ccy = order["collateralCurrency"]
        if direction == 1:
            amount = min(amount, _part(_d(order["collateralAmount"]), 30))
            if not amount:
                return
            self.books.move(LEGACY, ccy, wallet=amount, collateral=amount.copy_negate())
            order["collateralAmount"] = _s(_minus(_d(order["collateralAmount"]), amount))
        else:
            self.books.move(LEGACY, ccy, wallet=amount.copy_negate(), collateral=amount)
            order["collateralAmount"] = _s(_plus(_d(order["collateralAmount"]), amount))
        aid = self.book.legacy_id()
        self.book.add("bybit.legacy_adjustment_history", ts, aid, _extra(self.rng, {
            "adjustId": aid, "adjustTime": str(ts), "afterLTV": "0.7164", "amount": _s(amount),
            "collateralCurrency": ccy, "direction": direction, "orderId": oid, "preLTV": "0.6546"}))

    # --- institutional loans ---------------------------------------------------------------------

    def ins_loan(self, ts: int, coin: str, amount: Decimal) -> str:
        oid = "14" + self.book.new_id().rjust(17, "0")
        self.books.move(INSTITUTIONAL, coin, wallet=amount, debt=amount)
        row = self.book.add("bybit.institutional_loan_orders", ts, oid, _extra(self.rng, {
            "orderId": oid, "orderProductId": "96", "parentUid": "1631521", "loanTime": str(ts),
            "loanCoin": coin, "loanAmount": _s(amount), "unpaidAmount": _s(amount), "unpaidInterest": "0",
            "repaidAmount": "0", "repaidInterest": "0", "interestRate": "0.00019178", "status": "1",
            "leverage": "4", "spotSymbols": [], "contractSymbols": []}))
        if self.fresh:
            self.fresh_ins.append(row)
        return oid

    def ins_owed(self) -> dict[str, Decimal]:
        """Unpaid principal per coin of the loans a repayment may take from (in a grow: its own)."""
        if not self.fresh:
            return self.book.ins_unpaid()
        out: dict[str, Decimal] = {}
        for r in self.fresh_ins:
            if _d(r.wire["unpaidAmount"]):
                out[r.wire["loanCoin"]] = _plus(out.get(r.wire["loanCoin"], ZERO), _d(r.wire["unpaidAmount"]))
        return out

    def ins_repay(self, ts: int, coin: str, quantity: Decimal, *, interest: Decimal = ZERO,
                  business: str = "1", status: str = "1", visible_at: int = 0) -> str:
        """Principal from the wallet (a liquidation sells the risk unit's assets into it first, outside
        these feeds), interest beside it to the wallet only; loans repaid oldest first (in a grow,
        only its own loans: a record listed before never changes under a later sync)."""
        rid = self.book.new_id()
        if status == "1":
            self.books.move(INSTITUTIONAL, coin, wallet=quantity.copy_negate(), debt=quantity.copy_negate())
            if interest:
                self.books.move(INSTITUTIONAL, coin, wallet=interest.copy_negate())
            left = quantity
            for r in self.fresh_ins if self.fresh else self.book.feeds["bybit.institutional_loan_orders"]:
                w = r.wire
                if w["loanCoin"] != coin or w["status"] != "1" or not left:
                    continue
                part = min(left, _d(w["unpaidAmount"]))
                left = _minus(left, part)
                w["unpaidAmount"] = _s(_minus(_d(w["unpaidAmount"]), part))
                w["repaidAmount"] = _s(_plus(_d(w["repaidAmount"]), part))
                if not _d(w["unpaidAmount"]):
                    w["status"] = "2"
        self.book.add("bybit.institutional_repayment_history", ts, rid, _extra(self.rng, {
            "repayOrderId": rid, "repaidTime": str(ts), "token": coin, "quantity": _s(quantity),
            "interest": _s(interest), "businessType": business, "status": status}), visible_at=visible_at)
        return rid


# --- datasets --------------------------------------------------------------------------------------


def _fill(act: Activity, counts: dict[str, int], lo: int, hi: int) -> None:
    """Schedule `counts` activities with timestamps in [lo, hi] (ties inside each kind), run them."""
    rng, book, fresh = act.rng, act.book, act.fresh

    def amount() -> Decimal:
        return Decimal(_amount(rng))

    def flex_borrow(t: int) -> None:
        status = 1 if fresh else 2 if rng.random() < 0.1 else 3 if rng.random() < 0.05 else 1
        pledge = [(c, amount()) for c in rng.sample(COLLATERAL_COINS, rng.choice((1, 2)))] \
            if status == 1 and rng.random() < 0.4 else []
        act.flex_borrow(t, rng.choice(LOAN_COINS), amount(), status=status, collateral=pledge)

    repays = itertools.count()

    def flex_repay(t: int) -> None:
        i = next(repays)
        owing = sorted(c for c, v in book.flex_debt.items() if v > 0)
        if not owing:
            act.flex_borrow(t, rng.choice(LOAN_COINS), amount())
            owing = sorted(c for c, v in book.flex_debt.items() if v > 0)
        ccy = rng.choice(owing)
        act.accrue_flexible(ccy, t)
        debt = _minus(book.flex_debt[ccy], book.flex_reserved.get(ccy, ZERO))
        status = 1 if fresh else 2 if rng.random() < 0.1 else 1
        value = min(amount(), debt if status == 1 else _part(debt, 5))
        if value > 0:
            act.flex_repay(t, ccy, value, rtype=1 if fresh else (1, 2, 5, 6, 7)[i % 5], status=status)

    def fixed_order(t: int) -> None:
        pick = rng.random()
        state = 3 if fresh or pick < 0.65 else 2 if pick < 0.75 else 4 if pick < 0.85 else 5 if pick < 0.9 else 1
        term = int(rng.choice(("7", "14", "30", "60", "90")))
        row = act.fixed_order(t, rng.choice(LOAN_COINS), amount(), state=state, contracts=rng.choice((1, 1, 2, 3)),
                              term=term, rate=rng.choice(FIXED_RATES), repay_type=rng.choice(("1", "2", "0")),
                              match_after=rng.randrange(0, 4000) if not fresh else 0)
        if state != 1 and rng.random() < 0.3:
            act.pledge(t, rng.choice(COLLATERAL_COINS), amount())
        if fresh:  # repay this order's contracts within the window
            act.at(min(t + 1, hi), lambda at: _repay_fresh(act, at, row.key))
        elif state in (2, 3) and t + term * DAY + 3 * DAY < hi:
            act.at(t + term * DAY + rng.randrange(HOUR, 3 * DAY), lambda at: _maybe_overdue(act, at, row.key))

    fixed_repays = itertools.count()

    def fixed_repay(t: int) -> None:
        if fresh:  # in a grow every order repays its own contracts (scheduled by fixed_order)
            return
        i = next(fixed_repays)
        if rng.random() < 0.05:
            act.failed_fixed_repay(t, rng.choice(LOAN_COINS), amount())
            return
        rtype = (1 + i % 8)
        candidates = [r for r in book.open_contracts() if r.key not in book.locked and r.ts <= t]
        if rtype == 4:  # an overdue contract, by the overdue repayment
            overdue = [r for r in candidates if r.wire["status"] == 3]
            if overdue:
                candidates = overdue
            else:
                rtype = 1
        if rtype != 4:
            candidates = [r for r in candidates if r.wire["status"] == 1]
        if not candidates:
            return
        ccy = rng.choice(sorted({r.wire["borrowCurrency"] for r in candidates}))
        same = [r for r in candidates if r.wire["borrowCurrency"] == ccy]
        chosen = rng.sample(same, min(len(same), rng.choice((1, 1, 2, 3))))
        act.fixed_repay(t, chosen, rtype=rtype, partial=rtype == 7 and len(chosen) == 1 and rng.random() < 0.5,
                        number=i % 3 == 0)

    adjusts = itertools.count()

    def adjust(t: int) -> None:
        i = next(adjusts)
        pool = sorted((c, v) for (s, c), v in act.books.collateral.items() if s == CRYPTO_LOAN and v > 0)
        if i % 2 and pool:
            ccy, pledged = rng.choice(pool)
            value = _part(pledged, rng.randrange(5, 50))
            if value:
                act.unpledge(t, ccy, value)
                return
        act.pledge(t, rng.choice(COLLATERAL_COINS), amount(), status=2 if not fresh and rng.random() < 0.1 else 1)

    def legacy_loan(t: int) -> None:
        term = rng.choice(("", "7", "14", "30"))
        meta = act.legacy_borrow(t, rng.choice(LOAN_COINS), amount(), rng.choice(COLLATERAL_COINS), amount(),
                                 term=term)
        span = max(1, hi - t)
        times = sorted(rng.randrange(t, t + span + 1) for _ in range(rng.choice((1, 1, 2, 3))))
        oid = meta.order_id
        for j, at in enumerate(times):
            if rng.random() < 0.35:
                act.at(at, functools.partial(_legacy_adjust, act, oid=oid))
            act.at(at, functools.partial(_legacy_step, act, oid=oid, last=j == len(times) - 1))

    ins_repays = itertools.count()

    def ins_loan(t: int) -> None:
        act.ins_loan(t, rng.choice(INS_COINS), amount())

    def ins_repay(t: int) -> None:
        i = next(ins_repays)
        owing = sorted(act.ins_owed())
        if not owing:
            act.ins_loan(t, rng.choice(INS_COINS), amount())
            owing = sorted(act.ins_owed())
        coin = rng.choice(owing)
        status = "2" if not fresh and i % 7 == 6 else "1"
        value = min(amount(), act.ins_owed()[coin])
        act.ins_repay(t, coin, value, interest=Decimal(_amount(rng)) if i % 3 == 0 else ZERO,
                      business="2" if not fresh and i % 5 == 4 else "1", status=status)

    def legacy_adjust(t: int) -> None:
        open_ids = sorted(book.legacy_open)
        if open_ids:
            _legacy_adjust(act, t, oid=rng.choice(open_ids))

    steps: dict[str, Callable[[int], None]] = {
        "flex_borrow": flex_borrow, "flex_repay": flex_repay, "fixed_order": fixed_order,
        "fixed_repay": fixed_repay, "adjust": adjust, "legacy_loan": legacy_loan, "legacy_adjust": legacy_adjust,
        "ins_loan": ins_loan, "ins_repay": ins_repay,
    }
    for kind, step in steps.items():
        for t in _times(rng, counts.get(kind, 0), lo, hi):
            act.at(t, step)
    act.run()


def _maybe_overdue(act: Activity, ts: int, order_id: str) -> None:
    """Past the due time, some contracts are not repaid: overdue, penalty interest at three times
    the rate for the days past due (U12)."""
    for r in act.book.open_contracts():
        w = r.wire
        if w["orderId"] == order_id and w["status"] == 1 and act.rng.random() < 0.4:
            days = max(1, (ts - int(w["repaymentTime"])) // DAY + 1)
            daily = _CALC.divide(_CALC.multiply(Decimal(w["annualRate"]), Decimal(3)), Decimal(365))
            act.overdue(r, _times_rate(_d(w["residualPrincipal"]), daily, days, _INTEREST_STEP))


def _repay_fresh(act: Activity, ts: int, order_id: str) -> None:
    rows = [r for r in act.fresh_contracts if r.wire["orderId"] == order_id and r.wire["status"] == 1]
    if rows:
        act.fixed_repay(ts, rows, rtype=1)


def _legacy_step(act: Activity, ts: int, *, oid: str, last: bool) -> None:
    """Interest accrues; then a partial repayment, or the final one (by the user or by liquidation)."""
    book, rng = act.book, act.rng
    if oid not in book.legacy_open:
        return
    act.legacy_accrue(oid, ts, penalty=False)
    if rng.random() < 0.2:
        act.legacy_accrue(oid, ts, penalty=True)
    order = book.legacy_open[oid]
    if last:
        owed = _plus(_d(order["totalDebt"]), _d(order["residualInterest"]), _d(order["residualPenaltyInterest"]))
        act.legacy_repay(ts, oid, owed, rtype="2" if not act.fresh and rng.random() < 0.3 else "1")
    else:
        part = _part(_d(order["totalDebt"]), rng.randrange(10, 60))
        if part:
            act.legacy_repay(ts, oid, part, rtype="1")


def _legacy_adjust(act: Activity, ts: int, *, oid: str) -> None:
    if oid in act.book.legacy_open:
        act.legacy_adjust(ts, oid, 0 if act.fresh else act.rng.choice((0, 1)), Decimal(_amount(act.rng)))


def _open_positions(act: Activity, t: int) -> None:
    """Open debt the actions can repay: flexible debt in every loan coin, an open fixed contract,
    three open legacy loans (small unpaid interest, a partial and a processing repayment), INS
    loans in every INS coin."""
    rng, book = act.rng, act.book
    for i, c in enumerate(LOAN_COINS):
        act.flex_borrow(t - 10 * (i + 1), c, Decimal(rng.randrange(1000, 100_000)),
                        collateral=[(rng.choice(COLLATERAL_COINS), Decimal(rng.randrange(1, 50)))])
    act.fixed_order(t - 40 * DAY, "ETH", Decimal(_amount(rng)), contracts=2, term=90, match_after=1)
    # an overdue MANA contract (a coin nothing else borrows) whose overdue repayment is still
    # processing: it settles in `grow`; the venue refuses another repayment of it meanwhile
    overdue = act.fixed_order(t - 50 * DAY, "MANA", Decimal(rng.randrange(100, 10_000)), term=7)
    act.run()
    (late,) = [r for r in book.open_contracts() if r.wire["orderId"] == overdue.key]
    act.overdue(late, _times_rate(_d(late.wire["residualPrincipal"]), Decimal("0.0002"), 43, _INTEREST_STEP))
    act.fixed_repay(t - 3 * DAY, [late], rtype=4, status=2)
    for i in range(3):
        meta = act.legacy_borrow(t - 30 * DAY + i, rng.choice(LOAN_COINS), Decimal(rng.randrange(100, 10_000)),
                                 "BTC", Decimal(_amount(rng)))
        act.legacy_accrue(meta.order_id, t - 15 * DAY + i)
        order = book.legacy_open[meta.order_id]
        if _d(order["residualInterest"]) >= 1:  # kept below 1: a repayment of 1 pays it off
            extra = _minus(_d(order["residualInterest"]), Decimal("0.5"))
            order["residualInterest"] = "0.5"
            meta.interest = _minus(meta.interest, extra)
            act.books.move(LEGACY, meta.currency, debt=extra.copy_negate(), unrecorded=LEGACY_OPEN)
        act.legacy_adjust(t - 10 * DAY + i, meta.order_id, 0, Decimal(rng.randrange(1, 9)))
        act.legacy_repay(t - 5 * DAY + i, meta.order_id, Decimal(rng.randrange(1, 50)))
        if i == 2:  # still processing (the actions' tests repay the first open loan)
            act.legacy_repay(t - 2 * DAY, meta.order_id, Decimal("1.5"), status=2)
    for c in INS_COINS:
        act.ins_loan(t - 20 * DAY, c, Decimal(rng.randrange(10**6, 10**7)))
    act.run()


def populate_book(book: BybitBook, *, seed: int, scale: float, now: int) -> None:
    """A deterministic activity over the last 170 days (inside every retention) that moves the
    books and writes every feed, plus open debt so the actions have something to repay."""
    rng = random.Random(seed)
    act = Activity(book, rng)
    counts = {k: max(1, round(n * scale)) for k, n in BASE_COUNTS.items()}
    _fill(act, counts, now - 170 * DAY, now - 120_000)
    _open_positions(act, now - 60_000)


def grow_book(book: BybitBook, *, seed: int, n: int, now: int) -> None:
    """`n` new activities of each kind, newer than everything present, every one settled and by
    the user; processing records settle first (their moves apply now)."""
    lo = max(book.newest() + 1, now - 1000)
    hi = max(now, lo + 1)
    act = Activity(book, random.Random(seed))
    for feed, name in PROCESSING_FIELDS.items():
        for r in book.feeds[feed]:
            if r.wire.get(name) == 2:  # 2 = processing: success, unless its settle says otherwise
                r.wire[name] = 1
                if r.settle is not None:
                    r.settle(lo)
                    r.settle = None
    for r in book.feeds["bybit.fixed_borrow_orders"]:
        if r.wire["state"] == 1 and r.settle is not None:  # matching: fills now
            r.settle(lo)
            r.settle = None
    act.fresh = True
    _fill(act, dict.fromkeys(BASE_COUNTS, n), lo, hi)


# --- ids -------------------------------------------------------------------------------------------


def _leg_order(loan_id: str) -> tuple[int, int, str]:
    return (0, int(loan_id), "") if loan_id.isdigit() else (1, 0, loan_id)


def _nonzero(value: Any) -> bool:
    text = bytes(value).decode() if isinstance(value, msgspec.Raw) else str(value)
    return text not in ("", "0") and Decimal(text) != 0


def expected_ids_of(
    book: BybitBook, feed: str, now: int, *, since: int | None = None, until: int | None = None
) -> set[str]:
    """The event ids a complete walk of `feed` yields (docs/venues/bybit.md, "Ids"), optionally
    of the records stamped within [since, until]."""
    out: set[str] = set()
    for r in book.rows(feed, now):
        if (since is not None and r.ts < since) or (until is not None and r.ts > until):
            continue
        w = r.wire
        if feed == "bybit.fixed_repayment_history":
            loans = sorted({str(leg["loanId"]) for leg in w["details"]}, key=_leg_order) or [""]
            ids = [r.key if i == 0 else f"{r.key}:{lid}" for i, lid in enumerate(loans)]
            out.update(ids)
            if str(w["repayType"]) == "8":
                out.update(f"{i}:flexible" for i in ids)
            continue
        out.add(r.key)
        if feed == "bybit.fixed_borrow_contracts" and w["status"] in (2, 3):
            out.add(f"{r.key}:penalty")
        if feed == "bybit.legacy_borrow_history":
            for suffix, name in (("collateral", "initialCollateralAmount"), ("interest", "repaidInterest"),
                                 ("penalty", "repaidPenaltyInterest")):
                if _nonzero(w[name]):
                    out.add(f"{r.key}:{suffix}")
        if feed == "bybit.legacy_repayment_history" and _nonzero(w.get("collateralReturn", "0")):
            out.add(f"{r.key}:collateral")
        if feed == "bybit.institutional_repayment_history" and _nonzero(w.get("interest", "0")):
            out.add(f"{r.key}:interest")
    return out
