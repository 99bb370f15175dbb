"""Item 6: load. 50 accounts per venue, every feed of every account syncing concurrently
against one simulator (one process, one RateLimits: the per-IP budgets are shared as the
venues count them) into a SQLite ledger: no rate-limit answer, every feed exactly the
dataset, no session or socket left open, and memory bounded by the pages in flight, not by
the records walked (a store on disk; a Ledger without a store keeps every event in a
MemoryStore)."""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest
from rel_support import RATE_CODES, Figures, World, feed_ids, world

from loanledger import Ledger, RateLimits, SQLiteStore

ACCOUNTS = 50
LOAD_SCALE = 100.0  # documented limits x100 on both sides: Binance's shared per-IP weight still binds
DAY_MS = 86_400_000


def open_fds() -> int | None:
    fd_dir = Path("/proc/self/fd")
    return len(os.listdir(fd_dir)) if fd_dir.is_dir() else None


@dataclass
class Load:
    feeds: int
    requests: int
    events: int
    peak: int  # bytes traced at the peak of the sync


async def sync_all(w: World, since: int | None, db: Path) -> Load:
    """Every feed of every account at once; checks exactly-once, rate answers, closed sockets."""
    gc.collect()
    fds_before = open_fds()
    log_before = len(w.sim.log)
    limits = RateLimits(scale=LOAD_SCALE)  # one process: one registry for every client
    clients = [c for i in range(ACCOUNTS) for c in w.clients(index=i, limits=limits)]
    pairs = feed_ids(clients)
    # exactly once, in constant memory: per feed, the count and two sums of the ids' hashes
    tally: dict[tuple[str, str], list[int]] = {(c.account, f): [0, 0, 0] for c, f in pairs}
    events = 0
    tracemalloc.start()
    try:
        async with Ledger(clients, store=SQLiteStore(db)) as ledger:
            run = ledger.sync(since=since)
            async for ev in run:  # consumed as it streams: nothing is kept
                t = tally[(ev.account, ev.feed)]
                h = hash(ev.id)
                t[0] += 1
                t[1] += h
                t[2] ^= h
                events += 1
            report = run.report
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok, report.table()
    for c, f in pairs:
        expected = w.venue(c.venue).expected_ids(c.account, f, since=since)
        want = [len(expected), sum(hash(i) for i in expected), 0]
        for i in expected:
            want[2] ^= hash(i)
        assert tally[(c.account, f)] == want, f"{c.account}/{f}: not the dataset exactly once"
    new = w.sim.log[log_before:]
    rate_answers = [r for r in new if r.code in RATE_CODES or r.status in (403, 418, 429)]
    assert not rate_answers, f"{len(rate_answers)} rate-limit answers, e.g. {rate_answers[0]}"
    assert all(c.closed for c in clients)
    del clients, ledger, run
    gc.collect()
    await asyncio.sleep(0.2)  # the server side notices the closed connections
    fds_after = open_fds()
    if fds_before is not None and fds_after is not None:
        assert fds_after <= fds_before + 2, f"{fds_after - fds_before} file descriptors left open"
    return Load(len(pairs), len(new), events, peak)


async def load(figures: Figures, tmp: Path, *, recent_days: int, more_days: int | None, scale: float) -> None:
    """Two syncs of the same 750 feeds: the recent days, then far more history. Memory is
    bounded if the peak barely moves while several times more records stream through."""
    async with world(seed=31, scale=scale, n=ACCOUNTS, rate_scale=LOAD_SCALE) as w:
        now = w.sim.now_ms()
        small = await sync_all(w, now - recent_days * DAY_MS, tmp / "recent.db")
        large = await sync_all(w, None if more_days is None else now - more_days * DAY_MS, tmp / "more.db")
    assert large.events > 3 * small.events
    assert large.peak < 1.5 * small.peak + 8 * 2**20, (
        f"peak {small.peak / 2**20:.1f} MiB for {small.events} events, {large.peak / 2**20:.1f} MiB for "
        f"{large.events}: memory grows with the records walked")
    for name, run in (("recent days", small), ("more history", large)):
        figures.add(**{
            "load: accounts x feeds synced concurrently": run.feeds, "load: requests": run.requests,
            "load: rate-limit answers": 0, f"load: events streamed ({name})": run.events,
            f"load: peak traced memory, KiB ({name})": run.peak // 1024,
        })


@pytest.mark.filterwarnings("ignore:.*keeps only:loanledger.DataGapWarning")
async def test_50_accounts_all_feeds_at_once(figures: Figures, tmp_path: Path) -> None:
    await load(figures, tmp_path, recent_days=2, more_days=60, scale=0.3)


@pytest.mark.soak
@pytest.mark.filterwarnings("ignore:.*keeps only:loanledger.DataGapWarning")
async def test_50_accounts_full_history_soak(figures: Figures, tmp_path: Path) -> None:
    await load(figures, tmp_path, recent_days=10, more_days=None, scale=1.0)
