"""SQLiteStore's own behaviour (the contract is in test_store_contract.py): the file, WAL,
migrations in place, a cancellation landing on the SQLite thread, read-only opens."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from loanledger import EventKind, EventStatus, FeedKey, InvalidArgument, LoanEvent, SQLiteStore, Store, StoreError
from loanledger.store.sqlite import MIGRATIONS

KEY = FeedKey("okx", "main", "okx.one_click_repay_history")


def ev(id: str, ts: int, amount: str, **kw: object) -> LoanEvent:
    base: dict[str, object] = dict(
        venue="okx", account="main", feed="okx.one_click_repay_history", id=id, kind=EventKind.REPAY,
        status=EventStatus.DONE, ts=ts, currency="USDC", amount=Decimal(amount), venue_type="filled",
    )
    base.update(kw)
    return LoanEvent(**base)  # type: ignore[arg-type]


async def test_schema_is_migrated_once_in_wal_with_amounts_as_text(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    for _ in range(2):
        async with SQLiteStore(path) as s:
            assert isinstance(s, Store)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        types = {r[1]: r[2] for r in db.execute("PRAGMA table_info(events)")}
        assert set(types) == {*LoanEvent.__struct_fields__, "stored_at"}
        assert types["amount"] == types["debt"] == types["collateral"] == "TEXT"  # exact text, never REAL
        assert types["raw"] == "BLOB"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="path"):
        SQLiteStore("")
    with pytest.raises(TypeError, match="path"):
        SQLiteStore(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="read_only"):
        SQLiteStore("l.db", read_only="yes")  # type: ignore[arg-type]


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "l.db")
    with pytest.raises(StoreError, match="not open"):
        await s.checkpoint(KEY)


@pytest.mark.parametrize("at", ["BEGIN IMMEDIATE", "SELECT token", "INSERT INTO checkpoints", "COMMIT"])
async def test_a_commit_cancelled_at_any_statement_is_whole_or_absent(tmp_path: Path, at: str) -> None:
    """A sync task cancelled while its page transaction is on the SQLite thread (Ctrl-C, a
    crash-resume test): the statement still runs there. The page and its checkpoint are then
    stored together or not at all, CancelledError (not a ROLLBACK failure) propagates, and
    the connection is left outside any transaction for the next page."""
    async with SQLiteStore(tmp_path / "l.db") as store:
        db = store._conn()
        real = db.execute

        def execute(sql: str, *args: object) -> object:
            if sql.startswith(at):
                task = asyncio.current_task()
                assert task is not None
                task.cancel()  # delivered while the statement waits on the SQLite thread
            return real(sql, *args)  # type: ignore[arg-type]

        db.execute = execute  # type: ignore[method-assign]
        with pytest.raises(asyncio.CancelledError):
            await store.commit_page(KEY, [ev("a", 1_700_000_000_000, "1")], "t1", expected=None)
        db.execute = real  # type: ignore[method-assign]
        stored = tuple([e.id async for e in store.events()])
        token = await store.checkpoint(KEY)
        assert (stored, token) in {((), None), (("a",), "t1")}
        assert not db.in_transaction
        await store.commit_page(KEY, [ev("b", 1_700_000_000_001, "2")], "t2", expected=token)
        assert await store.checkpoint(KEY) == "t2"


def _version_1_ledger(path: Path) -> None:
    """A ledger written by loanledger 0.1: schema 1, one stored repay."""
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
        db.execute(
            "INSERT INTO events (venue, account, feed, id, kind, status, ts, currency, amount, counter_currency,"
            " counter_amount, ref_id, parent_id, venue_type, raw, stored_at) VALUES"
            " ('okx','main','okx.one_click_repay_history','1742194481852:USDC','repay','done',1742194481852,'USDC',"
            " '-9.079631989',NULL,NULL,NULL,NULL,'filled',NULL,1742194490000)"
        )


async def test_a_version_1_ledger_upgrades_in_place_with_empty_debt_and_collateral_books(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _version_1_ledger(path)
    async with SQLiteStore(path) as s:
        [old] = [e async for e in s.events()]
        assert (old.amount, old.debt, old.collateral) == (Decimal("-9.079631989"), Decimal(0), Decimal(0))
        # the upgraded row compares equal to the same event decoded today: nothing re-yielded as changed
        assert await s.commit_page(KEY, [old], "t1", expected=None) == []
        changed = msgspec.structs.replace(old, debt=Decimal("-9.079631989"))
        assert await s.commit_page(KEY, [changed], "t2", expected="t1") == [changed]
        assert [e async for e in s.events()] == [changed]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    for read_only in (False, True):
        with pytest.raises(StoreError, match="newer than this loanledger"):
            async with SQLiteStore(path, read_only=read_only):
                pass


async def test_read_only_never_creates_nor_migrates(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="cannot open read-only"):
        await SQLiteStore(missing, read_only=True).open()
    assert not missing.exists()

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(StoreError, match="not a loanledger store"):
        await SQLiteStore(foreign, read_only=True).open()

    old = tmp_path / "v1.db"
    _version_1_ledger(old)
    with pytest.raises(StoreError, match="older than this loanledger; open it writable once"):
        await SQLiteStore(old, read_only=True).open()
    with sqlite3.connect(old) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1  # untouched

    with pytest.raises(InvalidArgument, match="path: a read-only store needs a file"):
        SQLiteStore(":memory:", read_only=True)  # refused before anything is opened
