"""Beancount: the ledger as plain-text double-entry books (https://beancount.github.io/docs/).

One transaction per settled event, its postings taken from the event's three books
(docs/EVENTS.md), per venue V and account A:

- ``Assets:V:A:Wallet``        the free wallet (`amount`; a counter leg in its own currency)
- ``Liabilities:V:A:Loans``    what is owed (minus `debt`: a liability is negative)
- ``Assets:V:A:Collateral``    what is pledged (`collateral`)
- ``Expenses:V:A:Interest``    balances an `interest` event: what the interest cost
- ``Equity:V:A:Conversions``   balances every other event: a trading account, so a conversion
  or a loan keeps both legs as units, each currency balancing on its own (no prices, no costs)
- ``Equity:V:A:Opening-Balances`` the books before ``since`` when the export starts there

After each event's book postings comes one balancing posting per currency that does not sum
to zero (computed exactly). Pending and failed events are left out, as `Store.balances`
leaves them out. The file ends with a ``balance`` assertion for every wallet, loan and
collateral account and currency, dated the day after the last exported event (Beancount
checks an assertion at the start of its day) with the explicit tolerance ``~ 0``; the asserted
figures are the store's own exact sums (`Store.balances`), not the postings added up again, so
``bean-check`` cross-checks the export against the store. Where a reconciliation matched, those
sums are the venues' own positions.

Names: venue and account labels become account components (``okx-main`` -> ``Okx-main``),
currency codes become commodities valid for Beancount 2 and 3 (``1INCH`` -> ``X1INCH``, the
original kept as ``name:`` metadata); two originals never share a name (a short hash
disambiguates). Numbers are written in plain notation, every digit kept.

Precision: Beancount adds numbers in Python's default decimal context, 28 significant digits.
Exchange amounts with 18 decimals and many integer digits need more, and then a plain
``bean-check`` reports false balance errors. The export ends with a comment giving the precision
its sums need and the command that checks it under that precision; an amount that would need
more than `MAX_PRECISION` digits is refused (`ExportError` naming the event), never rounded.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import IO

from .._money import EXACT
from ..errors import LoanLedgerError
from ..events import EventKind, EventStatus, LoanEvent
from ..store.base import Balance, Store

__all__ = ["DEFAULT_PRECISION", "MAX_PRECISION", "BeancountNames", "ExportError", "check_command", "write_beancount"]

#: Python's default decimal precision, which Beancount computes in
DEFAULT_PRECISION = 28
#: the most significant digits a sum may need: the exporter refuses a ledger that needs more
MAX_PRECISION = 100

_ZERO = Decimal(0)
_COMMODITY = re.compile(r"[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]")  # portable: Beancount 2 and 3 lexers
_COMPONENT = re.compile(r"[A-Z0-9][A-Za-z0-9-]*")
_LINK_BAD = re.compile(r"[^A-Za-z0-9_/.-]")


class ExportError(LoanLedgerError):
    """An event the target format cannot hold exactly (the export stops; nothing is rounded)."""


def check_command(path: str, precision: int) -> str:
    """The shell command that runs Beancount's own checker under `precision` digits."""
    return (f"python -c 'import decimal; decimal.getcontext().prec = {precision}; "
            f"from beancount.scripts.check import main; main()' --no-cache {path}")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6].upper()


class BeancountNames:
    """Injective maps from venue/account labels and currency codes to Beancount names."""

    def __init__(self) -> None:
        self._components: dict[str, str] = {}
        self._taken_components: dict[str, str] = {}
        self._commodities: dict[str, str] = {}
        self._taken_commodities: dict[str, str] = {}

    def component(self, label: str) -> str:
        """An account component for `label` (first letter upper-case, other characters [A-Za-z0-9-])."""
        name = self._components.get(label)
        if name is None:
            base = re.sub(r"[^A-Za-z0-9-]", "-", label) or "X"
            base = base[0].upper() + base[1:]
            if not _COMPONENT.fullmatch(base):
                base = "X" + base
            name = base if base not in self._taken_components else f"{base}-{_hash(label)}"
            if name in self._taken_components:
                raise ExportError(f"labels {label!r} and {self._taken_components[name]!r} map to one Beancount "
                                  f"account component {name!r}")
            self._components[label], self._taken_components[name] = name, label
        return name

    def commodity(self, code: str) -> str:
        """A commodity for currency `code`, valid in Beancount 2 and 3."""
        name = self._commodities.get(code)
        if name is None:
            name = code.upper()
            if not _COMMODITY.fullmatch(name):
                if _COMMODITY.fullmatch("X" + name):  # a leading digit: 1INCH -> X1INCH
                    name = "X" + name
                else:
                    name = f"X{re.sub(r'[^A-Z0-9]', '-', name)[:16]}-{_hash(code)}"
            if name in self._taken_commodities:  # another code upper-cases or maps to it
                name = f"{name[:17]}-{_hash(code)}"
            if name in self._taken_commodities:
                raise ExportError(f"currencies {code!r} and {self._taken_commodities[name]!r} map to one Beancount "
                                  f"commodity {name!r}")
            self._commodities[code], self._taken_commodities[name] = name, code
        return name


