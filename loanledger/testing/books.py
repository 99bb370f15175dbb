"""The state of a simulated account: free wallet, debt and collateral, per scope and currency.

Every venue simulator keeps one `AccountBooks` per account. Each activity (a borrow,
a repay, interest accruing, a pledge, a liquidation, an action) changes it with
`move()` and writes the history records the way the venue does; every position
endpoint reads it. A move the venue records in no feed (interest accruing on a
Bybit flexible loan, a Binance bankruptcy loan being opened, ...) is also added to
`unrecorded`, under the name of the residual the product reports for it, so a test
can check both halves exactly: the ledger's books equal the state minus what no
feed records, and the reconciliation's explained residuals equal what no feed
records.

Amounts are exact: every sum runs in a context that raises rather than rounds.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from decimal import Decimal

from .._money import EXACT

__all__ = ["AccountBooks", "BOOKS"]

#: the three books, as LoanEvent names them
BOOKS = ("wallet", "debt", "collateral")
_ZERO = Decimal(0)


def _add(table: dict[tuple[str, ...], Decimal], key: tuple[str, ...], value: Decimal) -> None:
    if not value:
        return
    with decimal.localcontext(EXACT):
        total = table.get(key, _ZERO) + value
    if total:
        table[key] = total
    else:
        table.pop(key, None)


@dataclass
class AccountBooks:
    """One simulated account's books. Keys: wallet (currency,); debt and collateral (scope, currency);
    unrecorded (scope, book, currency, residual name)."""

    wallet: dict[tuple[str, ...], Decimal] = field(default_factory=dict)
    debt: dict[tuple[str, ...], Decimal] = field(default_factory=dict)
    collateral: dict[tuple[str, ...], Decimal] = field(default_factory=dict)
    unrecorded: dict[tuple[str, ...], Decimal] = field(default_factory=dict)

    def move(
        self,
        scope: str,
        currency: str,
        *,
        wallet: Decimal = _ZERO,
        debt: Decimal = _ZERO,
        collateral: Decimal = _ZERO,
        unrecorded: str | None = None,
    ) -> None:
        """Apply one change of the three books in `currency` (signed, as LoanEvent's fields).
        `unrecorded`: the name of the residual under which no feed records this move."""
        _add(self.wallet, (currency,), wallet)
        _add(self.debt, (scope, currency), debt)
        _add(self.collateral, (scope, currency), collateral)
        if unrecorded is not None:
            for book, value in (("wallet", wallet), ("debt", debt), ("collateral", collateral)):
                _add(self.unrecorded, (scope, book, currency, unrecorded), value)

    def owed(self, scope: str, currency: str) -> Decimal:
        return self.debt.get((scope, currency), _ZERO)

    def pledged(self, scope: str, currency: str) -> Decimal:
        return self.collateral.get((scope, currency), _ZERO)

    def free(self, currency: str) -> Decimal:
        return self.wallet.get((currency,), _ZERO)

    def currencies(self, scope: str) -> set[str]:
        """The currencies with a non-zero debt or collateral in `scope`."""
        return {c for (s, c) in self.debt if s == scope} | {c for (s, c) in self.collateral if s == scope}

    def recorded(self, book: str) -> dict[tuple[str, ...], Decimal]:
        """`book` (wallet: by currency; debt / collateral: by scope and currency) minus every
        unrecorded move: what the venue's feeds account for."""
        table = dict(getattr(self, book))
        for (scope, b, ccy, _name), value in self.unrecorded.items():
            if b == book:
                _add(table, (ccy,) if book == "wallet" else (scope, ccy), value.copy_negate())
        return table
