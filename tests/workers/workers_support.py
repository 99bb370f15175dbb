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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization

from loanledger import OKX, Binance, Bybit, FEEDS
from loanledger.client import VenueClient
from loanledger.testing import Simulator

DATA = Path(__file__).resolve().parent.parent / "data"
VENUES = ("okx", "binance", "bybit")

# Credentials of the simulated accounts (account i's API key is the key plus i)
OKX_KEY, OKX_SECRET, OKX_PASS = "wk-okx-key-", "wk-okx-SECRET-p3Q9", "wk-okx-PASS-t7Rk"
BNB_KEY, BNB_PEM_FILE = "wk-bnb-key-", DATA / "ed25519_test_key.pem"
BYB_KEY, BYB_SECRET = "wk-byb-key-", "wk-byb-SECRET-c5Lm"

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


@dataclass
class World:
    """`n` accounts per venue on a simulator (labels ``<venue>-<i>``)."""

    sim: Simulator
    n: int
    rate_scale: float
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (venue, label)

    def venue(self, name: str) -> Any:
        return getattr(self.sim, name)

    def expected(self, venue: str, account: str, feed: str) -> set[str]:
        return set(self.venue(venue).expected_ids(account, feed))

    def feeds(self) -> list[tuple[str, str, str]]:
        """Every (venue, account, feed) of the world."""
        return [(v, a, f) for v, a in self.accounts for f, spec in FEEDS.items() if spec.venue == v]

    def client(self, venue: str, i: int, **kw: Any) -> VenueClient:
        """A client for account i (as the worker builds it from the config)."""
        base = {"account": f"{venue}-{i}", "base_url": self.sim.base_url, **kw}
        if venue == "okx":
            return OKX(f"{OKX_KEY}{i}", OKX_SECRET, OKX_PASS, **base)
        if venue == "binance":
            return Binance(f"{BNB_KEY}{i}", private_key=BNB_PEM_FILE.read_text(), **base)
        return Bybit(f"{BYB_KEY}{i}", BYB_SECRET, **base)


def populate(sim: Simulator, n: int, *, seed: int, scale: float, venues: Iterable[str] = VENUES) -> World:
    """Add `n` accounts per venue to `sim`, each with a generated history of size `scale`."""
    world = World(sim, n, sim.rate_scale)
    pub = serialization.load_pem_private_key(BNB_PEM_FILE.read_bytes(), None).public_key()
    for i in range(n):
        for v in venues:
            label = f"{v}-{i}"
            if v == "okx":
                acct: Any = sim.okx.add_account(f"{OKX_KEY}{i}", OKX_SECRET, OKX_PASS, label=label)
            elif v == "binance":
                acct = sim.binance.add_account(f"{BNB_KEY}{i}", public_key=pub, label=label)
            else:
                acct = sim.bybit.add_account(f"{BYB_KEY}{i}", secret=BYB_SECRET, label=label)
            world.venue(v).populate(acct, seed=seed * 1000 + i, scale=scale)
            world.accounts.append((v, label))
    return world


def write_config(directory: Path, world: World, *, base_url: str | None = None) -> tuple[Path, dict[str, str]]:
    """A loanledger.toml for every account of `world` and the environment it reads."""
    url = base_url or world.sim.base_url
    env = {"WK_OKX_SECRET": OKX_SECRET, "WK_OKX_PASS": OKX_PASS, "WK_BYB_SECRET": BYB_SECRET}
    lines = [f"rate_scale = {world.rate_scale}", ""]
    for v, label in world.accounts:
        i = int(label.rsplit("-", 1)[1])
        var = f"WK_{v.upper()}_KEY_{i}"
        lines += ["[[account]]", f'venue = "{v}"', f'name = "{label}"', f'api_key_env = "{var}"', f'base_url = "{url}"']
        if v == "okx":
            env[var] = f"{OKX_KEY}{i}"
            lines += ['secret_env = "WK_OKX_SECRET"', 'passphrase_env = "WK_OKX_PASS"']
        elif v == "binance":
            env[var] = f"{BNB_KEY}{i}"
            lines += [f'private_key_file = "{BNB_PEM_FILE}"']
        else:
            env[var] = f"{BYB_KEY}{i}"
            lines += ['secret_env = "WK_BYB_SECRET"']
        lines.append("")
    path = directory / "loanledger.toml"
    path.write_text("\n".join(lines))
    return path, env


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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WK_", "PG"))}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env
