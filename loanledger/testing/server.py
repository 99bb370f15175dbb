"""The simulator core: an aiohttp.web app that serves pluggable venues on loopback.

Venue-independent machinery lives here: the app factory and the async
context manager that serves it on 127.0.0.1 (free port by default), the
request log, fault injection, rate-limit window counters, the venue clock
(with a skew knob) and the routing of a request to the venue that claims its
path (`VenueSim.prefixes`). The core knows no venue: each venue module in this
package subclasses `VenueSim` with its authentication (verifying the signature
over the exact bytes received), its error envelopes, its endpoints and the URL
prefixes it serves; `loanledger.testing.Simulator` mounts the three of them.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

from ..ratelimit import Limit

__all__ = [
    "FaultKind",
    "Faults",
    "LoggedRequest",
    "Route",
    "SimCall",
    "SimError",
    "SimServer",
    "SlidingWindow",
    "VenueSim",
]

FaultKind = Literal[
    "5xx",  # 503 before the handler runs (nothing executed)
    "5xx_after",  # the handler runs (a write executes), then 502 is returned
    "reset",  # the connection is dropped before the handler runs
    "reset_after",  # the handler runs, then the connection is dropped
    "truncate",  # the handler runs, the body is cut in half (valid HTTP, broken JSON)
    "non_json",  # the handler runs, an HTML error page comes back with HTTP 200
    "slow",  # the answer is delayed by `Faults.slow_seconds` (beyond a client timeout)
    "slow_after",  # the handler runs, then the answer is delayed
    "rate",  # the venue's rate-limit answer, whatever the counters say
    "429",  # a gateway's HTTP 429 with Retry-After (`Faults.retry_after`), before the handler runs
    "body",  # the handler runs, then the answer is replaced (see `Faults.force_body`)
]

_AFTER = {"5xx_after", "reset_after", "truncate", "non_json", "slow_after", "body"}
FAULT = web.RequestKey("loanledger.fault", str)
#: when the request reached the simulator (monotonic seconds): what rate windows count and the log records
ARRIVED = web.RequestKey("loanledger.arrived", float)

#: what a "body" fault answers: fixed bytes, or a function of the handler's answer body
BodyFault = bytes | Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class _Forced:
    kind: str
    path: str | None
    method: str | None
    body: BodyFault | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Faults:
    """Fault injection. Random rates (seeded) and a queue of forced faults.

    `rates` maps a FaultKind to a probability per request; `only` restricts
    random faults to these venues (None = all) and `methods` to these HTTP
    methods; forced faults queued with `force()` / `force_body()` apply to the
    next matching requests, in order. `retry_after` is the Retry-After (seconds)
    of a "429" fault.
    """

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    slow_seconds: float = 15.0
    only: set[str] | None = None
    methods: set[str] | None = None
    retry_after: int = 1
    _queue: deque[_Forced] = field(default_factory=deque)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def force(self, kind: FaultKind, *, path: str | None = None, method: str | None = None, count: int = 1) -> None:
        """Apply `kind` to the next `count` requests matching path/method."""
        if kind == "body":
            raise ValueError("use force_body() for a replaced answer")
        for _ in range(count):
            self._queue.append(_Forced(kind, path, method))

    def force_body(
        self, body: BodyFault, *, path: str | None = None, method: str | None = None, status: int = 200,
        headers: dict[str, str] | None = None, count: int = 1,
    ) -> None:
        """The next `count` matching requests run their handler (a write executes), then the
        answer is replaced by `body` with HTTP `status` and `headers`: fixed bytes, or
        ``body(answer) -> bytes`` computed from the handler's answer (a venue bug, a broken
        proxy, a huge body, malformed rate-limit headers)."""
        extra = tuple((headers or {}).items())
        for _ in range(count):
            self._queue.append(_Forced("body", path, method, body, status, extra))

    def pick_forced(self, venue: str, method: str, path: str) -> _Forced | None:
        """The fault for this request (a forced one first, then a random draw), or None."""
        for i, f in enumerate(self._queue):
            if (f.path is None or f.path == path) and (f.method is None or f.method == method):
                del self._queue[i]
                return f
        if self.only is not None and venue not in self.only:
            return None
        if self.methods is not None and method not in self.methods:
            return None
        for kind, rate in self.rates.items():
            if rate > 0 and self._rng.random() < rate:
                return _Forced(kind, None, None)
        return None

    @property
    def pending(self) -> int:
        return len(self._queue)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the simulator saw it (no headers: keys never reach the log)."""

    at: float  # monotonic seconds, when it arrived (what the rate windows count)
    ts: int  # venue clock, ms
    venue: str
    method: str
    path: str
    query: str  # as the venue logs it (`VenueSim.logged_query`: no signature)
    status: int
    code: str | None
    account: str | None
    fault: str | None


