"""The workers' test harness: a simulator with populated accounts, the loanledger.toml and
environment a worker reads for them, and a simulator that tells jobs and worker hosts apart.

A uniquely named module (every test directory shares one sys.path).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from loanledger.testing import Simulator
from loanledger.testing.fleet import Fleet

VENUES = ("okx", "binance", "bybit")

#: the simulator's rate-limit answers: OKX 50011, Binance -1003 (429/418), Bybit 10006 (and
#: HTTP 403 for its per-IP limit)
RATE_CODES = frozenset({"50011", "-1003", "10006"})
RATE_STATUSES = frozenset({403, 418, 429})

CLI = [sys.executable, "-m", "loanledger"]


@dataclass(frozen=True, slots=True)
class Seen:
    """Who sent a logged request: the job (its User-Agent) and the worker host (its address)."""

    agent: str
    peer: str

    @property
    def job(self) -> str:
        """The job id from the User-Agent ``loanledger/x.y (job N)``; '' for other clients."""
        marker = "(job "
        i = self.agent.find(marker)
        return self.agent[i + len(marker):].rstrip(")") if i >= 0 else ""


class WorkerSimulator(Simulator):
    """A Simulator that also keeps, per logged request (same index as `log`), its User-Agent
    and the client address: every worker job names itself in the User-Agent, and each test
    worker sends from its own loopback address (one simulated host per worker)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.seen: list[Seen] = []

    def record(self, request: web.Request, venue: str, status: int, code: str | None, account: str | None) -> None:
        super().record(request, venue, status, code, account)
        self.seen.append(Seen(request.headers.get("User-Agent", ""), request.remote or ""))


World = Fleet  # the tests' name for the simulated accounts


def populate(sim: Simulator, n: int, *, seed: int, scale: float, venues: Iterable[str] = VENUES) -> Fleet:
    """`n` accounts per venue on `sim`, each with a generated history of size `scale`."""
    return Fleet.populate(sim, n, seed=seed, size=scale, venues=venues)


def write_config(directory: Path, world: Fleet, *, base_url: str | None = None) -> tuple[Path, dict[str, str]]:
    """The loanledger.toml for every account of `world` and the environment it reads."""
    return world.write_config(directory, base_url=base_url)


def rate_answers(sim: Simulator) -> list[Any]:
    return [r for r in sim.log if r.code in RATE_CODES or r.status in RATE_STATUSES]


def interleavings(sim: WorkerSimulator) -> list[str]:
    """Per (venue, account, path), the jobs' requests in arrival order: a job whose requests
    resume after another job's began means two jobs walked one (UID, endpoint) at once.
    Returns one line per such case (none when every job's requests form one block)."""
    runs: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r, s in zip(sim.log, sim.seen, strict=True):
        if r.account is None or not s.job:
            continue
        seq = runs[(r.venue, r.account, r.path)]
        if not seq or seq[-1] != s.job:
            seq.append(s.job)
    bad = []
    for key, seq in runs.items():
        if len(seq) != len(set(seq)):
            bad.append(f"{key}: jobs in order {seq}")
    return bad


async def wait_for(predicate: Any, timeout: float, what: str, every: float = 0.2) -> None:
    """Poll an async predicate until true; AssertionError naming `what` after `timeout` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(every)


def cli_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEET_", "PG"))}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env
