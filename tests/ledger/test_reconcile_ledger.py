"""`Ledger.reconcile()` against the simulator: what it selects, what it skips and why, errors per
account, and a ledger on a read-only store that reports but never writes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from loanledger import OKX, Binance, Ledger, Position, RateLimits, SQLiteStore, Verdict
from loanledger.testing import Simulator

SCALE = 100.0
AMOUNT = "/sapi/v1/portfolio/pmLoan"


async def _world(sim: Simulator) -> tuple[Binance, OKX]:
    b = sim.binance.add_account("bk", secret="bs", label="b")
    sim.binance.populate(b, seed=4, scale=0.1)
    o = sim.okx.add_account("ok", "os", "op", label="o")
    sim.okx.populate(o, seed=4, scale=0.1)
    limits = RateLimits(scale=SCALE)
    return (Binance("bk", "bs", account="b", base_url=sim.base_url, limits=limits),
            OKX("ok", "os", "op", account="o", base_url=sim.base_url, limits=limits))


async def test_only_selected_scopes_are_checked_and_never_synced_ones_are_skipped(tmp_path: Path) -> None:
    async with Simulator(seed=3, rate_scale=SCALE) as sim:
        binance, okx = await _world(sim)
        async with Ledger([binance, okx], store=SQLiteStore(tmp_path / "l.db")) as ledger:
            # nothing synced yet: the Binance scope is skipped, naming its feed; pmLoan is not even asked
            report = await ledger.reconcile()
            assert report.checks == [] and report.ok
            assert report.skipped["binance:b:binance.pm_bankruptcy_loan"].startswith(
                "binance.pmloan_history never synced into this ledger")
            assert sim.requests(path=AMOUNT) == []
            async for _ in ledger.sync(["binance.pmloan_history"]):
                pass
            # a selection without the scope's feed: not checked, not asked
            assert (await ledger.reconcile(["binance.pm_interest_history"])).checks == []
            assert (await ledger.reconcile(["okx"])).checks == []
            assert sim.requests(path=AMOUNT) == []
            report = await ledger.reconcile(["binance:b"])
            assert report.checks and all(c.verdict is Verdict.EXPLAINED for c in report.checks)
            assert len(sim.requests(path=AMOUNT)) == 1
            assert report.skipped == {}


class _NoPositions(OKX):
    """A venue client that reads no position (declares no scope)."""

    scopes = {}


async def test_an_account_whose_venue_reads_no_position_is_skipped_never_matched(tmp_path: Path) -> None:
    async with Simulator(seed=3, rate_scale=SCALE) as sim:
        binance, okx = await _world(sim)
        await okx.close()
        bare = _NoPositions("ok", "os", "op", account="o", base_url=sim.base_url, limits=RateLimits(scale=SCALE))
        async with Ledger([binance, bare]) as ledger:
            async for _ in ledger.sync():
                pass
            report = await ledger.reconcile()
    assert report.skipped == {"okx:o": "loanledger reads no position of this venue: nothing to compare"}
    assert report.ok and report.checks and {c.venue for c in report.checks} == {"binance"}
    assert "skipped: loanledger reads no position" in report.table()


async def test_an_account_whose_positions_cannot_be_read_is_an_error_and_the_others_are_checked(
    tmp_path: Path,
) -> None:
    async with Simulator(seed=3, rate_scale=SCALE) as sim:
        binance, okx = await _world(sim)
        other = sim.binance.add_account("bk2", secret="bs2", label="b2")
        sim.binance.populate(other, seed=5, scale=0.1)
        wrong = Binance("bk2", "not-bs2", account="b2", base_url=sim.base_url, limits=RateLimits(scale=SCALE))
        right = Binance("bk2", "bs2", account="b2", base_url=sim.base_url, limits=RateLimits(scale=SCALE))
        db = tmp_path / "l.db"
        async with Ledger([binance, right], store=SQLiteStore(db)) as ledger:
            async for _ in ledger.sync():
                pass
        await okx.close()
        binance2 = Binance("bk", "bs", account="b", base_url=sim.base_url, limits=RateLimits(scale=SCALE))
        async with Ledger([binance2, wrong], store=SQLiteStore(db, read_only=True)) as reader:
            report = await reader.reconcile()
    assert not report.ok and set(report.errors) == {"binance:b2"}
    assert report.errors["binance:b2"].startswith("AuthError:") and "not-bs2" not in report.errors["binance:b2"]
    assert report.checks and {c.account for c in report.checks} == {"b"}


class _Typo(Binance):
    """A client whose positions name a scope it does not declare (a client bug)."""

    async def positions(self) -> list[Position]:
        return [Position(venue="binance", account=self.account, scope="binance.pm_bankrupcy_loan", currency="USDT",
                         debt=Decimal("1"))]


async def test_positions_of_an_undeclared_scope_are_an_error_not_dropped(tmp_path: Path) -> None:
    async with Simulator(seed=3, rate_scale=SCALE) as sim:
        binance, okx = await _world(sim)
        await okx.close()
        async with Ledger([binance], store=SQLiteStore(tmp_path / "l.db")) as ledger:
            async for _ in ledger.sync():
                pass
        typo = _Typo("bk", "bs", account="b", base_url=sim.base_url, limits=RateLimits(scale=SCALE))
        async with Ledger([typo], store=SQLiteStore(tmp_path / "l.db", read_only=True)) as reader:
            report = await reader.reconcile()
            balances = await reader.balances(venue="binance")
    assert report.errors == {"binance:b": "positions of undeclared scope(s) binance.pm_bankrupcy_loan"}
    assert not report.ok and report.checks == []
    assert balances  # a read-only ledger reports


async def test_a_ledger_upgraded_from_schema_1_is_not_passed_off_as_explained(tmp_path: Path) -> None:
    """Repayments stored before loanledger booked debt got debt 0 when their ledger was upgraded in
    place; summing them would make the whole loan look 'opened with no record' (explained). The scope
    is skipped instead, saying why and what to do."""
    import sqlite3

    db = tmp_path / "l.db"
    async with Simulator(seed=3, rate_scale=SCALE) as sim:
        binance, okx = await _world(sim)
        await okx.close()
        async with Ledger([binance], store=SQLiteStore(db)) as ledger:
            async for _ in ledger.sync():
                pass
        with sqlite3.connect(db) as conn:  # what migration 2 leaves in rows written by schema 1
            n = conn.execute("UPDATE events SET debt = '0' WHERE kind = 'repay'").rowcount
        assert n > 0
        again = Binance("bk", "bs", account="b", base_url=sim.base_url, limits=RateLimits(scale=SCALE))
        async with Ledger([again], store=SQLiteStore(db, read_only=True)) as reader:
            report = await reader.reconcile()
    assert report.checks == [] and report.ok
    assert report.skipped == {"binance:b:binance.pm_bankruptcy_loan": (
        f"{n} borrow/repay events were stored before loanledger booked debt (a ledger upgraded from schema 1 "
        "keeps them as they were): sync into a new ledger to book them")}