class SlidingWindow:
    """Counts events per key in the last `per` seconds (the venues' rolling windows)."""

    def __init__(self) -> None:
        self._hits: dict[Any, deque[float]] = {}

    def hit(self, key: Any, budget: float, per: float, now: float) -> tuple[bool, int, float]:
        """Record a hit if under budget: (allowed, remaining, seconds until a slot frees)."""
        q = self._hits.setdefault(key, deque())
        while q and q[0] <= now - per:
            q.popleft()
        if len(q) >= budget:
            return False, 0, q[0] + per - now
        q.append(now)
        return True, int(budget - len(q)), (q[0] + per - now) if q else 0.0


class SimError(Exception):
    """A venue error answer: the venue's code, message and HTTP status (+ extra headers)."""

    def __init__(
        self, code: str | int, msg: str, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}


@dataclass(slots=True)
class SimCall:
    """What an endpoint handler receives: the caller's account, its params and JSON body."""

    request: web.Request
    account: Any
    params: dict[str, str]
    body: Any
    now_ms: int


EndpointHandler = Callable[[SimCall], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    """One simulated endpoint: method, path, handler, auth and its documented limit."""

    method: str
    path: str
    handler: EndpointHandler
    limit: Limit
    signed: bool = True


class VenueSim:
    """One venue inside the simulator: accounts, routes and the request pipeline.

    Subclasses name the venue, the URL path prefixes it serves (`prefixes`), and
    implement authentication over the exact bytes received, the rate check with the
    venue's real answer, and the success / error envelopes. Mount one on a `SimServer`
    with `SimServer.mount`.
    """

    venue: ClassVar[str] = ""
    #: the URL path prefixes this venue serves (the longest claiming prefix wins)
    prefixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, sim: SimServer) -> None:
        self.sim = sim
        self._routes: dict[tuple[str, str], Route] = {}
        self.accounts: dict[str, Any] = {}

    def route(
        self, method: str, path: str, handler: EndpointHandler, *, limit: Limit, signed: bool = True
    ) -> None:
        """Add (or replace) an endpoint. Users may add their own for their tests."""
        self._routes[(method, path)] = Route(method, path, handler, limit, signed)

    def find(self, method: str, path: str) -> Route | None:
        return self._routes.get((method, path))

    async def dispatch(self, request: web.Request, route: Route) -> web.Response:
        body = await request.read()
        account: Any = None
        extra: dict[str, str] = {}
        try:
            if route.signed:
                account = self.authenticate(request, body)
            extra = self.check_rate(request, route, account)
            if request.get(FAULT) == "rate":
                raise self.rate_error(route, account)
            call = SimCall(request, account, self.parse_params(request, body), self.parse_body(request, body),
                           self.sim.now_ms())
            result = await route.handler(call)
            resp = self.success(result)
            code: str | None = None
        except SimError as err:
            resp = self.failure(err)
            extra.update(err.headers)
            code = str(err.code)
        for k, v in extra.items():
            resp.headers[k] = v
        self.sim.record(request, self.venue, resp.status, code, getattr(account, "label", None))
        return resp

    # --- venue hooks ---------------------------------------------------------------

    def logged_query(self, query: str) -> str:
        """The query string as the request log keeps it: a venue that signs in the query
        drops its signature here."""
        return query

    def authenticate(self, request: web.Request, body: bytes) -> Any:
        raise NotImplementedError

    def check_rate(self, request: web.Request, route: Route, account: Any) -> dict[str, str]:
        raise NotImplementedError

    def rate_error(self, route: Route, account: Any) -> SimError:
        raise NotImplementedError

    def success(self, result: Any) -> web.Response:
        raise NotImplementedError

    def failure(self, err: SimError) -> web.Response:
        raise NotImplementedError

    @staticmethod
    def parse_params(request: web.Request, body: bytes) -> dict[str, str]:
        raw = request.raw_path
        query = raw.split("?", 1)[1] if "?" in raw else ""
        return dict(parse_qsl(query, keep_blank_values=True))

    @staticmethod
    def parse_body(request: web.Request, body: bytes) -> Any:
        if not body:
            return None
        try:
            return json.loads(body, parse_float=Decimal)
        except ValueError:
            raise SimError("body", "request body is not JSON", 400) from None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


