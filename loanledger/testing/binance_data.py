"""Deterministic Binance Portfolio Margin Pro datasets for the simulator.

Rows are stored the way the venue would send them (amounts as wire strings).
The generators are pure functions of a `random.Random`, the data's end time
and a scale, so a seed always yields the same rows relative to `end_ms`.

What a pmloan-history dataset holds, beyond ~420 * scale ordinary rows over
a little more than three years:

- a row at `end_ms` itself (the top edge of a walk with ``until=end_ms``) and
  rows exactly on the 360-day window edges of a backfill started at `end_ms`
  (``end_ms - k*360d`` is the last ms of a window, ``+ 1`` the first ms of the
  next one), one of them twice;
- exact twins (same asset, amount and repayTime): a pair, a triple, and a pair
  straddling the 100-row page boundary of the newest window;
- rows sharing one ms with different amounts across a page boundary;
- 18-20 digit amounts, amounts with trailing zeros, unknown extra fields.

Interest-history rows accrue daily at 08:00 UTC per asset during negative-balance
episodes; one episode has five assets for 40 days, so a 30-day window holds more
than 100 rows and must be split.

The books behind the rows (`bankruptcy_loans`): the venue keeps one bankruptcy loan
at a time (GET /sapi/v1/portfolio/pmLoan answers one asset). The repayments are cut
into consecutive loan episodes by time, each episode's rows repaying one loan in
one asset (rows of one millisecond always fall in one episode, so the twins stay
twins); each loan is opened, with no record anywhere, just before its first
repayment, for exactly what its repayments pay back, except the newest one, which
stays open with an outstanding amount.

Ids: these rows have no venue id. `row_key` is the simulator's own statement of
the documented id scheme (``"{ts}:{ASSET}:{amount without trailing zeros}"``,
then ``#n`` for the n-th identical row); it deliberately shares no code with the
client's decoders.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from .._money import exact_sum

__all__ = [
    "DAY_MS",
    "PMLOAN_ASSETS",
    "InterestRow",
    "LoanOpened",
    "PmloanRow",
    "bankruptcy_loans",
    "grow_interest",
    "grow_times",
    "ids_of",
    "interest_row",
    "make_interest",
    "make_pmloan",
    "row_key",
    "wire_amount",
]

DAY_MS = 86_400_000
#: the venue's longest pmloan-history window, and the step of a full backfill
WINDOW_MS = 360 * DAY_MS
#: how far back the ordinary rows go: a little more than three years
HISTORY_MS = 3 * 365 * DAY_MS + 75 * DAY_MS
ACCRUAL_HOUR_MS = 8 * 3_600_000

#: the assets of bankruptcy loans, USDT the most common
PMLOAN_ASSETS = ("USDT",) * 6 + ("USDC", "USDC", "BUSD", "FDUSD", "BTC")
_INTEREST_ASSETS = ("USDT", "USDC", "BTC", "ETH", "BNB", "FDUSD")


@dataclass(frozen=True, slots=True)
class PmloanRow:
    """One bankruptcy-loan repayment. `seq` orders rows sharing a millisecond."""

    seq: int
    asset: str
    amount: str
    repay_time: int
    extra: tuple[tuple[str, Any], ...] = ()

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"asset": self.asset, "amount": self.amount, "repayTime": self.repay_time}
        out.update(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class LoanOpened:
    """A bankruptcy loan being opened: no endpoint records it (the books keep it as unrecorded)."""

    ts: int
    asset: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class InterestRow:
    """One negative-balance interest accrual (`rate` is daily)."""

    seq: int
    asset: str
    interest: str
    accrued_time: int
    rate: str
    principal: str
    extra: tuple[tuple[str, Any], ...] = ()

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "asset": self.asset,
            "interest": self.interest,
            "interestAccruedTime": self.accrued_time,
            "interestRate": self.rate,
            "principal": self.principal,
        }
        out.update(self.extra)
        return out


# --- ids (the simulator's own statement of the scheme) ---------------------------------------


def _plain(amount: str) -> str:
    text = format(Decimal(amount), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def row_key(ts: int, asset: str, amount: str) -> str:
    return f"{ts}:{asset.upper()}:{_plain(amount)}"


def ids_of(keys: Iterable[str]) -> set[str]:
    """`key#n` for the n-th occurrence of each key."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for key in keys:
        n = seen.get(key, 0)
        seen[key] = n + 1
        out.add(f"{key}#{n}")
    return out