def _q(text: str) -> str:
    """A Beancount string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _plain(number: Decimal) -> str:
    """Plain notation, every digit (a zero without its sign: Beancount reads ``-0`` as 0 anyway)."""
    return format(number.copy_abs() if not number else number, "f")


def _day(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).date()


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Digits:
    """The significant digits Beancount's sums of this ledger need (an upper bound)."""

    def __init__(self) -> None:
        self.integer = 1
        self.fraction = 0

    def see(self, text: str, value: Decimal) -> None:
        """A posting or assertion number (`text` its plain notation)."""
        dot = text.find(".")
        if dot >= 0:
            self.fraction = max(self.fraction, len(text) - dot - 1)
        self.sum(value)

    def sum(self, value: Decimal) -> None:
        """A sum (its fractional digits never exceed those of the numbers added)."""
        if value:
            self.integer = max(self.integer, value.adjusted() + 1)

    @property
    def needed(self) -> int:
        return self.integer + self.fraction


class _Writer:
    def __init__(self, out: IO[bytes], names: BeancountNames, *, opening: bool) -> None:
        self.out, self.names, self.with_opening = out, names, opening
        self.opened: set[tuple[str, str]] = set()
        self.commodities: set[str] = set()
        self.running: dict[tuple[str, str], Decimal] = {}  # (account, commodity) -> exact balance
        self.digits = _Digits()
        self.transactions = 0
        self.names_of: dict[tuple[str, str], dict[str, str]] = {}

    def write(self, text: str) -> None:
        self.out.write(text.encode())

    def accounts(self, venue: str, account: str) -> dict[str, str]:
        acc = self.names_of.get((venue, account))
        if acc is None:
            base = f"{self.names.component(venue)}:{self.names.component(account)}"
            acc = {"wallet": f"Assets:{base}:Wallet", "collateral": f"Assets:{base}:Collateral",
                   "loans": f"Liabilities:{base}:Loans", "interest": f"Expenses:{base}:Interest",
                   "conversions": f"Equity:{base}:Conversions"}
            if self.with_opening:
                acc["opening"] = f"Equity:{base}:Opening-Balances"
            self.names_of[(venue, account)] = acc
        return acc

    def open(self, venue: str, account: str, day: dt.date) -> dict[str, str]:
        acc = self.accounts(venue, account)
        if (venue, account) not in self.opened:
            self.opened.add((venue, account))
            lines = [f"{day} open {a}\n  venue: {_q(venue)}\n  account: {_q(account)}\n" for a in acc.values()]
            self.write("\n" + "".join(lines))
        return acc

    def commodity(self, code: str, day: dt.date) -> str:
        name = self.names.commodity(code)
        if name not in self.commodities:
            self.commodities.add(name)
            self.write(f"\n{day} commodity {name}\n  name: {_q(code)}\n")
        return name

    def posting_lines(self, postings: list[tuple[str, Decimal, str]], day: dt.date, what: str) -> list[str]:
        lines = []
        partial: dict[str, Decimal] = {}
        add = EXACT.add  # exact: raises rather than rounds
        for account, number, code in postings:
            commodity = self.commodity(code, day)
            key = (account, commodity)
            text = _plain(number)
            self.running[key] = total = add(self.running.get(key, _ZERO), number)
            partial[commodity] = part = add(partial.get(commodity, _ZERO), number)
            self.digits.see(text, number)
            self.digits.sum(total)
            self.digits.sum(part)
            if self.digits.needed > MAX_PRECISION:
                raise ExportError(f"{what}: {text} {code} in {account} needs more than {MAX_PRECISION} "
                                  "significant digits; Beancount cannot check it exactly")
            lines.append(f"  {account}  {text} {commodity}\n")
        return lines

    def transaction(self, ev: LoanEvent) -> None:
        moment = dt.datetime.fromtimestamp(ev.ts / 1000, dt.UTC)
        day = moment.date()
        acc = self.open(ev.venue, ev.account, day)
        postings: list[tuple[str, Decimal, str]] = []
        if ev.amount:
            postings.append((acc["wallet"], ev.amount, ev.currency))
        if ev.debt:
            postings.append((acc["loans"], ev.debt.copy_negate(), ev.currency))
        if ev.collateral:
            postings.append((acc["collateral"], ev.collateral, ev.currency))
        if ev.counter_currency is not None and ev.counter_amount:
            postings.append((acc["wallet"], ev.counter_amount, ev.counter_currency))
        residual: dict[str, Decimal] = {}
        for _, number, code in postings:
            residual[code] = EXACT.subtract(residual.get(code, _ZERO), number)
        balancing = acc["interest"] if ev.kind is EventKind.INTEREST else acc["conversions"]
        postings += [(balancing, r, code) for code, r in residual.items() if r]
        what = f"event {ev.venue}/{ev.account}/{ev.feed}/{ev.id}"
        body = self.posting_lines(postings, day, what)
        link = f" ^{_LINK_BAD.sub('-', f'{ev.venue}-{ev.ref_id}')}" if ev.ref_id else ""
        narration = f"{ev.kind.value} {ev.currency}" + (f" ({ev.venue_type})" if ev.venue_type else "")
        iso = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        meta = [f"  id: {_q(ev.id)}\n", f"  feed: {_q(ev.feed)}\n", f"  ts: {_q(iso)}\n"]
        if ev.ref_id:
            meta.append(f"  ref: {_q(ev.ref_id)}\n")
        if ev.parent_id:
            meta.append(f"  parent: {_q(ev.parent_id)}\n")
        self.write(f"\n{day} * {_q(ev.venue + '/' + ev.account)} {_q(narration)}{link}\n" + "".join(meta)
                   + "".join(body))
        self.transactions += 1

    def book_postings(self, acc: dict[str, str], code: str, b: Balance) -> list[tuple[str, Decimal, str]]:
        out = []
        if b.wallet:
            out.append((acc["wallet"], b.wallet, code))
        if b.debt:
            out.append((acc["loans"], b.debt.copy_negate(), code))
        if b.collateral:
            out.append((acc["collateral"], b.collateral, code))
        return out


