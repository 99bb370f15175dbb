"""Scale-out: feeds per minute with 1, 2 and 4 `loanledger worker` processes, one simulator.

Per run: a fresh database on a throwaway PostgreSQL (loanledger.testing.postgres, the
machine's own binaries), a simulator in this process serving a fleet of accounts
(loanledger.testing.fleet), N `loanledger worker` subprocesses (`--concurrency C`), each
sending from its own loopback address (127.0.0.2, ...: N hosts as the venues count per-IP
budgets), then one `schedule` of every feed. The clock runs from the schedule to the moment
no job waits or runs; every job must succeed and the simulator must give no rate-limit answer.

Reported per N: wall seconds, feeds per minute, requests per second, and the CPU seconds the
run cost the workers, the simulator (this process) and PostgreSQL (the postmaster and its
backends), with the cores they kept busy on average (CPU seconds / wall seconds; the
machine has `os.cpu_count()`). Where feeds per minute stops growing with N, the busy cores
say why: near the machine's core count it is CPU (and the biggest consumer is named);
below it, a rate limit or waiting.

Two scenarios:

- `all`: every feed of `--accounts` accounts per venue, limits x`--rate-scale` (loose enough
  that CPU binds first);
- `binance`: Binance accounts only, limits x`--binance-scale` (tight): Binance's per-IP
  request weight binds, and each worker host brings its own budget.

    python benchmarks/scale.py [--workers 1 2 4] [--accounts 20] [--scenario all binance] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from loanledger.testing import Simulator
from loanledger.testing.fleet import Fleet
from loanledger.testing.postgres import TempPostgres
from loanledger.workers import FeedJob, SyncWorkers

__all__ = ["ScaleRun", "analysis", "main", "run", "table"]

RATE_CODES = {"50011", "-1003", "10006"}
HOSTS = tuple(f"127.0.0.{i}" for i in range(2, 10))
SEED = 41


@dataclass
class ScaleRun:
    scenario: str
    workers: int
    concurrency: int
    feeds: int
    seconds: float
    requests: int
    rate_answers: int
    failed: int
    cpu_workers: float
    cpu_simulator: float
    cpu_postgres: float
    cpu_machine: float  # every process on the machine (others' too: the machine is shared)

    @property
    def feeds_per_minute(self) -> float:
        return 60 * self.feeds / self.seconds

    @property
    def cores_busy(self) -> float:
        """Cores kept busy by this run's processes (workers, simulator, PostgreSQL)."""
        return (self.cpu_workers + self.cpu_simulator + self.cpu_postgres) / self.seconds

    @property
    def cpu_ms_per_feed(self) -> float:
        """CPU the run's processes spent per feed synced (ms), whatever else the machine ran."""
        return 1000 * (self.cpu_workers + self.cpu_simulator + self.cpu_postgres) / self.feeds

    @property
    def machine_busy(self) -> float:
        """Cores kept busy by every process on the machine."""
        return self.cpu_machine / self.seconds


def _cpu(p: psutil.Process, children: bool = False) -> float:
    t = p.cpu_times()
    total = t.user + t.system
    if children:  # the postmaster: its reaped backends, and the live ones
        total += t.children_user + t.children_system
        for c in p.children(recursive=True):
            try:
                ct = c.cpu_times()
                total += ct.user + ct.system
            except psutil.NoSuchProcess:
                pass
    return total


def _machine() -> float:
    t = psutil.cpu_times()
    return float(sum(t)) - t.idle - getattr(t, "iowait", 0.0)


def _postmaster(port: int) -> psutil.Process:
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = p.info["cmdline"] or []
        if p.info["name"] == "postgres" and f"-p {port}" in " ".join(cmd):
            return p
    raise RuntimeError(f"no postmaster listening on port {port}")


