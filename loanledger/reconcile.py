"""Reconciliation: the ledger's debt and collateral books against each venue's own positions.

A venue reports what an account owes and has pledged *now*, per product: a
`Position` per (scope, currency). A `Scope` says which feeds record that
product's movements, which books its position endpoint reports, and which
difference the feeds cannot see by design (a `Residual` with a name: interest
no feed records, a loan opened with no record, ...). `reconcile()` sums the
ledger's settled events of the scope's feeds per currency and compares:

- `matched`: the position equals the sum to the last decimal;
- `explained`: they differ by a residual of the scope's named kind (and sign):
  reported as what it is, with its amount, never as a match;
- `differs`: anything else (the CLI exits 1);
- `unchecked`: the ledger holds a book the venue reports no figure for (the
  scope does not report that book, or the venue's row leaves it out).

Pending events are never summed; their total is shown beside the check.
`Ledger.reconcile()` reads the positions and sums the store; what it could not
compare at all (a venue with no position endpoint read, a scope whose feeds were
never synced) is listed in `ReconcileReport.skipped`, with the reason.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from ._money import EXACT

__all__ = ["Book", "Check", "Position", "ReconcileReport", "Residual", "Scope", "Verdict", "compare"]

ZERO = Decimal(0)


class Book(enum.StrEnum):
    """The books a venue position can be compared on (the wallet is not reconciled)."""

    DEBT = "debt"
    COLLATERAL = "collateral"


class Verdict(enum.StrEnum):
    MATCHED = "matched"
    EXPLAINED = "explained"
    DIFFERS = "differs"
    UNCHECKED = "unchecked"


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """What a venue reports for one scope and currency now (None: the venue gives no such figure)."""

    venue: str
    account: str
    scope: str
    currency: str
    debt: Decimal | None = None
    collateral: Decimal | None = None
    ts: int = 0  # the venue's clock when read (ms)


@dataclass(frozen=True, slots=True)
class Residual:
    """A difference (position - ledger) the scope's feeds cannot record, by name.

    `sign`: +1 the residual is never negative, -1 never positive, 0 either way.
    """

    name: str
    why: str
    sign: int = 0

    def admits(self, difference: Decimal) -> bool:
        return self.sign == 0 or (difference > 0 if self.sign > 0 else difference < 0)


@dataclass(frozen=True, slots=True)
class Scope:
    """A venue product whose position endpoint covers the events of `feeds`.

    `books`: the books its position reports; `residuals`: per book, the named
    residual that book may show (see the module docstring).
    """

    id: str
    feeds: tuple[str, ...]
    books: tuple[Book, ...] = (Book.DEBT, Book.COLLATERAL)
    residuals: Mapping[Book, Residual] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True, slots=True)
class Check:
    """One (venue, account, scope, currency, book) comparison."""

    venue: str
    account: str
    scope: str
    currency: str
    book: Book
    position: Decimal | None
    computed: Decimal
    difference: Decimal
    verdict: Verdict
    explanation: str = ""
    pending: Decimal = ZERO

    @property
    def ok(self) -> bool:
        return self.verdict is not Verdict.DIFFERS


@dataclass(slots=True)
class ReconcileReport:
    """Every check of one reconciliation, in a stable order; `errors` per account that could not be
    read (``venue:account`` -> why); `skipped`: what was not compared at all and why
    (``venue:account`` or ``venue:account:scope`` -> reason)."""

    checks: list[Check] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for c in self.checks if c.verdict is verdict)

    @property
    def explained(self) -> list[Check]:
        return [c for c in self.checks if c.verdict is Verdict.EXPLAINED]

    @property
    def ok(self) -> bool:
        return not self.errors and all(c.ok for c in self.checks)

    @property
    def differences(self) -> list[Check]:
        return [c for c in self.checks if c.verdict is Verdict.DIFFERS]

    def table(self) -> str:
        """A plain-text table (amounts in plain notation, never rounded)."""
        head = ["venue", "account", "scope", "currency", "book", "venue says", "ledger", "difference", "verdict"]
        rows = [
            [c.venue, c.account, c.scope, c.currency, c.book.value,
             "-" if c.position is None else format(c.position, "f"), format(c.computed, "f"),
             format(c.difference, "f"), c.verdict.value + (f": {c.explanation}" if c.explanation else "")]
            for c in self.checks
        ]
        rows += [[label, "", "", "", "", "", "", "", f"ERROR {err}"] for label, err in self.errors.items()]
        rows += [[label, "", "", "", "", "", "", "", f"skipped: {why}"] for label, why in self.skipped.items()]
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        return "\n".join(lines)


def _sub(a: Decimal, b: Decimal) -> Decimal:
    with decimal.localcontext(EXACT):
        return a - b


def compare(
    venue: str,
    account: str,
    scope: Scope,
    positions: Iterable[Position],
    computed: Mapping[str, Mapping[Book, Decimal]],
    pending: Mapping[str, Mapping[Book, Decimal]] | None = None,
) -> list[Check]:
    """The checks of one scope: `positions` (the venue's rows of this scope), `computed` and
    `pending` (currency -> book -> the ledger's settled / pending sums of the scope's feeds).

    A currency the venue lists for a book it reports, or one the ledger holds a non-zero
    book in, is checked; a currency missing on one side counts as zero there (a position
    endpoint lists only what is open). A book the venue does not report is `unchecked`
    wherever the ledger holds a non-zero sum.
    """
    pending = pending or {}
    rows: dict[str, Position] = {}
    for p in positions:
        if p.scope != scope.id:
            continue
        if p.currency in rows:  # one row per currency: add the venue's rows (e.g. several orders)
            prev = rows[p.currency]
            p = msgspec.structs.replace(
                p,
                debt=_add(prev.debt, p.debt),
                collateral=_add(prev.collateral, p.collateral),
            )
        rows[p.currency] = p
    out: list[Check] = []
    for book in (Book.DEBT, Book.COLLATERAL):
        reported = book in scope.books
        currencies = {c for c, books in computed.items() if books.get(book, ZERO) != 0}
        if reported:
            currencies |= {c for c, p in rows.items() if _value(p, book) is not None and _value(p, book) != 0}
        for ccy in sorted(currencies):
            ours = computed.get(ccy, {}).get(book, ZERO)
            waiting = pending.get(ccy, {}).get(book, ZERO)
            if not reported:
                out.append(Check(venue, account, scope.id, ccy, book, None, ours, ZERO, Verdict.UNCHECKED,
                                 "the venue reports no position for this book", waiting))
                continue
            row = rows.get(ccy)
            figure = None if row is None else _value(row, book)
            if row is not None and figure is None:  # the venue lists the currency without this book's figure
                out.append(Check(venue, account, scope.id, ccy, book, None, ours, ZERO, Verdict.UNCHECKED,
                                 "the venue's position gives no figure for this book", waiting))
                continue
            theirs = ZERO if figure is None else figure  # not listed: nothing open there
            diff = _sub(theirs, ours)
            residual = scope.residuals.get(book)
            if diff == 0:
                verdict, why = Verdict.MATCHED, ""
            elif residual is not None and residual.admits(diff):
                verdict, why = Verdict.EXPLAINED, f"{residual.name} ({residual.why})"
            else:
                verdict, why = Verdict.DIFFERS, ""
            out.append(Check(venue, account, scope.id, ccy, book, theirs, ours, diff, verdict, why, waiting))
    return out


def _value(p: Position | None, book: Book) -> Decimal | None:
    if p is None:
        return None
    return p.debt if book is Book.DEBT else p.collateral


def _add(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None or b is None:
        return b if a is None else a
    with decimal.localcontext(EXACT):
        return a + b


def scopes_of(feeds: Sequence[str], scopes: Iterable[Scope]) -> list[Scope]:
    """The scopes whose feeds include any of `feeds`."""
    wanted = set(feeds)
    return [s for s in scopes if wanted & set(s.feeds)]
