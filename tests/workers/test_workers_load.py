"""Load and faults: three `loanledger worker` processes against one simulator (served by this
process) and one PostgreSQL, every feed of every account, GET faults on (5xx, dropped
connections, cut bodies), one worker SIGKILLed in the middle of its jobs.

It ends with:
- the store equal to the simulator's datasets: per (account, feed) exactly the expected ids,
  none twice, and for a sample of accounts every field equal to a direct walk;
- no rate-limit answer (OKX 50011, Binance -1003 / 418 / 429, Bybit 10006 / 403);
- no feed synced by two jobs at once: every job names itself in its User-Agent, so per
  (account, endpoint) the simulator's log is a sequence of jobs; each job's requests form one
  block (a job the kill interrupted continues in the same block when it is retried, since
  its lock kept every other job of that endpoint away meanwhile);
- the killed worker's jobs retried by the others (same job id, requests from another host).

Each worker sends from its own loopback address (127.0.0.2-4): three hosts as the venues see
them, each with its own per-IP budget (one worker per host is how the docs size workers).
The short profile runs in `make test`; 300 accounts (100 per venue) in `make soak`.
"""

from __future__ import annotations

import asyncio
import signal
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from workers_support import (
    CLI,
    WorkerSimulator,
    cli_env,
    interleavings,
    populate,
    rate_answers,
    wait_for,
    write_config,
)

from loanledger import FEEDS, PostgresStore, RateLimits
from loanledger.testing.server import Faults
from loanledger.workers import SyncWorkers

RATE_SCALE = 50.0  # every documented limit x50, in the simulator and in the workers' config
FAULTS = {"5xx": 0.02, "reset": 0.015, "5xx_after": 0.01, "reset_after": 0.01, "truncate": 0.01, "non_json": 0.005}
HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")  # the victim is the first
STALLED_AFTER = 4.0


@dataclass
class Profile:
    per_venue: int  # accounts per venue
    size: float  # dataset size (the simulator's populate scale)
    timeout: float  # seconds for the queue to empty


async def _doing_on(dsn: str, jobs: set[str]) -> set[str]:
    """Which of these job ids are `doing` now."""
    if not jobs:
        return set()
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT id::text FROM procrastinate_jobs WHERE status = 'doing' AND id = ANY(%s)",
                                 ([int(j) for j in jobs],))
        return {str(r[0]) for r in await cur.fetchall()}


