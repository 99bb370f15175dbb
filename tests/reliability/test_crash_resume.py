"""Item 3: crash-resume. A Ledger sync into SQLite is cancelled at a random point (a seeded
choice among every SQL statement the sync issues, or a random moment), the store is closed
and reopened, the sync resumed: the store then holds the dataset exactly once, every row
equal to an uninterrupted sync's. Then the same with a real ``kill -9`` of the CLI.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rel_support import (
    CLI_ENV,
    Figures,
    World,
    cli_config,
    scan,
    world,
)

from loanledger import Ledger, LoanEvent, SQLiteStore, SyncError
from loanledger.client import VenueClient

PAGES = 50


@pytest.fixture
def fast_tmp(tmp_path: Path) -> Any:
    """A directory on tmpfs when there is one (SQLite's fsync per page is then cheap)."""
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    d = Path(tempfile.mkdtemp(prefix="loanledger-crash-", dir=shm))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


class CrashingStore(SQLiteStore):
    """A SQLiteStore that cancels the sync when its `crash_at`-th SQL statement is on the
    SQLite thread (that statement still runs: a cancelled task cannot take it back)."""

    def __init__(self, path: Path, crash_at: int | None, victim: asyncio.Task[Any] | None) -> None:
        super().__init__(path)
        self.crash_at, self.victim, self.statements = crash_at, victim, 0

    async def open(self) -> None:
        await super().open()
        db = self._conn()
        for name in ("execute", "executemany"):
            real = getattr(db, name)

            def counted(sql: str, *args: Any, _real: Any = real) -> Any:
                self.statements += 1
                if self.statements == self.crash_at and self.victim is not None:
                    self.victim.cancel()
                return _real(sql, *args)

            setattr(db, name, counted)


async def stored(path: Path) -> dict[tuple[str, str, str, str], LoanEvent]:
    async with SQLiteStore(path) as store:
        return {ev.key: ev async for ev in store.events()}


async def sync(w: World, store: SQLiteStore, since: int | None) -> Any:
    clients: list[VenueClient] = w.clients(pages=PAGES)
    async with Ledger(clients, store=store) as ledger:
        try:
            async for _ in ledger.sync(since=since):
                pass
        except SyncError as exc:  # the failed feeds are in the report the caller checks
            assert exc.report is ledger.last_report
        return ledger.last_report


async def crash_once(
    w: World, tmp: Path, seed: int, statements: int, full_seconds: float, since: int | None
) -> tuple[str, int]:
    """One crash and one resume; returns (how it was cut, rows the cut left in the store)."""
    rng = random.Random(seed)
    path = tmp / f"crash-{seed}.db"
    by_statement = seed % 2 == 0
    loop = asyncio.get_running_loop()
    holder: dict[str, Any] = {}

    async def run() -> None:
        store = CrashingStore(path, rng.randint(1, statements) if by_statement else None, None)
        holder["store"] = store
        store.victim = asyncio.current_task()
        await sync(w, store, since)

    task = loop.create_task(run())
    if not by_statement:
        await asyncio.sleep(rng.uniform(0, full_seconds))
        task.cancel()
    try:
        await asyncio.wait_for(asyncio.shield(task), 30)
        how = "completed before the cut"
    except asyncio.CancelledError:
        how = "cut at a statement" if by_statement else "cut at a moment"
    cut_after = len(await stored(path))  # rows the cut left
    # the store file is closed (the ledger's exit closed it); reopen it and resume
    report = await sync(w, SQLiteStore(path), since)
    assert report.ok, report.table()
    return how, cut_after


@pytest.mark.filterwarnings("ignore:.*keeps only:loanledger.DataGapWarning")
async def test_crash_resume_at_200_random_points(fast_tmp: Path, figures: Figures) -> None:
    await crash_matrix(fast_tmp, figures, seeds=range(int(os.environ.get("REL_CRASH_SEEDS", "200"))))


@pytest.mark.soak
async def test_crash_resume_soak(fast_tmp: Path, figures: Figures) -> None:
    await crash_matrix(fast_tmp, figures, seeds=range(200, 1200), scale=1.0, days=None)


async def crash_matrix(tmp: Path, figures: Figures, *, seeds: range, scale: float = 0.3,
                       days: int | None = 45) -> None:
    """`days`: sync the last that many days only (fewer windows of the time-window feeds per
    sync, so hundreds of crash points stay cheap); None: the whole history."""
    async with world(seed=9, scale=scale) as w:
        since = None if days is None else w.sim.now_ms() - days * 86_400_000
        # an uninterrupted sync: the reference rows, and how many statements a sync issues
        ref_path = tmp / "reference.db"
        counter = CrashingStore(ref_path, None, None)
        started = time.perf_counter()
        report = await sync(w, counter, since)
        full_seconds = time.perf_counter() - started
        assert report.ok
        reference = await stored(ref_path)
        clients = w.clients()
        expected = {(c.venue, c.account, f, i) for c in clients for f in c.feed_ids()
                    for i in w.expected(c, f, since)}
        for c in clients:
            await c.close()
        assert set(reference) == expected  # the reference is the dataset, exactly
        cuts: dict[str, int] = {}
        partial = "left a partial store (0 < rows < all)"
        for seed in seeds:  # one crash, one resume, one comparison each
            how, rows = await crash_once(w, tmp, seed, counter.statements, full_seconds, since)
            cuts[how] = cuts.get(how, 0) + 1
            if 0 < rows < len(expected):
                cuts[partial] = cuts.get(partial, 0) + 1
            got = await stored(tmp / f"crash-{seed}.db")
            assert set(got) == expected, \
                f"seed {seed} ({how}): missing {len(expected - set(got))}, extra {len(set(got) - expected)}"
            diff = [k for k in expected if got[k] != reference[k]]
            assert not diff, f"seed {seed} ({how}): {len(diff)} rows differ from an uninterrupted sync"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{tmp}/crash-{seed}.db{suffix}").unlink(missing_ok=True)
        assert cuts.get(partial, 0) > len(seeds) // 2, cuts
        assert cuts.get("cut at a statement", 0) > len(seeds) // 4 and cuts.get("cut at a moment", 0) > 0
        figures.add(**{"crash-resume: in-process crash points resumed": len(seeds),
                       "crash-resume: rows compared per resumed store": len(expected),
                       "crash-resume: rows compared in all": len(expected) * len(seeds)})
        figures.add(**{f"crash-resume: {k}": v for k, v in cuts.items()})


# --- kill -9 of the command-line sync ---------------------------------------------------------------------

CLI_SCALE = 5.0  # slow enough (seconds) for several kills to land mid-sync


async def start_cli(cfg: Path, db: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loanledger", "sync", "--config", str(cfg), "--db", str(db), *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **CLI_ENV},
    )


def progress(db: Path) -> tuple[int, int]:
    """(feeds with a checkpoint, time of the latest page commit): changes with every commit."""
    if not db.exists():
        return (0, 0)
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            n, last = conn.execute("SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM checkpoints").fetchone()
            return int(n), int(last)
    except sqlite3.Error:
        return (0, 0)  # not created yet


async def kill_cli_mid_sync(tmp: Path, figures: Figures, *, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    async with world(seed=seed, scale=0.2, rate_scale=CLI_SCALE) as w:
        cfg = cli_config(tmp, w.sim.base_url, CLI_SCALE)
        db = tmp / "cli.db"
        outputs: list[bytes] = []
        killed = 0
        for _ in range(kills):
            before = progress(db)
            proc = await start_cli(cfg, db)
            # once it has committed a page of its own, kill it at a random moment
            deadline = time.monotonic() + 60
            while progress(db) == before and proc.returncode is None and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            await asyncio.sleep(rng.uniform(0, 0.4))
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            out, err = await proc.communicate()
            outputs += [out, err]
            assert proc.returncode in (-signal.SIGKILL, 0), err.decode()
        proc = await start_cli(cfg, db)
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        outputs += [out, err]
        assert proc.returncode == 0, err.decode()
        assert killed >= kills - 1, "the runs finished before they could be killed"
        got = await stored(db)
        clients = w.clients()
        expected = {(c.venue, c.account, f, i) for c in clients for f in c.feed_ids() for i in w.expected(c, f)}
        for c in clients:
            await c.close()
        assert set(got) == expected, f"missing {len(expected - set(got))}, extra {len(set(got) - expected)}"
        scanned = sum(scan(o, "the CLI's output") for o in outputs)
        for f in (db, Path(f"{db}-wal")):
            if f.exists():
                scanned += scan(f.read_bytes(), f"the SQLite file {f.name}")
        figures.add(**{"crash-resume: CLI processes killed with SIGKILL mid-sync": killed,
                       "crash-resume: rows compared after the CLI resumed": len(expected),
                       "secrets: bytes of CLI output and store scanned": scanned})


async def test_kill_9_of_the_cli_mid_sync_then_resume(tmp_path: Path, figures: Figures) -> None:
    await kill_cli_mid_sync(tmp_path, figures, kills=3, seed=21)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(22, 27))
async def test_kill_9_of_the_cli_soak(tmp_path: Path, figures: Figures, seed: int) -> None:
    await kill_cli_mid_sync(tmp_path, figures, kills=8, seed=seed)
