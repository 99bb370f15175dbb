"""Binance's three books end to end: the stateful simulator, a Ledger sync, balances and reconcile.

The simulator keeps each account's state (loanledger.testing.books.AccountBooks): bankruptcy loans
opened with no record, repayments that reduce them and write pmloan-history rows, negative-balance
interest charged to the wallet. After a sync the ledger's books must equal that state minus what
no feed records, to the last decimal, and reconciliation against GET /sapi/v1/portfolio/pmLoan must
explain the difference as exactly what no feed records: the loans opened.
"""

from __future__ import annotations

import asyncio
import decimal
from collections import defaultdict
from decimal import Decimal

import pytest
from binance_helpers import API_KEY, SCALE, SECRET
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loanledger import Balance, Binance, Book, Ledger, RateLimits, SQLiteStore, Verdict
from loanledger._money import EXACT
from loanledger.testing import BinanceAccount, Simulator
from loanledger.testing.binance import BANKRUPTCY_SCOPE, LOAN_OPENED
from loanledger.venues import binance as bn

DAY = 86_400_000
ZERO = Decimal(0)


def expected_books(acct: BinanceAccount) -> dict[str, tuple[Decimal, Decimal, Decimal, Decimal]]:
    """currency -> (wallet, debt, collateral, interest) the feeds account for: the simulator's
    state minus its unrecorded moves; interest is what the interest rows charged."""
    out: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO, ZERO])
    with decimal.localcontext(EXACT):
        for (ccy,), v in acct.books.recorded("wallet").items():
            out[ccy][0] += v
        for (_, ccy), v in acct.books.recorded("debt").items():
            out[ccy][1] += v
        for (_, ccy), v in acct.books.recorded("collateral").items():
            out[ccy][2] += v
        for r in acct.interest:
            out[r.asset][3] += Decimal(r.interest)
    return {c: (w, d, k, i) for c, (w, d, k, i) in out.items() if (w, d, k, i) != (ZERO,) * 4}


def ledger_books(balances: dict[object, Balance]) -> dict[str, tuple[Decimal, Decimal, Decimal, Decimal]]:
    return {k.currency: (b.wallet, b.debt, b.collateral, b.interest)  # type: ignore[attr-defined]
            for k, b in balances.items() if (b.wallet, b.debt, b.collateral, b.interest) != (ZERO,) * 4}


def opened(acct: BinanceAccount) -> dict[str, Decimal]:
    """currency -> the bankruptcy loans opened (the unrecorded debt), exactly."""
    return {ccy: v for (scope, book, ccy, name), v in acct.books.unrecorded.items()
            if (scope, book, name) == (BANKRUPTCY_SCOPE, "debt", LOAN_OPENED)}


async def test_populated_books_sync_into_the_ledger_exactly_and_reconcile_explains_the_loans_opened(
    tmp_path: object,
) -> None:
    """Known wrong of issue 15 (fails on the old code): a pmloan-history repayment moved the wallet
    only (debt 0), so the ledger's debt never fell, Binance declared no position scope and
    `reconcile()` checked nothing. Now a repayment is -x wallet and -x debt, interest -i wallet only,
    and the bankruptcy loan's position is reconciled: every loan opened is the explained residual."""
    async with Simulator(seed=11, rate_scale=SCALE) as sim:
        acct = sim.binance.add_account(API_KEY, secret=SECRET, label="main")
        sim.binance.populate(acct, seed=3, scale=0.5)
        client = Binance(API_KEY, SECRET, account="main", base_url=sim.base_url, limits=RateLimits(scale=SCALE))
        async with Ledger([client], store=SQLiteStore(f"{tmp_path}/l.db")) as ledger:
            run = ledger.sync()
            async for _ in run:
                pass
            assert run.report.ok, run.report.table()
            assert ledger_books(await ledger.balances()) == expected_books(acct)
            # the repayments of the loans in several assets, one still open
            loans = opened(acct)
            assert len(loans) >= 2 and acct.owed > 0
            report = await ledger.reconcile()
            assert report.ok and not report.errors and not report.skipped, report.table()
            debt = {c.currency: c for c in report.checks if c.book is Book.DEBT}
            assert set(debt) == set(loans)
            for ccy, check in debt.items():
                assert check.verdict is Verdict.EXPLAINED, report.table()
                assert check.difference == loans[ccy]  # what no feed records, exactly
                assert check.explanation == "bankruptcy loan opened (no feed records its creation)"
            assert debt[acct.loan_asset].position == acct.owed
            assert all(c.position == 0 for ccy, c in debt.items() if ccy != acct.loan_asset)
            assert not [c for c in report.checks if c.book is Book.COLLATERAL]  # nothing pledged anywhere

            # the venue moves on: repayments (and a new loan once one is repaid), interest
            sim.binance.grow(acct, seed=4, n=5)
            async for _ in ledger.sync():
                pass
            assert ledger_books(await ledger.balances()) == expected_books(acct)
            again = await ledger.reconcile()
            assert again.ok and {c.currency: c.difference for c in again.checks} == opened(acct)


