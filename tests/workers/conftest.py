"""Fixtures of the worker tests: a populated simulator, its config and environment, workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from workers_support import World, WorkerSimulator, populate, wait_for, write_config

from loanledger.cli import Config, load_config
from loanledger.workers import SyncWorkers

RATE_SCALE = 50.0


@pytest.fixture
async def world() -> AsyncIterator[World]:
    """One account per venue, small histories, limits x50 on both sides."""
    async with WorkerSimulator(seed=3, rate_scale=RATE_SCALE) as sim:
        yield populate(sim, 1, seed=5, scale=0.3)


@pytest.fixture
def config(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    path, env = write_config(tmp_path, world)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return load_config(path)


Runner = Callable[..., Any]


@pytest.fixture
async def workers(postgres_dsn: str, config: Config) -> AsyncIterator[SyncWorkers]:
    """A SyncWorkers on a fresh database, opened (both schemas applied)."""
    async with SyncWorkers(postgres_dsn, config=config, stalled_after=3, retry_delay=0.2) as w:
        yield w


async def idle(w: SyncWorkers) -> bool:
    c = await w.counts()
    return not c.get("todo") and not c.get("doing")


@contextlib.asynccontextmanager
async def running(*ws: SyncWorkers, concurrency: int = 4, poll: float = 0.1) -> AsyncIterator[None]:
    """Workers running in this process (each with its own rate limits) until the block ends."""
    tasks = [asyncio.create_task(w.run(concurrency=concurrency, poll=poll, shutdown_timeout=5)) for w in ws]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t


async def drain(*ws: SyncWorkers, timeout: float = 60.0, concurrency: int = 4) -> None:
    """Run the workers until no sync job waits or runs."""
    async with running(*ws, concurrency=concurrency):
        await wait_for(lambda: idle(ws[0]), timeout, "the queue to empty", every=0.1)
