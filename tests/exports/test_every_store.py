"""The exports read any store: memory, SQLite and PostgreSQL (NUMERIC) give the same files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from export_support import small_ledger

from loanledger import FeedKey, LoanEvent, MemoryStore, Store, open_store
from loanledger.exports import to_arrow, write_beancount, write_cointracking, write_koinly
from loanledger.testing.ledgers import three_book_events


async def put(store: Store, events: list[LoanEvent]) -> None:
    pages: dict[FeedKey, list[LoanEvent]] = {}
    for ev in events:
        pages.setdefault(FeedKey(ev.venue, ev.account, ev.feed), []).append(ev)
    for key, evs in pages.items():
        await store.commit_page(key, evs, "t", expected=None)


async def outputs(store: Store) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, writer in (("koinly", write_koinly), ("cointracking", write_cointracking)):
        buf = io.BytesIO()
        await writer(store.events(), buf)
        out[name] = buf.getvalue()
    buf = io.BytesIO()
    await write_beancount(store, buf, since=events()[400].ts)
    out["beancount"] = buf.getvalue()
    out["arrow"] = to_arrow([e async for e in store.events()]).to_pylist()
    return out


def events() -> list[LoanEvent]:
    return [*three_book_events(800, seed=31), *small_ledger()]


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_dsn"))
    return str(tmp_path / "l.db")


async def test_every_store_gives_the_same_exports(target: str) -> None:
    reference = MemoryStore()
    async with reference:
        await put(reference, events())
        want = await outputs(reference)
    async with open_store(target) as store:
        await put(store, events())
    async with open_store(target, read_only=True) as store:
        got = await outputs(store)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == want[name], name
