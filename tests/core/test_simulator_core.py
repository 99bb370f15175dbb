"""The simulator core knows no venue: venues are mounted on a `SimServer` at the URL prefixes
they declare; `Simulator` is the core with the three venues mounted and their knobs forwarded."""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web

from loanledger import OKX, RateLimited, RetryPolicy
from loanledger.ratelimit import Limit, RateLimits
from loanledger.testing import BinanceVenue, Faults, OkxVenue, Route, SimCall, SimError, SimServer, Simulator, VenueSim

PING = Limit(5, 1.0)


class PingVenue(VenueSim):
    """A made-up venue: unsigned JSON, errors as {"error": code}."""

    venue = "ping"
    prefixes = ("/ping/",)

    def __init__(self, sim: SimServer) -> None:
        super().__init__(sim)
        self.route("GET", "/ping/v1/echo", self._echo, limit=PING, signed=False)

    async def _echo(self, call: SimCall) -> Any:
        if call.params.get("fail"):
            raise SimError("E1", "asked to fail", 400)
        return {"params": call.params, "now": call.now_ms}

    def check_rate(self, request: web.Request, route: Route, account: Any) -> dict[str, str]:
        return {"X-Ping-Remaining": "4"}

    def success(self, result: Any) -> web.Response:
        return web.Response(body=msgspec.json.encode(result), content_type="application/json")

    def failure(self, err: SimError) -> web.Response:
        return web.Response(status=err.status, body=msgspec.json.encode({"error": err.code}),
                            content_type="application/json")


async def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_a_venue_of_ones_own_is_served_by_the_bare_core() -> None:
    async with SimServer(skew_ms=5_000) as server:
        ping = server.mount(PingVenue(server))
        assert server.venues == {"ping": ping} and server.venue_for("/ping/v1/echo") is ping
        status, headers, body = await _get(f"{server.base_url}/ping/v1/echo?x=1")
        assert status == 200 and headers["X-Ping-Remaining"] == "4"
        answer = msgspec.json.decode(body)
        assert answer["params"] == {"x": "1"} and abs(answer["now"] - server.now_ms()) < 2_000
        status, _, body = await _get(f"{server.base_url}/ping/v1/echo?fail=1")
        assert (status, body) == (400, b'{"error":"E1"}')
        # a path no venue claims, and an unknown route of a mounted venue: 404, logged
        assert (await _get(f"{server.base_url}/api/v5/public/time"))[0] == 404
        assert (await _get(f"{server.base_url}/ping/v2/none"))[0] == 404
    assert [(r.venue, r.path, r.status, r.code) for r in server.log] == [
        ("ping", "/ping/v1/echo", 200, None), ("ping", "/ping/v1/echo", 400, "E1"),
        ("?", "/api/v5/public/time", 404, None), ("ping", "/ping/v2/none", 404, None),
    ]


async def test_faults_restricted_to_a_venue_use_the_mounted_venues_name() -> None:
    faults = Faults(rates={"5xx": 1.0}, only={"ping"})
    async with SimServer(faults=faults) as server:
        server.mount(PingVenue(server))
        assert (await _get(f"{server.base_url}/ping/v1/echo"))[0] == 503
        assert (await _get(f"{server.base_url}/elsewhere"))[0] == 404  # not ping's: no fault
    assert [r.fault for r in server.log] == ["5xx", None]


def test_mount_checks_prefixes_and_ownership() -> None:
    server = SimServer()
    server.mount(PingVenue(server))
    with pytest.raises(ValueError, match="'/ping/' is already served by ping"):
        server.mount(PingVenue(server))
    with pytest.raises(ValueError, match="the server it was built for"):
        server.mount(PingVenue(SimServer()))

    class Nameless(PingVenue):
        prefixes = ()

    with pytest.raises(ValueError, match="at least one URL prefix"):
        server.mount(Nameless(server))

    class Sloppy(PingVenue):
        venue = "sloppy"
        prefixes = ("/sloppy",)

    with pytest.raises(ValueError, match="must start and end with '/'"):
        server.mount(Sloppy(server))


def test_the_longest_prefix_wins() -> None:
    server = SimServer()

    class Wide(PingVenue):
        venue = "wide"
        prefixes = ("/api/",)

    wide = server.mount(Wide(server))
    okx = server.mount(OkxVenue(server))
    binance = server.mount(BinanceVenue(server))
    assert server.venue_for("/api/v5/public/time") is okx
    assert server.venue_for("/api/v3/time") is binance and server.venue_for("/sapi/v1/x") is binance
    assert server.venue_for("/api/v9/x") is wide and server.venue_for("/v5/market/time") is None


def test_simulator_mounts_the_three_venues_and_forwards_okx_rate_http() -> None:
    sim = Simulator(okx_rate_http=200)
    assert set(sim.venues) == {"okx", "binance", "bybit"}
    assert sim.venues["okx"] is sim.okx and sim.venue_for("/v5/market/time") is sim.bybit
    assert sim.okx.rate_http == sim.okx_rate_http == 200
    sim.okx_rate_http = 429
    assert sim.okx.rate_http == 429


@pytest.mark.parametrize("status", [200, 429])
async def test_okx_rate_answers_with_the_forwarded_http_status(status: int) -> None:
    async with Simulator(okx_rate_http=status, faults=Faults(rates={"rate": 1.0}, only={"okx"})) as sim:
        sim.okx.add_account("k", "s", "p")
        async with OKX("k", "s", "p", base_url=sim.base_url, limits=RateLimits(scale=1000),
                       retry=RetryPolicy(max_attempts=1)) as okx:
            with pytest.raises(RateLimited) as info:
                await okx.convert_history().collect()
    assert (info.value.status, info.value.code) == (status, "50011")


async def test_the_binance_log_drops_the_signature_the_others_keep_their_query() -> None:
    from loanledger import Binance

    async with Simulator() as sim:
        sim.binance.add_account("bk", secret="bs")
        async with Binance("bk", "bs", base_url=sim.base_url, limits=RateLimits(scale=1000)) as bn:
            await bn.pmloan_amount()
    (entry,) = sim.requests(venue="binance", path="/sapi/v1/portfolio/pmLoan")
    assert "timestamp=" in entry.query and "signature" not in entry.query
