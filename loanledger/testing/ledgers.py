"""Generated three-book loan histories: realistic `LoanEvent` streams with no venue behind them.

`three_book_events(n, seed=...)` yields `n` settled and a few pending/failed events in ts
order over three accounts (OKX, Binance, Bybit), moving the three books the way
docs/EVENTS.md describes: borrows (+x/+x/0), repays from the wallet (-x/-x/0), interest onto
the debt (0/+i/0) or charged to the wallet (-i/0/0), pledges (-c/0/+c) and releases
(+c/0/-c), liquidations as two linked events (seized collateral 0/0/-c, the debt it cleared
0/-d/0) and conversions (+x, counter -y). Debt and collateral never go negative. A pure
function of its arguments, streamed (a million events hold no list): the exports' tests,
the report's browser test and the export benchmark use it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

from .._money import exact_sum
from ..events import EventKind, EventStatus, LoanEvent

__all__ = ["ACCOUNTS", "three_book_events"]

#: (venue, account label, loan feed, interest feed, collateral feed, convert feed)
ACCOUNTS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("okx", "okx-main", "okx.flexible_loan_history", "okx.flexible_loan_interest", "okx.flexible_loan_history",
     "okx.convert_history"),
    ("binance", "pm-pro", "binance.pmloan_history", "binance.pm_interest_history", "binance.pmloan_history",
     "binance.pmloan_history"),
    ("bybit", "bybit-loans", "bybit.flexible_borrow_history", "bybit.flexible_borrow_history",
     "bybit.collateral_adjustment_history", "bybit.flexible_repayment_history"),
)
_LOANS = ("USDT", "USDC", "ETH")
_PLEDGES = ("BTC", "ETH", "SOL")
_PRICE = {"USDT": 1, "USDC": 1, "ETH": 3000, "BTC": 60000, "SOL": 150}
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z


def _amount(rng: random.Random, whole: int, decimals: int = 8) -> Decimal:
    """A positive amount of about `whole` units with `decimals` decimals (never zero)."""
    units = rng.randrange(1, max(2, whole * 10**decimals))
    return Decimal(units).scaleb(-decimals)


def three_book_events(n: int, *, seed: int = 1, start: int = T0, mean_gap_ms: int = 3_600_000) -> Iterator[LoanEvent]:
    """`n` events (see the module docstring), ts ascending from `start`."""
    rng = random.Random(seed)
    debt: dict[tuple[int, str], Decimal] = {}
    pledged: dict[tuple[int, str], Decimal] = {}
    ts = start
    made = 0
    seq = 0
    while made < n:
        ts += rng.randrange(1, 2 * mean_gap_ms)
        a = rng.randrange(len(ACCOUNTS))
        venue, account, loan_feed, interest_feed, coll_feed, conv_feed = ACCOUNTS[a]
        seq += 1
        sid = f"{seq:09d}"
        r = rng.random()
        loan = _LOANS[rng.randrange(len(_LOANS))]
        owed = debt.get((a, loan), Decimal(0))
        decimals = 18 if loan == "ETH" else 8
        out: list[LoanEvent] = []

        def ev(feed: str, kind: EventKind, currency: str, amount: Decimal, d: Decimal = Decimal(0),
               c: Decimal = Decimal(0), **kw: object) -> LoanEvent:
            status = EventStatus.DONE
            if kind is EventKind.BORROW and rng.random() < 0.01:
                status = EventStatus.PENDING if rng.random() < 0.5 else EventStatus.FAILED
            return LoanEvent(venue=venue, account=account, feed=feed, id=f"{sid}-{len(out)}", kind=kind,
                             status=status, ts=ts, currency=currency, amount=amount, debt=d, collateral=c,
                             venue_type=kind.value, **kw)  # type: ignore[arg-type]

        if r < 0.22 or owed == 0:  # pledge then borrow against it
            coin = _PLEDGES[rng.randrange(len(_PLEDGES))]
            c = _amount(rng, max(1, 20000 // _PRICE[coin]), 8)
            x = _amount(rng, 5000 // _PRICE[loan] + 1, decimals)
            out.append(ev(coll_feed, EventKind.COLLATERAL_ADD, coin, c.copy_negate(), c=c, ref_id=f"L{sid}"))
            out.append(ev(loan_feed, EventKind.BORROW, loan, x, d=x, ref_id=f"L{sid}"))
        elif r < 0.62:  # interest: onto the debt (OKX, Bybit) or charged to the wallet (Binance)
            i = _amount(rng, max(1, int(owed) // 2000 + 1), decimals)
            if venue == "binance":
                out.append(ev(interest_feed, EventKind.INTEREST, loan, i.copy_negate()))
            else:
                out.append(ev(interest_feed, EventKind.INTEREST, loan, Decimal(0), d=i))
        elif r < 0.84:  # repay part or all of the debt from the wallet
            x = owed if rng.random() < 0.3 else min(owed, _amount(rng, max(1, int(owed)), decimals))
            out.append(ev(loan_feed, EventKind.REPAY, loan, x.copy_negate(), d=x.copy_negate()))
        elif r < 0.92:  # release some collateral
            coins = [k[1] for k, v in pledged.items() if k[0] == a and v > 0]
            if not coins:
                continue
            coin = coins[rng.randrange(len(coins))]
            c = min(pledged[(a, coin)], _amount(rng, max(1, int(pledged[(a, coin)])), 8))
            out.append(ev(coll_feed, EventKind.COLLATERAL_REMOVE, coin, c, c=c.copy_negate()))
        elif r < 0.96:  # a conversion: received USDT, paid a pledge coin
            coin = _PLEDGES[rng.randrange(len(_PLEDGES))]
            y = _amount(rng, max(1, 2000 // _PRICE[coin]), 8)
            x = (y * _PRICE[coin]).quantize(Decimal("0.00000001"))
            out.append(ev(conv_feed, EventKind.CONVERT, "USDT", x, counter_currency=coin,
                          counter_amount=y.copy_negate()))
        else:  # a liquidation: collateral seized, and the debt it cleared, linked
            coins = [k[1] for k, v in pledged.items() if k[0] == a and v > 0]
            if not coins or owed == 0:
                continue
            coin = coins[rng.randrange(len(coins))]
            c = min(pledged[(a, coin)], _amount(rng, max(1, int(pledged[(a, coin)])), 8))
            d = min(owed, _amount(rng, max(1, int(owed)), decimals))
            seized = ev(coll_feed, EventKind.LIQUIDATION, coin, Decimal(0), c=c.copy_negate(), ref_id=f"Q{sid}")
            out.append(seized)
            out.append(ev(loan_feed, EventKind.LIQUIDATION, loan, Decimal(0), d=d.copy_negate(), ref_id=f"Q{sid}",
                          parent_id=seized.id))
        for e in out:
            if made >= n:
                return
            if e.status is EventStatus.DONE:
                if e.debt:
                    debt[(a, e.currency)] = exact_sum([debt.get((a, e.currency), Decimal(0)), e.debt])
                if e.collateral:
                    pledged[(a, e.currency)] = exact_sum([pledged.get((a, e.currency), Decimal(0)), e.collateral])
            made += 1
            yield e
