"""`Ledger.sync(before_commit=...)`: a page's new or changed events reach the callback before the
page commits, so what a failing consumer did not take is handed over again on the next sync."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import SECRETS, expected_ids, populated

from loanledger import OKX, Binance, Bybit, Ledger, LoanEvent, SQLiteStore, SyncError
from loanledger.client import VenueClient
from loanledger.ratelimit import RateLimits
from loanledger.testing import Simulator


def clients(sim: Simulator) -> list[VenueClient]:
    limits = RateLimits(scale=50.0)
    return [
        OKX(SECRETS["T_OKX_KEY"], SECRETS["T_OKX_SECRET"], SECRETS["T_OKX_PASS"], account="o",
            base_url=sim.base_url, limits=limits),
        Binance(SECRETS["T_BN_KEY"], SECRETS["T_BN_SECRET"], account="b", base_url=sim.base_url, limits=limits),
        Bybit(SECRETS["T_BY_KEY"], SECRETS["T_BY_SECRET"], account="y", base_url=sim.base_url, limits=limits),
    ]


class ConsumerGone(Exception):
    pass


async def test_a_failing_consumer_gets_the_uncommitted_pages_again(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    async with populated(scale=50.0) as sim:
        taken: list[LoanEvent] = []
        refused: list[LoanEvent] = []
        calls = 0

        async def flaky(events: list[LoanEvent]) -> None:
            nonlocal calls
            calls += 1
            if calls % 3 == 0:  # every third page: the consumer fails before taking it
                refused.extend(events)
                raise ConsumerGone("the consumer went away")
            taken.extend(events)

        async with Ledger(clients(sim), store=SQLiteStore(db)) as ledger:
            run = ledger.sync(before_commit=flaky)
            yielded: list[LoanEvent] = []
            with pytest.raises(SyncError) as failed:  # after every healthy feed's events
                async for ev in run:
                    yielded.append(ev)
            assert failed.value.report is run.report and failed.value.errors.keys() == {
                f.key for f in run.report.failed}
            assert all(isinstance(e, ConsumerGone) for e in failed.value.exceptions)
            assert not run.report.ok and refused
            assert {f.error for f in run.report.failed} == {"unexpected ConsumerGone: the consumer went away"}
            stored = {ev.key async for ev in ledger.store.events()}  # type: ignore[union-attr]
        # what is stored was taken first; what the consumer refused was not committed
        assert stored == {ev.key for ev in taken} == {ev.key for ev in yielded}
        assert not stored & {ev.key for ev in refused}

        second: list[LoanEvent] = []

        async def take(events: list[LoanEvent]) -> None:
            second.extend(events)

        async with Ledger(clients(sim), store=SQLiteStore(db)) as ledger:
            run = ledger.sync(before_commit=take)
            yielded = [ev async for ev in run]
            assert run.report.ok
            everything = {ev.key async for ev in ledger.store.events()}  # type: ignore[union-attr]
        assert sorted(ev.key for ev in second) == sorted(ev.key for ev in yielded)
        assert {ev.key for ev in refused} <= {ev.key for ev in second}  # handed over again
        assert {ev.key for ev in taken} | {ev.key for ev in second} == everything
        assert len(everything) == sum(len(ids) for ids in expected_ids(sim).values())

        # nothing new: the callback is not called
        async with Ledger(clients(sim), store=SQLiteStore(db)) as ledger:
            third: list[LoanEvent] = []

            async def more(events: list[LoanEvent]) -> None:
                third.extend(events)

            assert [ev async for ev in ledger.sync(before_commit=more)] == [] and third == []


async def test_without_a_store_the_callback_sees_each_page_before_it_is_yielded() -> None:
    async with populated(scale=50.0) as sim:
        seen: list[LoanEvent] = []

        async def look(events: list[LoanEvent]) -> None:
            seen.extend(events)

        async with Ledger(clients(sim)[2:]) as ledger:
            run = ledger.sync(["bybit.flexible_borrow_history"], before_commit=look)
            got = []
            async for ev in run:
                assert ev in seen  # the callback had it first
                got.append(ev)
        assert got == seen and {e.id for e in got} == expected_ids(sim)["bybit.flexible_borrow_history"]


async def test_before_commit_must_be_callable() -> None:
    async with populated(scale=50.0) as sim:
        async with Ledger(clients(sim)) as ledger:
            with pytest.raises(TypeError, match="before_commit"):
                ledger.sync(before_commit="print")  # type: ignore[arg-type]


async def test_one_feed_of_one_account_can_be_selected() -> None:
    async with populated(scale=50.0) as sim:
        async with Ledger(clients(sim)) as ledger:
            pairs = ledger.select(["bybit:y:bybit.fixed_borrow_contracts", "okx:o"])
            assert sorted((c.account, f) for c, f in pairs) == [
                ("o", "okx.convert_history"), ("o", "okx.flexible_loan_history"),
                ("o", "okx.flexible_loan_interest"), ("o", "okx.one_click_repay_history"),
                ("y", "bybit.fixed_borrow_contracts"),
            ]
            with pytest.raises(ValueError, match="unknown feed or venue 'bybit:y:okx.convert_history'"):
                ledger.select(["bybit:y:okx.convert_history"])