async def write_beancount(
    store: Store,
    out: IO[bytes],
    *,
    venue: str | None = None,
    account: str | None = None,
    feed: str | None = None,
    since: int | None = None,
    until: int | None = None,
    path_hint: str = "ledger.beancount",
) -> int:
    """Write the store's settled events (filtered like `Store.events`) as a Beancount ledger to
    `out`; returns the number of transactions. With `since`, the books before it are one opening
    transaction per account. `path_hint` names the file in the closing check command."""
    feeds = [feed] if feed is not None else None
    w = _Writer(out, BeancountNames(), opening=since is not None)
    w.write(f"; loanledger export: one transaction per settled event, balance assertions from the store\n"
            f"; (the last lines give the decimal precision checking this file needs)\n"
            f'option "title" {_q("loanledger")}\n')
    last: dt.date | None = None
    if since is not None:
        opening = await store.balances(venue=venue, account=account, feeds=feeds, until=since - 1)
        day = _day(since)
        by_account: dict[tuple[str, str], list[tuple[str, Balance]]] = {}
        for k, b in opening.items():
            by_account.setdefault((k.venue, k.account), []).append((k.currency, b))
        for (v, a), books in by_account.items():
            acc = w.open(v, a, day)
            postings = [p for code, b in books for p in w.book_postings(acc, code, b)]
            with decimal.localcontext(EXACT):
                postings += [(acc["opening"], n.copy_negate(), code) for _, n, code in list(postings)]
            if postings:
                body = w.posting_lines(postings, day, f"opening balances of {v}/{a}")
                w.write(f"\n{day} * {_q(v + '/' + a)} {_q('opening balances before ' + _iso(since))}\n"
                        + "".join(body))
                w.transactions += 1
                last = day
    events: AsyncIterator[LoanEvent] = store.events(venue=venue, account=account, feed=feed, since=since, until=until)
    last_ts: int | None = None
    try:
        async for ev in events:
            if ev.status is not EventStatus.DONE:
                continue
            w.transaction(ev)
            last_ts = ev.ts
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    if last_ts is not None:
        last = _day(last_ts)
    if last is not None:
        # the store's own sums, up to the last exported event (not the postings added up again)
        closing = await store.balances(venue=venue, account=account, feeds=feeds,
                                       until=last_ts if last_ts is not None else None if since is None else since - 1)
        check_day = last + dt.timedelta(days=1)
        lines = []
        for k, b in closing.items():
            acc = w.open(k.venue, k.account, last)
            commodity = w.commodity(k.currency, last)
            for account_name, number in ((acc["wallet"], b.wallet), (acc["loans"], b.debt.copy_negate()),
                                         (acc["collateral"], b.collateral)):
                text = _plain(number)
                w.digits.see(text, number)
                lines.append(f"{check_day} balance {account_name}  {text} ~ 0 {commodity}\n")
        w.write("\n" + "".join(lines))
    need = w.digits.needed
    if need <= DEFAULT_PRECISION:
        w.write(f"\n; sums need {need} significant digits: plain `bean-check {path_hint}` checks this file exactly\n")
    else:
        w.write(f"\n; sums need {need} significant digits, more than the 28 Beancount computes with by default:\n"
                f"; check it with  {check_command(path_hint, max(need, DEFAULT_PRECISION))}\n")
    return w.transactions
