"""`loanledger schedule` and `loanledger worker` in subprocesses, on a real PostgreSQL, against
the simulator served by the test process: exit codes, messages, once and periodic
scheduling, a worker stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from loanledger.registry import FEEDS
from conftest import idle
from workers_support import CLI, World, cli_env, rate_answers, wait_for, write_config

from loanledger import PostgresStore
from loanledger.workers import SyncWorkers

#: the demo world has one account per venue: one job per feed of the registry
N_FEEDS = len(FEEDS)


async def run(*args: str, env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*CLI, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env=cli_env(env))
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None and out == b""
    return proc.returncode, err.decode()


async def start(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(*CLI, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env=cli_env(env))


@pytest.fixture
def setup(world: World, tmp_path: Path) -> tuple[str, dict[str, str]]:
    path, env = write_config(tmp_path, world)
    return str(path), env


async def todo(dsn: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def test_schedule_once_queues_one_job_per_feed_and_keeps_waiting_ones(
    setup: tuple[str, dict[str, str]], postgres_dsn: str
) -> None:
    config, env = setup
    code, err = await run("schedule", "--config", config, "--db", postgres_dsn, env=env)
    assert code == 0, err
    assert err.strip() == f"loanledger schedule: queued {N_FEEDS} sync jobs; 0 feeds already had one waiting ({N_FEEDS} feeds)"
    code, err = await run("schedule", "--config", config, "--db", postgres_dsn, "--feeds", "okx", env=env)
    assert code == 0 and "queued 0 sync jobs; 4 feeds already had one waiting (4 feeds)" in err
    assert await todo(postgres_dsn) == N_FEEDS
    password = postgres_dsn.split("//", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert password not in err


async def test_schedule_every_period_until_interrupted(setup: tuple[str, dict[str, str]], postgres_dsn: str) -> None:
    config, env = setup
    proc = await start("schedule", "--config", config, "--db", postgres_dsn, "--every", "1s", "--feeds", "bybit",
                       env=env)
    assert proc.stderr is not None
    seen = [await asyncio.wait_for(proc.stderr.readline(), 60) for _ in range(3)]  # three rounds
    proc.send_signal(signal.SIGINT)
    _, rest = await asyncio.wait_for(proc.communicate(), 30)
    err = b"".join(seen).decode() + rest.decode()
    rounds = [line for line in err.splitlines() if line.startswith("loanledger schedule: queued")]
    assert proc.returncode == 130, err
    assert len(rounds) >= 3, err
    n = sum(1 for f in FEEDS.values() if f.venue == "bybit")
    assert rounds[0].startswith(f"loanledger schedule: queued {n} sync jobs; 0 ")
    assert all(r.startswith(f"loanledger schedule: queued 0 sync jobs; {n} ") for r in rounds[1:]), rounds
    assert err.splitlines()[-1] == "loanledger: interrupted; the jobs already queued stay queued"
    assert await todo(postgres_dsn) == n


async def test_a_worker_runs_the_jobs_and_stops_on_sigterm(
    setup: tuple[str, dict[str, str]], postgres_dsn: str, world: World
) -> None:
    config, env = setup
    assert (await run("schedule", "--config", config, "--db", postgres_dsn, env=env))[0] == 0
    proc = await start("worker", "--config", config, "--db", postgres_dsn, "--concurrency", "6", "--poll", "0.2",
                       "--name", "w-test", env=env)
    try:
        async with SyncWorkers(postgres_dsn) as q:
            await wait_for(lambda: idle(q), 60, "the worker to run every job")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
    err = err_bytes.decode()
    assert proc.returncode == 0, err
    lines = err.splitlines()
    assert lines[0].startswith("loanledger worker w-test: queues okx, binance, bybit, concurrency 6, ledger "
                               "postgresql://loanledger:***@127.0.0.1:")
    assert sum(": ok, " in line for line in lines) == N_FEEDS, err
    assert lines[-1] == "loanledger worker w-test: stopped (SIGTERM)"
    assert "Traceback" not in err
    async with PostgresStore(postgres_dsn, read_only=True) as store:
        for v, a, f in world.feeds():
            assert {ev.id async for ev in store.events(venue=v, account=a, feed=f)} == world.expected(v, a, f)
    assert not rate_answers(world.sim)


async def test_a_worker_reports_failures_on_one_line_each(
    setup: tuple[str, dict[str, str]], postgres_dsn: str
) -> None:
    config, env = setup
    env = {**env, "FLEET_BYB_SECRET": "wrong-secret"}
    assert (await run("schedule", "--config", config, "--db", postgres_dsn, "--feeds", "bybit:bybit-0", env=env))[0] == 0
    proc = await start("worker", "--config", config, "--db", postgres_dsn, "--queues", "bybit", env=env)
    try:
        async with SyncWorkers(postgres_dsn) as q:
            await wait_for(lambda: idle(q), 60, "the worker to run every job")
            assert await q.counts() == {"failed": sum(1 for f in FEEDS.values() if f.venue == "bybit")}
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
    err = err_bytes.decode()
    failed = [line for line in err.splitlines() if "FAILED" in line]
    n = sum(1 for f in FEEDS.values() if f.venue == "bybit")
    assert len(failed) == n and all("(permanent), not retried: AuthError" in f for f in failed), err
    assert "Traceback" not in err and "wrong-secret" not in err


def main_in_process(argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`loanledger ...` in this process (a usage error exits before any event loop work)."""
    from loanledger.cli import main

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


