"""PostgresStore's own behaviour (the contract is in test_store_contract.py): the schema and
its version table, migrations in place, read-only opens, two processes racing one feed, a
lost connection, and the DSN's password kept out of every message."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
import traceback
from decimal import Decimal
from pathlib import Path

import msgspec
import psycopg
import pytest

from loanledger import (
    CheckpointConflict,
    EventKind,
    EventStatus,
    FeedKey,
    LoanEvent,
    PostgresStore,
    Store,
    StoreError,
)
from loanledger.store import postgres as pgmod
from loanledger.testing.postgres import TempPostgres

KEY = FeedKey("okx", "main", "okx.one_click_repay_history")


def ev(id: str, ts: int, amount: str, **kw: object) -> LoanEvent:
    base: dict[str, object] = dict(
        venue="okx", account="main", feed="okx.one_click_repay_history", id=id, kind=EventKind.REPAY,
        status=EventStatus.DONE, ts=ts, currency="USDC", amount=Decimal(amount), venue_type="filled",
    )
    base.update(kw)
    return LoanEvent(**base)  # type: ignore[arg-type]


async def sql(dsn: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(query, params)  # type: ignore[arg-type]
        return await cur.fetchall() if cur.description else []


async def test_schema_has_a_version_table_exact_numeric_columns_and_c_collation(postgres_dsn: str) -> None:
    for _ in range(2):
        async with PostgresStore(postgres_dsn) as s:
            assert isinstance(s, Store)
    assert await sql(postgres_dsn, "SELECT version FROM loanledger.schema_migrations ORDER BY 1") == [
        (n + 1,) for n in range(len(pgmod.MIGRATIONS))]
    cols = {name: (dtype, precision, scale, collation) for name, dtype, precision, scale, collation in await sql(
        postgres_dsn,
        "SELECT column_name, data_type, numeric_precision, numeric_scale, collation_name"
        " FROM information_schema.columns WHERE table_schema = 'loanledger' AND table_name = 'events'")}
    assert set(cols) == {*LoanEvent.__struct_fields__, "stored_at"}
    for money in ("amount", "debt", "collateral", "counter_amount"):
        assert cols[money] == ("numeric", None, None, None), money  # no precision or scale cap
    assert cols["raw"][0] == "bytea" and cols["ts"][0] == "bigint"
    assert {c for c in ("venue", "account", "feed", "id", "currency") if cols[c][3] == "C"} == {
        "venue", "account", "feed", "id", "currency"}


async def _version_1_ledger(dsn: str) -> None:
    """A PostgreSQL ledger at schema version 1 (before the debt and collateral books), one stored repay."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(pgmod._CREATE_VERSIONS)
        await conn.execute(pgmod.MIGRATIONS[0])
        await conn.execute("INSERT INTO loanledger.schema_migrations VALUES (1, 1742194490000)")
        await conn.execute(
            "INSERT INTO loanledger.events (venue, account, feed, id, kind, status, ts, currency, amount,"
            " counter_currency, counter_amount, ref_id, parent_id, venue_type, raw, stored_at) VALUES"
            " ('okx','main','okx.one_click_repay_history','1742194481852:USDC','repay','done',1742194481852,'USDC',"
            " -9.079631989,NULL,NULL,NULL,NULL,'filled','{\"fillDebtSz\":\"9.079631989\"}'::bytea,1742194490000)")
        await conn.execute("INSERT INTO loanledger.checkpoints VALUES ('okx','main','okx.one_click_repay_history',"
                           "'tok-v1',1742194490000)")


async def test_a_version_1_ledger_upgrades_in_place(postgres_dsn: str) -> None:
    await _version_1_ledger(postgres_dsn)
    async with PostgresStore(postgres_dsn) as s:
        [old] = [e async for e in s.events()]
        assert (old.amount, old.debt, old.collateral) == (Decimal("-9.079631989"), Decimal(0), Decimal(0))
        assert old.raw is not None and bytes(old.raw) == b'{"fillDebtSz":"9.079631989"}'
        assert await s.checkpoint(KEY) == "tok-v1"
        assert await s.commit_page(KEY, [old], "t1", expected="tok-v1") == []  # the upgraded row is today's event
        changed = msgspec.structs.replace(old, debt=Decimal("-9.079631989"))
        assert await s.commit_page(KEY, [changed], "t2", expected="t1") == [changed]
    assert await sql(postgres_dsn, "SELECT version FROM loanledger.schema_migrations ORDER BY 1") == [(1,), (2,)]