# --- amounts ------------------------------------------------------------------------------------


def wire_amount(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.15:  # 18-20 significant digits
        digits = rng.randint(10, 12)
        whole = rng.randrange(10 ** (digits - 1), 10**digits)
        return f"{whole}.{rng.randrange(10**8):08d}"
    if style < 0.30:  # dust
        return f"0.{rng.randrange(1, 10**5):08d}"
    if style < 0.40:  # trailing zeros on the wire
        return f"{rng.randrange(1, 10**4)}.{rng.randrange(10)}0000000"
    return f"{rng.randrange(1, 10**5)}.{rng.randrange(10**8):08d}"


def _extra(rng: random.Random) -> tuple[tuple[str, Any], ...]:
    """Fields the docs do not list (the client must ignore them)."""
    roll = rng.random()
    if roll < 0.08:
        return (("detail", {"from": "SPOT", "note": None}),)
    if roll < 0.14:
        return (("bizType", "PMLOAN_REPAY"), ("updateTime", rng.randrange(10**12, 2 * 10**12)))
    return ()


# --- pmloan-history -------------------------------------------------------------------------------


def _newest_first(rows: list[PmloanRow]) -> list[PmloanRow]:
    return sorted(rows, key=lambda r: (r.repay_time, r.seq), reverse=True)


def make_pmloan(rng: random.Random, end_ms: int, scale: float, seq: int = 0) -> list[PmloanRow]:
    rows: list[PmloanRow] = []

    def add(ts: int, asset: str | None = None, amount: str | None = None, extra: bool = True) -> PmloanRow:
        nonlocal seq
        seq += 1
        row = PmloanRow(
            seq, asset or rng.choice(PMLOAN_ASSETS), amount or wire_amount(rng), ts,
            _extra(rng) if extra else (),
        )
        rows.append(row)
        return row

    start = end_ms - HISTORY_MS
    for _ in range(round(420 * scale)):
        add(rng.randrange(start, end_ms + 1))
    # the top edge and the 360-day window edges of a backfill started at end_ms
    add(end_ms)
    for k in (1, 2, 3):
        add(end_ms - k * WINDOW_MS)
        edge = add(end_ms - k * WINDOW_MS + 1)
        if k == 1:
            add(edge.repay_time, edge.asset, edge.amount)  # a twin on a window edge
    # exact twins: a pair and a triple
    pair = add(rng.randrange(start, end_ms - WINDOW_MS))
    add(pair.repay_time, pair.asset, pair.amount)
    triple = add(rng.randrange(start, end_ms))
    for _ in range(2):
        add(triple.repay_time, triple.asset, triple.amount)
    # a twin straddling the page boundary of the newest window (rows 100 and 101)
    newest = [r for r in _newest_first(rows) if r.repay_time > end_ms - WINDOW_MS]
    if len(newest) >= 100:
        r = newest[99]
        add(r.repay_time, r.asset, r.amount)  # higher seq: listed just before its twin
    # one ms shared by different amounts across a page boundary of the second window
    second = [r for r in _newest_first(rows) if end_ms - 2 * WINDOW_MS < r.repay_time <= end_ms - WINDOW_MS]
    if len(second) >= 100:
        add(second[99].repay_time, second[99].asset)
    return rows


def grow_times(top: int | None, now_ms: int, n: int) -> list[int]:
    """`n` increasing times after `top` (the newest row present), not after `now_ms`, at most a
    minute apart (a day before `now_ms` stands in for `top` when there are no rows)."""
    start = now_ms - DAY_MS if top is None else top
    step = max(1, min(60_000, (now_ms - start) // (n + 1)))
    return [start + (i + 1) * step for i in range(n)]


# --- the bankruptcy loans behind the repayments ------------------------------------------------------


def bankruptcy_loans(
    rng: random.Random, rows: list[PmloanRow], outstanding: Decimal
) -> tuple[list[PmloanRow], list[LoanOpened]]:
    """Cut `rows` (repayments) into consecutive loan episodes by time and give each episode one
    asset; returns the rows with their episode's asset and the loans, oldest first. Each loan is
    opened after the previous episode's last repayment and at most a day before its own first
    one, for exactly what its repayments pay back; the newest one for `outstanding` more, and
    it stays open."""
    stamps = sorted({r.repay_time for r in rows})
    if not stamps:
        return [], []
    n = min(len(stamps), rng.randint(3, 6))
    starts = [stamps[0], *sorted(rng.sample(stamps[1:], n - 1))]
    assets = [rng.choice(PMLOAN_ASSETS) for _ in starts]
    out = [replace(r, asset=assets[bisect.bisect_right(starts, r.repay_time) - 1]) for r in rows]
    paid: list[list[Decimal]] = [[] for _ in starts]
    for r in out:
        paid[bisect.bisect_right(starts, r.repay_time) - 1].append(Decimal(r.amount))
    paid[-1].append(outstanding)
    loans: list[LoanOpened] = []
    for i, start in enumerate(starts):
        before = stamps[bisect.bisect_left(stamps, start) - 1] if i else start - DAY_MS  # the last earlier repayment
        opened = start - rng.randrange(0, min(DAY_MS, start - before))
        loans.append(LoanOpened(opened, assets[i], exact_sum(paid[i])))
    return out, loans


# --- interest-history -------------------------------------------------------------------------------


def interest_row(rng: random.Random, seq: int, asset: str, ts: int, principal: Decimal) -> InterestRow:
    rate = Decimal(rng.randrange(300, 2500)) / Decimal(10**7)  # daily rate
    interest = (principal * rate).quantize(Decimal("1E-8"))
    return InterestRow(seq, asset, str(interest), ts, str(rate), str(principal), _extra(rng))


def _principal(rng: random.Random) -> Decimal:
    if rng.random() < 0.1:  # interest with 18-20 significant digits
        return Decimal(f"{rng.randrange(10**13, 10**14)}.{rng.randrange(10**8):08d}")
    return Decimal(f"{rng.randrange(50, 500_000)}.{rng.randrange(100):02d}")


def make_interest(rng: random.Random, end_ms: int, scale: float, seq: int = 0) -> list[InterestRow]:
    end_day = end_ms // DAY_MS
    episodes: list[tuple[int, int, list[str]]] = [(end_day - 400, 40, list(_INTEREST_ASSETS[:5]))]
    for _ in range(round(14 * scale)):
        first = end_day - rng.randrange(1, HISTORY_MS // DAY_MS)
        episodes.append((first, rng.randint(3, 45), rng.sample(_INTEREST_ASSETS, rng.randint(1, 4))))
    taken: set[tuple[str, int]] = set()
    rows: list[InterestRow] = []
    for first, days, assets in episodes:
        principals = {a: _principal(rng) for a in assets}
        for day in range(first, first + days):
            ts = day * DAY_MS + ACCRUAL_HOUR_MS
            if ts > end_ms:
                break
            for asset in assets:
                if (asset, ts) in taken:
                    continue
                taken.add((asset, ts))
                seq += 1
                rows.append(interest_row(rng, seq, asset, ts, principals[asset]))
    return rows


def grow_interest(rng: random.Random, rows: list[InterestRow], now_ms: int, n: int) -> list[InterestRow]:
    """`n` new accruals, newer than every row present and not after `now_ms`."""
    top = max((r.accrued_time for r in rows), default=None)
    seq = max((r.seq for r in rows), default=0)
    return [
        interest_row(rng, seq + i + 1, rng.choice(_INTEREST_ASSETS), ts, _principal(rng))
        for i, ts in enumerate(grow_times(top, now_ms, n))
    ]
