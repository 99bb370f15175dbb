"""Client-side rate limits: aiolimiter buckets keyed by (venue, scope, endpoint group).

Each documented venue limit ("5 requests / 2 s per User ID", "weight 500 of
12,000 / min per IP") becomes one `Bucket`, shared by every paginator and
action that hits that endpoint with the same credentials (scope "uid") or
from the same process towards the same host (scope "ip").

Sizing. A venue counts requests in a window of `per` seconds. A leaky bucket
whose capacity is one request's weight, leaking `headroom * budget / per`
per second, spaces requests evenly and never bursts, so any window of `per`
seconds holds at most ``floor(headroom * budget / weight) + 1`` requests,
which is within the venue's budget for headroom <= 0.9 and budgets of one
request or more. Long-run throughput is `headroom` (90%) of the documented
rate; the remaining 10% absorbs clock and network jitter.

Resync. Venues that report usage (Binance ``X-SAPI-USED-*-WEIGHT-1M``) feed
`Bucket.observe_used`: when the window already holds more than our share
(other processes on the same IP), the bucket waits for the next window.
Bybit's ``X-Bapi-Limit-Status: 0`` + reset timestamp, Retry-After and
10006 answers pause the bucket (`pause_until`), so every task sharing it
waits, not only the one that was refused. A Binance 418 ban is recorded per
host and fails every later request to it fast until the ban ends.

`RateLimits.shared()` is the registry of the running event loop: clients
that are not given one use it, so two Binance clients in one process share
the per-IP weight budget as the venue does.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from dataclasses import dataclass
from typing import Literal

from aiolimiter import AsyncLimiter

from ._args import now_ms
from .errors import InvalidArgument

__all__ = ["Bucket", "Limit", "RateLimits"]


@dataclass(frozen=True, slots=True)
class Limit:
    """A documented limit: `budget` units (requests or weight) per `per` seconds.

    `weight` is what one call to the endpoint costs. `window="fixed"` means the
    venue resets its counter at period boundaries (Binance's per-minute weight),
    which enables header resync; "rolling" windows are only paced.
    """

    budget: int
    per: float
    weight: int = 1
    scope: Literal["uid", "ip"] = "uid"
    window: Literal["rolling", "fixed"] = "rolling"

    def __post_init__(self) -> None:
        if self.budget <= 0 or self.per <= 0 or self.weight <= 0 or self.weight > self.budget:
            raise InvalidArgument("limit", f"inconsistent limit {self}")


class Bucket:
    """Pacing for one (venue, scope, endpoint group)."""

    __slots__ = (
        "_limiter",
        "_paused_until",
        "_window_index",
        "_window_used",
        "budget",
        "limit",
        "name",
    )

    def __init__(self, name: str, limit: Limit, *, headroom: float, scale: float) -> None:
        self.name = name
        self.limit = limit
        self.budget = limit.budget * scale  # what the venue allows per period
        rate = headroom * self.budget / limit.per  # units per second we allow ourselves
        self._limiter = AsyncLimiter(limit.weight, limit.weight / rate)
        self._paused_until = 0  # epoch ms
        self._window_index = -1  # fixed windows: index of the window `_window_used` belongs to
        self._window_used = 0.0

    @property
    def interval(self) -> float:
        """Seconds between two requests at full pace."""
        return float(self._limiter.time_period)

    @property
    def allowed_rate(self) -> float:
        """Requests per second this bucket lets through at most."""
        return 1.0 / self.interval

    def pause_until(self, epoch_ms: int) -> None:
        """No request leaves this bucket before `epoch_ms` (venue said so)."""
        if epoch_ms > self._paused_until:
            self._paused_until = epoch_ms

    def observe_used(self, used: float, server_ms: int) -> None:
        """Resync from a venue header giving the units used in the current fixed window."""
        if self.limit.window != "fixed":
            return
        index = server_ms // int(self.limit.per * 1000)
        if index > self._window_index:
            self._window_index, self._window_used = index, used
        elif index == self._window_index:
            self._window_used = max(self._window_used, used)

    async def acquire(self, weight: int | None = None) -> float:
        """Wait for capacity; returns the seconds spent waiting."""
        amount = self.limit.weight if weight is None else weight
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            now = now_ms()
            if self._paused_until > now:
                await asyncio.sleep((self._paused_until - now) / 1000)
                continue
            if self.limit.window == "fixed":
                period_ms = int(self.limit.per * 1000)
                index = now // period_ms
                if index == self._window_index and self._window_used + amount > self.budget:
                    # the venue's counter for this window is spent (by us or others)
                    await asyncio.sleep(((index + 1) * period_ms - now) / 1000 + 0.05)
                    continue
            break
        await self._limiter.acquire(min(amount, self.limit.weight))
        if self.limit.window == "fixed":
            index = now_ms() // int(self.limit.per * 1000)
            if index != self._window_index:
                self._window_index, self._window_used = index, 0.0
            self._window_used += amount
        return loop.time() - start

    def __repr__(self) -> str:
        return f"Bucket({self.name!r}, every {self.interval:.3f}s)"


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RateLimits] = weakref.WeakKeyDictionary()


class RateLimits:
    """Registry of buckets and bans. Share one per process (see `shared()`).

    `scale` multiplies every documented budget (for a simulator run with
    scaled limits); `headroom` is the fraction of the budget we use.
    """

    def __init__(self, *, headroom: float = 0.9, scale: float = 1.0) -> None:
        for name, value in (("headroom", headroom), ("scale", scale)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
        if not 0 < headroom <= 1:
            raise InvalidArgument("headroom", f"{headroom} must be in (0, 1]")
        if not (scale > 0 and math.isfinite(scale)):
            raise InvalidArgument("scale", f"{scale} must be a positive finite number")
        self.headroom = headroom
        self.scale = scale
        self._buckets: dict[tuple[str, str, str], Bucket] = {}
        self._bans: dict[tuple[str, str], int] = {}

    @classmethod
    def shared(cls) -> RateLimits:
        """The registry of the running event loop (created on first use)."""
        loop = asyncio.get_running_loop()
        reg = _per_loop.get(loop)
        if reg is None:
            reg = _per_loop[loop] = cls()
        return reg

    def bucket(self, venue: str, scope_id: str, group: str, limit: Limit) -> Bucket:
        """The bucket for (venue, scope_id, group), created from `limit` on first use."""
        key = (venue, scope_id, group)
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = Bucket(
                f"{venue}:{group}", limit, headroom=self.headroom, scale=self.scale
            )
        return b

    def ban(self, venue: str, host: str, until_ms: int) -> None:
        """Record a venue ban of this host until `until_ms`."""
        key = (venue, host)
        self._bans[key] = max(self._bans.get(key, 0), until_ms)

    def banned_until(self, venue: str, host: str) -> int | None:
        """The ban end for this host if a ban is still running."""
        until = self._bans.get((venue, host))
        if until is not None and until > now_ms():
            return until
        return None

    def buckets(self) -> list[Bucket]:
        return list(self._buckets.values())
