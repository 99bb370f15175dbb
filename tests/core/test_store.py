"""SQLiteStore: idempotent upserts, exact decimals, checkpoint compare-and-set, queries."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from loanledger import CheckpointConflict, EventKind, EventStatus, FeedKey, LoanEvent, SQLiteStore, Store
from loanledger._money import exact_sum, signed
from loanledger.store.sqlite import MIGRATIONS

KEY = FeedKey("okx", "main", "okx.one_click_repay_history")


def ev(id: str, ts: int, amount: str, **kw: object) -> LoanEvent:
    base: dict[str, object] = dict(
        venue="okx", account="main", feed="okx.one_click_repay_history", id=id, kind=EventKind.REPAY,
        status=EventStatus.DONE, ts=ts, currency="USDC", amount=Decimal(amount), venue_type="filled",
    )
    base.update(kw)
    return LoanEvent(**base)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> SQLiteStore:  # type: ignore[misc]
    s = SQLiteStore(tmp_path / "ledger.db")
    await s.open()
    yield s
    await s.close()


async def test_schema_is_migrated_once_and_satisfies_the_protocol(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    for _ in range(2):
        async with SQLiteStore(path) as s:
            assert isinstance(s, Store)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cols = [r[1] for r in db.execute("PRAGMA table_info(events)")]
        assert set(LoanEvent.__struct_fields__) <= set(cols)
        assert dict((r[1], r[2]) for r in db.execute("PRAGMA table_info(events)"))["amount"] == "TEXT"


async def test_amounts_are_stored_and_summed_exactly(store: SQLiteStore) -> None:
    amounts = ["12345678901234567890.123456789012345678", "-0.000000000000000001", "0.10", "-0.1"]
    events = [ev(f"r{i}", 1_700_000_000_000 + i, a) for i, a in enumerate(amounts)]
    await store.commit_page(KEY, events, "t1", expected=None)
    back = [e async for e in store.events()]
    assert [e.amount.as_tuple() for e in back] == [Decimal(a).as_tuple() for a in amounts]  # digits + exponent
    total = (await store.balances())[("main", "USDC")]
    assert total == exact_sum(Decimal(a) for a in amounts)
    assert str(total) == "12345678901234567890.123456789012345677"  # the default context would round here
    assert sum((Decimal(a) for a in amounts), Decimal(0)) != total


async def test_upsert_returns_only_new_or_changed_and_pending_settles(store: SQLiteStore) -> None:
    running = ev("1742194481852:USDC", 1742194481852, "-9.0", status=EventStatus.PENDING, venue_type="running")
    other = ev("1742192217511:USDC", 1742192217511, "-100")
    assert await store.commit_page(KEY, [running, other], "t1", expected=None) == [running, other]
    assert await store.commit_page(KEY, [running, other], "t2", expected="t1") == []  # nothing new
    filled = msgspec.structs.replace(running, status=EventStatus.DONE, amount=Decimal("-9.079631989"),
                                     venue_type="filled")
    assert await store.commit_page(KEY, [filled, other], "t3", expected="t2") == [filled]
    stored = [e async for e in store.events()]
    assert len(stored) == 2 and filled in stored and running not in stored
    assert await store.checkpoint(KEY) == "t3"


async def test_checkpoint_compare_and_set_refuses_and_writes_nothing(store: SQLiteStore) -> None:
    await store.commit_page(KEY, [ev("a", 1_700_000_000_000, "-1")], "t1", expected=None)
    with pytest.raises(CheckpointConflict):
        await store.commit_page(KEY, [ev("b", 1_700_000_000_001, "-1")], "t2", expected="stale")
    assert [e.id async for e in store.events()] == ["a"]
    assert await store.checkpoint(KEY) == "t1"


async def test_an_event_of_another_feed_is_refused_before_writing(store: SQLiteStore) -> None:
    alien = ev("x", 1_700_000_000_000, "1", feed="okx.convert_history")
    with pytest.raises(ValueError, match="events"):
        await store.commit_page(KEY, [alien], "t1", expected=None)
    assert await store.checkpoint(KEY) is None


async def test_raw_is_kept_and_not_erased_by_a_later_write_without_it(store: SQLiteStore) -> None:
    raw = msgspec.Raw(b'{"debtCcy":"USDC","fillDebtSz":"9.079631989","extra":1}')
    await store.commit_page(KEY, [ev("a", 1, "-1", raw=raw)], "t1", expected=None)
    await store.commit_page(KEY, [ev("a", 1, "-1", status=EventStatus.FAILED)], "t2", expected="t1")
    (back,) = [e async for e in store.events()]
    assert back.status is EventStatus.FAILED and back.raw is not None and bytes(back.raw) == bytes(raw)


async def test_queries_filter_and_order(store: SQLiteStore) -> None:
    k2 = FeedKey("bybit", "b", "bybit.flexible_borrow_history")
    await store.commit_page(KEY, [ev("a", 10, "-1"), ev("b", 30, "-2", currency="BTC")], "t", expected=None)
    borrow = LoanEvent(venue="bybit", account="b", feed=k2.feed, id="1363", kind=EventKind.BORROW,
                       status=EventStatus.DONE, ts=20, currency="BTC", amount=Decimal("0.1"))
    await store.commit_page(k2, [borrow], "u", expected=None)
    assert [e.id async for e in store.events()] == ["a", "1363", "b"]
    assert [e.id async for e in store.events(descending=True)] == ["b", "1363", "a"]
    assert [e.id async for e in store.events(currency="BTC")] == ["1363", "b"]
    assert [e.id async for e in store.events(kind="borrow")] == ["1363"]
    assert [e.id async for e in store.events(venue="okx", since=11, until=30)] == ["b"]
    assert [e.id async for e in store.events(account="b")] == ["1363"]
    assert await store.feeds() == [k2, KEY]
    assert await store.summary() == [
        ("bybit", "b", "bybit.flexible_borrow_history", "borrow", 1),
        ("okx", "main", "okx.one_click_repay_history", "repay", 2),
    ]


async def test_balances_count_counter_legs_and_skip_failed_and_pending(store: SQLiteStore) -> None:
    legs = [
        ev("p", 100, "-9.079631989", status=EventStatus.DONE),
        ev("p:1", 101, "9.088651", kind=EventKind.CONVERT, counter_currency="USDT",
           counter_amount=Decimal("-9.088651"), parent_id="p"),
        ev("f", 102, "-5", status=EventStatus.FAILED),
        ev("q", 103, "-7", status=EventStatus.PENDING),
    ]
    await store.commit_page(KEY, legs, "t", expected=None)
    assert await store.balances() == {("main", "USDC"): Decimal("0.009019011"), ("main", "USDT"): Decimal("-9.088651")}
    with_pending = await store.balances(include_pending=True)
    assert with_pending[("main", "USDC")] == Decimal("-6.990980989")
    assert await store.balances(until=100) == {("main", "USDC"): Decimal("-9.079631989")}


def test_bad_paths() -> None:
    with pytest.raises(ValueError, match="path"):
        SQLiteStore("")
    with pytest.raises(TypeError, match="path"):
        SQLiteStore(3)  # type: ignore[arg-type]


def test_money_helpers_never_round() -> None:
    big = Decimal("12345678901234567890.123456789012345678")
    assert signed(big, True) == Decimal("-12345678901234567890.123456789012345678")
    assert signed(-big, False) != big  # -big already rounded: the reason `signed` exists
    assert signed(big.copy_negate(), False) == big
    import decimal

    with pytest.raises(decimal.Inexact):
        exact_sum([Decimal("1E+2000"), Decimal("1E-2000")])


async def test_concurrent_feeds_commit_through_one_connection(store: SQLiteStore) -> None:
    import asyncio

    keys = [FeedKey("okx", "main", f"okx.feed{i}") for i in range(8)]

    async def writer(key: FeedKey) -> None:
        token = None
        for page in range(5):
            evs = [ev(f"{key.feed}:{page}:{j}", 1_700_000_000_000 + page * 10 + j, "-1", feed=key.feed)
                   for j in range(20)]
            new = f"{key.feed}:{page}"
            await store.commit_page(key, evs, new, expected=token)
            token = new

    await asyncio.gather(*(writer(k) for k in keys))
    assert len([e async for e in store.events()]) == 8 * 5 * 20
    assert [await store.checkpoint(k) for k in keys] == [f"{k.feed}:4" for k in keys]


@pytest.mark.parametrize("at", ["BEGIN IMMEDIATE", "SELECT token", "INSERT INTO checkpoints", "COMMIT"])
async def test_a_commit_cancelled_at_any_statement_is_whole_or_absent(tmp_path: Path, at: str) -> None:
    """A sync task cancelled while its page transaction is on the SQLite thread (Ctrl-C, a
    crash-resume test): the statement still runs there. The page and its checkpoint are then
    stored together or not at all, CancelledError (not a ROLLBACK failure) propagates, and
    the connection is left outside any transaction for the next page."""
    import asyncio

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


async def test_a_version_1_ledger_upgrades_in_place_with_empty_debt_and_collateral_books(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:  # a ledger written by loanledger 0.1: schema 1, one stored repay
        db.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
        db.execute(
            "INSERT INTO events (venue, account, feed, id, kind, status, ts, currency, amount, counter_currency,"
            " counter_amount, ref_id, parent_id, venue_type, raw, stored_at) VALUES"
            " ('okx','main','okx.one_click_repay_history','1742194481852:USDC','repay','done',1742194481852,'USDC',"
            " '-9.079631989',NULL,NULL,NULL,NULL,'filled',NULL,1742194490000)"
        )
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
