"""Deterministic OKX datasets for the simulator: what the four history endpoints hold.

Rows are stored as the venue sends them (wire dicts of strings, unknown extra
fields included) plus the few facts the simulator pages and filters by. The
special cases every walk must survive are built in on purpose:

- loan history: more than 100 records sharing one millisecond (the refId
  cursor must still return each once), all 12 action types, `amt` sent
  signed on some rows and unsigned on others, 18-20 digit amounts;
- interest accrued: one record per currency per hour (ties at every page
  boundary), rows older than the 30-day window the venue serves;
- one-click repay v2: a tie straddling the first page boundary, `running`
  records (the newest) that `grow` settles to `filled`, failed records,
  legs that never filled (``fillPx: ""``), rows older than 7 days;
- convert history: a tie of 50 trades across the first page boundary,
  rejected trades (sizes "0" or ""), 20-digit sizes.

This module does not import the client's decoders: it plays the venue.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FEED_TABLES",
    "LOAN_TYPES",
    "OUTFLOW_LOAN_TYPES",
    "OkxBook",
    "SimRecord",
    "generate",
    "grow",
]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

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
LOAN_ORDERS = ("680234819012345678", "680234819012345901", "691100000000000007")


@dataclass(eq=False, slots=True)
class SimRecord:
    """One stored record: its wire dict, its ts, the key ties are ordered by, filter facts."""

    ts: int
    key: str
    wire: dict[str, Any]
    order_id: str = ""
    ccy: str = ""

    def sort_key(self) -> tuple[int, int | str]:
        return (self.ts, int(self.key) if self.key.isdigit() else self.key)


@dataclass(eq=False)
class OkxBook:
    """The four history tables of one simulated account, each kept newest first."""

    loan_history: list[SimRecord] = field(default_factory=list)
    interest: list[SimRecord] = field(default_factory=list)
    one_click: list[SimRecord] = field(default_factory=list)
    convert: list[SimRecord] = field(default_factory=list)
    serial: int = 0  # order ids handed out so far

    def table(self, feed_id: str) -> list[SimRecord]:
        name = FEED_TABLES.get(feed_id)
        if name is None:
            raise KeyError(f"unknown OKX feed {feed_id!r}; known: {', '.join(FEED_TABLES)}")
        rows: list[SimRecord] = getattr(self, name)
        return rows

    def add(self, feed_id: str, records: list[SimRecord]) -> None:
        rows = self.table(feed_id)
        rows.extend(records)
        rows.sort(key=SimRecord.sort_key, reverse=True)

    def newest_ts(self, feed_id: str) -> int | None:
        rows = self.table(feed_id)
        return rows[0].ts if rows else None

    def next_order_id(self) -> str:
        self.serial += 1
        return str(2_338_478_000_000_000_000 + self.serial * 7919)


# --- amounts ------------------------------------------------------------------------------------


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


def _ref_ids(stamps: list[int]) -> list[str]:
    """refIds increasing with (ts, arrival): 13-digit ms + 4-digit sequence, as OKX's look."""
    ids: list[str] = []
    seq: dict[int, int] = {}
    for ts in sorted(stamps):
        k = seq.get(ts, 0)
        seq[ts] = k + 1
        ids.append(str(ts * 10_000 + k))
    by_ts: dict[int, list[str]] = {}
    for ts, ref in zip(sorted(stamps), ids):
        by_ts.setdefault(ts, []).append(ref)
    # hand them back in the order of `stamps` (ties: oldest refId first within the tie)
    return [by_ts[ts].pop(0) for ts in stamps]


# --- the four tables --------------------------------------------------------------------------------


def _loan_record(rng: random.Random, ts: int, ref: str, kind: str) -> SimRecord:
    ccy = rng.choice(COINS[:12])
    magnitude = _amount(rng)
    signed = kind in OUTFLOW_LOAN_TYPES and rng.random() < 0.5
    wire: dict[str, Any] = {
        "amt": f"-{magnitude}" if signed else magnitude,
        "ccy": ccy,
        "refId": ref,
        "ts": str(ts),
        "type": kind,
    }
    order = rng.choice(LOAN_ORDERS)
    if rng.random() < 0.15:
        wire["ordId"] = order
        wire.update(_extras(rng, ts))
    return SimRecord(ts, ref, wire, order_id=order, ccy=ccy)