async def _one(pg: TempPostgres, scenario: str, n_workers: int, *, accounts: int, size: float, rate_scale: float,
               concurrency: int, tmp: Path) -> ScaleRun:
    dsn = await pg.create_database()
    venues = ("binance",) if scenario == "binance" else ("okx", "binance", "bybit")
    try:
        async with Simulator(seed=SEED, rate_scale=rate_scale) as sim:
            fleet = Fleet.populate(sim, accounts, seed=SEED, size=size, venues=venues)
            config, env = fleet.write_config(tmp)
            penv = {**{k: v for k, v in os.environ.items() if not k.startswith("PG")}, **env}
            cli = [sys.executable, "-m", "loanledger"]
            logs = [tmp / f"worker-{i}.log" for i in range(n_workers)]
            procs = []
            for i in range(n_workers):
                with logs[i].open("wb") as log:
                    procs.append(await asyncio.create_subprocess_exec(
                        *cli, "worker", "--config", str(config), "--db", dsn, "--concurrency", str(concurrency),
                        "--poll", "0.2", "--local-address", HOSTS[i], "--name", f"bench-{i}",
                        stdout=asyncio.subprocess.DEVNULL, stderr=log, env=penv))
            try:
                while not all(p.exists() and p.read_bytes().startswith(b"loanledger worker ") for p in logs):
                    if any(p.returncode is not None for p in procs):
                        raise RuntimeError("a worker did not start:\n" + "\n".join(p.read_text() for p in logs))
                    await asyncio.sleep(0.1)
                async with SyncWorkers(dsn, pool_size=1) as q:
                    jobs = fleet_jobs(fleet, config, env)
                    workers = [psutil.Process(p.pid) for p in procs]
                    postmaster = _postmaster(pg.port)
                    cpu0 = (sum(_cpu(w) for w in workers), time.process_time(), _cpu(postmaster, children=True),
                            _machine())
                    started = time.perf_counter()
                    await q.schedule(jobs)
                    while True:
                        counts = await q.counts()
                        if not counts.get("todo") and not counts.get("doing"):
                            break
                        await asyncio.sleep(0.1)
                    seconds = time.perf_counter() - started
                    cpu1 = (sum(_cpu(w) for w in workers), time.process_time(), _cpu(postmaster, children=True),
                            _machine())
            finally:
                for p in procs:
                    if p.returncode is None:
                        p.terminate()
                for p in procs:
                    await p.wait()
            return ScaleRun(
                scenario, n_workers, concurrency, len(jobs), seconds, len(sim.log),
                sum(1 for r in sim.log if r.code in RATE_CODES or r.status in (403, 418, 429)),
                counts.get("failed", 0), cpu1[0] - cpu0[0], cpu1[1] - cpu0[1], cpu1[2] - cpu0[2], cpu1[3] - cpu0[3],
            )
    finally:
        await pg.drop_database(dsn.rsplit("/", 1)[1])


def fleet_jobs(fleet: Fleet, config: Path, env: dict[str, str]) -> list[FeedJob]:
    """Every feed of the fleet as jobs (what `loanledger schedule` queues)."""
    from loanledger.cli import load_config
    from loanledger.workers import plan_jobs

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return plan_jobs(load_config(config))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(workers: Sequence[int] = (1, 2, 4), *, scenarios: Sequence[str] = ("all", "binance"), accounts: int = 20,
        binance_accounts: int = 12, size: float = 0.3, rate_scale: float = 200.0, binance_scale: float = 8.0,
        concurrency: int = 4, progress: Callable[[str], None] | None = None) -> list[ScaleRun]:
    async def go() -> list[ScaleRun]:
        out = []
        with TempPostgres() as pg, tempfile.TemporaryDirectory(prefix="loanledger-scale-") as tmp:
            for scenario in scenarios:
                for n in workers:
                    r = await _one(pg, scenario, n, accounts=binance_accounts if scenario == "binance" else accounts,
                                   size=size, rate_scale=binance_scale if scenario == "binance" else rate_scale,
                                   concurrency=concurrency, tmp=Path(tmp))
                    out.append(r)
                    if progress is not None:
                        progress(f"{scenario}: {n} worker(s): {r.feeds} feeds in {r.seconds:.1f}s "
                                 f"({r.feeds_per_minute:,.0f}/min), {r.cores_busy:.2f} cores busy "
                                 f"(machine: {r.machine_busy:.2f})")
        return out

    return asyncio.run(go())


