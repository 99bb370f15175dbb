"""The sync task, its locks, failures and stalled-job retries, on a real PostgreSQL (a fresh
database per test) against the simulator: a worker runs in this process."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import procrastinate
import psycopg
import pytest
from conftest import drain, idle, running
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Job
from workers_support import World, interleavings, rate_answers, wait_for, write_config

from loanledger import FEEDS, Ledger, PostgresStore, RateLimits, StoreError
from loanledger.cli import Config, UsageError, load_config
from loanledger.signing import key_fingerprint
from loanledger.testing.server import SimCall
from loanledger.workers import (
    SYNC_TASK,
    FeedJob,
    SyncWorkers,
    plan_jobs,
    prepare_database,
    rate_identity,
)

#: the demo world has one account per venue: one job per feed of the registry
N_FEEDS = len(FEEDS)


async def stored_ids(dsn: str, venue: str, account: str, feed: str) -> list[str]:
    async with PostgresStore(dsn, read_only=True) as store:
        return [ev.id async for ev in store.events(venue=venue, account=account, feed=feed)]


async def assert_store_is_the_dataset(dsn: str, world: World) -> None:
    for v, a, f in world.feeds():
        ids = await stored_ids(dsn, v, a, f)
        assert len(ids) == len(set(ids))
        assert set(ids) == world.expected(v, a, f), f"{v}/{a}/{f}"


async def job_rows(dsn: str) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT id, status::text, attempts, lock, queueing_lock, args, scheduled_at "
                                 "FROM procrastinate_jobs WHERE task_name = %s ORDER BY id", (SYNC_TASK,))
        cols = [c.name for c in cur.description or ()]
        return [dict(zip(cols, r, strict=True)) for r in await cur.fetchall()]


# --- planning ----------------------------------------------------------------------------------


def test_one_job_per_feed_locked_by_its_rate_limit_identity(config: Config, world: World) -> None:
    jobs = plan_jobs(config)
    assert sorted((j.venue, j.account, j.feed) for j in jobs) == sorted(world.feeds())
    assert len({j.queueing_lock for j in jobs}) == len(jobs) == N_FEEDS  # one waiting job per feed
    for j in jobs:
        # the lock is what the worker's client keys its per-UID bucket by: venue, key, path
        client = world.client(j.venue, 0)
        assert j.lock == rate_identity(j.venue, client.transport.scope_id, j.feed)
        assert j.lock.endswith(FEEDS[j.feed].path)
        assert "fleet-" not in j.lock  # the API key appears only as its fingerprint
    okx = {j.feed: j for j in jobs if j.venue == "okx"}
    assert okx["okx.convert_history"].lock != okx["okx.flexible_loan_history"].lock  # per endpoint


def test_accounts_sharing_a_key_share_each_endpoints_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K", "same-key")
    monkeypatch.setenv("S", "s")
    path = tmp_path / "c.toml"
    path.write_text('[[account]]\nvenue = "bybit"\nname = "a"\napi_key_env = "K"\nsecret_env = "S"\n'
                    '[[account]]\nvenue = "bybit"\nname = "b"\napi_key_env = "K"\nsecret_env = "S"\n')
    jobs = plan_jobs(load_config(path), ["bybit.flexible_borrow_history"])
    assert [(j.account, j.feed) for j in jobs] == [("a", "bybit.flexible_borrow_history"),
                                                   ("b", "bybit.flexible_borrow_history")]
    assert jobs[0].lock == jobs[1].lock == rate_identity("bybit", key_fingerprint("same-key"),
                                                          "bybit.flexible_borrow_history")
    assert jobs[0].queueing_lock != jobs[1].queueing_lock


def test_selection_follows_the_sync_rules(config: Config) -> None:
    assert {j.feed for j in plan_jobs(config, ["okx"])} == {f for f, s in FEEDS.items() if s.venue == "okx"}
    assert [j.feed for j in plan_jobs(config, ["bybit:bybit-0:bybit.legacy_borrow_history", "binance.pmloan_history"])
            ] == ["binance.pmloan_history", "bybit.legacy_borrow_history"]
    with pytest.raises(UsageError, match="--feeds: 'kraken'"):
        plan_jobs(config, ["kraken"])


def test_a_missing_api_key_variable_is_named(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEET_BYBIT_KEY_0")
    with pytest.raises(UsageError, match="FLEET_BYBIT_KEY_0"):
        plan_jobs(config)


# --- schemas -------------------------------------------------------------------------------------


async def test_schemas_apply_once_under_concurrent_openers(postgres_dsn: str) -> None:
    await asyncio.gather(*(prepare_database(postgres_dsn) for _ in range(4)))
    await prepare_database(postgres_dsn)  # and again: idempotent
    async with await psycopg.AsyncConnection.connect(postgres_dsn) as conn:
        cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL, "
                                 "to_regclass('loanledger.events') IS NOT NULL")
        assert await cur.fetchone() == (True, True)


async def test_an_older_queue_schema_is_refused_naming_what_is_missing(postgres_dsn: str) -> None:
    await prepare_database(postgres_dsn)
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await conn.execute("DROP FUNCTION procrastinate_update_heartbeat_v1")
    with pytest.raises(StoreError, match="procrastinate_update_heartbeat_v1.*migrations"):
        await prepare_database(postgres_dsn)


async def test_a_wrong_password_is_a_store_error_without_the_password(postgres_dsn: str) -> None:
    bad = postgres_dsn.replace("@", "xQz9@", 1)  # the password with a suffix
    password = bad.split("//", 1)[1].split("@", 1)[0].split(":", 1)[1]
    with pytest.raises(StoreError) as info:
        await prepare_database(bad)
    assert password not in str(info.value) and "***" in str(info.value)


# --- the task -------------------------------------------------------------------------------------


async def test_jobs_sync_every_feed_exactly_then_incrementally(workers: SyncWorkers, world: World,
                                                               postgres_dsn: str) -> None:
    jobs = plan_jobs(workers.config)  # type: ignore[arg-type]
    assert (await workers.schedule(jobs)).queued == N_FEEDS
    await drain(workers)
    await assert_store_is_the_dataset(postgres_dsn, world)
    assert await job_rows(postgres_dsn) == []  # succeeded jobs are deleted
    # field by field: the stored events are what a direct walk of the simulator yields
    async with PostgresStore(postgres_dsn, read_only=True) as store:
        for v in ("okx", "binance", "bybit"):
            async with world.client(v, 0, limits=RateLimits(scale=world.sim.rate_scale)) as client:
                for f in client.feed_ids():
                    walked = sorted([ev async for ev in client.events(f)], key=lambda e: e.id)
                    kept = sorted([ev async for ev in store.events(venue=v, feed=f)], key=lambda e: e.id)
                    assert kept == walked, f
    assert not rate_answers(world.sim)
    # the venues record more; the next round fetches only that
    world.sim.okx.grow("okx-0", seed=9, n=2)
    before = len(world.sim.log)
    assert (await workers.schedule(jobs)).queued == N_FEEDS
    await drain(workers)
    await assert_store_is_the_dataset(postgres_dsn, world)
    assert len(world.sim.log) - before < 40  # resumed from checkpoints, not walked again


async def test_a_feed_has_at_most_one_waiting_job(workers: SyncWorkers) -> None:
    jobs = plan_jobs(workers.config)  # type: ignore[arg-type]
    first = await workers.schedule(jobs)
    second = await workers.schedule(jobs)
    assert (first.queued, first.waiting) == (N_FEEDS, 0)
    assert (second.queued, second.waiting) == (0, N_FEEDS)
    assert await workers.counts() == {"todo": N_FEEDS}


def twins(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int) -> Config:
    """The world's config plus `n` more Bybit accounts (twin-1...) on bybit-0's API key."""
    path, env = write_config(tmp_path, world)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    text = path.read_text()
    for i in range(1, n + 1):
        text += (f'[[account]]\nvenue = "bybit"\nname = "twin-{i}"\napi_key_env = "FLEET_BYBIT_KEY_0"\n'
                 f'secret_env = "FLEET_BYB_SECRET"\nbase_url = "{world.sim.base_url}"\n')
    path.write_text(text)
    return load_config(path)


async def test_jobs_sharing_a_lock_never_run_at_once_even_on_two_workers(
    postgres_dsn: str, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # three configured accounts on one Bybit key: per endpoint, three jobs with one lock
    cfg = twins(world, tmp_path, monkeypatch, 2)
    jobs = plan_jobs(cfg, ["bybit"])
    bybit_feeds = sum(1 for f in FEEDS.values() if f.venue == "bybit")
    assert len(jobs) == 3 * bybit_feeds and len({j.lock for j in jobs}) == bybit_feeds
    # two workers, two hosts as the venue sees them: each has its own rate limits
    async with SyncWorkers(postgres_dsn, config=cfg, stalled_after=3, local_address="127.0.0.2") as w1, \
            SyncWorkers(postgres_dsn, config=cfg, stalled_after=3, local_address="127.0.0.3") as w2:
        await w1.schedule(jobs)
        await drain(w1, w2, concurrency=8)
    sim = world.sim
    assert {s.peer for s in sim.seen} == {"127.0.0.2", "127.0.0.3"}  # both took jobs
    assert interleavings(sim) == []  # per (account, endpoint): one job's requests, then the next's
    # ... while jobs of different endpoints did overlap: the workers ran several at once
    spans: dict[str, tuple[float, float]] = {}
    for r, s in zip(sim.log, sim.seen, strict=True):
        lo, hi = spans.get(s.job, (r.at, r.at))
        spans[s.job] = (min(lo, r.at), max(hi, r.at))
    ordered = sorted(spans.values())
    assert any(b[0] < a[1] for a, b in zip(ordered, ordered[1:], strict=False)), "no two jobs ran at once"
    assert not rate_answers(sim)
    for account in ("bybit-0", "twin-1", "twin-2"):  # three labels of one venue account: one dataset
        for f in (j.feed for j in jobs if j.account == account):
            assert set(await stored_ids(postgres_dsn, "bybit", account, f)) == world.expected("bybit", "bybit-0", f)


def job_context(w: SyncWorkers, job: FeedJob, job_id: int) -> procrastinate.JobContext:
    """The context procrastinate hands the task (to run the task body directly)."""
    return procrastinate.JobContext(
        app=w.app, start_timestamp=time.time(), abort_reason=lambda: None,
        job=Job(id=job_id, queue=job.venue, lock=job.lock, queueing_lock=job.queueing_lock, task_name=SYNC_TASK,
                task_kwargs={"venue": job.venue, "account": job.account, "feed": job.feed}),
    )


async def test_a_job_handed_to_another_host_keeps_the_per_uid_spacing(
    postgres_dsn: str, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five jobs of one lock (five labels of one Bybit key, one endpoint) run back to back,
    alternately on two workers with their own rate limits at the documented rate (5
    requests / s per UID): each job's first request comes at least one bucket interval
    after the previous job's last, as from one process. (A fresh bucket would send at once.)"""
    cfg = twins(world, tmp_path, monkeypatch, 4)
    jobs = plan_jobs(cfg, ["bybit.flexible_borrow_history"])
    assert len(jobs) == 5 and len({j.lock for j in jobs}) == 1
    async with SyncWorkers(postgres_dsn, config=cfg, stalled_after=3, local_address="127.0.0.2",
                           limits=RateLimits()) as w1, \
            SyncWorkers(postgres_dsn, config=cfg, stalled_after=3, local_address="127.0.0.3",
                        limits=RateLimits()) as w2:
        for i, job in enumerate(jobs):
            w = (w1, w2)[i % 2]
            await w.sync_feed(job_context(w, job, i + 1), job.venue, job.account, job.feed)
    reqs = [(r.at, s) for r, s in zip(world.sim.log, world.sim.seen, strict=True)
            if r.path == FEEDS["bybit.flexible_borrow_history"].path]
    assert [s.job for _, s in reqs] == ["1", "2", "3", "4", "5"]
    assert [s.peer for _, s in reqs] == ["127.0.0.2", "127.0.0.3"] * 2 + ["127.0.0.2"]
    interval = 1.0 / 5  # Bybit reports its count: the bucket paces at the documented rate (ratelimit.py)
    gaps = [t1 - t0 for (t0, _), (t1, _) in zip(reqs, reqs[1:], strict=False)]
    assert min(gaps) >= 0.95 * interval, f"{min(gaps):.3f}s between two jobs' requests (interval {interval:.3f}s)"
    assert not rate_answers(world.sim)