V = TypeVar("V", bound=VenueSim)
S = TypeVar("S", bound="SimServer")


class SimServer:
    """The simulator core: the venues mounted on it, on one loopback port.

    ``async with server:`` serves on 127.0.0.1 (a free port unless `port` is given);
    point every client's ``base_url`` at ``server.base_url``. `rate_scale` multiplies
    every documented rate limit (the clients' RateLimits must use the same scale).
    `skew_ms` offsets the venue clock from the host's. A request goes to the mounted
    venue with the longest prefix of its path; no venue or no route answers 404.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        rate_scale: float = 1.0,
        skew_ms: int = 0,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.seed = seed
        self.rate_scale = rate_scale
        self.skew_ms = skew_ms
        self.faults = faults or Faults(seed=seed)
        self.host = host
        self.port = port
        self.log: list[LoggedRequest] = []
        self.windows = SlidingWindow()
        self._runner: web.AppRunner | None = None
        self._prefixes: list[tuple[str, VenueSim]] = []  # longest first

    # --- venues ----------------------------------------------------------------------

    def mount(self, venue: V) -> V:
        """Serve `venue` (built on this server) at its `prefixes`; returns it."""
        if venue.sim is not self:
            raise ValueError(f"{venue.venue}: mount a venue on the server it was built for")
        if not venue.venue or not venue.prefixes:
            raise ValueError(f"{type(venue).__name__}: a venue needs a name and at least one URL prefix")
        for prefix in venue.prefixes:
            if not prefix.startswith("/") or not prefix.endswith("/"):
                raise ValueError(f"{venue.venue}: prefix {prefix!r} must start and end with '/'")
            taken = next((v for p, v in self._prefixes if p == prefix), None)
            if taken is not None:
                raise ValueError(f"{venue.venue}: prefix {prefix!r} is already served by {taken.venue}")
            self._prefixes.append((prefix, venue))
        self._prefixes.sort(key=lambda item: len(item[0]), reverse=True)
        return venue

    @property
    def venues(self) -> dict[str, VenueSim]:
        """The mounted venues by name."""
        return {v.venue: v for _, v in self._prefixes}

    def venue_for(self, path: str) -> VenueSim | None:
        """The mounted venue serving `path`, or None."""
        for prefix, venue in self._prefixes:
            if path.startswith(prefix):
                return venue
        return None

    # --- clocks --------------------------------------------------------------------

    def now_ms(self) -> int:
        """The venue clock in ms (host clock + skew)."""
        return time.time_ns() // 1_000_000 + self.skew_ms

    @staticmethod
    def mono() -> float:
        return time.monotonic()

    # --- app -------------------------------------------------------------------------

    def arrived(self, request: web.Request) -> float:
        """When `request` reached the simulator (monotonic seconds; now if it came another way)."""
        return request.get(ARRIVED) or self.mono()

    def app(self) -> web.Application:
        """The aiohttp application (for aiohttp's own test client, or to embed)."""
        app = web.Application(middlewares=[self._middleware], client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        venue = self.venue_for(request.path)
        route = venue.find(request.method, request.path) if venue is not None else None
        if venue is None or route is None:
            self.record(request, venue.venue if venue is not None else "?", 404, None, None)
            return web.Response(status=404, text="404 Not Found")
        return await venue.dispatch(request, route)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[ARRIVED] = self.mono()
        mounted = self.venue_for(request.path)
        venue = mounted.venue if mounted is not None else "?"
        forced = self.faults.pick_forced(venue, request.method, request.path)
        fault = forced.kind if forced is not None else None
        if fault is not None:
            request[FAULT] = fault
        if fault == "slow":
            # the venue has the whole request and is slow to act on it: it may still execute
            # after the client gave up (the body is read now; the handler reads the cached copy)
            await request.read()
            await asyncio.sleep(self.faults.slow_seconds)
        elif fault == "5xx":
            return self._logged(request, venue, web.Response(status=503, text="Service Unavailable"), None)
        elif fault == "429":
            return self._logged(request, venue, web.Response(
                status=429, text="429 Too Many Requests", headers={"Retry-After": str(self.faults.retry_after)}
            ), None)
        elif fault == "reset":
            self._abort(request)
            return self._logged(request, venue, web.Response(status=599), None)
        resp = await handler(request)
        if fault in _AFTER:
            if fault == "slow_after":
                await asyncio.sleep(self.faults.slow_seconds)
            elif fault == "5xx_after":
                resp = web.Response(status=502, text="Bad Gateway")
            elif fault == "reset_after":
                self._abort(request)
                resp = web.Response(status=599)
            elif fault == "truncate" and isinstance(resp, web.Response) and resp.body is not None:
                body = bytes(resp.body)  # type: ignore[arg-type]
                resp = web.Response(status=resp.status, body=body[: max(1, len(body) // 2)],
                                    content_type="application/json", headers=_keep_headers(resp))
            elif fault == "non_json":
                resp = web.Response(status=200, text="<html><body>502 Bad Gateway</body></html>",
                                    content_type="text/html")
            elif fault == "body" and forced is not None and forced.body is not None:
                original = bytes(resp.body) if isinstance(resp, web.Response) and resp.body is not None else b""  # type: ignore[arg-type]
                body = forced.body(original) if callable(forced.body) else forced.body
                resp = web.Response(status=forced.status, body=body, content_type="application/json",
                                    headers=dict(forced.headers))
        return resp

    @staticmethod
    def _abort(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            transport.abort() if hasattr(transport, "abort") else transport.close()

    def _logged(
        self, request: web.Request, venue: str, resp: web.Response, code: str | None, account: str | None = None
    ) -> web.Response:
        self.record(request, venue, resp.status, code, account)
        return resp

    def record(self, request: web.Request, venue: str, status: int, code: str | None, account: str | None) -> None:
        """Append one request to the log (venue modules call this from their handlers)."""
        raw = request.raw_path
        query = raw.split("?", 1)[1] if "?" in raw else ""
        mounted = self.venue_for(request.path)
        if mounted is not None:
            query = mounted.logged_query(query)
        self.log.append(
            LoggedRequest(
                at=self.arrived(request), ts=self.now_ms(), venue=venue, method=request.method, path=request.path,
                query=query, status=status, code=code, account=account, fault=request.get(FAULT),
            )
        )

    # --- serving -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError(f"the simulator is not running; use `async with {type(self).__name__}() as sim`")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        for addr in runner.addresses:
            if isinstance(addr, tuple) and len(addr) >= 2:
                self.port = int(addr[1])
                break

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self: S) -> S:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- assertions helpers ------------------------------------------------------------------

    def requests(
        self, *, venue: str | None = None, path: str | None = None, account: str | None = None
    ) -> list[LoggedRequest]:
        """The logged requests matching all given filters."""
        return [
            r for r in self.log
            if (venue is None or r.venue == venue)
            and (path is None or r.path == path)
            and (account is None or r.account == account)
        ]

    @staticmethod
    def max_in_window(entries: Iterable[LoggedRequest], per: float) -> int:
        """The most requests any window of `per` seconds held (rate-limit assertions)."""
        times = sorted(e.at for e in entries)
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - per:
                j += 1
            best = max(best, i - j + 1)
        return best


def _keep_headers(resp: web.Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower().startswith(("x-", "retry-after"))}