def table(runs: Sequence[ScaleRun]) -> str:
    head = ["scenario", "workers x concurrency", "feeds", "wall s", "feeds/min", "vs 1 worker", "requests/s",
            "CPU s: workers / simulator / PostgreSQL", "CPU ms per feed", "cores busy: this run / whole machine",
            "rate-limit answers", "failed jobs"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base: dict[str, float] = {}
    for r in runs:
        base.setdefault(r.scenario, r.feeds_per_minute / r.workers if r.workers != 1 else r.feeds_per_minute)
        lines.append("| " + " | ".join([
            r.scenario, f"{r.workers} x {r.concurrency}", f"{r.feeds:,}", f"{r.seconds:.1f}",
            f"{r.feeds_per_minute:,.0f}", f"{r.feeds_per_minute / base[r.scenario]:.2f}x",
            f"{r.requests / r.seconds:,.0f}", f"{r.cpu_workers:.1f} / {r.cpu_simulator:.1f} / {r.cpu_postgres:.1f}",
            f"{r.cpu_ms_per_feed:.0f}",
            f"{r.cores_busy:.2f} / {r.machine_busy:.2f} of {os.cpu_count()}", str(r.rate_answers), str(r.failed),
        ]) + " |")
    return "\n".join(lines)


def analysis(runs: Sequence[ScaleRun]) -> str:
    """Where each scenario stops scaling, and why (from the busy cores and who used them)."""
    cores = os.cpu_count() or 1
    out = []
    for scenario in dict.fromkeys(r.scenario for r in runs):
        rs = [r for r in runs if r.scenario == scenario]
        steps = []
        for a, b in zip(rs, rs[1:], strict=False):
            gain = b.feeds_per_minute / a.feeds_per_minute
            ideal = b.workers / a.workers
            total = b.cpu_workers + b.cpu_simulator + b.cpu_postgres
            parts = {"the workers": b.cpu_workers, "the simulator": b.cpu_simulator, "PostgreSQL": b.cpu_postgres}
            top = max(parts, key=lambda k: parts[k])
            if gain >= 0.8 * ideal:
                why = "scales"
            elif b.machine_busy >= 0.85 * cores:
                why = (f"stops scaling, CPU-bound: the machine's {cores} cores {b.machine_busy / cores:.0%} busy "
                       f"(this run {b.cores_busy:.2f} cores: {top} {parts[top] / total:.0%} of it)")
            else:
                why = (f"stops scaling, not on CPU (machine {b.machine_busy:.2f} of {cores} cores busy): "
                       "rate limits or waiting")
            steps.append(f"{a.workers} -> {b.workers} workers: x{gain:.2f} (ideal x{ideal:g}), {why}")
        per_feed = sorted(r.cpu_ms_per_feed for r in rs)[len(rs) // 2]
        steps.append(f"CPU per feed (median) {per_feed:.0f} ms: on {cores} idle cores the CPU ceiling is about "
                     f"{cores * 60_000 / per_feed:,.0f} feeds/min")
        out.append(f"{scenario}: " + "; ".join(steps))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="feeds per minute with 1, 2 and 4 workers against one simulator")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker processes per run")
    ap.add_argument("--scenario", nargs="+", choices=("all", "binance"), default=["all", "binance"])
    ap.add_argument("--accounts", type=int, default=20, help="accounts per venue in the `all` scenario")
    ap.add_argument("--binance-accounts", type=int, default=12, help="Binance accounts in the `binance` scenario")
    ap.add_argument("--size", type=float, default=0.3, help="dataset size of each account")
    ap.add_argument("--rate-scale", type=float, default=200.0, help="limits x this in the `all` scenario")
    ap.add_argument("--binance-scale", type=float, default=8.0, help="limits x this in the `binance` scenario")
    ap.add_argument("--concurrency", type=int, default=4, help="jobs per worker at once")
    ap.add_argument("--quick", action="store_true", help="fewer accounts (a smoke run)")
    args = ap.parse_args(argv)
    if args.quick:
        args.accounts, args.binance_accounts = 6, 4
    runs = run(args.workers, scenarios=args.scenario, accounts=args.accounts, binance_accounts=args.binance_accounts,
               size=args.size, rate_scale=args.rate_scale, binance_scale=args.binance_scale,
               concurrency=args.concurrency, progress=lambda m: print(f"  {m}", file=sys.stderr, flush=True))
    print(table(runs))
    print()
    print(analysis(runs))
    return 0 if all(r.rate_answers == 0 and r.failed == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
