"""What does exporting 1M events cost per format: rows written, file size, wall time, peak RSS?

A generated three-book history (loanledger.testing.ledgers: borrows, repays, interest, pledges,
releases, liquidations and conversions over three venues, amounts with 8 and 18 decimals) is
written into a SQLite ledger, then each format is exported by the real command in a fresh
process (`python -m loanledger export --db L --format F --output FILE`, and `loanledger report`),
timed from start to exit; its peak RSS is the process's own high-water mark (VmHWM), printed
as it exits. The ledger is built once and reused when it already holds the asked-for number of
events (`--dir`).

    python benchmarks/export.py [--events 1000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loanledger import FeedKey, LoanEvent, SQLiteStore
from loanledger.testing.ledgers import three_book_events

__all__ = ["FORMATS", "ExportRun", "build_ledger", "main", "run", "table"]

FORMATS = ("jsonl", "csv", "msgpack", "parquet", "beancount", "koinly", "cointracking", "report")
PAGE = 5_000


@dataclass(frozen=True, slots=True)
class ExportRun:
    format: str
    events: int
    rows: str  # what the command reports it wrote ("1000000 events", "812345 rows", ...)
    bytes: int
    seconds: float
    peak_rss_mb: float


async def _fill(db: Path, n: int) -> None:
    pages: dict[FeedKey, list[LoanEvent]] = {}
    tokens: dict[FeedKey, str | None] = {}
    async with SQLiteStore(db) as store:
        async def flush(key: FeedKey) -> None:
            token = f"p{len(pages[key])}-{time.monotonic_ns()}"
            await store.commit_page(key, pages[key], token, expected=tokens.get(key))
            tokens[key] = token
            pages[key] = []

        for ev in three_book_events(n, seed=2026, mean_gap_ms=60_000):
            key = FeedKey(ev.venue, ev.account, ev.feed)
            pages.setdefault(key, []).append(ev)
            if len(pages[key]) >= PAGE:
                await flush(key)
        for key in list(pages):
            if pages[key]:
                await flush(key)


async def _count(db: Path) -> int:
    async with SQLiteStore(db, read_only=True) as store:
        return sum(n for *_, n in await store.summary())


def build_ledger(db: Path, n: int, note: Callable[[str], None] = lambda s: None) -> float:
    """A ledger of `n` generated events at `db` (reused if it has them); seconds spent building."""
    if db.exists() and asyncio.run(_count(db)) == n:
        return 0.0
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    asyncio.run(_fill(db, n))
    note(f"built a ledger of {n:,} events in {time.perf_counter() - started:.0f} s")
    return time.perf_counter() - started


#: runs the command's main() and, at exit, prints the process's own peak RSS (VmHWM, kB) on stderr.
#: (ru_maxrss of a child is unusable here: Linux carries the parent's high-water mark across fork + exec.)
_WRAPPER = ("import atexit, sys\n"
            "def hwm():\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith('VmHWM:'):\n"
            "            print('VmHWM', line.split()[1], file=sys.stderr)\n"
            "atexit.register(hwm)\n"
            "from loanledger.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")


def _export(db: Path, fmt: str, out: Path) -> tuple[str, float, float]:
    if fmt == "report":
        args = ["report", "--db", str(db), "--output", str(out)]
    else:
        args = ["export", "--db", str(db), "--format", fmt, "--output", str(out)]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    lines = done.stderr.strip().splitlines()
    if done.returncode != 0 or len(lines) < 2 or not lines[-1].startswith("VmHWM"):
        raise RuntimeError(f"loanledger {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return lines[-2], seconds, int(lines[-1].split()[1]) / 1024


def run(n: int, directory: Path, progress: Callable[[str], None] = lambda s: None) -> list[ExportRun]:
    db = directory / f"export-bench-{n}.db"
    build_ledger(db, n, progress)
    runs = []
    for fmt in FORMATS:
        out = directory / f"export-bench.{fmt}"
        said, seconds, rss = _export(db, fmt, out)
        rows = said.split(",")[0].removeprefix("report of ") if fmt == "report" else \
            said.split(" to ")[0].removeprefix("exported ")
        runs.append(ExportRun(fmt, n, rows, out.stat().st_size, seconds, rss))
        progress(f"{fmt}: {rows}, {out.stat().st_size:,} bytes, {seconds:.1f} s, peak RSS {rss:.0f} MB")
        out.unlink()
    return runs


def table(runs: list[ExportRun]) -> str:
    head = "| format | written | file size | time | events/s | peak RSS |\n|---|---|---|---|---|---|"
    lines = [head]
    for r in runs:
        size = f"{r.bytes / 1e6:,.1f} MB" if r.bytes >= 1e6 else f"{r.bytes / 1e3:,.0f} kB"
        lines.append(f"| {r.format} | {r.rows} | {size} | {r.seconds:.1f} s | "
                     f"{r.events / r.seconds:,.0f} | {r.peak_rss_mb:.0f} MB |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--dir", help="where the ledger and the exports go (default: a temporary directory)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(args.dir) if args.dir else Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        runs = run(args.events, directory, lambda s: print(f"  {s}", file=sys.stderr, flush=True))
    print(table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
