"""The simulated Bybit account book: every loan history table, open debt, and the datasets.

Rows are kept as the venue's wire JSON (with its int/str drift: `adjustId` a number,
`repayTime` a string on the legacy API, fixed `repayAmount` sometimes a JSON number)
plus the ms timestamp and id the endpoints page by. Nothing here imports the client's
decoders: `expected_ids` applies the id rules of docs/venues/bybit.md to these rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

__all__ = ["FEED_IDS", "BybitBook", "Row", "expected_ids_of", "grow_book", "populate_book"]

DAY = 86_400_000

FEED_IDS = (
    "bybit.flexible_borrow_history",
    "bybit.flexible_repayment_history",
    "bybit.fixed_borrow_contracts",
    "bybit.fixed_repayment_history",
    "bybit.collateral_adjustment_history",
    "bybit.legacy_borrow_history",
    "bybit.legacy_repayment_history",
    "bybit.institutional_loan_orders",
    "bybit.institutional_repayment_history",
)

#: rows per feed at scale 1
BASE_COUNTS = {
    "bybit.flexible_borrow_history": 37,
    "bybit.flexible_repayment_history": 41,
    "bybit.fixed_borrow_contracts": 23,
    "bybit.fixed_repayment_history": 19,
    "bybit.collateral_adjustment_history": 29,
    "bybit.legacy_borrow_history": 17,
    "bybit.legacy_repayment_history": 21,
    "bybit.institutional_loan_orders": 13,
    "bybit.institutional_repayment_history": 15,
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


@dataclass(slots=True)
class Row:
    """One history record: its wire JSON, timestamp and id (the paging key)."""

    ts: int
    key: str
    wire: dict[str, Any]
    visible_at: int = 0  # INS repayments appear 2-3 minutes after the request


@dataclass
class BybitBook:
    """One account's loan state."""

    feeds: dict[str, list[Row]] = field(default_factory=lambda: {f: [] for f in FEED_IDS})
    flex_debt: dict[str, Decimal] = field(default_factory=dict)
    #: legacy ongoing orders by orderId: wire rows of GET /v5/crypto-loan/ongoing-orders
    legacy_open: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 10_000

    def new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def rows(self, feed: str, now: int | None = None) -> list[Row]:
        rows = self.feeds[feed]
        if now is None:
            return rows
        return [r for r in rows if r.visible_at <= now]

    def newest(self) -> int:
        return max((r.ts for rows in self.feeds.values() for r in rows), default=0)


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
        t = rng.randrange(lo, hi)
        out.extend([t] * min(n - len(out), rng.choice((1, 1, 2, 3, 4))))
    return sorted(out)


def _extra(rng: random.Random, wire: dict[str, Any]) -> dict[str, Any]:
    if rng.random() < 0.25:
        wire["someNewField"] = {"x": rng.randrange(100)}  # unknown fields must be ignored
    return wire


def _number(text: str) -> msgspec.Raw:
    """A JSON number with exactly these digits (the venue documents repayAmount as long)."""
    return msgspec.Raw(text.encode())


def _add(book: BybitBook, feed: str, ts: int, key: str, wire: dict[str, Any], visible_at: int = 0) -> Row:
    row = Row(ts, key, wire, visible_at)
    book.feeds[feed].append(row)
    return row