async def test_repaying_a_loan_in_full_leaves_the_opened_amount_explained_with_no_position() -> None:
    async with Simulator(seed=2, rate_scale=SCALE) as sim:
        acct = sim.binance.add_account(API_KEY, secret=SECRET)
        now = sim.now_ms()
        sim.binance.open_bankruptcy_loan(acct, "usdc", "1000.123456789012345678", ts=now - 9 * DAY)
        sim.binance.repay_bankruptcy_loan(acct, "400.000000000000000000", ts=now - 8 * DAY)
        sim.binance.repay_bankruptcy_loan(acct, Decimal("600.123456789012345678"), ts=now - 7 * DAY)
        sim.binance.open_bankruptcy_loan(acct, "USDT", "579.45", ts=now - 6 * DAY)
        sim.binance.charge_interest(acct, "USDT", "210000", "0.0001164", ts=now - 5 * DAY)
        async with Ledger([Binance(API_KEY, SECRET, base_url=sim.base_url, limits=RateLimits(scale=SCALE))]) as ledger:
            async for _ in ledger.sync(since=now - 30 * DAY):
                pass
            bal = {k.currency: b for k, b in (await ledger.balances()).items()}
            assert bal["USDC"] == Balance(Decimal("-1000.123456789012345678"), Decimal("-1000.123456789012345678"))
            assert bal["USDT"] == Balance(wallet=Decimal("-24.4440"), interest=Decimal("24.4440"))  # interest: wallet only
            report = await ledger.reconcile()
    table = report.table()
    [usdc, usdt] = report.checks
    assert (usdc.currency, usdc.position, usdc.computed, usdc.verdict) == (
        "USDC", ZERO, Decimal("-1000.123456789012345678"), Verdict.EXPLAINED)
    assert usdc.difference == Decimal("1000.123456789012345678")
    assert (usdt.currency, usdt.position, usdt.computed, usdt.difference, usdt.verdict) == (
        "USDT", Decimal("579.45"), ZERO, Decimal("579.45"), Verdict.EXPLAINED)
    assert "1000.123456789012345678" in table and "bankruptcy loan opened" in table


def test_the_scope_reports_the_debt_book_only_with_the_loan_opened_as_its_residual() -> None:
    scope = bn.Binance.scopes[bn.PM_BANKRUPTCY_LOAN_SCOPE]
    assert scope.id == BANKRUPTCY_SCOPE and scope.feeds == (bn.PMLOAN_HISTORY_FEED,)
    assert scope.books == (Book.DEBT,)  # pmLoan reports what is owed; nothing is pledged
    residual = scope.residuals[Book.DEBT]
    assert (residual.name, residual.why) == (LOAN_OPENED, "no feed records its creation")
    # position - ledger = loans opened: never negative, so a negative difference is never explained
    assert residual.admits(Decimal("1E-18")) and not residual.admits(Decimal("-1E-18")) and not residual.admits(ZERO)


