"""Regression tests for the bugs the reliability work found, one per fix (see docs/RELIABILITY.md)."""

from __future__ import annotations

import pytest

from loanledger import AmbiguousOutcome, Bybit, RateLimits, RetryPolicy
from loanledger.testing import Simulator

SCALE = 20.0
KEY, SECRET = "rel-regress-key", "rel-regress-secret"
FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)


@pytest.mark.parametrize("skew_ms", [4_000, 40_000, -40_000])
async def test_a_venue_clock_ahead_of_ours_loses_no_fresh_record(skew_ms: int) -> None:
    """Records the venue stamped "now" on its clock are part of the first walk, whether the
    skew is within what the venue accepts (4 s: never resynced) or beyond it (40 s)."""
    async with Simulator(rate_scale=SCALE, skew_ms=skew_ms) as sim:
        acct = sim.bybit.add_account(KEY, secret=SECRET)
        sim.bybit.populate(acct, seed=3, scale=0.2)
        sim.bybit.grow(acct, seed=4, n=3)  # stamped within the last second of the venue's clock
        async with Bybit(KEY, SECRET, base_url=sim.base_url, limits=RateLimits(scale=SCALE), retry=FAST) as c:
            for feed in c.feed_ids():
                got = [e.id for e in await c.events(feed).collect()]
                assert sorted(got) == sorted(sim.bybit.expected_ids(acct, feed)), feed


async def test_reconcile_finds_an_action_on_a_venue_clock_40s_ahead() -> None:
    async with Simulator(rate_scale=SCALE, skew_ms=40_000) as sim:
        acct = sim.bybit.add_account(KEY, secret=SECRET)
        sim.bybit.populate(acct, seed=3, scale=0.2)
        sim.faults.force("5xx_after", path="/v5/crypto-loan-flexible/borrow")
        async with Bybit(KEY, SECRET, base_url=sim.base_url, limits=RateLimits(scale=SCALE), retry=FAST) as c:
            await c.server_time()  # the offset is known: the borrow is signed right and executes
            with pytest.raises(AmbiguousOutcome) as info:
                await c.borrow_flexible("ETH", "3.25")
            found = await info.value.reconcile()
        assert found is not None and [m.id for m in sim.bybit.mutations] == [found.id]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_failed_clock_resync_is_retried_like_any_read(method: str) -> None:
    """A skew answer makes the client fetch the venue's time: a 5xx or a reset on that fetch
    is retried (it is a read), not raised out of the request that needed it."""
    async with Simulator(rate_scale=SCALE, skew_ms=40_000) as sim:
        acct = sim.bybit.add_account(KEY, secret=SECRET)
        sim.bybit.populate(acct, seed=3, scale=0.2)
        sim.faults.force("5xx", path="/v5/market/time")
        sim.faults.force("reset", path="/v5/market/time")
        async with Bybit(KEY, SECRET, base_url=sim.base_url, limits=RateLimits(scale=SCALE), retry=FAST) as c:
            if method == "GET":
                got = [e.id for e in await c.flexible_borrow_history().collect()]
                assert sorted(got) == sorted(sim.bybit.expected_ids(acct, "bybit.flexible_borrow_history"))
            else:
                ev = await c.borrow_flexible("ETH", "1.5")
                assert [m.id for m in sim.bybit.mutations] == [ev.id]
        assert [r.fault for r in sim.requests(path="/v5/market/time")] == ["5xx", "reset", None]