async def test_a_checkpoint_moved_by_another_writer_fails_the_job_and_the_next_resumes(
    workers: SyncWorkers, world: World, postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The store's compare-and-set is the last line of defence: a second writer of the feed
    (here a plain `Ledger` sync; in production, say, a worker taken for dead that was not)
    moves the checkpoint while a job waits for its third page. The job's commit is refused
    whole, the job fails, its continuation resumes from the other writer's checkpoint."""
    feed = "binance.pm_interest_history"
    path = FEEDS[feed].path
    route = world.sim.binance.find("GET", path)
    assert route is not None
    other_done = asyncio.Event()
    worker_calls = 0

    async def other_writer() -> None:
        limits = RateLimits(scale=world.sim.rate_scale)
        async with Ledger([world.client("binance", 0, limits=limits)], store=PostgresStore(postgres_dsn)) as ledger:
            async for _ in ledger.sync([feed]):
                pass
            assert ledger.last_report is not None and ledger.last_report.ok, ledger.last_report.table()
        other_done.set()

    async def handler(call: SimCall) -> Any:
        nonlocal worker_calls
        if "(job " in call.request.headers.get("User-Agent", ""):
            worker_calls += 1
            if worker_calls == 3:
                task = asyncio.create_task(other_writer())
                await other_done.wait()
                await task
        return await route.handler(call)

    world.sim.binance.route("GET", path, handler, limit=route.limit, signed=route.signed)
    caplog.set_level(logging.INFO, logger="loanledger.workers")
    [job] = [j for j in plan_jobs(workers.config) if j.feed == feed]  # type: ignore[arg-type]
    await workers.schedule([job])
    await drain(workers)
    rows = await job_rows(postgres_dsn)
    assert [(r["status"], r["args"]["attempt"]) for r in rows] == [("failed", 0)]  # the continuation succeeded
    messages = [r.getMessage() for r in caplog.records]
    assert any("CheckpointConflict" in m and "continues in" in m for m in messages), messages
    assert any(m.startswith(f"binance/binance-0/{feed}: ok") for m in messages)
    assert other_done.is_set()
    ids = await stored_ids(postgres_dsn, "binance", "binance-0", feed)
    assert len(ids) == len(set(ids)) and set(ids) == world.expected("binance", "binance-0", feed)


async def test_an_auth_failure_is_recorded_and_not_retried(
    postgres_dsn: str, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, env = write_config(tmp_path, world)
    env["FLEET_OKX_PASS"] = "not-the-passphrase"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cfg = load_config(path)
    caplog.set_level(logging.INFO, logger="loanledger.workers")
    async with SyncWorkers(postgres_dsn, config=cfg, stalled_after=3, retry_delay=0.2) as w:
        await w.schedule(plan_jobs(cfg, ["okx", "bybit"]))
        await drain(w)
        assert await w.counts() == {"failed": 4}  # the four OKX feeds; nothing waits to retry them
    failed = [r.getMessage() for r in caplog.records if "FAILED" in r.getMessage()]
    assert len(failed) == 4 and all("(permanent), not retried: AuthError" in m for m in failed), failed
    assert all("not-the-passphrase" not in r.getMessage() for r in caplog.records)
    for v, a, f in world.feeds():
        if v == "bybit":
            assert set(await stored_ids(postgres_dsn, v, a, f)) == world.expected(v, a, f)


def _broken(body: bytes) -> bytes:
    return b'{"code":"0","msg":"","data":[{"refId":"1","ts":"x"}]}'  # JSON of the wrong shape


async def test_a_transient_failure_continues_in_a_new_job_after_a_backoff(
    postgres_dsn: str, config: Config, world: World
) -> None:
    feed = "okx.flexible_loan_history"
    world.sim.faults.force_body(_broken, path=FEEDS[feed].path, count=1)
    # a backoff of 2 s: the continuation waits as `todo` for ten polls, so the poll sees it even on a
    # loaded machine (with 0.2 s it was often taken, done and deleted between two polls)
    async with SyncWorkers(postgres_dsn, config=config, stalled_after=3, retry_delay=2.0) as workers:
        [job] = [j for j in plan_jobs(workers.config) if j.feed == feed]  # type: ignore[arg-type]
        await workers.schedule([job])
        async with running(workers):
            await wait_for(lambda: _has(postgres_dsn, "todo", attempt=1), 10, "the continuation job")
            [cont] = [r for r in await job_rows(postgres_dsn) if r["status"] == "todo"]
            assert cont["lock"] == job.lock and cont["queueing_lock"] == job.queueing_lock
            assert cont["scheduled_at"] is not None  # it waits out the backoff
            await wait_for(lambda: idle(workers), 15, "the continuation to finish")
    assert [(r["status"], r["args"]["attempt"]) for r in await job_rows(postgres_dsn)] == [("failed", 0)]
    assert set(await stored_ids(postgres_dsn, "okx", "okx-0", feed)) == world.expected("okx", "okx-0", feed)


async def test_transient_failures_stop_after_max_attempts(
    postgres_dsn: str, config: Config, world: World
) -> None:
    feed = "okx.flexible_loan_history"
    world.sim.faults.force_body(_broken, path=FEEDS[feed].path, count=2)
    async with SyncWorkers(postgres_dsn, config=config, stalled_after=3, retry_delay=0.1, max_attempts=2) as w:
        await w.schedule([j for j in plan_jobs(config) if j.feed == feed])
        await drain(w)
    rows = await job_rows(postgres_dsn)
    assert [(r["status"], r["args"]["attempt"]) for r in rows] == [("failed", 0), ("failed", 1)]


async def _has(dsn: str, status: str, *, attempt: int) -> bool:
    return any(r["status"] == status and r["args"].get("attempt") == attempt for r in await job_rows(dsn))


# --- stalled jobs --------------------------------------------------------------------------------


async def _dead_worker_takes(w: SyncWorkers, dsn: str) -> int:
    """A worker takes one job, then dies (its heartbeat stops): the job stays `doing`."""
    manager = w.app.job_manager
    wid = await manager.register_worker()
    job = await manager.fetch_job(queues=None, worker_id=wid)
    assert job is not None and job.id is not None
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 minute' "
                           "WHERE id = %s", (wid,))
    return job.id


async def test_a_stalled_job_goes_back_to_the_queue(workers: SyncWorkers, postgres_dsn: str, world: World) -> None:
    jobs = plan_jobs(workers.config)  # type: ignore[arg-type]
    await workers.schedule(jobs[:1])
    stalled = await _dead_worker_takes(workers, postgres_dsn)
    assert await workers.retry_stalled() == [(stalled, "retried")]
    [row] = await job_rows(postgres_dsn)
    assert (row["id"], row["status"], row["attempts"]) == (stalled, "todo", 1)
    await drain(workers)
    v, a, f = jobs[0].venue, jobs[0].account, jobs[0].feed
    assert set(await stored_ids(postgres_dsn, v, a, f)) == world.expected(v, a, f)


async def test_a_stalled_job_whose_feed_has_a_newer_waiting_job_is_failed(
    workers: SyncWorkers, postgres_dsn: str, world: World
) -> None:
    jobs = plan_jobs(workers.config)  # type: ignore[arg-type]
    await workers.schedule(jobs[:1])
    stalled = await _dead_worker_takes(workers, postgres_dsn)
    assert (await workers.schedule(jobs[:1])).queued == 1  # allowed: the first one is `doing`
    # procrastinate's own retry would break the queueing lock, and the stalled job would keep
    # the feed's lock forever (`doing`), the newer job waiting behind it
    [job] = await workers.app.job_manager.get_stalled_jobs(seconds_since_heartbeat=3)
    with pytest.raises(UniqueViolation):
        await workers.app.job_manager.retry_job(job)
    assert await workers.retry_stalled() == [(stalled, "failed: a newer job of its feed waits and continues it")]
    await drain(workers)
    rows = await job_rows(postgres_dsn)
    assert [(r["id"], r["status"]) for r in rows] == [(stalled, "failed")]
    v, a, f = jobs[0].venue, jobs[0].account, jobs[0].feed
    assert set(await stored_ids(postgres_dsn, v, a, f)) == world.expected(v, a, f)


async def test_running_workers_retry_a_dead_workers_job_by_themselves(
    workers: SyncWorkers, postgres_dsn: str, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="loanledger.workers")
    jobs = plan_jobs(workers.config)  # type: ignore[arg-type]
    await workers.schedule(jobs[:1])
    stalled = await _dead_worker_takes(workers, postgres_dsn)
    async with running(workers):  # the periodic check (every second here) finds it
        await wait_for(lambda: idle(workers), 20, "the stalled job to be retried and run")
    assert any(f"job {stalled} " in r.getMessage() and "retried" in r.getMessage() for r in caplog.records)
    v, a, f = jobs[0].venue, jobs[0].account, jobs[0].feed
    assert set(await stored_ids(postgres_dsn, v, a, f)) == world.expected(v, a, f)


async def test_a_job_queued_under_another_key_is_refused(workers: SyncWorkers, postgres_dsn: str) -> None:
    [job] = [j for j in plan_jobs(workers.config) if j.feed == "okx.convert_history"]  # type: ignore[arg-type]
    await workers.schedule([dataclasses.replace(job, lock=rate_identity("okx", "0" * 16, job.feed))])
    await drain(workers)
    [row] = await job_rows(postgres_dsn)
    assert row["status"] == "failed"
    assert await stored_ids(postgres_dsn, "okx", "okx-0", job.feed) == []


def test_bad_settings_fail_naming_the_argument(config: Config) -> None:
    from loanledger import InvalidArgument

    with pytest.raises(InvalidArgument, match="dsn"):
        SyncWorkers("ledger.db")
    with pytest.raises(InvalidArgument, match="stalled_after"):
        SyncWorkers("postgresql://x@127.0.0.1/db", stalled_after=1)
    with pytest.raises(InvalidArgument, match="local_address"):
        SyncWorkers("postgresql://x@127.0.0.1/db", local_address="not-an-ip")
    with pytest.raises(InvalidArgument, match="max_attempts"):
        SyncWorkers("postgresql://x@127.0.0.1/db", max_attempts=0)