def _loan_history(rng: random.Random, anchor: int, scale: float) -> list[SimRecord]:
    n = max(12, round(230 * scale))
    stamps = _descending(rng, anchor, n, 90 * DAY_MS // n)
    # more than one page of records in one millisecond, 40 records below the top
    tie_at = stamps[min(40, len(stamps) - 1)]
    stamps += [tie_at] * 130
    stamps.sort(reverse=True)
    refs = _ref_ids(stamps)
    types = list(LOAN_TYPES) + [rng.choice(LOAN_TYPES) for _ in range(len(stamps) - len(LOAN_TYPES))]
    rng.shuffle(types)
    return [_loan_record(rng, ts, ref, kind) for ts, ref, kind in zip(stamps, refs, types)]


def _interest_record(rng: random.Random, ts: int, ref: str, ccy: str) -> SimRecord:
    wire: dict[str, Any] = {
        "ccy": ccy,
        "interest": _small(rng),
        "interestRate": f"0.{rng.randint(1, 99):02d}",
        "loan": _amount(rng),
        "refId": ref,
        "ts": str(ts),
    }
    if rng.random() < 0.1:
        wire.update(_extras(rng, ts))
    return SimRecord(ts, ref, wire, order_id=rng.choice(LOAN_ORDERS), ccy=ccy)


def _interest(rng: random.Random, anchor: int, scale: float) -> list[SimRecord]:
    hours = max(2, round(70 * scale))
    ccys = ("USDT", "USDC", "BTC")
    top = anchor - anchor % HOUR_MS
    stamps = [top - h * HOUR_MS for h in range(hours) for _ in ccys]
    # older than the 30 days the venue serves: stored, never returned
    stamps += [anchor - (31 + d) * DAY_MS - d * HOUR_MS for d in range(6)]
    stamps.sort(reverse=True)
    refs = _ref_ids(stamps)
    out: list[SimRecord] = []
    i = 0
    while i < len(stamps):
        j = i
        while j < len(stamps) and stamps[j] == stamps[i]:
            j += 1
        for k in range(i, j):
            out.append(_interest_record(rng, stamps[k], refs[k], ccys[(k - i) % len(ccys)]))
        i = j
    return out


def _leg(
    rng: random.Random, book: OkxBook, inst: str, side: str, c_time: int, *, filled: bool
) -> dict[str, Any]:
    size = _amount(rng)
    px = f"{rng.randint(1, 90_000)}.{rng.randint(0, 99):02d}"
    leg: dict[str, Any] = {
        "cTime": str(c_time),
        "fillPx": px if filled else "",
        "fillSz": size if filled else "0",
        "instId": inst,
        "ordId": book.next_order_id(),
        "ordType": "ioc",
        "px": px,
        "side": side,
        "state": "filled" if filled else "canceled",
        "sz": size,
    }
    if rng.random() < 0.2:
        leg["fee"] = f"-{_small(rng)}"
        leg["avgPx"] = px
    return leg


def _one_click_record(
    rng: random.Random, book: OkxBook, ts: int, debt: str, status: str
) -> SimRecord:
    others = [c for c in COINS if c != debt]
    repay = [debt] + rng.sample(others, rng.randint(1, 2))
    legs: list[dict[str, Any]] = []
    c_time = ts + rng.randint(1, 500)
    for ccy in repay[1:]:
        if ccy == "USDT":
            continue
        filled = status != "failed" and rng.random() < 0.85
        legs.append(_leg(rng, book, f"{ccy}-USDT", "sell", c_time, filled=filled))
        c_time += rng.randint(1, 3_000)
    if debt != "USDT" and status != "running":
        legs.append(_leg(rng, book, f"{debt}-USDT", "buy", c_time, filled=status == "filled"))
    if status == "failed":
        fill = "0"
    elif status == "running":
        fill = rng.choice(["", "0", _amount(rng)])
    else:
        fill = _amount(rng)
    wire: dict[str, Any] = {
        "debtCcy": debt,
        "fillDebtSz": fill,
        "ordIdInfo": legs,
        "repayCcyList": repay,
        "status": status,
        "ts": str(ts),
    }
    if rng.random() < 0.15:
        wire.update(_extras(rng, ts))
    return SimRecord(ts, debt, wire, ccy=debt)


def _one_click(rng: random.Random, book: OkxBook, anchor: int, scale: float) -> list[SimRecord]:
    n = max(6, round(150 * scale))
    stamps = _descending(rng, anchor, n, 6 * DAY_MS // n)
    tie_from = max(0, min(95, n - 10))
    tie_to = min(tie_from + 10, n)
    for i in range(tie_from, tie_to):  # straddles the first page boundary (100)
        stamps[i] = stamps[tie_from]
    out: list[SimRecord] = []
    used: dict[int, set[str]] = {}
    for i, ts in enumerate(stamps):
        taken = used.setdefault(ts, set())
        debt = rng.choice([c for c in COINS if c not in taken])
        taken.add(debt)
        status = "running" if i < 2 else ("failed" if rng.random() < 0.06 else "filled")
        out.append(_one_click_record(rng, book, ts, debt, status))
    # older than the 7 days the venue serves
    for d in range(4):
        out.append(_one_click_record(rng, book, anchor - (8 + d) * DAY_MS, rng.choice(COINS), "filled"))
    return out


def _convert_record(rng: random.Random, ts: int, trade_id: str) -> SimRecord:
    base = rng.choice(COINS[4:20])
    quote = rng.choice(("USDT", "USDT", "USDC", "BTC"))
    base_sz = _amount(rng)
    px = f"{rng.randint(0, 60_000)}.{rng.randint(1, 10**6 - 1):06d}"
    quote_sz = f"{rng.randint(1, 10**11 - 1)}.{rng.randint(0, 10**9 - 1):09d}"
    state = "rejected" if rng.random() < 0.06 else "fullyFilled"
    if state == "rejected":
        empty = rng.choice(["0", ""])
        base_sz = quote_sz = empty
    wire: dict[str, Any] = {
        "baseCcy": base,
        "clTReqId": f"cl{rng.randint(10**6, 10**7)}" if rng.random() < 0.3 else "",
        "fillBaseSz": base_sz,
        "fillPx": px,
        "fillQuoteSz": quote_sz,
        "instId": f"{base}-{quote}",
        "quoteCcy": quote,
        "side": rng.choice(("buy", "sell")),
        "state": state,
        "tradeId": trade_id,
        "ts": str(ts),
    }
    if rng.random() < 0.15:
        wire.update(_extras(rng, ts))
    return SimRecord(ts, trade_id, wire, ccy=base)


def _convert(rng: random.Random, anchor: int, scale: float) -> list[SimRecord]:
    n = max(4, round(200 * scale))
    stamps = _descending(rng, anchor, n, 60 * DAY_MS // n)
    # 50 trades in one millisecond across the first page boundary (positions 75..124)
    at = min(75, n // 2)
    stamps[at:at] = [stamps[at]] * 49
    return [_convert_record(rng, ts, f"trader{ts}{i:04d}") for i, ts in enumerate(stamps)]


def generate(seed: int, now_ms: int, scale: float = 1.0) -> OkxBook:
    """A fresh dataset whose newest record is 10 minutes before `now_ms`."""
    if not scale > 0:
        raise ValueError(f"scale: {scale!r} must be positive")
    rng = random.Random(seed)
    anchor = now_ms - 10 * 60_000
    book = OkxBook()
    book.add("okx.flexible_loan_history", _loan_history(rng, anchor, scale))
    book.add("okx.flexible_loan_interest", _interest(rng, anchor, scale))
    book.add("okx.one_click_repay_history", _one_click(rng, book, anchor, scale))
    book.add("okx.convert_history", _convert(rng, anchor, scale))
    return book


# --- growth ----------------------------------------------------------------------------------------------


def _fresh_stamps(last: int | None, now_ms: int, n: int) -> list[int]:
    """`n` timestamps after `last`, not after `now_ms` when there is room."""
    start = (last if last is not None else now_ms - HOUR_MS) + 1
    step = max(1, min(1_000, (now_ms - start) // (n + 1)))
    return [start + i * step for i in range(n)]


def grow(book: OkxBook, seed: int, now_ms: int, n: int = 3) -> None:
    """Add `n` records per table, newer than everything present, and settle the
    one-click repays still `running` (status filled, final size, the buy leg)."""
    if n < 0:
        raise ValueError(f"n: {n!r} must be >= 0")
    rng = random.Random(seed)

    stamps = _fresh_stamps(book.newest_ts("okx.flexible_loan_history"), now_ms, n)
    book.add("okx.flexible_loan_history", [
        _loan_record(rng, ts, ref, rng.choice(LOAN_TYPES)) for ts, ref in zip(stamps, _ref_ids(stamps))
    ])

    stamps = _fresh_stamps(book.newest_ts("okx.flexible_loan_interest"), now_ms, n)
    book.add("okx.flexible_loan_interest", [
        _interest_record(rng, ts, ref, rng.choice(("USDT", "USDC", "BTC")))
        for ts, ref in zip(stamps, _ref_ids(stamps))
    ])

    stamps = _fresh_stamps(book.newest_ts("okx.convert_history"), now_ms, n)
    book.add("okx.convert_history", [
        _convert_record(rng, ts, f"trader{ts}{9000 + i:04d}") for i, ts in enumerate(stamps)
    ])

    for rec in book.one_click:
        if rec.wire["status"] == "running":
            _settle(rng, book, rec)
    stamps = _fresh_stamps(book.newest_ts("okx.one_click_repay_history"), now_ms, n)
    fresh = rng.sample(COINS, n) if n <= len(COINS) else [COINS[i % len(COINS)] for i in range(n)]
    book.add("okx.one_click_repay_history", [
        _one_click_record(rng, book, ts, debt, "filled") for ts, debt in zip(stamps, fresh)
    ])


def _settle(rng: random.Random, book: OkxBook, rec: SimRecord) -> None:
    """A running one-click repay finishes: same ts and debtCcy, new status, size and legs."""
    wire = rec.wire
    debt = wire["debtCcy"]
    legs: list[dict[str, Any]] = wire["ordIdInfo"]
    last = max((int(leg["cTime"]) for leg in legs), default=rec.ts)
    if debt != "USDT":
        legs.append(_leg(rng, book, f"{debt}-USDT", "buy", last + rng.randint(1, 2_000), filled=True))
    wire["fillDebtSz"] = _amount(rng)
    wire["status"] = "filled"
