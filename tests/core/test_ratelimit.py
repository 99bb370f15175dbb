"""Client-side pacing: what a bucket lets through never exceeds the venue's window budget."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loanledger import InvalidArgument
from loanledger._args import now_ms
from loanledger.ratelimit import Limit, RateLimits


def _max_in_window(times: list[float], per: float) -> int:
    times = sorted(times)
    best = j = 0
    for i, t in enumerate(times):
        while times[j] <= t - per:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.mark.parametrize(("budget", "per"), [(5, 0.5), (1, 0.2), (6, 0.25)])
async def test_concurrent_acquirers_stay_within_the_window(budget: int, per: float) -> None:
    reg = RateLimits()
    bucket = reg.bucket("okx", "acct", "/x", Limit(budget, per))
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def worker() -> None:
        for _ in range(6):
            await bucket.acquire()
            times.append(loop.time())

    await asyncio.gather(*(worker() for _ in range(4)))
    assert len(times) == 24
    assert _max_in_window(times, per) <= budget
    # and the pace is close to 90% of the budget (not a crawl)
    span = max(times) - min(times)
    assert span <= 24 / (0.9 * budget / per) * 1.25


async def test_buckets_are_keyed_by_venue_scope_and_group() -> None:
    reg = RateLimits()
    a = reg.bucket("okx", "k1", "/a", Limit(5, 2))
    assert reg.bucket("okx", "k1", "/a", Limit(5, 2)) is a
    assert reg.bucket("okx", "k2", "/a", Limit(5, 2)) is not a
    assert reg.bucket("okx", "k1", "/b", Limit(5, 2)) is not a
    assert reg.bucket("bybit", "k1", "/a", Limit(5, 2)) is not a


async def test_shared_registry_is_per_event_loop() -> None:
    assert RateLimits.shared() is RateLimits.shared()


async def test_weight_budget_paces_by_weight() -> None:
    # Binance pmloan: weight 500 of 12,000 per minute -> scaled x600: 500 of 7.2M/min = 240 calls/s at 90%
    bucket = RateLimits(scale=600).bucket("binance", "ip", "/sapi/v1/portfolio/pmloan-history",
                                          Limit(12_000, 60, weight=500, scope="ip", window="fixed"))
    assert bucket.interval == pytest.approx(500 / (0.9 * 12_000 * 600 / 60))


async def test_fixed_window_resync_waits_for_the_next_window_when_others_spent_it() -> None:
    bucket = RateLimits().bucket("binance", "ip", "/x", Limit(10, 0.5, weight=1, scope="ip", window="fixed"))
    # the venue says the current 0.5-s window already holds 10 units (another process on this IP)
    bucket.observe_used(10, now_ms())
    start = now_ms()
    await bucket.acquire()
    waited = now_ms() - start
    window_left = 500 - start % 500
    assert waited >= window_left - 5


async def test_pause_until_holds_every_acquirer() -> None:
    bucket = RateLimits().bucket("bybit", "u", "/x", Limit(100, 1))
    until = now_ms() + 300
    bucket.pause_until(until)
    await asyncio.gather(bucket.acquire(), bucket.acquire())
    assert now_ms() >= until


def test_inconsistent_limits_and_registry_args_are_rejected() -> None:
    with pytest.raises(InvalidArgument):
        Limit(5, 2, weight=6)
    with pytest.raises(InvalidArgument):
        Limit(0, 2)
    with pytest.raises(InvalidArgument, match="headroom"):
        RateLimits(headroom=1.5)
    with pytest.raises(InvalidArgument, match="scale"):
        RateLimits(scale=0)


# --- feedback pacing: the venue reports its count (Bybit remaining, Binance used weight) -------------------


def test_feedback_buckets_pace_at_the_documented_rate_blind_ones_keep_headroom() -> None:
    reg = RateLimits()
    blind = reg.bucket("okx", "a", "/x", Limit(5, 2.0))
    fed = reg.bucket("bybit", "a", "/x", Limit(5, 1.0), feedback=True)
    assert blind.allowed_rate == pytest.approx(0.9 * 5 / 2.0)
    assert fed.allowed_rate == pytest.approx(5 / 1.0)
    assert RateLimits(feedback_headroom=0.95).bucket("bybit", "a", "/x", Limit(5, 1.0), feedback=True).allowed_rate \
        == pytest.approx(0.95 * 5)
    with pytest.raises(InvalidArgument, match="feedback_headroom"):
        RateLimits(feedback_headroom=0)


@pytest.mark.parametrize(("budget", "per"), [(5, 0.5), (2, 0.2), (8, 0.4)])
async def test_a_feedback_bucket_never_overfills_a_rolling_window(budget: int, per: float) -> None:
    # at 100 % of the budget the pace alone would let budget + 1 requests into some window (its
    # late-wake-up credit): the send-time log holds them to `budget` per window, plus the margin
    bucket = RateLimits().bucket("bybit", "u", "/x", Limit(budget, per), feedback=True)
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def worker() -> None:
        for _ in range(5):
            await bucket.acquire()
            times.append(loop.time())

    await asyncio.gather(*(worker() for _ in range(4)))
    assert len(times) == 20
    assert _max_in_window(times, per * 1.01) <= budget


async def test_requests_the_venue_counted_beyond_ours_shrink_our_share() -> None:
    bucket = RateLimits().bucket("bybit", "u", "/x", Limit(4, 0.4), feedback=True)
    # another client on the same UID spent the window: the venue says 0 of 4 remain after a
    # request of ours that we never sent (we have sent none)
    sent = now_ms()
    bucket.observe_remaining(0, 4, sent)
    start = now_ms()
    await bucket.acquire()
    assert now_ms() - start >= 400 - 20  # until those requests leave the venue's window
    # our own requests are not counted twice: after it, the venue's count is ours
    bucket.observe_remaining(3, 4, now_ms())
    start = now_ms()
    await bucket.acquire()
    assert now_ms() - start < 200


async def test_a_reported_limit_below_the_documented_one_caps_the_window() -> None:
    bucket = RateLimits().bucket("bybit", "u", "/x", Limit(20, 0.5), feedback=True)
    bucket.observe_remaining(3, 3, now_ms())  # the venue grants this key 3, not 20
    loop = asyncio.get_running_loop()
    times: list[float] = []
    for _ in range(6):
        await bucket.acquire()
        times.append(loop.time())
    assert _max_in_window(times, 0.5) <= 3


async def test_a_used_weight_from_a_window_that_has_turned_is_not_the_current_one() -> None:
    bucket = RateLimits().bucket("binance", "ip", "/x", Limit(10, 0.5, weight=1, scope="ip", window="fixed"),
                                 feedback=True)
    now = now_ms()
    if now % 500 > 400:  # stay inside one window
        await asyncio.sleep((500 - now % 500) / 1000 + 0.01)
        now = now_ms()
    bucket.observe_used(10, now - 500)  # the answer to a request sent in the previous window
    start = now_ms()
    await bucket.acquire()
    assert now_ms() - start < 100
    bucket.observe_used(10, now_ms())  # this window is spent (by us or others): wait for the next
    start = now_ms()
    await bucket.acquire()
    assert now_ms() - start >= 500 - start % 500 - 5


async def test_bybit_headers_feed_the_rolling_window() -> None:
    from loanledger.venues.bybit._dialect import BybitDialect

    assert BybitDialect.reports_usage
    bucket = RateLimits().bucket("bybit", "u", "/x", Limit(4, 0.4), feedback=True)
    dialect = BybitDialect(None)
    # malformed counts say nothing
    for bad in ({"X-Bapi-Limit-Status": "-1", "X-Bapi-Limit": "4"}, {"X-Bapi-Limit-Status": "1e3"},
                {"X-Bapi-Limit-Status": "9" * 20}):
        dialect.observe(bucket, 200, bad, now_ms())
        start = now_ms()
        await bucket.acquire()
        assert now_ms() - start < 150
    # as the venue documents them: 4 a window, 0 remaining after a request we did not send
    shared = RateLimits().bucket("bybit", "u", "/y", Limit(4, 0.4), feedback=True)
    dialect.observe(shared, 200, {"X-Bapi-Limit": "4", "X-Bapi-Limit-Status": "0",
                                  "X-Bapi-Limit-Reset-Timestamp": str(now_ms())}, now_ms())
    start = now_ms()
    await shared.acquire()
    assert now_ms() - start >= 400 - 20  # the other client's requests leave the window first


@pytest.mark.parametrize(("per", "suffix"), [(60.0, "1M"), (1.0, "1S"), (3600.0, "1H")])
async def test_binance_reads_the_weight_header_of_the_buckets_interval(per: float, suffix: str) -> None:
    from loanledger.venues.binance import BinanceDialect

    assert BinanceDialect.reports_usage
    limit = Limit(1000, per, weight=10, scope="ip", window="fixed")
    dialect = BinanceDialect(None)
    wrong = RateLimits().bucket("binance", "h", "/a", limit, feedback=True)
    dialect.observe(wrong, 200, {"X-SAPI-USED-IP-WEIGHT-1D": "1000"}, now_ms())  # another interval
    assert not await _blocks(wrong)
    for header in (f"X-SAPI-USED-IP-WEIGHT-{suffix}", f"X-MBX-USED-WEIGHT-{suffix}"):
        period_ms = int(per * 1000)
        if now_ms() % period_ms > period_ms - 400:
            await asyncio.sleep((period_ms - now_ms() % period_ms) / 1000 + 0.06)
        spent = RateLimits().bucket("binance", "h", "/b", limit, feedback=True)
        dialect.observe(spent, 200, {header: "1000"}, now_ms())
        assert await _blocks(spent)


async def _blocks(bucket: Any, seconds: float = 0.25) -> bool:
    try:
        await asyncio.wait_for(bucket.acquire(), seconds)
    except TimeoutError:
        return True
    return False
