"""Ledgers for the export and report tests: a small hand-written one covering every kind,
sign and awkward value (the golden files are made from it), a generated three-book history,
and the demo ledger (`loanledger demo`, run once per session)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from loanledger import EventKind, EventStatus, FeedKey, LoanEvent, SQLiteStore

D = Decimal
DATA = Path(__file__).parent.parent / "data"

B, R, I, CA, CR, L, C = (EventKind.BORROW, EventKind.REPAY, EventKind.INTEREST, EventKind.COLLATERAL_ADD,
                         EventKind.COLLATERAL_REMOVE, EventKind.LIQUIDATION, EventKind.CONVERT)
T = 1_740_787_200_000  # 2025-03-01T00:00:00Z
H = 3_600_000


def _ev(feed: str, id: str, kind: EventKind, ts: int, currency: str, amount: str, debt: str = "0",
        collateral: str = "0", *, venue: str = "okx", account: str = "okx-main",
        status: EventStatus = EventStatus.DONE, **kw: object) -> LoanEvent:
    return LoanEvent(venue=venue, account=account, feed=feed, id=id, kind=kind, status=status, ts=ts,
                     currency=currency, amount=D(amount), debt=D(debt), collateral=D(collateral), **kw)  # type: ignore[arg-type]


OKX_LOAN, OKX_INT, OKX_CONV = "okx.flexible_loan_history", "okx.flexible_loan_interest", "okx.convert_history"
BN = "binance.pmloan_history"
BY_COLL, BY_BORROW, BY_REPAY = ("bybit.collateral_adjustment_history", "bybit.flexible_borrow_history",
                                "bybit.flexible_repayment_history")


def small_ledger() -> list[LoanEvent]:
    """Every kind and sign of docs/EVENTS.md, in ts order: pledge and borrow, interest onto the
    debt and from the wallet, a repay from the wallet and one paid in another coin, a conversion,
    a release, a liquidation's two linked events, a pending and a failed event; amounts with 18
    decimals and 20 integer digits (38 significant digits), 21 integer digits and 19 decimals
    (wider than decimal128(38,18)), `1E+2` and `0E-18` as stored, a `1INCH` commodity, and a
    ref id with a comma and a quote."""
    return [
        _ev(OKX_LOAN, "c1", CA, T, "BTC", "-1.50000000", collateral="1.50000000", ref_id="2231",
            venue_type="collateral_locked"),
        _ev(OKX_LOAN, "b1", B, T + 1, "USDT", "30000", debt="30000", ref_id="2231", venue_type="borrowed"),
        _ev(OKX_LOAN, "b2", B, T + 2, "ETH", "12345678901234567890.123456789012345678",
            debt="12345678901234567890.123456789012345678", ref_id="2232", venue_type="borrowed"),
        _ev(OKX_INT, "i1", I, T + 1 * H, "USDT", "0", debt="1.25000000", venue_type="interest_accrued"),
        _ev(OKX_INT, "i2", I, T + 2 * H, "ETH", "0", debt="0.000000000000000123", venue_type="interest_accrued"),
        _ev(BN, "bn-b1", B, T + 3 * H, "USDC", "1E+2", debt="1E+2", venue="binance", account="pm-pro",
            ref_id="88001", venue_type="BORROW"),
        _ev("binance.pm_interest_history", "bn-i1", I, T + 4 * H, "USDC", "-0.0000001", venue="binance",
            account="pm-pro", venue_type="PERIODIC"),
        _ev(BN, "bn-b2", B, T + 5 * H, "1INCH", "123456789012345678901.5", debt="123456789012345678901.5",
            venue="binance", account="pm-pro", ref_id="88002", venue_type="BORROW"),
        _ev(BN, "bn-r2", R, T + 6 * H, "1INCH", "-0.0000000000000000001", debt="-0.0000000000000000001",
            venue="binance", account="pm-pro", ref_id="88002", venue_type="REPAY"),
        _ev(OKX_LOAN, "r1", R, T + 24 * H, "USDT", "-10001.25000000", debt="-10001.25000000", ref_id="2231",
            venue_type="repaid"),
        _ev(OKX_CONV, "x1", C, T + 25 * H, "USDT", "60000.00000000", counter_currency="BTC",
            counter_amount=D("-1.00000000"), ref_id="cv-77", venue_type="convert"),
        _ev(OKX_LOAN, "r2", R, T + 26 * H, "USDT", "0E-18", debt="-5000", counter_currency="ETH",
            counter_amount=D("-1.6"), ref_id="2231", venue_type="repaid"),
        _ev(OKX_LOAN, "c2", CR, T + 27 * H, "BTC", "0.25000000", collateral="-0.25000000", ref_id="2231",
            venue_type="collateral_released"),
        _ev(BY_COLL, "by-c1", CA, T + 28 * H, "SOL", "-100", collateral="100", venue="bybit",
            account="bybit-loans", ref_id="7731", venue_type="0"),
        _ev(BY_BORROW, "by-b1", B, T + 29 * H, "USDT", "9000.5", debt="9000.5", venue="bybit",
            account="bybit-loans", ref_id='1893,"A"', venue_type="FLEXIBLE"),
        _ev(BY_BORROW, "by-b2", B, T + 30 * H, "USDT", "100", debt="100", venue="bybit", account="bybit-loans",
            status=EventStatus.PENDING, ref_id="ln-2", venue_type="FLEXIBLE"),
        _ev(BY_REPAY, "by-r0", R, T + 31 * H, "USDT", "-50", debt="-50", venue="bybit", account="bybit-loans",
            status=EventStatus.FAILED, ref_id="ln-1", venue_type="FLEXIBLE"),
        _ev(BY_COLL, "by-l1", L, T + 48 * H, "SOL", "0", collateral="-60", venue="bybit", account="bybit-loans",
            ref_id="liq-9", venue_type="LIQUIDATION"),
        _ev(BY_REPAY, "by-l2", L, T + 48 * H + 1, "USDT", "0", debt="-9000.5", venue="bybit",
            account="bybit-loans", ref_id="liq-9", parent_id="by-l1", venue_type="LIQUIDATION"),
    ]


async def fill(path: Path, events: Iterable[LoanEvent]) -> None:
    """Write `events` into a SQLite ledger at `path`, one page per feed."""
    pages: dict[FeedKey, list[LoanEvent]] = {}
    for ev in events:
        pages.setdefault(FeedKey(ev.venue, ev.account, ev.feed), []).append(ev)
    async with SQLiteStore(path) as store:
        for key, evs in pages.items():
            for i in range(0, len(evs), 5000):
                token = f"page-{i}"
                await store.commit_page(key, evs[i:i + 5000], token, expected=None if i == 0 else f"page-{i - 5000}")