def _fill(book: BybitBook, rng: random.Random, counts: dict[str, int], lo: int, hi: int, *, fresh: bool) -> None:
    """Add `counts[feed]` rows to each feed with timestamps in [lo, hi]."""
    ccy = rng.choice
    # flexible borrows: status 1 success, 2 processing, 3 fail
    for t in _times(rng, counts["bybit.flexible_borrow_history"], lo, hi):
        oid = book.new_id()
        status = 2 if rng.random() < 0.1 else 3 if rng.random() < 0.05 else 1
        _add(book, "bybit.flexible_borrow_history", t, oid, _extra(rng, {
            "borrowTime": t, "initialLoanAmount": _amount(rng), "loanCurrency": ccy(LOAN_COINS),
            "orderId": oid, "status": status}))
    for i, t in enumerate(_times(rng, counts["bybit.flexible_repayment_history"], lo, hi)):
        rid = book.new_id()
        rtype = (1, 2, 5, 6, 7)[i % 5] if not fresh else 1
        status = 2 if rng.random() < 0.1 else 1
        _add(book, "bybit.flexible_repayment_history", t, rid, _extra(rng, {
            "loanCurrency": ccy(LOAN_COINS), "repayAmount": _amount(rng), "repayId": rid,
            "repayStatus": status, "repayTime": t, "repayType": rtype}))
    orders: list[str] = []
    for t in _times(rng, counts["bybit.fixed_borrow_contracts"], lo, hi):
        if not orders or rng.random() < 0.6:
            orders.append(book.new_id())  # one order can fill several contracts
        lid = book.new_id()
        status = rng.choice((1, 1, 2, 3)) if not fresh else 1
        principal = _amount(rng)
        _add(book, "bybit.fixed_borrow_contracts", t, lid, _extra(rng, {
            "annualRate": "0.022", "autoRepay": "true", "borrowCurrency": ccy(LOAN_COINS),
            "borrowTime": str(t), "interestPaid": "0.000180821917808219", "loanId": lid, "orderId": orders[-1],
            "repayType": "1", "repaymentTime": str(t + 30 * DAY), "residualPenaltyInterest": "0",
            "residualPrincipal": "0" if status == 2 else principal, "status": status, "term": "30"}))
    for i, t in enumerate(_times(rng, counts["bybit.fixed_repayment_history"], lo, hi)):
        rid = book.new_id()
        c = ccy(LOAN_COINS)
        legs = [{"loanCurrency": c, "loanId": book.new_id(), "repayAmount": _amount(rng)}
                for _ in range(rng.choice((0, 1, 1, 2, 3)))]
        rng.shuffle(legs)  # the venue's detail order is not the id order
        total = sum((Decimal(str(leg["repayAmount"])) for leg in legs), Decimal(0)) or Decimal(_amount(rng))
        wire_total: Any = _number(str(total)) if i % 3 == 0 else str(total)
        _add(book, "bybit.fixed_repayment_history", t, rid, _extra(rng, {
            "details": legs, "loanCurrency": c, "repayAmount": wire_total, "repayId": rid,
            "repayStatus": 2 if rng.random() < 0.1 else 1, "repayTime": t,
            "repayType": (1 + i % 8) if not fresh else 1}))
    for i, t in enumerate(_times(rng, counts["bybit.collateral_adjustment_history"], lo, hi)):
        aid = book.new_id()
        _add(book, "bybit.collateral_adjustment_history", t, aid, _extra(rng, {
            "adjustId": int(aid), "adjustTime": t, "afterLTV": "0.51", "amount": _amount(rng),
            "collateralCurrency": ccy(COLLATERAL_COINS), "direction": i % 2, "preLTV": "0.49",
            "status": 2 if rng.random() < 0.1 else 1}))
    for t in _times(rng, counts["bybit.legacy_borrow_history"], lo, hi):
        oid = "179" + book.new_id().rjust(16, "0")  # 19-digit ids as on the legacy API
        _add(book, "bybit.legacy_borrow_history", t, oid, _extra(rng, {
            "borrowTime": str(t), "collateralCurrency": ccy(COLLATERAL_COINS), "expirationTime": "",
            "hourlyInterestRate": "0.0000010241", "initialCollateralAmount": _amount(rng),
            "initialLoanAmount": _amount(rng), "loanCurrency": ccy(LOAN_COINS), "loanTerm": "",
            "orderId": oid, "repaidInterest": "0.00000515", "repaidPenaltyInterest": "0",
            "status": rng.choice((1, 2))}))
    for i, t in enumerate(_times(rng, counts["bybit.legacy_repayment_history"], lo, hi)):
        rid = "179" + book.new_id().rjust(16, "0")
        _add(book, "bybit.legacy_repayment_history", t, rid, _extra(rng, {
            "collateralCurrency": ccy(COLLATERAL_COINS),
            "collateralReturn": _amount(rng) if i % 4 == 0 else "0", "loanCurrency": ccy(LOAN_COINS),
            "loanTerm": "", "orderId": "179" + book.new_id().rjust(16, "0"), "repayAmount": _amount(rng),
            "repayId": rid, "repayStatus": 2 if rng.random() < 0.1 else 1, "repayTime": str(t),
            "repayType": str(1 + i % 2) if not fresh else "1"}))
    for t in _times(rng, counts["bybit.institutional_loan_orders"], lo, hi):
        oid = "14" + book.new_id().rjust(17, "0")
        _add(book, "bybit.institutional_loan_orders", t, oid, _extra(rng, {
            "orderId": oid, "orderProductId": "96", "parentUid": "1631521", "loanTime": str(t),
            "loanCoin": ccy(("USDT", "USDC", "BTC")), "loanAmount": _amount(rng), "unpaidAmount": "0",
            "unpaidInterest": "0", "repaidAmount": "0", "repaidInterest": "0", "interestRate": "0.00019178",
            "status": rng.choice(("1", "2")), "leverage": "4", "spotSymbols": [], "contractSymbols": []}))
    for i, t in enumerate(_times(rng, counts["bybit.institutional_repayment_history"], lo, hi)):
        rid = book.new_id()
        _add(book, "bybit.institutional_repayment_history", t, rid, _extra(rng, {
            "repayOrderId": rid, "repaidTime": str(t), "token": ccy(("USDT", "USDC", "BTC")),
            "quantity": _amount(rng), "interest": _amount(rng) if i % 3 == 0 else "0",
            "businessType": "2" if i % 5 == 4 else "1", "status": "2" if i % 7 == 6 else "1"}))