async def test_newer_and_foreign_schemas_are_refused(postgres_dsn: str, postgres_server: TempPostgres) -> None:
    async with PostgresStore(postgres_dsn):
        pass
    await sql(postgres_dsn, "INSERT INTO loanledger.schema_migrations VALUES (%s, 0)", (len(pgmod.MIGRATIONS) + 1,))
    for read_only in (False, True):
        with pytest.raises(StoreError, match="newer than this loanledger"):
            await PostgresStore(postgres_dsn, read_only=read_only).open()
    other = await postgres_server.create_database()
    try:
        await sql(other, "CREATE SCHEMA loanledger; CREATE TABLE loanledger.notes (body text)")
        with pytest.raises(StoreError, match="schema 'loanledger' exists but is not a loanledger store"):
            await PostgresStore(other).open()
        assert await sql(other, "SELECT to_regclass('loanledger.events') IS NULL") == [(True,)]
    finally:
        await postgres_server.drop_database(other.rsplit("/", 1)[1])


async def test_read_only_never_creates_nor_migrates_and_its_sessions_are_read_only(postgres_dsn: str) -> None:
    with pytest.raises(StoreError, match="not a loanledger store"):
        await PostgresStore(postgres_dsn, read_only=True).open()
    assert await sql(postgres_dsn, "SELECT to_regnamespace('loanledger') IS NULL") == [(True,)]
    await _version_1_ledger(postgres_dsn)
    with pytest.raises(StoreError, match="older than this loanledger; open it once without read_only"):
        await PostgresStore(postgres_dsn, read_only=True).open()
    assert await sql(postgres_dsn, "SELECT max(version) FROM loanledger.schema_migrations") == [(1,)]
    async with PostgresStore(postgres_dsn):
        pass  # upgraded by a read-write open
    async with PostgresStore(postgres_dsn, read_only=True) as ro:
        assert len([e async for e in ro.events()]) == 1
        with pytest.raises(StoreError, match="read-only"):
            await ro.commit_page(KEY, [], "t2", expected="tok-v1")
        # and the server itself refuses a write on its sessions
        async with ro._conns().connection() as conn:
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                await conn.execute("DELETE FROM loanledger.events")
    assert len(await sql(postgres_dsn, "SELECT id FROM loanledger.events")) == 1


