"""What the command line shows on a console: sync progress, the sync report, tables.

Private to the `loanledger` command and the demo. Rich bars and tables on a
terminal when the `cli` extra (rich) is installed, plain lines otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from .ledger import FeedReport, SyncReport, SyncRun
from .reconcile import ReconcileReport, Verdict
from .store.base import Balance, BalanceKey

__all__ = [
    "BALANCE_HEADER",
    "Progress",
    "balance_rows",
    "balances_table",
    "drive",
    "failure_lines",
    "plain_table",
    "print_table",
    "reconcile_text",
    "reconcile_verdict",
    "report_table",
    "use_rich",
]


def use_rich(stream: IO[str]) -> bool:
    """Rich output only on a terminal, and only if rich is installed."""
    if not stream.isatty():
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def _status(f: FeedReport) -> str:
    return "done" if f.done else "FAILED" if not f.ok else "syncing"


@dataclass
class Progress:
    """Per-feed progress on `out`: rich bars, or a plain line whenever a feed's count changes.
    A failure shows as FAILED here; its message is printed once, after the sync
    (`failure_lines`)."""

    report: SyncReport
    out: IO[str]
    rich: bool
    finished: bool = False  # the sync ran to its end: show the final state (not after Ctrl-C)
    _last: dict[str, tuple[int, int, str]] = field(default_factory=dict)

    async def run(self) -> None:
        if self.rich:
            await self._rich()
        else:
            while True:
                self.plain()
                await asyncio.sleep(0.5)

    def plain(self) -> None:
        for f in self.report.feeds:
            state = (f.pages, f.events, _status(f))
            if state == (0, 0, "syncing"):
                continue  # nothing to say until the first page
            if self._last.get(str(f.key)) != state:
                self._last[str(f.key)] = state
                print(f"{f.key}: {f.pages} pages, {f.events} new events, {state[2]}", file=self.out, flush=True)

    async def _rich(self) -> None:
        from rich.console import Console
        from rich.progress import Progress as Bars
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(file=self.out)
        with Bars(SpinnerColumn(), TextColumn("{task.description:<58}"), TextColumn("{task.fields[stat]}"),
                  TimeElapsedColumn(), console=console, transient=False) as bars:
            tasks = {str(f.key): bars.add_task(str(f.key), total=None, stat="") for f in self.report.feeds}
            try:
                while True:
                    self._refresh(bars, tasks)
                    await asyncio.sleep(0.2)
            finally:
                if self.finished:
                    self._refresh(bars, tasks)

    def _refresh(self, bars: Any, tasks: dict[str, Any]) -> None:
        for f in self.report.feeds:
            status = "[green]done" if f.done else "[red]FAILED" if not f.ok else "syncing"
            ended = f.done or not f.ok
            bars.update(tasks[str(f.key)], stat=f"{f.pages:>4} pages {f.events:>7} events  {status}",
                        total=1 if ended else None, completed=1 if ended else 0)


async def drive(run: SyncRun, err: IO[str], *, progress: bool) -> SyncReport:
    """Consume a sync to its end (the events themselves are not needed here), with progress
    on `err`; returns its report."""
    bar = Progress(run.report, err, use_rich(err)) if progress else None
    ticker = asyncio.create_task(bar.run()) if bar is not None else None
    try:
        async for _ in run:
            pass
        if bar is not None:
            bar.finished = True
    finally:
        await run.aclose()
        if ticker is not None:
            ticker.cancel()
            try:
                await ticker
            except asyncio.CancelledError:
                pass
        if bar is not None and bar.finished and not bar.rich:
            bar.plain()
    return run.report


def report_table(report: SyncReport) -> str:
    """The per-feed report as plain text; a failed feed shows its error class only (the
    message is in `failure_lines`, once)."""
    w = max([len("feed"), *(len(str(f.key)) for f in report.feeds)])
    head = f"{'feed':<{w}} {'events':>7} {'pages':>6} {'reqs':>5} {'waits':>7} {'gaps':>4}  status"
    lines = [head, "-" * len(head)]
    for f in report.feeds:
        status = "ok" if f.ok else "FAILED " + (f.error or "").split(":", 1)[0]
        lines.append(f"{str(f.key):<{w}} {f.events:>7} {f.pages:>6} {f.requests:>5} {f.wait_seconds:>6.1f}s "
                     f"{f.gaps:>4}  {status}")
    return "\n".join(lines)


def failure_lines(report: SyncReport) -> list[str]:
    """One line per failed feed, except that an account's authentication failure (a wrong
    key fails every feed of the account the same way) is one line for the account."""
    lines: list[str] = []
    auth: dict[tuple[str, str], list[FeedReport]] = {}
    for f in report.failed:
        if (f.error or "").startswith("AuthError:"):
            auth.setdefault((f.key.venue, f.key.account), []).append(f)
        else:
            lines.append(f"{f.key} failed: {f.error}")
    for (venue, account), feeds in auth.items():
        n = len(feeds)
        lines.append(f"{venue} account {account!r}: {n} feed{'s' if n != 1 else ''} failed authentication: "
                     f"{feeds[0].error}")
    return lines


def print_table(out: IO[str], title: str, header: list[str], rows: list[list[str]]) -> None:
    """A titled table (rich on a terminal), the last column right-aligned."""
    if use_rich(out):
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title)
        for i, h in enumerate(header):
            t.add_column(h, justify="right" if i >= len(header) - 1 else "left")
        for r in rows:
            t.add_row(*r)
        Console(file=out).print(t)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    print(f"\n{title}", file=out)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        print("  ".join(c.ljust(w) if i < len(r) - 1 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))), file=out)


# --- the books: balances and reconciliation ------------------------------------------------------
# Plain text always (never a rich table: a narrow terminal would crop a 38-digit amount), amounts in
# plain decimal notation, never rounded.

BALANCE_HEADER = ["venue", "account", "currency", "wallet", "debt", "collateral", "interest"]


def plain_table(header: list[str], rows: list[list[str]], *, right_from: int | None = None) -> str:
    """An aligned text table; columns from `right_from` on are right-aligned (amounts)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if right_from is not None and i >= right_from else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def balance_rows(balances: Mapping[BalanceKey, Balance]) -> list[list[str]]:
    return [[k.venue, k.account, k.currency, *(format(v, "f") for v in (b.wallet, b.debt, b.collateral, b.interest))]
            for k, b in balances.items()]


