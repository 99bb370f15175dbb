"""Opening a SQLiteStore: `read_only=True` never creates, migrates nor writes a file; neither
mode adopts a database that is not a loanledger store; `changed()` reads without writing."""

from __future__ import annotations

import hashlib
import sqlite3
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from loanledger import EventKind, EventStatus, FeedKey, InvalidArgument, LoanEvent, SQLiteStore, StoreError
from loanledger.store.sqlite import MIGRATIONS

KEY = FeedKey("bybit", "main", "bybit.flexible_repayment_history")


def ev(id: str, ts: int, amount: str, status: EventStatus = EventStatus.DONE) -> LoanEvent:
    return LoanEvent(venue="bybit", account="main", feed="bybit.flexible_repayment_history", id=id,
                     kind=EventKind.REPAY, status=status, ts=ts, currency="USDT", amount=Decimal(amount),
                     debt=Decimal(amount), venue_type="1",  # a repayment: wallet and debt both go down
                     raw=msgspec.Raw(b'{"repayId":"%s","repayAmount":"%s"}' % (id.encode(), amount.lstrip("-").encode())))


def files(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


async def make_ledger(path: Path) -> list[LoanEvent]:
    events = [ev("10286", 1_735_689_600_000, "-542"), ev("10287", 1_735_689_700_000, "-0.000000000000000001")]
    async with SQLiteStore(path) as store:
        await store.commit_page(KEY, events, "p1", expected=None)
    return events


async def test_read_only_reads_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    events = await make_ledger(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    async with SQLiteStore(db, read_only=True) as store:
        assert repr(store) == f"SQLiteStore({str(db)!r}, read_only=True)"
        assert [e async for e in store.events()] == events
        assert await store.checkpoint(KEY) == "p1"
        with pytest.raises(StoreError, match="read-only"):
            await store.commit_page(KEY, events, "p2", expected="p1")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


async def test_read_only_never_creates_a_file(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.db", tmp_path / "no such dir" / "x.db"):
        with pytest.raises(StoreError, match="cannot open"):
            await SQLiteStore(path, read_only=True).open()
    assert list(tmp_path.iterdir()) == []


async def test_a_foreign_database_is_refused_in_both_modes_and_left_as_it_was(tmp_path: Path) -> None:
    other = tmp_path / "music.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE events (title TEXT)")  # a table named like ours, in someone else's file
        conn.execute("INSERT INTO events VALUES ('concert')")
    conn.close()
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()  # a valid SQLite file with nothing in it
    text = tmp_path / "notes.db"
    text.write_text("not a database at all\n" * 50)
    before = files(tmp_path)
    for path in (other, text):
        for read_only in (True, False):
            with pytest.raises(StoreError, match="not a loanledger store"):
                await SQLiteStore(path, read_only=read_only).open()
    with pytest.raises(StoreError, match="not a loanledger store"):
        await SQLiteStore(empty, read_only=True).open()
    assert files(tmp_path) == before


async def test_schema_versions_a_reader_cannot_use(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    await make_ledger(newer)
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    for read_only in (True, False):
        with pytest.raises(StoreError, match=f"schema version {len(MIGRATIONS) + 1} is newer"):
            await SQLiteStore(newer, read_only=read_only).open()

    older = tmp_path / "older.db"  # a ledger written by the first schema
    with sqlite3.connect(older) as conn:
        conn.executescript(f"{MIGRATIONS[0]} PRAGMA user_version = 1;")
    conn.close()
    before = hashlib.sha256(older.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match="schema version 1 is older than this loanledger; open it writable once"):
        await SQLiteStore(older, read_only=True).open()
    assert hashlib.sha256(older.read_bytes()).hexdigest() == before
    async with SQLiteStore(older) as store:  # a writable open migrates it
        assert [e async for e in store.events()] == []
    async with SQLiteStore(older, read_only=True) as store:
        assert await store.feeds() == []


def test_read_only_argument_checks() -> None:
    with pytest.raises(InvalidArgument, match="path: a read-only store needs a file"):
        SQLiteStore(":memory:", read_only=True)
    with pytest.raises(TypeError, match="read_only: expected bool"):
        SQLiteStore("l.db", read_only="yes")  # type: ignore[arg-type]


async def test_changed_reads_what_a_commit_would_report_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    events = await make_ledger(db)
    pending = ev("10288", 1_735_689_800_000, "-7", status=EventStatus.PENDING)
    settled = msgspec.structs.replace(events[1], amount=Decimal("-0.000000000000000002"))
    async with SQLiteStore(db) as store:
        page = [events[0], settled, pending]
        assert await store.changed(KEY, page) == [settled, pending]
        assert await store.changed(KEY, page) == [settled, pending]  # still: nothing was written
        assert await store.checkpoint(KEY) == "p1"
        assert await store.commit_page(KEY, page, "p2", expected="p1") == [settled, pending]
        assert await store.changed(KEY, page) == []
