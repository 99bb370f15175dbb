"""The Ledger end to end against the simulator: three venues, every feed, a SQLite store."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from loanledger import (
    OKX,
    AuthError,
    Binance,
    Bybit,
    EventStatus,
    FeedKey,
    Ledger,
    LoanEvent,
    SQLiteStore,
    SyncError,
)
from loanledger.client import VenueClient
from loanledger.ratelimit import RateLimits
from loanledger.testing import Simulator

SCALE = 50.0
SIZE = 0.3


class World:
    """A simulator with one populated account per venue, and clients for them."""

    def __init__(self, sim: Simulator, seed: int) -> None:
        self.sim = sim
        self.seed = seed
        self.okx = sim.okx.add_account("ok-k", "ok-s", "ok-p", label="o")
        self.bn = sim.binance.add_account("bn-k", secret="bn-s", label="b")
        self.by = sim.bybit.add_account("by-k", secret="by-s", label="y")
        sim.okx.populate(self.okx, seed=seed, scale=SIZE)
        sim.binance.populate(self.bn, seed=seed, scale=SIZE)
        sim.bybit.populate(self.by, seed=seed, scale=SIZE)

    def clients(self, *, bybit_secret: str = "by-s") -> list[VenueClient]:
        limits = RateLimits(scale=SCALE)
        url = self.sim.base_url
        return [
            OKX("ok-k", "ok-s", "ok-p", account="o", base_url=url, limits=limits),
            Binance("bn-k", "bn-s", account="b", base_url=url, limits=limits),
            Bybit("by-k", bybit_secret, account="y", base_url=url, limits=limits),
        ]

    def expected(self) -> dict[FeedKey, set[str]]:
        out: dict[FeedKey, set[str]] = {}
        for venue, acct, label in (("okx", self.okx, "o"), ("binance", self.bn, "b"), ("bybit", self.by, "y")):
            sim_venue: Any = getattr(self.sim, venue)
            for client in self.clients():
                if client.venue != venue:
                    continue
                for feed_id in client.feed_ids():
                    out[FeedKey(venue, label, feed_id)] = sim_venue.expected_ids(acct, feed_id)
        return out

    def grow(self, seed: int) -> None:
        self.sim.okx.grow(self.okx, seed=seed, n=3)
        self.sim.binance.grow(self.bn, seed=seed, n=3)
        self.sim.bybit.grow(self.by, seed=seed, n=3)


@pytest.fixture
async def world() -> Any:
    async with Simulator(seed=11, rate_scale=SCALE) as sim:
        yield World(sim, seed=11)


async def stored(store: SQLiteStore) -> dict[FeedKey, list[str]]:
    out: dict[FeedKey, list[str]] = {}
    async for ev in store.events():
        out.setdefault(FeedKey(ev.venue, ev.account, ev.feed), []).append(ev.id)
    return out


def assert_exactly_once(got: dict[FeedKey, list[str]], expected: dict[FeedKey, set[str]]) -> None:
    assert set(got) <= set(expected)
    for key, ids in expected.items():
        seen = got.get(key, [])
        dup = [i for i, n in Counter(seen).items() if n > 1]
        assert not dup, f"{key}: duplicated {dup[:5]}"
        assert set(seen) == ids, f"{key}: missing {sorted(ids - set(seen))[:5]}, extra {sorted(set(seen) - ids)[:5]}"


async def test_full_then_incremental_sync_into_sqlite(world: World, tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    async with Ledger(world.clients(), store=SQLiteStore(db)) as ledger:
        first = [ev async for ev in ledger.sync()]
        report = ledger.last_report
        assert report is not None and report.ok, report.table()
        assert ledger.store is not None
        assert_exactly_once(await stored(ledger.store), world.expected())  # type: ignore[arg-type]
        assert len(first) == sum(len(ids) for ids in world.expected().values())
        assert all(f.done and f.requests >= 1 for f in report.feeds)

        requests_before = len(world.sim.log)
        world.grow(seed=99)
        second = [ev async for ev in ledger.sync()]
        report2 = ledger.last_report
        assert report2 is not None and report2.ok
        assert_exactly_once(await stored(ledger.store), world.expected())  # type: ignore[arg-type]
    # only what is new or changed comes out of the second sync, each once
    ids = Counter((e.venue, e.feed, e.id) for e in second)
    assert all(n == 1 for n in ids.values())
    first_keys = {(e.venue, e.feed, e.id): e for e in first}
    for ev in second:
        old = first_keys.get((ev.venue, ev.feed, ev.id))
        assert old is None or old != ev, f"unchanged event re-yielded: {ev.feed} {ev.id}"
    assert any(e.status is EventStatus.DONE and (e.venue, e.feed, e.id) in first_keys
               and first_keys[(e.venue, e.feed, e.id)].status is EventStatus.PENDING for e in second), \
        "a pending record that settled should come back as changed"
    # and it costs far fewer requests than the backfill
    assert len(world.sim.log) - requests_before < requests_before / 2


async def test_a_feed_with_a_bad_key_fails_alone(world: World, tmp_path: Path) -> None:
    async with Ledger(world.clients(bybit_secret="wrong"), store=SQLiteStore(tmp_path / "l.db")) as ledger:
        events: list[LoanEvent] = []
        with pytest.raises(SyncError) as failed:  # raised after the healthy feeds' events
            async for ev in ledger.sync():
                events.append(ev)
        report = ledger.last_report
    assert report is not None and not report.ok and failed.value.report is report
    assert {k.venue for k in failed.value.errors} == {"bybit"}
    assert all(isinstance(e, AuthError) for e in failed.value.exceptions)
    failed = {f.key.venue for f in report.failed}
    assert failed == {"bybit"}
    assert all("AuthError" in (f.error or "") for f in report.failed)
    assert {e.venue for e in events} == {"okx", "binance"}
    expected = world.expected()
    ok_feeds = {k: v for k, v in expected.items() if k.venue != "bybit"}
    assert sum(len(v) for v in ok_feeds.values()) == len(events)
    assert "FAILED AuthError" in report.table()


async def test_merged_is_one_stream_newest_first(world: World) -> None:
    async with Ledger(world.clients()) as ledger:
        events = [ev async for ev in ledger.merged(feeds=["okx", "binance.pmloan_history"])]
    wanted = {k: v for k, v in world.expected().items() if k.venue == "okx" or k.feed == "binance.pmloan_history"}
    assert Counter((e.feed, e.id) for e in events) == Counter((k.feed, i) for k, ids in wanted.items() for i in ids)
    # a parent and its legs travel together; across feeds the stream is ordered by ts, newest first
    heads = [e.ts for e in events if e.parent_id is None]
    inversions = sum(1 for a, b in zip(heads, heads[1:]) if b > a)
    assert inversions <= len({e.feed for e in events}) * 2, "the merge should interleave feeds by ts"


async def test_follow_picks_up_new_records_and_settled_pending(world: World, tmp_path: Path) -> None:
    got: list[LoanEvent] = []
    first_round = asyncio.Event()
    grown = asyncio.Event()
    async with Ledger(world.clients(), store=SQLiteStore(tmp_path / "f.db")) as ledger:
        total = sum(len(v) for v in world.expected().values())

        async def consume() -> None:
            async for ev in ledger.follow(interval=0.2, feeds=["okx.one_click_repay_history", "bybit"]):
                got.append(ev)
                if not first_round.is_set() and len(got) >= expected_first:
                    first_round.set()
                if grown.is_set() and len(got) > expected_first:
                    if any(e.status is EventStatus.DONE and e.id in pending_ids for e in got[expected_first:]):
                        return

        subset = {k: v for k, v in world.expected().items()
                  if k.feed == "okx.one_click_repay_history" or k.venue == "bybit"}
        expected_first = sum(len(v) for v in subset.values())
        assert expected_first < total
        task = asyncio.create_task(consume())
        await asyncio.wait_for(first_round.wait(), 60)
        pending_ids = {e.id for e in got if e.status is EventStatus.PENDING}
        assert pending_ids, "the generated data has running/processing records"
        world.grow(seed=123)
        grown.set()
        await asyncio.wait_for(task, 60)
    later = got[expected_first:]
    assert later, "follow yielded nothing after the venue changed"
    assert any(e.id in pending_ids and e.status is EventStatus.DONE for e in later)
    assert len({(e.feed, e.id) for e in later}) == len(later) or all(e.status is not EventStatus.PENDING for e in later)


async def test_follow_without_a_store_yields_only_changes_and_cancels_cleanly(world: World) -> None:
    async with Ledger(world.clients()[:1]) as ledger:
        got: list[LoanEvent] = []

        async def consume() -> None:
            async for ev in ledger.follow(interval=0.1, feeds=["okx.one_click_repay_history"]):
                got.append(ev)

        task = asyncio.create_task(consume())
        n = len(world.expected()[FeedKey("okx", "o", "okx.one_click_repay_history")])
        for _ in range(200):
            await asyncio.sleep(0.05)
            if len(got) >= n:
                break
        await asyncio.sleep(0.5)  # several more polling rounds: still-pending records must not repeat
        assert len(got) == n
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("seed", range(12))
async def test_sync_cancelled_at_a_random_point_then_resumed_is_exact(seed: int, tmp_path: Path) -> None:
    """Cancel the sync task at a random moment (mid-request, mid-commit, between pages), reopen
    the store and sync again: the store holds the dataset exactly once. The reliability suite
    runs hundreds of seeds and a real kill -9 of the CLI."""
    rng = random.Random(seed)
    async with Simulator(seed=seed, rate_scale=SCALE) as sim:
        world = World(sim, seed=seed)
        db = tmp_path / "crash.db"
        async with Ledger(world.clients(), store=SQLiteStore(db)) as ledger:
            task = asyncio.create_task(_drain(ledger))
            await asyncio.sleep(rng.uniform(0.01, 0.6))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        async with Ledger(world.clients(), store=SQLiteStore(db)) as ledger:
            await _drain(ledger)
            assert ledger.last_report is not None and ledger.last_report.ok
            assert ledger.store is not None
            assert_exactly_once(await stored(ledger.store), world.expected())  # type: ignore[arg-type]


async def _drain(ledger: Ledger) -> None:
    async for _ in ledger.sync():
        pass


async def test_keep_raw_stores_each_records_venue_bytes(world: World, tmp_path: Path) -> None:
    import msgspec

    async with Ledger(world.clients()[:1], store=SQLiteStore(tmp_path / "raw.db"), keep_raw=True) as ledger:
        await _drain(ledger)
        assert ledger.store is not None
        events = [e async for e in ledger.store.events(feed="okx.convert_history")]
    assert events and all(e.raw is not None for e in events)
    for e in events:
        assert e.raw is not None
        record = msgspec.json.decode(bytes(e.raw))
        assert record["tradeId"] == e.id


def test_ledger_argument_errors() -> None:
    okx = OKX("k", "s", "p", account="same")
    with pytest.raises(ValueError, match="clients: two okx clients share account label 'same'"):
        Ledger([okx, OKX("k2", "s", "p", account="same")])
    with pytest.raises(ValueError, match="clients: give at least one client"):
        Ledger([])
    with pytest.raises(TypeError, match="clients"):
        Ledger(["okx"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="store"):
        Ledger([okx], store="ledger.db")  # type: ignore[arg-type]
    ledger = Ledger([okx])
    with pytest.raises(ValueError, match="feeds: unknown feed or venue 'okx.nope'"):
        ledger.sync(feeds=["okx.nope"])
    with pytest.raises(ValueError, match="interval"):
        ledger.follow(interval=0)
    with pytest.raises(ValueError, match="since: naive datetime"):
        import datetime as dt

        ledger.merged(since=dt.datetime(2024, 1, 1))