async def test_concurrent_opens_of_a_fresh_database_migrate_it_once(postgres_dsn: str) -> None:
    stores = [PostgresStore(postgres_dsn, pool_size=1) for _ in range(5)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert await sql(postgres_dsn, "SELECT version FROM loanledger.schema_migrations ORDER BY 1") == [(1,), (2,)]
        await stores[0].commit_page(KEY, [ev("a", 1, "-1")], "t1", expected=None)
        assert [await s.checkpoint(KEY) for s in stores] == ["t1"] * 5
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_two_processes_racing_one_feed_never_fork_its_checkpoint(postgres_dsn: str) -> None:
    """Two OS processes commit pages of one feed as fast as they can, each with the checkpoint
    it just read as `expected`. The wins form one chain (no two wins from the same token),
    every winning page is stored whole, no losing page left a row, and they did race."""
    async with PostgresStore(postgres_dsn):
        pass  # migrated up front, so both start writing at once
    worker = Path(__file__).with_name("pg_race_worker.py")
    start_at = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, str(worker), postgres_dsn, name, str(start_at), "40"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("p1", "p2")]
    outs = []
    for p in procs:
        out, err = await asyncio.to_thread(p.communicate, timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    wins = [w for o in outs for w in o["wins"]]
    conflicts = sum(o["conflicts"] for o in outs)
    assert len(wins) + conflicts == 80
    assert conflicts >= 1, "the two processes never raced"
    by_expected: dict[object, dict[str, object]] = {}
    for w in wins:
        assert w["expected"] not in by_expected, f"two wins from the same checkpoint {w['expected']!r}"
        by_expected[w["expected"]] = w
    chain, token = [], None
    while token in by_expected:
        chain.append(by_expected[token])
        token = by_expected[token]["new"]
    assert len(chain) == len(wins), "the wins do not form one chain"
    stored = {r[0] for r in await sql(postgres_dsn, "SELECT id FROM loanledger.events")}
    assert stored == {i for w in wins for i in w["ids"]}  # type: ignore[attr-defined]
    assert await sql(postgres_dsn, "SELECT token FROM loanledger.checkpoints") == [(token,)]


async def test_a_connection_killed_by_the_server_is_replaced(postgres_dsn: str) -> None:
    async with PostgresStore(postgres_dsn, pool_size=2) as s:
        await s.commit_page(KEY, [ev("a", 1, "-1")], "t1", expected=None)
        await sql(postgres_dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        assert await s.checkpoint(KEY) == "t1"
        await s.commit_page(KEY, [ev("b", 2, "-1")], "t2", expected="t1")
        with pytest.raises(CheckpointConflict):
            await s.commit_page(KEY, [ev("c", 3, "-1")], "t3", expected="t1")
        assert [e.id async for e in s.events()] == ["a", "b"]


def _everything_said(exc: BaseException) -> str:
    """The exception's message, repr, traceback, chained causes and attributes."""
    parts = ["".join(traceback.format_exception(exc)), repr(exc)]
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        parts += [str(e), repr(e), repr(vars(e)) if hasattr(e, "__dict__") else ""]
        e = e.__cause__ or e.__context__
    return "\n".join(parts)


async def test_the_password_never_appears_in_reprs_errors_or_logs(
    postgres_server: TempPostgres, postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "s3cret-Hunter2-xyzzy"
    dbname = postgres_dsn.rsplit("/", 1)[1]
    wrong = f"postgresql://{postgres_server.user}:{secret}@127.0.0.1:{postgres_server.port}/{dbname}"
    store = PostgresStore(wrong)
    assert secret not in repr(store) and secret not in str(store) and ":***@" in repr(store)
    said = []
    with pytest.raises(StoreError, match="password authentication failed") as refused:
        await store.open()
    said.append(_everything_said(refused.value))
    closed_port = f"postgresql://u:{secret}@127.0.0.1:1/{dbname}?connect_timeout=2"
    with pytest.raises(StoreError, match="cannot open") as unreachable:
        await PostgresStore(closed_port).open()
    said.append(_everything_said(unreachable.value))
    for garbled_dsn in (f"host=127.0.0.1 password={secret} bogus", f"postgresql://u:{secret}@h/d?sslmode=x&bad",
                        f"host='127.0.0.1 password={secret}", f"postgresql://u:{secret}@h/d?nosuchoption=1"):
        with pytest.raises(ValueError, match="dsn: not a PostgreSQL URL") as garbled:
            PostgresStore(garbled_dsn)
        said.append(_everything_said(garbled.value))
    with pytest.raises(StoreError, match="not open") as not_open:
        await PostgresStore(wrong).checkpoint(KEY)
    said.append(_everything_said(not_open.value))
    said += [r.getMessage() + repr(r.args) for r in caplog.records]
    leaks = [s for s in said if secret in s]
    assert not leaks, leaks[0][:3000]
    # the real password neither (the session's server's)
    async with PostgresStore(postgres_dsn) as ok:
        assert postgres_server.password not in repr(ok)


def test_bad_arguments_fail_before_connecting() -> None:
    with pytest.raises(TypeError, match="dsn"):
        PostgresStore(b"postgresql://x/y")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dsn: must not be empty"):
        PostgresStore("  ")
    with pytest.raises(ValueError, match="pool_size: must be at least 1"):
        PostgresStore("postgresql://u@127.0.0.1/db", pool_size=0)
    with pytest.raises(TypeError, match="pool_size"):
        PostgresStore("postgresql://u@127.0.0.1/db", pool_size=2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="read_only"):
        PostgresStore("postgresql://u@127.0.0.1/db", read_only=1)  # type: ignore[arg-type]
    assert repr(PostgresStore("postgres://u@db.example:6432/ledger", read_only=True)) == (
        "PostgresStore('postgresql://u@db.example:6432/ledger', read_only=True)")
    assert repr(PostgresStore("host=127.0.0.1 dbname=ledger user=u")) == "PostgresStore('postgresql://u@127.0.0.1/ledger')"