def populate_book(book: BybitBook, *, seed: int, scale: float, now: int) -> None:
    """A deterministic dataset for every feed over the last 170 days (inside every retention),
    plus open debt so the actions have something to repay."""
    rng = random.Random(seed)
    counts = {f: max(1, round(n * scale)) for f, n in BASE_COUNTS.items()}
    _fill(book, rng, counts, now - 170 * DAY, now - 60_000, fresh=False)
    for c in LOAN_COINS:
        book.flex_debt[c] = book.flex_debt.get(c, Decimal(0)) + Decimal(rng.randrange(1000, 100_000))
    for _ in range(3):
        oid = "179" + book.new_id().rjust(16, "0")
        book.legacy_open[oid] = {
            "collateralAmount": _amount(rng), "collateralCurrency": "BTC", "currentLTV": "0.45",
            "expirationTime": "", "hourlyInterestRate": "0.0000010241", "loanCurrency": rng.choice(LOAN_COINS),
            "loanTerm": "", "orderId": oid, "residualInterest": "0", "residualPenaltyInterest": "0",
            "totalDebt": str(rng.randrange(100, 10_000)),
        }


def grow_book(book: BybitBook, *, seed: int, n: int, now: int) -> None:
    """`n` new rows per feed, newer than everything present; pending rows settle."""
    for feed, name in PROCESSING_FIELDS.items():
        for r in book.feeds[feed]:
            if r.wire.get(name) == 2:  # 2 = processing
                r.wire[name] = 1
    lo = max(book.newest() + 1, now - 1000)
    _fill(book, random.Random(seed), dict.fromkeys(FEED_IDS, n), lo, max(now, lo + 1), fresh=True)


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
        if feed == "bybit.fixed_repayment_history" and w["details"]:
            loans = sorted({str(leg["loanId"]) for leg in w["details"]}, key=_leg_order)
            out.add(r.key)
            out.update(f"{r.key}:{lid}" for lid in loans[1:])
            continue
        out.add(r.key)
        if feed == "bybit.legacy_repayment_history" and _nonzero(w.get("collateralReturn", "0")):
            out.add(f"{r.key}:collateral")
        if feed == "bybit.institutional_repayment_history" and _nonzero(w.get("interest", "0")):
            out.add(f"{r.key}:interest")
    return out