async def load_and_kill(profile: Profile, dsn: str, tmp: Path) -> dict[str, int]:
    faults = Faults(rates=dict(FAULTS), methods={"GET"}, seed=17)
    async with WorkerSimulator(seed=23, rate_scale=RATE_SCALE, faults=faults) as sim:
        world = populate(sim, profile.per_venue, seed=29, scale=profile.size)
        config, env = write_config(tmp, world)
        logs = [tmp / f"worker-{i}.log" for i in range(len(HOSTS))]
        procs = []
        for i, host in enumerate(HOSTS):
            with logs[i].open("wb") as log:  # the child has its own copy
                procs.append(await asyncio.create_subprocess_exec(
                    *CLI, "worker", "--config", str(config), "--db", dsn, "--concurrency", "4", "--poll", "0.2",
                    "--stalled-after", str(STALLED_AFTER), "--local-address", host, "--name", f"w{i}",
                    "--shutdown-timeout", "10", stdout=asyncio.subprocess.DEVNULL, stderr=log, env=cli_env(env)))
        victim = procs[0]
        try:
            async def started() -> bool:
                return all(p.exists() and p.read_bytes().startswith(b"loanledger worker ") for p in logs)

            await wait_for(started, 60, "three workers to start")
            sched = await asyncio.create_subprocess_exec(
                *CLI, "schedule", "--config", str(config), "--db", dsn, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, env=cli_env(env))
            _, err = await sched.communicate()
            assert sched.returncode == 0, err.decode()
            jobs = len(world.feeds())
            assert f"queued {jobs} sync jobs".encode() in err

            async with SyncWorkers(dsn) as q:
                # the kill: once a fifth of the jobs are done, at a moment the victim is in the
                # middle of jobs (requests of jobs still `doing` came from it)
                killed: set[str] = set()

                async def victim_busy() -> bool:
                    nonlocal killed
                    c = await q.counts()
                    if c.get("todo", 0) + c.get("doing", 0) > 0.8 * jobs:
                        return False
                    recent = {s.job for s in sim.seen[-200:] if s.peer == HOSTS[0] and s.job}
                    killed = await _doing_on(dsn, recent)
                    return bool(killed)

                await wait_for(victim_busy, profile.timeout, "the victim to be in the middle of jobs", every=0.05)
                victim.send_signal(signal.SIGKILL)
                killed_at = sim.mono()
                assert await asyncio.wait_for(victim.wait(), 10) == -signal.SIGKILL

                async def done() -> bool:
                    c = await q.counts()
                    return not c.get("todo") and not c.get("doing")

                await wait_for(done, profile.timeout, "the surviving workers to run every job", every=0.5)
                counts = await q.counts()
        finally:
            for p in procs[1:]:
                if p.returncode is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                if p.returncode is None:
                    try:
                        await asyncio.wait_for(p.wait(), 30)
                    except TimeoutError:
                        p.kill()
                        await p.wait()
        for i, p in enumerate(procs[1:], 1):
            assert p.returncode == 0, logs[i].read_text()
        survivors = "\n".join(p.read_text() for p in logs[1:])
        assert "Traceback" not in survivors, survivors

        # the store is the simulator's dataset: ids per feed, then every field for a sample
        assert "failed" not in counts, (counts, survivors)
        sim.faults.rates.clear()
        async with PostgresStore(dsn, read_only=True) as store:
            for v, a, f in world.feeds():
                ids = [ev.id async for ev in store.events(venue=v, account=a, feed=f)]
                assert len(ids) == len(set(ids)), f"{v}/{a}/{f}: an event stored twice"
                assert set(ids) == world.expected(v, a, f), f"{v}/{a}/{f}: not the dataset"
            limits = RateLimits(scale=RATE_SCALE)
            for v in ("okx", "binance", "bybit"):
                for i in sorted({0, profile.per_venue - 1}):
                    async with world.client(v, i, limits=limits) as client:
                        for f in client.feed_ids():
                            walked = sorted([ev async for ev in client.events(f)], key=lambda e: e.id)
                            kept = sorted([ev async for ev in store.events(venue=v, account=f"{v}-{i}", feed=f)],
                                          key=lambda e: e.id)
                            assert kept == walked, f"{v}-{i}/{f}: a stored event differs from the venue's"

        # no rate-limit answer, and no feed walked by two jobs at once
        assert not rate_answers(sim), rate_answers(sim)[:3]
        assert interleavings(sim) == []
        # the killed worker's jobs were taken over: retried, then run by another host
        hosts_of: dict[str, set[str]] = defaultdict(set)
        for s in sim.seen:
            hosts_of[s.job].add(s.peer)
        assert "of a silent worker: retried" in survivors, survivors
        taken_over = {j for j in killed if hosts_of[j] - {HOSTS[0]}}
        assert taken_over, f"none of the killed jobs {sorted(killed)} ran again elsewhere"
        late = [r for r, s in zip(sim.log, sim.seen, strict=True) if s.peer == HOSTS[0] and r.at > killed_at + 1.0]
        assert not late, f"the killed worker still sent {len(late)} requests"
        injected = sum(r.fault is not None for r in sim.log)
        assert injected > 0
        return {"accounts": 3 * profile.per_venue, "jobs": jobs, "requests": len(sim.log), "faults": injected,
                "killed jobs": len(killed), "taken over": len(taken_over)}


async def test_three_workers_one_killed_faults_on(postgres_dsn: str, tmp_path: Path) -> None:
    figures = await load_and_kill(Profile(per_venue=4, size=0.3, timeout=90), postgres_dsn, tmp_path)
    print(figures)
    assert figures["jobs"] == 4 * len(FEEDS)  # four accounts per venue, one job per feed


@pytest.mark.soak
async def test_three_workers_300_accounts_one_killed_faults_on_soak(postgres_dsn: str, tmp_path: Path) -> None:
    figures = await load_and_kill(Profile(per_venue=100, size=0.3, timeout=900), postgres_dsn, tmp_path)
    print(figures)
    assert figures["accounts"] == 300 and figures["jobs"] == 100 * len(FEEDS)
