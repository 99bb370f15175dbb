"""The Binance simulator plays the documented rules: windows, pages, sizes, errors, datasets."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from binance_helpers import DAY, INTEREST, INTEREST_FEED, PMLOAN, PMLOAN_FEED, WINDOW, fresh_minute

from loanledger import BadRequest, Binance
from loanledger.testing import BinanceAccount, Simulator
from loanledger.testing.binance_data import PmloanRow, row_key
from loanledger.transport import Request
from loanledger.venues import binance as bn

MONTH = 30 * DAY


async def call(client: Binance, path: str, **params: Any) -> Any:
    """A signed GET with exactly these params, through the client's transport."""
    limit = bn.PM_INTEREST_HISTORY_LIMIT if path == INTEREST else bn.PMLOAN_HISTORY_LIMIT
    req = Request("GET", path, limit, params=tuple((k, str(v)) for k, v in params.items()))
    return await client.transport.request(req, msgspec.json.decode)


def _rows(acct: BinanceAccount, stamps: list[int]) -> None:
    acct.pmloan = [PmloanRow(i + 1, "USDT", f"{i + 1}.5", ts) for i, ts in enumerate(stamps)]
    acct.changed()


# --- pmloan-history window rules -----------------------------------------------------------------


async def test_pmloan_default_windows(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    now = bsim.now_ms()
    t = now - 200 * DAY
    _rows(acct, [now - 31 * DAY, now - 29 * DAY, now - DAY, t - 31 * DAY, t - 29 * DAY, t, t + 29 * DAY, t + 31 * DAY])
    # no window: the last 30 days
    assert (await call(client, PMLOAN))["total"] == 2
    # only startTime: [startTime, startTime + 30d]
    body = await call(client, PMLOAN, startTime=t)
    assert [r["repayTime"] for r in body["rows"]] == [t + 29 * DAY, t]
    # only endTime: [endTime - 30d, endTime]
    body = await call(client, PMLOAN, endTime=t)
    assert [r["repayTime"] for r in body["rows"]] == [t, t - 29 * DAY]
    # both, inclusive on both ends
    body = await call(client, PMLOAN, startTime=t - 29 * DAY, endTime=t)
    assert body["total"] == 2


async def test_pmloan_window_longer_than_360_days_is_refused(
    bsim: Simulator, acct: BinanceAccount, client: Binance
) -> None:
    end = bsim.now_ms()
    assert (await call(client, PMLOAN, startTime=end - WINDOW, endTime=end))["total"] >= 0
    with pytest.raises(BadRequest) as info:
        await call(client, PMLOAN, startTime=end - WINDOW - 1, endTime=end)
    assert info.value.code == "-1127" and info.value.status == 400
    with pytest.raises(BadRequest):
        await call(client, PMLOAN, startTime=end, endTime=end - 1)


async def test_pmloan_pages_and_sizes(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    now = bsim.now_ms()
    _rows(acct, [now - DAY - i * 1000 for i in range(25)])
    body = await call(client, PMLOAN)
    assert body["total"] == 25 and len(body["rows"]) == 10  # default size 10
    body = await call(client, PMLOAN, current=3, size=10)
    assert [r["amount"] for r in body["rows"]] == [f"{i}.5" for i in range(21, 26)]
    body = await call(client, PMLOAN, current=4, size=10)
    assert body == {"total": 25, "rows": []}
    assert len((await call(client, PMLOAN, size=100))["rows"]) == 25
    for bad in ({"size": 101}, {"size": 0}, {"current": 0}, {"startTime": "abc"}, {"asset": "USDT"}):
        with pytest.raises(BadRequest):
            await call(client, PMLOAN, **bad)


async def test_interest_windows(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    now = bsim.now_ms()
    rows = await call(client, INTEREST)  # default: the last 7 days
    assert all(now - 7 * DAY - 5_000 <= r["interestAccruedTime"] <= now for r in rows)
    with pytest.raises(BadRequest) as info:
        await call(client, INTEREST, startTime=now - MONTH - 1, endTime=now)
    assert info.value.code == "-1127"
    assert acct.data_end is not None
    dense = acct.data_end - 380 * DAY  # inside the five-asset episode
    full = await call(client, INTEREST, startTime=dense - MONTH, endTime=dense, size=100)
    assert len(full) == 100  # more rows than one answer holds
    times = [r["interestAccruedTime"] for r in full]
    assert times == sorted(times, reverse=True)  # newest first
    one_day = [r for r in acct.interest if r.accrued_time == times[0]]
    # bound semantics: inclusive by default, exclusive on demand
    got = await call(client, INTEREST, startTime=times[0], endTime=times[0], size=100)
    assert len(got) == len(one_day) >= 5
    bsim.binance.interest_bounds = "exclusive"
    assert await call(client, INTEREST, startTime=times[0], endTime=times[0], size=100) == []
    assert len(await call(client, INTEREST, startTime=times[0] - 1, endTime=times[0] + 1, size=100)) == len(one_day)
    assert {r["asset"] for r in await call(client, INTEREST, asset="BTC", startTime=dense - MONTH, endTime=dense)} <= {"BTC"}


async def test_weight_is_counted_per_ip_and_endpoint(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    await fresh_minute(bsim)
    await call(client, PMLOAN)
    await call(client, PMLOAN)
    await call(client, INTEREST)
    assert bsim.binance.use_weight(PMLOAN, 0) == 1000
    assert bsim.binance.use_weight(INTEREST, 0) == 50


# --- datasets ------------------------------------------------------------------------------------------


def test_populate_is_deterministic_and_scales() -> None:
    sim = Simulator()
    a = sim.binance.add_account("a", secret="s", label="a")
    b = sim.binance.add_account("b", secret="s", label="b")
    end = 1_790_000_000_000
    sim.binance.populate("a", seed=4, end_ms=end)
    sim.binance.populate(b, seed=4, end_ms=end)
    assert a.pmloan == b.pmloan and a.interest == b.interest and a.loan_amount == b.loan_amount
    sim.binance.populate(b, seed=5, end_ms=end)
    assert a.pmloan != b.pmloan
    sim.binance.populate(b, seed=4, scale=3.0, end_ms=end)
    assert len(b.pmloan) > 2.5 * len(a.pmloan) and len(b.interest) > 1.5 * len(a.interest)
    sim.binance.populate(b, seed=4, scale=0.05, end_ms=end)
    assert 10 < len(b.pmloan) < len(a.pmloan) / 5


def test_pmloan_dataset_has_the_special_cases() -> None:
    sim = Simulator()
    acct = sim.binance.add_account("k", secret="s")
    end = 1_790_000_000_000
    sim.binance.populate(acct, seed=1, end_ms=end)
    rows = acct.pmloan
    stamps = {r.repay_time for r in rows}
    assert end - min(stamps) > 3 * 365 * DAY and max(stamps) == end
    for k in (1, 2, 3):
        assert {end - k * WINDOW, end - k * WINDOW + 1} <= stamps
    twins = Counter((r.repay_time, r.asset, Decimal(r.amount)) for r in rows)
    assert sorted(v for v in twins.values() if v > 1)[-3:] == [2, 2, 3]
    edge = [(r.asset, r.amount) for r in rows if r.repay_time == end - WINDOW + 1]
    assert len(edge) == 2 and edge[0] == edge[1]  # a twin on a window edge
    digits = [len(r.amount.replace(".", "").lstrip("0")) for r in rows]
    assert max(digits) >= 18
    assert any(r.amount.endswith("0") and "." in r.amount for r in rows)
    assert any(r.extra for r in rows)
    ids = sim.binance.expected_ids(acct, PMLOAN_FEED)
    assert len(ids) == len(rows)
    assert f"{row_key(end - WINDOW + 1, *edge[0])}#1" in ids


def test_interest_dataset_forces_window_splits() -> None:
    sim = Simulator()
    acct = sim.binance.add_account("k", secret="s")
    sim.binance.populate(acct, seed=1, end_ms=1_790_000_000_000)
    stamps = sorted(r.accrued_time for r in acct.interest)
    busiest = max(sum(1 for t in stamps if s <= t < s + MONTH) for s in stamps)
    assert busiest > 100
    assert len(sim.binance.expected_ids(acct, INTEREST_FEED)) == len(acct.interest)
    assert len({(r.asset, r.accrued_time) for r in acct.interest}) == len(acct.interest)


def test_grow_adds_newer_rows_to_every_feed() -> None:
    sim = Simulator()
    acct = sim.binance.add_account("k", secret="s")
    sim.binance.populate(acct, seed=1, scale=0.2)
    before_pm, before_it = list(acct.pmloan), list(acct.interest)
    ids_pm = sim.binance.expected_ids(acct, PMLOAN_FEED)
    sim.binance.grow(acct, seed=2, n=4)
    new_pm = acct.pmloan[len(before_pm):]
    new_it = acct.interest[len(before_it):]
    assert len(new_pm) == len(new_it) == 4
    assert min(r.repay_time for r in new_pm) > max(r.repay_time for r in before_pm)
    assert min(r.accrued_time for r in new_it) > max(r.accrued_time for r in before_it)
    assert max(r.repay_time for r in new_pm) <= sim.now_ms()
    assert len(sim.binance.expected_ids(acct, PMLOAN_FEED) - ids_pm) == 4
    with pytest.raises(ValueError):
        sim.binance.expected_ids(acct, "binance.nope")
    with pytest.raises(KeyError):
        sim.binance.populate("nobody", seed=1)


def test_expected_ids_count_identical_rows() -> None:
    sim = Simulator()
    acct = sim.binance.add_account("k", secret="s")
    acct.pmloan = [PmloanRow(1, "USDT", "1.50", 7), PmloanRow(2, "USDT", "1.5", 7), PmloanRow(3, "BTC", "1.5", 7)]
    acct.changed()
    assert sim.binance.expected_ids(acct, PMLOAN_FEED) == {"7:USDT:1.5#0", "7:USDT:1.5#1", "7:BTC:1.5#0"}


# --- the account's state: what populate, grow and the activities do to the books ---------------------------


def test_populate_builds_one_loan_at_a_time_whose_repayments_pay_it_back() -> None:
    from loanledger._money import exact_sum
    from loanledger.testing.binance import BANKRUPTCY_SCOPE, LOAN_OPENED

    sim = Simulator()
    acct = sim.binance.add_account("k", secret="s")
    end = 1_790_000_000_000
    sim.binance.populate(acct, seed=1, end_ms=end)
    loans = acct.loans
    assert 3 <= len(loans) <= 6 and [x.ts for x in loans] == sorted(x.ts for x in loans)
    assert len({x.asset for x in loans}) >= 2
    # each loan's repayments: the rows after it and before the next one, all in its asset
    for i, loan in enumerate(loans):
        nxt = loans[i + 1].ts if i + 1 < len(loans) else end + 1
        rows = [r for r in acct.pmloan if loan.ts <= r.repay_time < nxt]
        assert rows and {r.asset for r in rows} == {loan.asset}
        repaid = exact_sum(Decimal(r.amount) for r in rows)
        if i + 1 < len(loans):
            assert repaid == loan.amount  # repaid in full before the next loan opens
        else:
            assert 0 < loan.amount - repaid == acct.owed  # the newest stays open
    assert acct.loan_asset == loans[-1].asset
    # the books: the debt is only the open loan; what no feed records is every loan opened
    assert {k: v for k, v in acct.books.debt.items()} == {(BANKRUPTCY_SCOPE, acct.loan_asset): acct.owed}
    per_asset: dict[str, list[Decimal]] = {}
    for x in loans:
        per_asset.setdefault(x.asset, []).append(x.amount)
    assert {ccy: v for (_, book, ccy, name), v in acct.books.unrecorded.items() if name == LOAN_OPENED} == {
        a: exact_sum(v) for a, v in per_asset.items()}
    # the wallet paid every repayment and every interest charge
    paid: dict[str, list[Decimal]] = {}
    for r in acct.pmloan:
        paid.setdefault(r.asset, []).append(Decimal(r.amount).copy_negate())
    for it in acct.interest:
        paid.setdefault(it.asset, []).append(Decimal(it.interest).copy_negate())
    assert {c: v for (c,), v in acct.books.wallet.items()} == {a: exact_sum(v) for a, v in paid.items()}
    assert acct.books.collateral == {}


async def test_pmloan_reads_the_books(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    before = await client.pmloan_amount()
    assert (before.asset, before.amount) == (acct.loan_asset, acct.owed) and acct.owed > 0
    bsim.binance.repay_bankruptcy_loan(acct, "0.5")
    after = await client.pmloan_amount()
    assert after.amount == before.amount - Decimal("0.5")
    bsim.binance.repay_bankruptcy_loan(acct, acct.owed)
    assert (await client.pmloan_amount()).amount == 0  # "If there's no ... bankruptcy loan, the amount would be 0"
    [position] = await client.positions()
    assert (position.scope, position.currency, position.debt, position.collateral) == (
        "binance.pm_bankruptcy_loan", acct.loan_asset, 0, None)


def test_grow_repays_the_open_loan_and_opens_the_next_once_it_is_repaid() -> None:
    sim = Simulator()
    acct = sim.binance.add_account("k", secret="s")
    now = sim.now_ms()
    sim.binance.open_bankruptcy_loan(acct, "USDT", "0.00000004", ts=now - DAY)
    sim.binance.grow(acct, seed=3, n=30)
    rows = acct.pmloan
    assert len(rows) == 30 and rows[0].asset == "USDT" and Decimal(rows[0].amount) in (Decimal("4E-8"), Decimal("2E-8"))
    assert len(acct.loans) >= 2  # a loan was repaid in full; the next opened, with no record, before a repayment
    for loan in acct.loans[1:]:
        assert any(r.asset == loan.asset and r.repay_time >= loan.ts for r in rows)
    assert acct.owed >= 0 and len(acct.interest) == 30
    # every repayment reduced the debt; the state holds exactly loans - repayments
    from loanledger._money import exact_sum

    for asset in {x.asset for x in acct.loans}:
        owed = exact_sum([*(x.amount for x in acct.loans if x.asset == asset),
                          *(Decimal(r.amount).copy_negate() for r in rows if r.asset == asset)])
        assert acct.books.owed("binance.pm_bankruptcy_loan", asset) == owed


def test_the_activities_check_their_arguments_and_keep_one_loan_at_a_time() -> None:
    sim = Simulator()
    acct = sim.binance.add_account("k", secret="s")
    with pytest.raises(ValueError, match="repaying 1 USDT, but 0 is owed"):
        sim.binance.repay_bankruptcy_loan(acct, "1")
    for bad in ("0", "-1", "abc", "NaN"):
        with pytest.raises(ValueError, match="amount"):
            sim.binance.open_bankruptcy_loan(acct, "USDT", bad)
    sim.binance.open_bankruptcy_loan(acct, "usdt", "10")
    sim.binance.open_bankruptcy_loan(acct, "USDT", "5")  # the same asset: the loan grows
    assert acct.owed == 15 and acct.loan_asset == "USDT"
    with pytest.raises(ValueError, match="still open"):
        sim.binance.open_bankruptcy_loan(acct, "BTC", "1")
    with pytest.raises(ValueError, match="but 15 is owed"):
        sim.binance.repay_bankruptcy_loan(acct, "15.000000001")
    row = sim.binance.repay_bankruptcy_loan(acct, "15.00")
    assert row.amount == "15.00" and acct.owed == 0  # the wire string as given
    sim.binance.open_bankruptcy_loan(acct, "BTC", "1")  # repaid: another asset may open
    it = sim.binance.charge_interest(acct, "usdc", "210000", "0.0001164")
    assert (it.asset, it.interest, it.principal, it.rate) == ("USDC", "24.4440000", "210000", "0.0001164")
    assert acct.books.free("USDC") == Decimal("-24.444") and acct.books.owed("binance.pm_bankruptcy_loan", "USDC") == 0