def no_queue(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NULL").fetchone()
        return bool(row and row[0])


@pytest.mark.parametrize("args, message", [
    (["--db", "ledger.db"], "--db: workers need a PostgreSQL URL"),
    (["--db", "sqlite:///x.db"], "--db: workers need a PostgreSQL URL"),
    (["--every", "0"], "argument --every: '0': must be at least 1 second"),
    (["--every", "5 minutes"], "argument --every: '5 minutes' is not a duration"),
    (["--feeds", "kraken"], "--feeds: 'kraken' is no feed"),
])
def test_schedule_usage_errors_exit_2(
    setup: tuple[str, dict[str, str]], postgres_server: Any, args: list[str], message: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    config, env = setup
    dsn = postgres_server.dsn  # the maintenance database: nothing may be created in it
    code, err = main_in_process(["schedule", "--config", config, "--db", dsn, *args], env, monkeypatch, capsys)
    assert code == 2 and message in err, err
    assert err.count("\n") == 1
    assert no_queue(dsn)


@pytest.mark.parametrize("args, message", [
    (["--db", "ledger.db"], "--db: workers need a PostgreSQL URL"),
    (["--stalled-after", "1"], "--stalled-after: 1 is below 3 seconds"),
    (["--local-address", "here"], "argument --local-address: 'here' is not an IP address"),
    (["--concurrency", "0"], "argument --concurrency: '0': must be from 1 to 256"),
    (["--queues", "kraken"], "argument --queues: invalid choice: 'kraken'"),
])
def test_worker_usage_errors_exit_2(
    setup: tuple[str, dict[str, str]], postgres_server: Any, args: list[str], message: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    config, env = setup
    dsn = postgres_server.dsn
    code, err = main_in_process(["worker", "--config", config, "--db", dsn, *args], env, monkeypatch, capsys)
    assert code == 2 and message in err, err
    assert err.count("\n") == 1
    assert no_queue(dsn)


def test_missing_credentials_and_a_wrong_password_exit_2_naming_them(
    setup: tuple[str, dict[str, str]], postgres_dsn: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, env = setup
    no_key = {k: v for k, v in env.items() if k != "FLEET_OKX_KEY_0"}
    code, err = main_in_process(["schedule", "--config", config, "--db", postgres_dsn], no_key, monkeypatch, capsys)
    assert code == 2 and "FLEET_OKX_KEY_0 (API key) is not set" in err
    monkeypatch.setenv("FLEET_OKX_KEY_0", env["FLEET_OKX_KEY_0"])
    # schedule never reads a secret; a worker needs every secret of the venues it serves
    monkeypatch.delenv("FLEET_BYB_SECRET")
    no_secret = {k: v for k, v in env.items() if k != "FLEET_BYB_SECRET"}
    assert main_in_process(["schedule", "--config", config, "--db", postgres_dsn], no_secret, monkeypatch,
                           capsys)[0] == 0
    code, err = main_in_process(["worker", "--config", config, "--db", postgres_dsn], no_secret, monkeypatch, capsys)
    assert code == 2 and "FLEET_BYB_SECRET (secret) is not set" in err
    wrong = postgres_dsn.replace("@", "Zz9@", 1)
    password = wrong.split("//", 1)[1].split("@", 1)[0].split(":", 1)[1]
    for cmd in ("schedule", "worker"):
        code, err = main_in_process([cmd, "--config", config, "--db", wrong], env, monkeypatch, capsys)
        assert code == 2 and err.startswith("loanledger: --db: PostgresStore('postgresql://loanledger:***@"), err
        assert password not in err and err.count("\n") == 1


async def test_a_worker_needs_only_the_credentials_of_the_venues_it_serves(
    setup: tuple[str, dict[str, str]], postgres_dsn: str
) -> None:
    config, env = setup
    no_secret = {k: v for k, v in env.items() if k != "FLEET_BYB_SECRET"}
    proc = await start("worker", "--config", config, "--db", postgres_dsn, "--queues", "okx", "binance",
                       env=no_secret)
    assert proc.stderr is not None
    first = await asyncio.wait_for(proc.stderr.readline(), 30)
    assert first.startswith(b"loanledger worker ") and b"queues okx, binance," in first
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
