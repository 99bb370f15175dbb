"""Client-side rate limits: aiolimiter buckets keyed by (venue, scope, endpoint group).

Each documented venue limit ("5 requests / 2 s per User ID", "weight 500 of
12,000 / min per IP") becomes one `Bucket`, shared by every paginator and
action that hits that endpoint with the same credentials (scope "uid") or
from the same process towards the same host (scope "ip").

Blind pacing (OKX: no count headers). A venue counts requests in a window of
`per` seconds. A leaky bucket whose capacity is one request's weight, leaking
`headroom * budget / per` per second, spaces requests evenly and never
bursts, so any window of `per` seconds holds at most
``floor(headroom * budget / weight) + 1`` requests, which is within the
venue's budget for headroom <= 0.9 and budgets of one request or more.
Long-run throughput is `headroom` (90%) of the documented rate; the
remaining 10% absorbs clock and network jitter, which the client cannot see.

Feedback pacing (Binance used weight, Bybit remaining count: the dialect's
``reports_usage``). The venue's count on every answer is the safety margin,
so the pace is `feedback_headroom` (100%) of the documented rate, and a
request leaves only when the venue's window has room for it:

- fixed windows (Binance weight per minute): the window's used weight, from
  ``X-SAPI-USED-*-WEIGHT-1M`` / ``X-MBX-USED-WEIGHT-1M`` (`observe_used`, by
  the window the request was sent in) and our own admissions; a request that
  would overflow it waits for the next window (+ `WINDOW_TURN_MS`);
- rolling windows (Bybit's per-second UID limits): our last `slots` send
  times; a request waits until the one `slots` before it is a period plus
  `ROLLING_MARGIN` old, with `slots` lowered by what the venue counted
  beyond our own requests (``X-Bapi-Limit`` - ``X-Bapi-Limit-Status``:
  another client on the same UID, `observe_remaining`) for one period.

A feedback bucket's leaky bucket holds up to `LATE_WAKEUP_S` of credit, so a
timer that fires late does not lose the time (a blind bucket's pace must
not run ahead of even spacing; a feedback bucket's window checks bound the
window instead). Bybit's ``X-Bapi-Limit-Status: 0`` + reset timestamp,
Retry-After and 10006 answers pause the bucket (`pause_until`), so every
task sharing it waits, not only the one that was refused. A Binance 418 ban
is recorded per host and fails every later request to it fast until the
ban ends.

`RateLimits.shared()` is the registry of the running event loop: clients
that are not given one use it, so two Binance clients in one process share
the per-IP weight budget as the venue does.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Literal

from aiolimiter import AsyncLimiter

from ._args import now_ms
from .errors import InvalidArgument

__all__ = ["Bucket", "Limit", "RateLimits"]

#: a feedback bucket keeps a late wake-up's lost time (asyncio timers fire up to ~1 ms late) as
#: credit of up to this much, and never more than this fraction of a request (MAX_CREDIT)
LATE_WAKEUP_S = 0.004
MAX_CREDIT = 0.5
#: rolling windows with feedback: a request waits until the request `slots` before it is this
#: fraction of a period older than a period (network and scheduling jitter between our clock
#: and the venue's arrival times)
ROLLING_MARGIN = 0.02
#: fixed windows: after the window turns, wait this long for the venue's clock (ms)
WINDOW_TURN_MS = 50


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
    """Pacing for one (venue, scope, endpoint group).

    A blind bucket (the venue reports no count) paces at `headroom` of the budget with a
    leaky bucket of capacity one request (see the module docstring). A feedback bucket
    (`feedback=True`: the venue reports its own count on every answer) paces at
    `feedback_headroom` of the budget, absorbs the event loop's late wake-ups, and holds
    requests back by the venue's count instead: the fixed window's used weight
    (`observe_used`), or, for rolling windows, its own send times plus the count the venue
    reports (`observe_remaining`).
    """

    __slots__ = (
        "_foreign",
        "_foreign_until",
        "_limiter",
        "_paused_until",
        "_sent",
        "_venue_cap",
        "_window_index",
        "_window_used",
        "budget",
        "feedback",
        "limit",
        "name",
        "slots",
    )

    def __init__(self, name: str, limit: Limit, *, headroom: float, scale: float, feedback: bool = False) -> None:
        self.name = name
        self.limit = limit
        self.feedback = feedback
        self.budget = limit.budget * scale  # what the venue allows per period
        #: requests of the endpoint's weight one window holds
        self.slots = max(1, int(self.budget // limit.weight))
        rate = headroom * self.budget / limit.per  # units per second we allow ourselves
        period = limit.weight / rate
        credit = min(MAX_CREDIT, LATE_WAKEUP_S / period) if feedback else 0.0
        # capacity above one request = the lateness of a wake-up that is not lost (see the module docstring)
        self._limiter = AsyncLimiter(limit.weight * (1 + credit), period * (1 + credit))
        self._paused_until = 0  # epoch ms
        self._window_index = -1  # fixed windows: index of the window `_window_used` belongs to
        self._window_used = 0.0
        # rolling windows with feedback: our last `slots` admissions (epoch ms), requests of other
        # clients the venue counted (and until when that count holds), the venue's own limit
        self._sent: deque[int] = deque(maxlen=self.slots)
        self._foreign = 0
        self._foreign_until = 0
        self._venue_cap = self.slots

    @property
    def interval(self) -> float:
        """Seconds between two requests at full pace."""
        return float(self._limiter.time_period / self._limiter.max_rate * self.limit.weight)

    @property
    def allowed_rate(self) -> float:
        """Requests per second this bucket lets through at most (in the long run)."""
        return 1.0 / self.interval

    def pause_until(self, epoch_ms: int) -> None:
        """No request leaves this bucket before `epoch_ms` (venue said so)."""
        if epoch_ms > self._paused_until:
            self._paused_until = epoch_ms

    def observe_used(self, used: float, server_ms: int) -> None:
        """Resync from a venue header giving the units used in the fixed window that holds
        `server_ms` (when the request was sent; an answer from a window that has since
        turned says nothing about the current one)."""
        if self.limit.window != "fixed":
            return
        index = server_ms // int(self.limit.per * 1000)
        if index > self._window_index:
            self._window_index, self._window_used = index, used
        elif index == self._window_index:
            self._window_used = max(self._window_used, used)

    def observe_remaining(self, remaining: int, limit: int | None, sent_ms: int) -> None:
        """Resync a rolling window from the venue's count: `remaining` requests left in its
        window right after the request sent at `sent_ms`, of `limit` (None: not reported).

        Requests the venue counted beyond our own sends in the window before `sent_ms` are
        another client's on the same key: they shrink our share until they leave the window
        (one period). A reported limit below the documented one becomes the cap."""
        if not self.feedback or self.limit.window != "rolling":
            return
        if limit is not None and limit > 0:
            self._venue_cap = min(self.slots, limit)
        used = (limit if limit is not None else self._venue_cap) - remaining
        # ours: what we sent in the period before `sent_ms`, widened by the margin: a request of
        # ours that took longer to arrive than this one is still in the venue's window, not another's
        since = sent_ms - int(self.limit.per * 1000 * (1 + ROLLING_MARGIN))
        ours = sum(1 for t in self._sent if since < t <= sent_ms)
        foreign = used - ours
        if foreign > 0:
            self._foreign = foreign
            self._foreign_until = sent_ms + int(self.limit.per * 1000)

    def _wait_ms(self, amount: int, now: int) -> int:
        """Milliseconds until a request of `amount` units may leave (0: now)."""
        if self._paused_until > now:
            return self._paused_until - now
        if self.limit.window == "fixed":
            period_ms = int(self.limit.per * 1000)
            index = now // period_ms
            if index == self._window_index and self._window_used + amount > self.budget:
                # the venue's counter for this window is spent (by us or others): wait for the
                # next window, plus a margin for the venue's clock
                return (index + 1) * period_ms - now + WINDOW_TURN_MS
        elif self.feedback:
            cap = self._venue_cap - (self._foreign if self._foreign_until > now else 0)
            span = int(self.limit.per * 1000 * (1 + ROLLING_MARGIN))
            if cap < 1:
                return max(1, self._foreign_until - now)
            if len(self._sent) >= cap:
                free_at = self._sent[-cap] + span  # when the oldest of the last `cap` leaves the window
                if free_at > now:
                    return free_at - now
        return 0

    async def acquire(self, weight: int | None = None) -> float:
        """Wait for capacity; returns the seconds spent waiting."""
        amount = self.limit.weight if weight is None else weight
        loop = asyncio.get_running_loop()
        start = loop.time()
        while (wait := self._wait_ms(amount, now_ms())) > 0:
            await asyncio.sleep(wait / 1000)
        await self._limiter.acquire(min(amount, self.limit.weight))
        if self.feedback:
            # the pace let it through; the venue's count decides (checked again: other tasks
            # may have taken the window while this one waited for the pace)
            while (wait := self._wait_ms(amount, now_ms())) > 0:
                await asyncio.sleep(wait / 1000)
        now = now_ms()
        if self.limit.window == "fixed":
            index = now // int(self.limit.per * 1000)
            if index != self._window_index:
                self._window_index, self._window_used = index, 0.0
            self._window_used += amount
        elif self.feedback:
            self._sent.append(now)
        return loop.time() - start

    def __repr__(self) -> str:
        return f"Bucket({self.name!r}, every {self.interval:.3f}s{', feedback' if self.feedback else ''})"


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RateLimits] = weakref.WeakKeyDictionary()


class RateLimits:
    """Registry of buckets and bans. Share one per process (see `shared()`).

    `scale` multiplies every documented budget (for a simulator run with
    scaled limits); `headroom` is the fraction of the budget used where the
    venue reports no count, `feedback_headroom` where it does (its count holds
    requests back, see `Bucket`).
    """

    def __init__(self, *, headroom: float = 0.9, scale: float = 1.0, feedback_headroom: float = 1.0) -> None:
        for name, value in (("headroom", headroom), ("scale", scale), ("feedback_headroom", feedback_headroom)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
        if not 0 < headroom <= 1:
            raise InvalidArgument("headroom", f"{headroom} must be in (0, 1]")
        if not 0 < feedback_headroom <= 1:
            raise InvalidArgument("feedback_headroom", f"{feedback_headroom} must be in (0, 1]")
        if not (scale > 0 and math.isfinite(scale)):
            raise InvalidArgument("scale", f"{scale} must be a positive finite number")
        self.headroom = headroom
        self.feedback_headroom = feedback_headroom
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

    def bucket(self, venue: str, scope_id: str, group: str, limit: Limit, *, feedback: bool = False) -> Bucket:
        """The bucket for (venue, scope_id, group), created from `limit` on first use;
        `feedback`: the venue reports its count on every answer (the dialect's `reports_usage`)."""
        key = (venue, scope_id, group)
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = Bucket(
                f"{venue}:{group}", limit, headroom=self.feedback_headroom if feedback else self.headroom,
                scale=self.scale, feedback=feedback,
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
