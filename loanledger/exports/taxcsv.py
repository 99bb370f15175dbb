"""Tax-tool CSV imports: Koinly's universal template and CoinTracking's CSV import.

A tax tool tracks what the user holds. Pledged collateral is still the user's coin (Koinly:
collateral moves "should not be imported"), so the holding a tax tool sees per currency is
the free wallet plus the collateral book, and each settled event becomes rows for the change
of that holding (docs/EVENTS.md, the three books):

| event (wallet/debt/collateral) | holding change | row |
|---|---|---|
| borrow +x/+x/0 | +x | received, a loan |
| repay -x/-x/0 (or paid in another coin: its counter leg) | -x | sent, a loan repayment |
| interest charged to the wallet -i/0/0 | -i | sent, a loan fee |
| interest onto the debt 0/+i/0 | 0 | none (paid later inside a repay) |
| pledge -c/0/+c, release +c/0/-c | 0 | none (the coin stays the user's) |
| liquidation: seized collateral 0/0/-c | -c | sent, a liquidation (a disposal) |
| liquidation: the debt it cleared 0/-d/0 | 0 | none |
| convert +x cur, counter -y | +x, -y | one trade row |

Any other holding change of an event is a plain deposit or withdrawal row. Pending and failed
events give no row. Amounts are positive, in plain notation, never rounded (``format(d, "f")``);
dates are UTC. The column layouts and labels, with their sources, are in docs/CLI.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
from collections.abc import AsyncIterable, Callable, Sequence
from decimal import Decimal
from typing import IO, NamedTuple

from .._money import EXACT
from ..events import EventKind, EventStatus, LoanEvent

__all__ = ["COINTRACKING_HEADER", "KOINLY_HEADER", "Role", "TaxRow", "tax_rows", "write_cointracking",
           "write_koinly"]

_ZERO = Decimal(0)


class Role(enum.Enum):
    """What a row means to a tax tool."""

    LOAN = "loan"
    REPAYMENT = "repayment"
    FEE = "fee"
    LIQUIDATION = "liquidation"
    TRADE = "trade"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class TaxRow(NamedTuple):
    """One tax-tool row: what left (`sent`) and/or arrived (`received`), positive amounts."""

    event: LoanEvent
    role: Role
    sent: tuple[Decimal, str] | None
    received: tuple[Decimal, str] | None
    seq: int = 0  # 0, or 1, 2, ... when one event gives several rows


def tax_rows(ev: LoanEvent) -> list[TaxRow]:
    """The rows of one event (see the module docstring); none for a pending or failed event."""
    if ev.status is not EventStatus.DONE:
        return []
    add = EXACT.add  # exact: raises rather than rounds
    change = {ev.currency: add(ev.amount, ev.collateral) if ev.collateral else ev.amount}
    if ev.counter_currency is not None and ev.counter_amount is not None:
        change[ev.counter_currency] = add(change.get(ev.counter_currency, _ZERO), ev.counter_amount)
    ins = [(v, c) for c, v in change.items() if v > 0]
    outs = [(v.copy_abs(), c) for c, v in change.items() if v < 0]
    if len(ins) == 1 and len(outs) == 1:  # a conversion (or a repay in another coin that returned change)
        role = Role.REPAYMENT if ev.kind is EventKind.REPAY else Role.TRADE
        return [TaxRow(ev, role, outs[0], ins[0])]
    rows = [TaxRow(ev, _role(ev.kind, incoming=True), None, leg) for leg in ins]
    rows += [TaxRow(ev, _role(ev.kind, incoming=False), leg, None) for leg in outs]
    if len(rows) > 1:
        rows = [r._replace(seq=i + 1) for i, r in enumerate(rows)]
    return rows


def _role(kind: EventKind, *, incoming: bool) -> Role:
    if incoming:
        return Role.LOAN if kind is EventKind.BORROW else Role.DEPOSIT
    return {EventKind.REPAY: Role.REPAYMENT, EventKind.INTEREST: Role.FEE,
            EventKind.LIQUIDATION: Role.LIQUIDATION}.get(kind, Role.WITHDRAWAL)


def _tx_id(row: TaxRow) -> str:
    ev = row.event
    base = f"{ev.venue}:{ev.account}:{ev.feed}:{ev.id}"  # the store's key: unique, stable across exports
    return f"{base}#{row.seq}" if row.seq else base


def _utc(ts: int, fmt: str) -> str:
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime(fmt)


def _description(ev: LoanEvent) -> str:
    ref = f" ref {ev.ref_id}" if ev.ref_id else ""
    return f"{ev.venue}/{ev.account} {ev.feed} {ev.kind.value} {ev.venue_type}{ref}".replace("  ", " ")


def _amount(leg: tuple[Decimal, str] | None) -> list[str]:
    return ["", ""] if leg is None else [format(leg[0], "f"), leg[1]]


# --- Koinly universal CSV --------------------------------------------------------------------

#: Koinly's universal template (https://support.koinly.io/en/articles/9489976-how-to-create-a-custom-csv-file-with-your-data)
KOINLY_HEADER = ("Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency", "Fee Amount",
                 "Fee Currency", "Net Worth Amount", "Net Worth Currency", "Label", "Description", "TxHash")

#: Koinly tags (https://support.koinly.io/en/articles/9490023-what-are-tags and
#: https://support.koinly.io/en/articles/9490026-crypto-loans-repayments-and-collateral)
_KOINLY_LABEL = {Role.LOAN: "loan", Role.REPAYMENT: "loan repayment", Role.FEE: "loan fee"}


def _koinly(row: TaxRow) -> list[str]:
    ev = row.event
    what = f"liquidation: {_description(ev)}" if row.role is Role.LIQUIDATION else _description(ev)
    return [_utc(ev.ts, "%Y-%m-%d %H:%M:%S UTC"), *_amount(row.sent), *_amount(row.received), "", "", "", "",
            _KOINLY_LABEL.get(row.role, ""), what, _tx_id(row)]


# --- CoinTracking CSV --------------------------------------------------------------------------

#: CoinTracking's CSV import columns (https://cointracking.info/import/import_csv/)
COINTRACKING_HEADER = ("Type", "Buy Amount", "Buy Currency", "Sell Amount", "Sell Currency", "Fee", "Fee Currency",
                       "Exchange", "Trade-Group", "Comment", "Date", "Tx-ID", "Buy Value in Account Currency",
                       "Sell Value in Account Currency")

#: CoinTracking's types (https://cointracking.freshdesk.com/en/support/solutions/articles/29000047245-loans-and-their-repayments,
#: https://cointracking.freshdesk.com/en/support/solutions/articles/29000042783-transaction-types)
_COINTRACKING_TYPE = {Role.LOAN: "Receive Loan", Role.REPAYMENT: "Repay Loan", Role.FEE: "Borrowing Fee",
                      Role.LIQUIDATION: "Liquidation", Role.TRADE: "Trade", Role.DEPOSIT: "Deposit",
                      Role.WITHDRAWAL: "Withdrawal"}


def _cointracking(row: TaxRow) -> list[str]:
    ev = row.event
    return [_COINTRACKING_TYPE[row.role], *_amount(row.received), *_amount(row.sent), "", "", ev.venue, ev.account,
            _description(ev), _utc(ev.ts, "%Y-%m-%d %H:%M:%S"), _tx_id(row), "", ""]


# --- writers ---------------------------------------------------------------------------------------


async def _write(events: AsyncIterable[LoanEvent], out: IO[bytes], header: Sequence[str],
                 cells: Callable[[TaxRow], list[str]]) -> int:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    rows = 0
    async for ev in events:
        for row in tax_rows(ev):
            writer.writerow(cells(row))
            rows += 1
        if buf.tell() >= 1 << 16:
            out.write(buf.getvalue().encode())
            buf.seek(0)
            buf.truncate()
    out.write(buf.getvalue().encode())
    return rows


async def write_koinly(events: AsyncIterable[LoanEvent], out: IO[bytes]) -> int:
    """Koinly universal CSV (UTF-8, a header row, ``\\n`` line ends); returns the rows written."""
    return await _write(events, out, KOINLY_HEADER, _koinly)


async def write_cointracking(events: AsyncIterable[LoanEvent], out: IO[bytes]) -> int:
    """CoinTracking CSV (UTF-8, a header row, ``\\n`` line ends); returns the rows written."""
    return await _write(events, out, COINTRACKING_HEADER, _cointracking)
