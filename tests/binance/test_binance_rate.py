"""Binance weight budgets end to end: one per-IP budget shared by every feed and client of a
process, header resync, 429 + Retry-After waited out, 418 bans that stop all requests to the host."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import pytest
from binance_helpers import (
    DAY,
    INTEREST_FEED,
    PMLOAN,
    PMLOAN_FEED,
    SCALE,
    fresh_minute,
)

from loanledger import Binance, RateLimited, RateLimits, RetryPolicy
from loanledger.ratelimit import Bucket, Limit
from loanledger.testing import BinanceAccount, Simulator
from loanledger.venues import binance as bn

PMLOAN_CALLS_PER_MINUTE = 12_000 // 500  # the venue's budget at scale 1


def test_unscaled_pacing_stays_under_24_pmloan_calls_a_minute() -> None:
    # the venue reports its used weight: the pace is the documented budget itself (the window
    # counter, not headroom, keeps a minute within it); blind, it would be 90 %
    assert bn.BinanceDialect.reports_usage
    bucket = RateLimits().bucket("binance", "api.binance.com", PMLOAN, bn.PMLOAN_HISTORY_LIMIT, feedback=True)
    assert 60 / bucket.interval == pytest.approx(PMLOAN_CALLS_PER_MINUTE)
    blind = RateLimits().bucket("binance", "api.binance.com", PMLOAN, bn.PMLOAN_HISTORY_LIMIT)
    assert 60 / blind.interval == pytest.approx(0.9 * PMLOAN_CALLS_PER_MINUTE)


async def test_concurrent_feeds_of_several_clients_share_one_ip_budget(
    bsim: Simulator, limits: RateLimits, make_client: Callable[..., Binance]
) -> None:
    accounts: list[BinanceAccount] = []
    for i in range(3):
        a = bsim.binance.add_account(f"key-{i}", secret=f"secret-{i}", label=f"acct-{i}")
        bsim.binance.populate(a, seed=20 + i, scale=0.25)
        accounts.append(a)
    clients = [make_client(f"key-{i}", f"secret-{i}", account=f"acct-{i}") for i in range(3)]
    since = bsim.now_ms() - 3 * 365 * DAY
    interest_since = bsim.now_ms() - 200 * DAY
    try:
        # two pmloan feeds and one interest feed per client, all at once
        jobs = [c.pmloan_history(since=since).collect() for c in clients for _ in range(2)]
        jobs += [c.pm_interest_history(since=interest_since).collect() for c in clients]
        results = await asyncio.gather(*jobs)
    finally:
        for c in clients:
            await c.close()
    for i, a in enumerate(accounts):
        expected = bsim.binance.expected_ids(a, PMLOAN_FEED, since=since)
        assert {e.id for e in results[2 * i]} == {e.id for e in results[2 * i + 1]} == expected
        assert {e.id for e in results[6 + i]} == bsim.binance.expected_ids(a, INTEREST_FEED, since=interest_since)
    pm = bsim.requests(path=PMLOAN)
    assert len(pm) >= 6 * 4  # every feed walked its windows
    assert all(e.status == 200 for e in bsim.log)  # no 429, no 418
    # the venue's rule: weight per IP per minute within the (scaled) budget
    assert Simulator.max_in_window(pm, 60.0) * 500 <= 12_000 * SCALE
    # and the three clients really shared one pace: the budget (paced from the venue's used-weight
    # feedback, so at 100 %), not three times it
    per_second = PMLOAN_CALLS_PER_MINUTE * SCALE / 60
    assert Simulator.max_in_window(pm, 1.0) <= math.floor(per_second) + 2
    assert len({b.name for b in limits.buckets() if b.name.endswith(PMLOAN)}) == 1


async def test_a_forced_429_is_waited_out_for_its_retry_after(
    bsim: Simulator, acct: BinanceAccount, client: Binance
) -> None:
    assert acct.data_end is not None
    bsim.faults.force("rate", path=PMLOAN)
    feed = client.pmloan_history(since=acct.data_end - 500 * DAY, until=acct.data_end)
    events = await feed.collect()
    assert {e.id for e in events} == bsim.binance.expected_ids(
        acct, PMLOAN_FEED, since=acct.data_end - 500 * DAY, until=acct.data_end
    )
    log = bsim.requests(path=PMLOAN)
    assert [e.status for e in log][:2] == [429, 200]
    assert all(e.status == 200 for e in log[1:])
    assert log[1].query.split("&timestamp")[0] == log[0].query.split("&timestamp")[0]  # the same page again
    assert log[1].at - log[0].at >= 0.95  # Retry-After: 1 was honoured
    assert feed.stats.retries == 1


async def test_continued_violation_gets_418_which_stops_every_request_to_the_host(
    bsim: Simulator, acct: BinanceAccount, limits: RateLimits, make_client: Callable[..., Binance]
) -> None:
    bsim.binance.ban_after = 1  # the second 429 in a minute earns the ban
    bsim.faults.force("rate", path=PMLOAN, count=2)
    await fresh_minute(bsim)
    started = int(time.time() * 1000)
    async with make_client(account="main") as c:
        with pytest.raises(RateLimited) as info:
            await c.pmloan_history().collect()
    err = info.value
    assert err.status == 418 and err.ban_until is not None
    assert started + 115_000 <= err.ban_until <= started + 130_000  # Retry-After: 120 s
    assert [e.status for e in bsim.log] == [429, 418]
    n = len(bsim.log)
    # later requests to that host fail fast, from any client sharing the limits, any endpoint
    async with make_client(account="main") as other:
        for attempt in (other.pmloan_history().collect(), other.pm_interest_history().collect(),
                        other.pmloan_amount()):
            with pytest.raises(RateLimited) as again:
                await attempt
            assert again.value.ban_until == err.ban_until
    assert len(bsim.log) == n  # nothing was sent
    assert limits.banned_until("binance", f"127.0.0.1:{bsim.port}") == err.ban_until


async def test_the_simulator_bans_by_itself_after_continued_429s(
    bsim: Simulator, acct: BinanceAccount, make_client: Callable[..., Binance]
) -> None:
    # Separate processes on one IP (each its own RateLimits, so none knows what the others
    # learnt) keep calling after the minute is spent: 429s, then the 418 ban.
    await fresh_minute(bsim)
    used = bsim.binance.use_weight(PMLOAN, 12_000 * SCALE)  # another process spent the minute
    assert used == 12_000 * SCALE
    for _ in range(bsim.binance.ban_after):
        async with make_client(retry=RetryPolicy(max_attempts=1), limits=RateLimits(scale=SCALE)) as c:
            with pytest.raises(RateLimited) as info:
                await c.pmloan_history().collect()
        assert info.value.status == 429 and info.value.ban_until is None
        assert info.value.retry_after is not None and 0 < info.value.retry_after <= 60
    async with make_client(retry=RetryPolicy(max_attempts=1), limits=RateLimits(scale=SCALE)) as c:
        with pytest.raises(RateLimited) as ban:
            await c.pmloan_history().collect()
    assert ban.value.status == 418 and ban.value.ban_until is not None
    assert [e.status for e in bsim.log] == [429] * bsim.binance.ban_after + [418]


async def test_used_weight_headers_from_other_traffic_make_the_client_wait_for_the_next_minute(
    bsim: Simulator, acct: BinanceAccount, client: Binance
) -> None:
    await fresh_minute(bsim, need_seconds=10)
    bsim.binance.use_weight(PMLOAN, 12_000 * SCALE - 500)  # room for one more call this minute
    pages = client.pmloan_history(since=bsim.now_ms() - 900 * DAY).pages()
    await pages.__anext__()  # answered with X-SAPI-USED-IP-WEIGHT-1M = the whole budget
    nxt = asyncio.ensure_future(pages.__anext__())
    await asyncio.sleep(1.0)
    assert not nxt.done()  # the client waits for the next minute instead of drawing a 429
    nxt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await nxt
    await pages.aclose()
    assert [e.status for e in bsim.log] == [200]


async def _blocks(bucket: Bucket, seconds: float = 0.3) -> bool:
    try:
        await asyncio.wait_for(bucket.acquire(), seconds)
    except TimeoutError:
        return True
    return False


@pytest.mark.parametrize(
    ("limit", "header", "other"),
    [
        (bn.PMLOAN_HISTORY_LIMIT, "X-SAPI-USED-IP-WEIGHT-1M", "X-SAPI-USED-UID-WEIGHT-1M"),
        (bn.PMLOAN_AMOUNT_LIMIT, "X-SAPI-USED-UID-WEIGHT-1M", "X-SAPI-USED-IP-WEIGHT-1M"),
    ],
)
async def test_observe_reads_the_counter_of_the_endpoints_scope(limit: Limit, header: str, other: str) -> None:
    dialect = bn.BinanceDialect(None)
    ms = int(time.time() * 1000) % 60_000
    if ms > 58_000:
        await asyncio.sleep((60_000 - ms) / 1000 + 0.05)
    spent = str(limit.budget)
    reg = RateLimits()
    ignored = reg.bucket("binance", "s", "a", limit)
    dialect.observe(ignored, 200, {other: spent})  # the other scope's counter says nothing here
    assert not await _blocks(ignored)
    honoured = reg.bucket("binance", "s", "b", limit)
    dialect.observe(honoured, 200, {header: spent})
    assert await _blocks(honoured)

