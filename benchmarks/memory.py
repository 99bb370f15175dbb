"""Peak RSS while streaming 10k vs 1M events through `async for`: the two must be within 10 %.

The measured process holds only the client path: a fresh Python process runs
``async for ev in okx.flexible_loan_history()`` with the real transport (signing,
pacing, aiohttp), decoder and paginator, counts the events and keeps none of them.
The venue is the simulator (loanledger.testing: signature checks, rate windows, the
OKX envelope) in another process, with its loan-history endpoint replaced by one
that builds each page on the fly from benchmarks/data.py: page k of the refId cursor
is a pure function of k, so the server holds no dataset either. The walk ends with a
short page after exactly `events` records.

Reported per run: events, pages, seconds, RSS after start-up (imports, client built),
peak RSS of the client process (VmHWM) and RSS sampled at 25/50/75/100 % of the walk
(psutil).

    python benchmarks/memory.py [--small 10000] [--large 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data  # noqa: E402

__all__ = ["MemoryRun", "main", "run", "table"]

FEED = "okx.flexible_loan_history"
OKX_KEY = ("bench-okx-key", "bench-okx-secret", "bench-okx-pass")
#: limits x this on both sides: pacing still runs, it just never has to wait long
RATE_SCALE = 2000.0


# --- the venue process ------------------------------------------------------------------------------


def _serve(conn: Connection, seed: int) -> None:
    asyncio.run(_serve_async(conn, seed))


async def _serve_async(conn: Connection, seed: int) -> None:
    from loanledger.testing import Simulator
    from loanledger.testing.server import SimCall, SimError
    from loanledger.venues.okx import LOAN_HISTORY

    total = 0
    sim = Simulator(rate_scale=RATE_SCALE)
    sim.okx.add_account(*OKX_KEY, label="okx-memory")

    async def loan_history(call: SimCall) -> Any:
        """refId paging over `total` generated records (after = older than that refId)."""
        after = call.params.get("after")
        limit = int(call.params.get("limit", "100"))
        if limit != data.PAGE_SIZE:
            raise SimError("51000", "Parameter limit error", 400)
        first = 0 if after is None else data.ref_index(after) + 1
        if first < 0:
            raise SimError("51000", "Parameter after error", 400)
        # any `after`, not only a page boundary: the client asks again from inside a page when it
        # holds a liquidation episode back for the next page (feeds.Held)
        page, skip = divmod(first, data.PAGE_SIZE)
        rows = data.page_records(FEED, page, seed=seed)[skip:]
        if skip:
            rows += data.page_records(FEED, page + 1, seed=seed)[:skip]
        rows = rows[: max(0, total - first)]
        sim.log.clear()  # the venue process keeps nothing either
        return rows

    sim.okx.route("GET", LOAN_HISTORY.path, loan_history, limit=LOAN_HISTORY.limit)
    loop = asyncio.get_running_loop()
    async with sim:
        conn.send(sim.base_url)
        while True:
            msg = await loop.run_in_executor(None, conn.recv)
            if msg[0] == "total":
                total = int(msg[1])
                conn.send("ok")
            else:
                conn.send("bye")
                return


# --- the measured client process --------------------------------------------------------------------------


def _rss() -> int:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with the bench extra
        return 0
    return int(psutil.Process().memory_info().rss)


async def _client(base_url: str, events: int) -> dict[str, Any]:
    from loanledger import OKX, RateLimits

    samples: list[int] = []
    marks = {events * q // 4 for q in (1, 2, 3)}
    async with OKX(*OKX_KEY, account="okx-memory", base_url=base_url, limits=RateLimits(scale=RATE_SCALE)) as okx:
        feed = okx.flexible_loan_history()
        start_rss = _rss()
        started = time.perf_counter()
        n = 0
        async for _ in feed:
            n += 1
            if n in marks:
                samples.append(_rss())
        seconds = time.perf_counter() - started
        samples.append(_rss())
    return {"events": n, "pages": feed.stats.pages, "seconds": seconds, "start_rss": start_rss,
            "samples": samples, "peak_rss": _peak_rss()}


def _peak_rss() -> int:
    """The peak RSS of this process's address space: VmHWM. (ru_maxrss is no good here:
    Linux carries the forking parent's high-water mark across fork + exec into it.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class MemoryRun:
    events: int
    pages: int
    seconds: float
    start_rss: int
    peak_rss: int
    samples: list[int]


def _measure(base_url: str, conn: Connection, events: int) -> MemoryRun:
    conn.send(("total", events))
    conn.recv()
    out = subprocess.run(
        [sys.executable, __file__, "--client", base_url, "--events", str(events)],
        check=True, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["events"] != events:
        raise RuntimeError(f"walk yielded {r['events']} events, expected {events}")
    return MemoryRun(r["events"], r["pages"], r["seconds"], r["start_rss"], r["peak_rss"], r["samples"])


def run(sizes: Sequence[int] = (10_000, 1_000_000), *, seed: int = data.SEED,
        progress: Callable[[str], None] | None = None) -> list[MemoryRun]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, seed), daemon=True)
    proc.start()
    try:
        base_url = parent.recv()
        out = []
        for n in sizes:
            out.append(_measure(base_url, parent, n))
            if progress is not None:
                progress(f"{n} events: peak RSS {out[-1].peak_rss / 2**20:.1f} MiB in {out[-1].seconds:.1f}s")
        parent.send(("stop",))
        parent.recv()
        return out
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()


def table(runs: Sequence[MemoryRun]) -> str:
    mib = 2**20
    head = ["events", "pages", "walk s", "events/s", "RSS at start MiB", "RSS at 25/50/75/100 % MiB",
            "peak RSS MiB", "peak vs smallest run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = runs[0].peak_rss
    for r in runs:
        lines.append("| " + " | ".join([
            f"{r.events:,}", f"{r.pages:,}", f"{r.seconds:.1f}", f"{r.events / r.seconds:,.0f}",
            f"{r.start_rss / mib:.1f}", " / ".join(f"{s / mib:.1f}" for s in r.samples), f"{r.peak_rss / mib:.1f}",
            f"{r.peak_rss / base - 1:+.1%}",
        ]) + " |")
    worst = max(r.peak_rss for r in runs) / base - 1
    lines.append("")
    lines.append(f"peak RSS of the largest run vs the smallest: {worst:+.1%} (target: within 10 %)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="peak RSS streaming a small and a large walk")
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--client", help=argparse.SUPPRESS)  # internal: run the measured walk against this URL
    ap.add_argument("--events", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.client:
        print(json.dumps(asyncio.run(_client(args.client, args.events))))
        return 0
    runs = run((args.small, args.large), progress=lambda m: print("  " + m, file=sys.stderr))
    print(table(runs))
    return 0 if max(r.peak_rss for r in runs) <= 1.10 * runs[0].peak_rss else 1


if __name__ == "__main__":
    raise SystemExit(main())
