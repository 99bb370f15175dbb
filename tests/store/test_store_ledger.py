"""A Ledger syncing the simulator's three venues into each store: the store ends holding
exactly the simulator's dataset, event for event (every field, the venue's raw bytes
included), before and after the venues record more; balances agree across stores."""

from __future__ import annotations

from typing import Any

from store_support import Backend

from loanledger import OKX, Binance, Bybit, EventStatus, Ledger, LoanEvent, MemoryStore, RateLimits
from loanledger.client import VenueClient
from loanledger.testing import Simulator

SCALE = 50.0


def clients(sim: Simulator) -> list[VenueClient]:
    limits = RateLimits(scale=SCALE)
    return [
        OKX("ok-k", "ok-s", "ok-p", account="desk", base_url=sim.base_url, limits=limits),
        Binance("bn-k", "bn-s", account="desk", base_url=sim.base_url, limits=limits),
        Bybit("by-k", "by-s", account="desk", base_url=sim.base_url, limits=limits),
    ]


async def walked(sim: Simulator) -> dict[tuple[str, str, str, str], LoanEvent]:
    """Every feed walked straight from the simulator, no store: what the venues hold now."""
    out: dict[tuple[str, str, str, str], LoanEvent] = {}
    for client in clients(sim):
        async with client:
            for feed_id in client.feed_ids():
                async for ev in client.events(feed_id, keep_raw=True):
                    out[ev.key] = ev
    return out


def expected_ids(sim: Simulator, accounts: dict[str, Any]) -> set[tuple[str, str, str]]:
    out: set[tuple[str, str, str]] = set()
    for client in clients(sim):
        venue: Any = getattr(sim, client.venue)
        for feed_id in client.feed_ids():
            out |= {(client.venue, feed_id, i) for i in venue.expected_ids(accounts[client.venue], feed_id)}
    return out


async def test_a_ledger_sync_stores_exactly_the_simulators_dataset(backend: Backend) -> None:
    async with Simulator(seed=11, rate_scale=SCALE) as sim:
        accounts = {
            "okx": sim.okx.add_account("ok-k", "ok-s", "ok-p", label="desk"),
            "binance": sim.binance.add_account("bn-k", secret="bn-s", label="desk"),
            "bybit": sim.bybit.add_account("by-k", secret="by-s", label="desk"),
        }
        sim.okx.populate(accounts["okx"], seed=11, scale=0.3)
        sim.binance.populate(accounts["binance"], seed=11, scale=0.3)
        sim.bybit.populate(accounts["bybit"], seed=11, scale=0.3)

        async with Ledger(clients(sim), store=backend.store(), keep_raw=True) as ledger:
            first = [ev async for ev in ledger.sync()]
            assert ledger.last_report is not None and ledger.last_report.ok, ledger.last_report.table()
            stored = {e.key: e async for e in ledger.store.events()}
            assert {(v, f, i) for v, _, f, i in stored} == expected_ids(sim, accounts)
            assert stored == await walked(sim)  # every field, raw bytes included
            assert sorted(first, key=lambda e: e.key) == sorted(stored.values(), key=lambda e: e.key)
            assert all(e.raw is not None for e in stored.values())

            sim.okx.grow(accounts["okx"], seed=99, n=3)
            sim.binance.grow(accounts["binance"], seed=99, n=3)
            sim.bybit.grow(accounts["bybit"], seed=99, n=3)
            second = [ev async for ev in ledger.sync()]
            assert ledger.last_report is not None and ledger.last_report.ok
            now = {e.key: e async for e in ledger.store.events()}
            assert now == await walked(sim)
            assert {(v, f, i) for v, _, f, i in now} == expected_ids(sim, accounts)
            # the second sync yielded exactly what is new or changed, once each
            assert sorted(e.key for e in second) == sorted(k for k, e in now.items() if stored.get(k) != e)
            assert any(stored[e.key].status is EventStatus.PENDING for e in second if e.key in stored)

            # balances: the same books as a MemoryStore holding the same events
            reference = MemoryStore()
            by_feed: dict[Any, list[LoanEvent]] = {}
            for e in now.values():
                by_feed.setdefault((e.venue, e.account, e.feed), []).append(e)
            for feed in await ledger.store.feeds():
                await reference.commit_page(feed, by_feed.get((feed.venue, feed.account, feed.feed), []), "t",
                                            expected=None)
            books = await ledger.store.balances(include_pending=True)
            assert books == await reference.balances(include_pending=True)
            assert {k.venue for k in books} == {"okx", "binance", "bybit"}  # one account label, three venues
            assert await ledger.store.balances() == await reference.balances()
