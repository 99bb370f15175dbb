"""MemoryStore's own behaviour, and the Ledger keeping one when given no store."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loanledger import OKX, EventKind, EventStatus, FeedKey, Ledger, LoanEvent, MemoryStore, SQLiteStore, StoreError

KEY = FeedKey("bybit", "b", "bybit.flexible_borrow_history")
BORROW = LoanEvent(venue="bybit", account="b", feed=KEY.feed, id="1363", kind=EventKind.BORROW,
                   status=EventStatus.DONE, ts=1_742_194_481_852, currency="BTC", amount=Decimal("0.1"),
                   debt=Decimal("0.1"), ref_id="1363")


async def test_a_view_reads_the_same_data_live_and_never_writes() -> None:
    store = MemoryStore()
    view = store.view()
    assert view.read_only and not store.read_only
    await store.commit_page(KEY, [BORROW], "t1", expected=None)
    assert [e async for e in view.events()] == [BORROW] and await view.checkpoint(KEY) == "t1"
    with pytest.raises(StoreError, match="read-only"):
        await view.commit_page(KEY, [], "t2", expected="t1")
    assert repr(store) == "MemoryStore(1 events, 1 feeds)"
    assert repr(view) == "MemoryStore(1 events, 1 feeds, read_only=True)"
    async with store:  # open and close keep the data
        pass
    assert await store.feeds() == [KEY]


async def test_a_fresh_read_only_memory_store_is_empty_and_refuses_writes() -> None:
    ro = MemoryStore(read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        await ro.commit_page(KEY, [BORROW], "t1", expected=None)
    assert [e async for e in ro.events()] == [] and await ro.balances() == {}
    with pytest.raises(TypeError, match="read_only"):
        MemoryStore(read_only="no")  # type: ignore[arg-type]


async def test_a_ledger_without_a_store_keeps_a_memory_store_and_on_a_read_only_one_never_syncs(
    tmp_path: object,
) -> None:
    okx = OKX("k", "s", "p", account="main")
    ledger = Ledger([okx])
    assert isinstance(ledger.store, MemoryStore) and not ledger.store.read_only
    # a read-only store: the ledger reports (balances, reconcile) but refuses to sync, before any request
    for store, name in ((MemoryStore().view(), "MemoryStore"), (SQLiteStore("ledger.db", read_only=True), "SQLiteStore")):
        reader = Ledger([okx], store=store)
        with pytest.raises(ValueError, match=f"store: {name}.* is read-only"):
            reader.sync()
        with pytest.raises(ValueError, match=f"store: {name}.* is read-only"):
            reader.merged()
        with pytest.raises(ValueError, match=f"store: {name}.* is read-only"):
            reader.follow()
    await okx.close()