def balances_table(balances: Mapping[BalanceKey, Balance]) -> str:
    return plain_table(BALANCE_HEADER, balance_rows(balances), right_from=3)


def reconcile_verdict(report: ReconcileReport) -> list[str]:
    """The verdict in words: the counts, then each explained residual with its reason, each
    difference, each unreadable account and each skipped part (one line each)."""
    n = {v: report.count(v) for v in Verdict}
    counts = (f"{n[Verdict.MATCHED]} matched, {n[Verdict.EXPLAINED]} explained, "
              f"{n[Verdict.UNCHECKED]} unchecked, {n[Verdict.DIFFERS]} differ")
    if report.ok:
        head = f"reconciled: every check matched or explained ({counts})"
    else:
        why = []
        if n[Verdict.DIFFERS]:
            why.append(f"{n[Verdict.DIFFERS]} unexplained difference{'s' if n[Verdict.DIFFERS] != 1 else ''}")
        if report.errors:
            why.append(f"{len(report.errors)} account{'s' if len(report.errors) != 1 else ''} whose positions "
                       f"could not be read")
        head = f"NOT reconciled: {', '.join(why)} ({counts})"
    lines = [head]
    for c in report.checks:
        where = f"{c.venue}/{c.account} {c.scope} {c.currency} {c.book.value}"
        if c.verdict is Verdict.EXPLAINED:
            lines.append(f"explained: {where}: {format(c.difference, 'f')} is {c.explanation}")
        elif c.verdict is Verdict.DIFFERS:
            said = "nothing" if c.position is None else format(c.position, "f")
            lines.append(f"differs: {where}: the venue says {said}, the ledger "
                         f"{format(c.computed, 'f')} (difference {format(c.difference, 'f')})")
    lines += [f"error: {label}: {err}" for label, err in report.errors.items()]
    lines += [f"skipped: {label}: {why}" for label, why in report.skipped.items()]
    return lines


def reconcile_text(report: ReconcileReport) -> str:
    """The report's table, then the verdict in words (errors and skipped parts are in the table)."""
    words = [line for line in reconcile_verdict(report) if not line.startswith(("error:", "skipped:"))]
    return report.table() + "\n\n" + "\n".join(words)