# --- the property: random activity, then a sync ------------------------------------------------------------

ASSETS = ("USDT", "USDC", "BTC")
#: up to 38 significant digits, up to 18 of them decimals (beyond the default 28-digit context)
AMOUNTS = st.builds(lambda digits, places: Decimal(digits).scaleb(-places, EXACT),
                    st.integers(1, 10**38 - 1), st.integers(0, 18))
ACTIVITY = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.sampled_from(ASSETS), AMOUNTS),
        st.tuples(st.just("repay"), st.integers(1, 10**6), st.booleans()),  # share of what is owed (ppm), in full
        st.tuples(st.just("interest"), st.sampled_from(ASSETS), AMOUNTS,
                  st.integers(1, 10**7).map(lambda r: Decimal(r).scaleb(-7))),
    ),
    max_size=20,
)
STEPS = st.lists(st.sampled_from([0, 0, 1, 3_600_000, DAY, 5 * DAY]), min_size=20, max_size=20)


def _apply(sim: Simulator, acct: BinanceAccount, activity: list[tuple[object, ...]], steps: list[int], t0: int) -> None:
    ts = t0
    for op, step in zip(activity, steps, strict=False):
        ts += step  # step 0: the same millisecond (identical rows are two records)
        if op[0] == "open":
            _, asset, amount = op
            if acct.owed != 0 and asset != acct.loan_asset:
                asset = acct.loan_asset  # one bankruptcy loan at a time: it grows
            sim.binance.open_bankruptcy_loan(acct, str(asset), amount, ts=ts)  # type: ignore[arg-type]
        elif op[0] == "repay":
            _, ppm, full = op
            if acct.owed == 0:
                continue
            with decimal.localcontext(EXACT):
                amount = acct.owed if full else (acct.owed * ppm).scaleb(-6)  # type: ignore[operator]
            sim.binance.repay_bankruptcy_loan(acct, amount, ts=ts)
        else:
            _, asset, principal, rate = op
            sim.binance.charge_interest(acct, str(asset), principal, rate, ts=ts)  # type: ignore[arg-type]


async def _property(activity: list[tuple[object, ...]], steps: list[int]) -> None:
    scale = 1000.0
    async with Simulator(seed=1, rate_scale=scale) as sim:
        acct = sim.binance.add_account(API_KEY, secret=SECRET)
        t0 = sim.now_ms() - 120 * DAY
        _apply(sim, acct, activity, steps, t0)
        client = Binance(API_KEY, SECRET, base_url=sim.base_url, limits=RateLimits(scale=scale))
        async with Ledger([client]) as ledger:
            run = ledger.sync(since=t0)
            async for _ in run:
                pass
            assert run.report.ok, run.report.table()
            assert ledger_books(await ledger.balances()) == expected_books(acct)
            report = await ledger.reconcile()
    assert report.ok, report.table()
    loans = opened(acct)
    for check in report.checks:
        assert check.verdict in (Verdict.MATCHED, Verdict.EXPLAINED)
        assert check.difference == loans.get(check.currency, ZERO)
    assert {c.currency for c in report.checks if c.verdict is Verdict.EXPLAINED} == set(loans)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activity=ACTIVITY, steps=STEPS)
def test_random_activity_syncs_to_the_simulators_books_and_reconciles(
    activity: list[tuple[object, ...]], steps: list[int]
) -> None:
    asyncio.run(_property(activity, steps))


@pytest.mark.soak
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activity=ACTIVITY, steps=STEPS)
def test_random_activity_syncs_to_the_simulators_books_and_reconciles_soak(
    activity: list[tuple[object, ...]], steps: list[int]
) -> None:
    asyncio.run(_property(activity, steps))
