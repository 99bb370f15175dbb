"""Client-side pacing: what a bucket lets through never exceeds the venue's window budget."""

from __future__ import annotations

import asyncio

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
