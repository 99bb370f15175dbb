"""Item 2: Bybit borrow / repay actions with faults before and after the venue executes them.

For every action, each call carries a unique amount (or loan id), so the simulator's
mutation log tells which call executed. After every call, whatever happened:

- the mutation log holds at most one execution of it (never two, whatever was retried);
- a returned event is that execution (same id);
- AmbiguousOutcome: ``await exc.reconcile()`` returns the execution when there was one and
  None when there was none (a request that reached the venue late, after the client's
  timeout, included: the reconciler waits out the request's recv window);
- any other error is typed and nothing executed.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from rel_support import BYB_KEY, BYB_SECRET, RATE_SCALE, Figures, world

from loanledger import AmbiguousOutcome, Bybit, LoanEvent, LoanLedgerError, RateLimits, RetryPolicy
from loanledger.testing import Simulator
from loanledger.testing.bybit import BybitAccount, Mutation
from loanledger.testing.bybit_data import Row

RECV_WINDOW = 500  # ms: short, so a reconcile that finds nothing settles quickly
TIMEOUT = 0.3
RETRY = RetryPolicy(max_attempts=4, base_delay=0.005, max_delay=0.05)

PATHS = {
    "borrow_flexible": "/v5/crypto-loan-flexible/borrow",
    "repay_flexible": "/v5/crypto-loan-flexible/repay",
    "repay_fixed": "/v5/crypto-loan-fixed/fully-repay",
    "repay_legacy": "/v5/crypto-loan/repay",
    "repay_institutional": "/v5/ins-loan/repay-loan",
}
#: which field of the request body identifies one call
KEY_FIELD = {
    "borrow_flexible": "loanAmount", "repay_flexible": "amount", "repay_fixed": "loanId",
    "repay_legacy": "amount", "repay_institutional": "quantity",
}

#: faults that hit before the venue's handler runs (nothing executed... yet)
BEFORE = ["5xx", "reset", "slow", "slow beyond recv window", "rate", "429", "skew"]
#: faults that hit after the handler ran (it executed)
AFTER = ["5xx_after", "reset_after", "slow_after", "truncate", "non_json", "garbage answer"]


@dataclass
class Tally:
    calls: int = 0
    faulted: int = 0
    returned: int = 0
    ambiguous: int = 0
    found: int = 0
    absent: int = 0
    errors: int = 0
    executed: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)

    def add_to(self, figures: Figures) -> None:
        figures.add(**{
            "actions: calls": self.calls, "actions: calls under a fault": self.faulted,
            "actions: returned their event": self.returned, "actions: AmbiguousOutcome": self.ambiguous,
            "actions: ambiguous, reconcile found the execution": self.found,
            "actions: ambiguous, reconcile found none (none executed)": self.absent,
            "actions: typed errors, nothing executed": self.errors,
            "actions: executions in the mutation log": self.executed,
        })
        figures.add(**{f"actions: typed error {k}, nothing executed": v for k, v in self.error_kinds.items()})


class Bench:
    """One Bybit account prepared for many calls of one action, each with a unique key."""

    def __init__(self, sim: Simulator, acct: BybitAccount, action: str) -> None:
        self.sim, self.acct, self.action, self.n = sim, acct, action, 0
        book = acct.book
        book.flex_debt["USDT"] = Decimal(10**9)
        self.legacy_order = next(iter(book.legacy_open))
        book.legacy_open[self.legacy_order]["totalDebt"] = str(10**9)

    def next_call(self) -> tuple[str, Callable[[Bybit], Any]]:
        """(the call's key, the call)."""
        self.n += 1
        amount = f"{self.n}.{random.Random(self.n).randrange(10**6):06d}7"  # unique, 7 decimals
        if self.action == "borrow_flexible":
            return amount, lambda c: c.borrow_flexible("USDT", amount)
        if self.action == "repay_flexible":
            return amount, lambda c: c.repay_flexible("USDT", amount)
        if self.action == "repay_legacy":
            return amount, lambda c: c.repay_legacy(self.legacy_order, amount)
        if self.action == "repay_institutional":
            return amount, lambda c: c.repay_institutional("USDT", amount)
        loan_id = self._open_contract()
        return loan_id, lambda c: c.repay_fixed(loan_id=loan_id)

    def _open_contract(self) -> str:
        book = self.acct.book
        lid, now = book.new_id(), self.sim.now_ms() - 60_000
        book.feeds["bybit.fixed_borrow_contracts"].append(Row(now, lid, {
            "annualRate": "0.022", "autoRepay": "true", "borrowCurrency": "USDC", "borrowTime": str(now),
            "interestPaid": "0", "loanId": lid, "orderId": book.new_id(), "repayType": "1",
            "repaymentTime": str(now + 30 * 86_400_000), "residualPenaltyInterest": "0",
            "residualPrincipal": f"{self.n}.5", "status": 1, "term": "30"}))
        return lid

    def executions(self, key: str) -> list[Mutation]:
        field = KEY_FIELD[self.action]
        return [m for m in self.sim.bybit.mutations if m.path == PATHS[self.action] and str(m.body.get(field)) == key]


def inject(sim: Simulator, fault: str, path: str) -> None:
    sim.skew_ms = 0
    if fault == "skew":
        sim.skew_ms = 40_000 * random.Random(path).choice((1, -1))
    elif fault == "slow":
        sim.faults.slow_seconds = TIMEOUT + 0.1  # reaches the venue late, within its recv window
        sim.faults.force("slow", path=path)
    elif fault == "slow beyond recv window":
        sim.faults.slow_seconds = RECV_WINDOW / 1000 + 0.4  # the venue refuses it (10002)
        sim.faults.force("slow", path=path)
    elif fault == "slow_after":
        sim.faults.slow_seconds = TIMEOUT + 0.1
        sim.faults.force("slow_after", path=path)
    elif fault == "garbage answer":
        sim.faults.force_body(b'{"retCode":0,"result":', path=path)
    elif fault != "none":
        sim.faults.force(fault, path=path)  # type: ignore[arg-type]


async def one_call(bench: Bench, client: Bybit, fault: str, tally: Tally) -> None:
    """Make one call under `fault` and check the invariants of the module docstring."""
    path = PATHS[bench.action]
    inject(bench.sim, fault, path)
    key, call = bench.next_call()
    tally.calls += 1
    tally.faulted += fault != "none"
    outcome: LoanEvent | AmbiguousOutcome | LoanLedgerError
    try:
        outcome = await call(client)
    except AmbiguousOutcome as exc:
        outcome = exc
    except LoanLedgerError as exc:
        outcome = exc
    found: LoanEvent | None = None
    if isinstance(outcome, AmbiguousOutcome):
        assert outcome.can_reconcile and outcome.path == path
        found = await outcome.reconcile()
    await asyncio.sleep(bench.sim.faults.slow_seconds if "slow" in fault else 0)  # late requests land
    bench.sim.skew_ms = 0
    done = bench.executions(key)
    assert len(done) <= 1, f"{bench.action} {key} under {fault}: executed {len(done)} times"
    tally.executed += len(done)
    where = f"{bench.action} under {fault}"
    if isinstance(outcome, LoanEvent):
        tally.returned += 1
        assert len(done) == 1, f"{where}: returned an event, but nothing executed"
        if bench.action == "repay_institutional":
            found = await client.reconcile(outcome)  # the venue gives no id: matched in history
            assert found is not None and found.id == done[0].id, where
        else:
            assert outcome.id == done[0].id, where
    elif isinstance(outcome, AmbiguousOutcome):
        tally.ambiguous += 1
        if done:
            tally.found += 1
            assert found is not None, f"{where}: executed, but reconcile() found nothing"
            assert found.id.split(":")[0] == done[0].id, where
        else:
            tally.absent += 1
            assert found is None, f"{where}: reconcile() found {found.id} but nothing executed"
    else:
        tally.errors += 1
        tally.error_kinds[f"{type(outcome).__name__} {getattr(outcome, 'code', '')} ({bench.action})"] += 1
        assert not done, f"{where}: raised {outcome!r} but the action executed"


def make_client(sim: Simulator) -> Bybit:
    return Bybit(f"{BYB_KEY}0", BYB_SECRET, account="bybit-0", base_url=sim.base_url,
                 limits=RateLimits(scale=RATE_SCALE), retry=RETRY, timeout=TIMEOUT, recv_window=RECV_WINDOW)


async def run_action(action: str, faults: list[str], tally: Tally, seed: int) -> None:
    async with world(seed=seed, scale=0.1, grow=False) as w:
        w.sim.bybit.ins_repay_delay_ms = 0
        bench = Bench(w.sim, w.sim.bybit.account("bybit-0"), action)
        async with make_client(w.sim) as client:
            for fault in faults:
                await one_call(bench, client, fault, tally)
        assert not w.sim.faults.pending


async def random_storm(action: str, calls: int, seed: int, tally: Tally) -> None:
    """`calls` calls, each under a fault drawn at random (a third of them fault-free), with 5%
    5xx on every read too (the reads of repay_fixed / repay_legacy and of reconcile)."""
    rng = random.Random(f"{seed}:{action}")
    faults = [rng.choice(BEFORE + AFTER + ["none"] * 6) for _ in range(calls)]
    async with world(seed=seed, scale=0.1, grow=False) as w:
        w.sim.bybit.ins_repay_delay_ms = 0
        w.sim.faults = type(w.sim.faults)(rates={"5xx": 0.05}, methods={"GET"}, seed=seed)
        bench = Bench(w.sim, w.sim.bybit.account("bybit-0"), action)
        async with make_client(w.sim) as client:
            for fault in faults:
                await one_call(bench, client, fault, tally)


async def every_fault(when: str, tally: Tally) -> None:
    """Five actions x the faults of one side, the actions concurrently (one simulator each),
    a fault-free call after each faulted one."""
    faults = [f for fault in (BEFORE if when == "before" else AFTER) for f in (fault, "none")]
    await _each_action(lambda a: run_action(a, faults, tally, seed=7))
    if when == "after":
        assert tally.found >= len(PATHS) * 4  # the handler ran: found again (bar the skewed reads)


async def _each_action(run: Callable[[str], Any]) -> None:
    outcomes = await asyncio.gather(*(run(a) for a in PATHS), return_exceptions=True)
    failed = [f"{a}: {o!r}" for a, o in zip(PATHS, outcomes) if o is not None]
    assert not failed, "\n".join(failed)


async def test_actions_under_faults(figures: Figures) -> None:
    """Every action under every fault before and after execution, and 12 calls per action
    under random faults; all concurrently (the waits overlap)."""
    before, after, storm = Tally(), Tally(), Tally()
    await asyncio.gather(
        every_fault("before", before),
        every_fault("after", after),
        _each_action(lambda a: random_storm(a, 12, seed=8, tally=storm)),
    )
    for t in (before, after, storm):
        assert t.executed == t.returned + t.found
        t.add_to(figures)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(9, 14))
async def test_random_faults_over_many_calls_soak(seed: int, figures: Figures) -> None:
    tally = Tally()
    await _each_action(lambda a: random_storm(a, 60, seed=seed, tally=tally))
    assert tally.executed == tally.returned + tally.found
    tally.add_to(figures)
