"""Foundation end to end: every venue's signing accepted by the simulator over loopback,
wrong credentials mapped to AuthError, clock skew recovered, limits enforced, faults retried."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from loanledger import OKX, AuthError, Binance, Bybit, ClockSkewError
from loanledger.ratelimit import Limit, RateLimits
from loanledger.signing import load_private_key
from loanledger.testing import Faults, SimCall, Simulator
from loanledger.transport import Request
from loanledger.venues import bybit, okx

ECHO = Limit(5, 2.0)


async def _echo(call: SimCall) -> Any:
    return {"account": call.account.label, "params": call.params, "body": call.body}


def _add_echo_routes(sim: Simulator) -> None:
    sim.okx.route("GET", "/api/v5/test/echo", _echo, limit=ECHO)
    sim.okx.route("POST", "/api/v5/test/echo", _echo, limit=ECHO)
    sim.binance.route("GET", "/sapi/v1/test/echo", _echo, limit=Limit(12_000, 60, weight=10, scope="ip", window="fixed"))
    sim.bybit.route("GET", "/v5/test/echo", _echo, limit=Limit(5, 1.0))
    sim.bybit.route("POST", "/v5/test/echo", _echo, limit=Limit(5, 1.0))


class _Env(msgspec.Struct):
    retCode: int = 0
    retMsg: str = ""
    code: str = "0"
    msg: str = ""


_env = msgspec.json.Decoder(_Env)


def _raw(body: bytes) -> bytes:
    """Like a venue decoder: an error envelope inside HTTP 200 raises the venue's typed error."""
    env = _env.decode(body)
    if env.retCode != 0:
        raise bybit.envelope_error(200, env.retCode, env.retMsg, "/v5/test/echo")
    if env.code != "0":
        raise okx.envelope_error(200, env.code, env.msg, "/api/v5/test/echo")
    return body


async def test_okx_get_and_post_are_accepted(sim: Simulator) -> None:
    _add_echo_routes(sim)
    sim.okx.add_account("okx-k", "okx-s", "okx-p", label="main")
    async with OKX("okx-k", "okx-s", "okx-p", base_url=sim.base_url) as okx:
        get = Request("GET", "/api/v5/test/echo", ECHO, params=(("ccy", "BTC"), ("after", "17316594851045086")))
        assert b'"account":"main"' in await okx.transport.request(get, _raw)
        post = Request("POST", "/api/v5/test/echo", ECHO, body={"ccy": "USDT", "amt": "1000"})
        body = await okx.transport.request(post, _raw)
        assert b'"amt":"1000"' in body
    assert [r.status for r in sim.log] == [200, 200]


async def test_okx_demo_header_must_match_the_key(sim: Simulator) -> None:
    _add_echo_routes(sim)
    sim.okx.add_account("demo-k", "s", "p", demo=True)
    async with OKX("demo-k", "s", "p", base_url=sim.base_url, demo=True) as okx:
        await okx.transport.request(Request("GET", "/api/v5/test/echo", ECHO), _raw)
    async with OKX("demo-k", "s", "p", base_url=sim.base_url) as live:
        with pytest.raises(AuthError) as info:
            await live.transport.request(Request("GET", "/api/v5/test/echo", ECHO), _raw)
    assert info.value.code == "50101"


@pytest.mark.parametrize(
    ("secret", "passphrase", "code"), [("wrong", "okx-p", "50113"), ("okx-s", "wrong", "50105")]
)
async def test_okx_wrong_credentials_map_to_auth_error(sim: Simulator, secret: str, passphrase: str, code: str) -> None:
    _add_echo_routes(sim)
    sim.okx.add_account("okx-k", "okx-s", "okx-p")
    async with OKX("okx-k", secret, passphrase, base_url=sim.base_url) as okx:
        with pytest.raises(AuthError) as info:
            await okx.transport.request(Request("GET", "/api/v5/test/echo", ECHO), _raw)
    assert info.value.code == code and info.value.status == 401 and info.value.venue == "okx"


async def test_binance_all_three_key_types_are_accepted(
    sim: Simulator, rsa_private_pem: str, ed25519_private_pem: str
) -> None:
    _add_echo_routes(sim)
    sim.binance.add_account("hmac-k", secret="hmac-s", label="hmac")
    sim.binance.add_account("rsa-k", public_key=load_private_key(rsa_private_pem).public_key(), label="rsa")  # type: ignore[arg-type]
    sim.binance.add_account("ed-k", public_key=load_private_key(ed25519_private_pem).public_key(), label="ed")  # type: ignore[arg-type]
    clients = [
        Binance("hmac-k", "hmac-s", base_url=sim.base_url),
        Binance("rsa-k", private_key=rsa_private_pem, base_url=sim.base_url),
        Binance("ed-k", private_key=ed25519_private_pem.encode(), base_url=sim.base_url),
    ]
    req = Request("GET", "/sapi/v1/test/echo", Limit(12_000, 60, weight=10, scope="ip", window="fixed"),
                  params=(("startTime", "1735689600000"), ("endTime", "1738368000000")))
    for client in clients:
        async with client:
            body = await client.transport.request(req, _raw)
            assert b'"startTime":"1735689600000"' in body
    assert [r.account for r in sim.log] == ["hmac", "rsa", "ed"]
    assert all("signature" not in r.query for r in sim.log)


async def test_binance_wrong_secret_is_auth_error(sim: Simulator) -> None:
    _add_echo_routes(sim)
    sim.binance.add_account("hmac-k", secret="hmac-s")
    async with Binance("hmac-k", "nope", base_url=sim.base_url) as bn:
        with pytest.raises(AuthError) as info:
            await bn.transport.request(
                Request("GET", "/sapi/v1/test/echo", Limit(12_000, 60, weight=10, scope="ip", window="fixed")), _raw
            )
    assert info.value.code == "-1022"
    async with Binance("unknown-k", "x", base_url=sim.base_url) as bn:
        with pytest.raises(AuthError) as info:
            await bn.transport.request(
                Request("GET", "/sapi/v1/test/echo", Limit(12_000, 60, weight=10, scope="ip", window="fixed")), _raw
            )
    assert info.value.code == "-2015"


async def test_bybit_hmac_and_rsa_get_and_post(sim: Simulator, rsa_private_pem: str) -> None:
    _add_echo_routes(sim)
    sim.bybit.add_account("by-k", secret="by-s", label="hmac")
    sim.bybit.add_account("by-rsa", public_key=load_private_key(rsa_private_pem).public_key(), label="rsa")  # type: ignore[arg-type]
    for client in (Bybit("by-k", "by-s", base_url=sim.base_url),
                   Bybit("by-rsa", private_key=rsa_private_pem, base_url=sim.base_url)):
        async with client:
            await client.transport.request(Request("GET", "/v5/test/echo", Limit(5, 1.0),
                                                   params=(("limit", "2"), ("loanCurrency", "BTC"))), _raw)
            body = await client.transport.request(
                Request("POST", "/v5/test/echo", Limit(5, 1.0), body={"loanCurrency": "BTC", "amount": "0.005"}), _raw
            )
            assert b'"amount":"0.005"' in body
    assert [(r.method, r.account, r.status) for r in sim.log] == [
        ("GET", "hmac", 200), ("POST", "hmac", 200), ("GET", "rsa", 200), ("POST", "rsa", 200)]


async def test_bybit_wrong_secret_is_auth_error_after_one_resign(sim: Simulator) -> None:
    _add_echo_routes(sim)
    sim.bybit.add_account("by-k", secret="by-s")
    async with Bybit("by-k", "wrong", base_url=sim.base_url) as by:
        with pytest.raises(AuthError) as info:
            await by.transport.request(Request("GET", "/v5/test/echo", Limit(5, 1.0)), _raw)
    assert info.value.code == "10004" and info.value.signature
    assert len(sim.log) == 2  # one re-sign, then the error


@pytest.mark.parametrize("skew", [40_000, -40_000])
async def test_clock_skew_is_recovered_on_every_venue(skew: int, rsa_private_pem: str) -> None:
    async with Simulator(skew_ms=skew) as sim:
        _add_echo_routes(sim)
        sim.okx.add_account("ok", "os", "op")
        sim.binance.add_account("bk", secret="bs")
        sim.bybit.add_account("yk", secret="ys")
        clients: list[Any] = [
            (OKX("ok", "os", "op", base_url=sim.base_url), "/api/v5/test/echo", ECHO),
            (Binance("bk", "bs", base_url=sim.base_url), "/sapi/v1/test/echo",
             Limit(12_000, 60, weight=10, scope="ip", window="fixed")),
            (Bybit("yk", "ys", base_url=sim.base_url), "/v5/test/echo", Limit(5, 1.0)),
        ]
        for client, path, limit in clients:
            async with client:
                await client.transport.request(Request("GET", path, limit), _raw)
                await client.transport.request(Request("GET", path, limit), _raw)
                assert abs(client.transport.clock.offset_ms - skew) < 2_000
        codes = [r.code for r in sim.log if r.status != 200 or r.code]
        assert codes == ["50102", "-1021", "10002"]  # one rejection per venue, then the offset holds


async def test_skew_beyond_what_a_resync_can_fix_raises_clock_skew() -> None:
    async with Simulator(skew_ms=40_000) as sim:
        _add_echo_routes(sim)
        sim.okx.add_account("ok", "os", "op")

        async def lying_time(call: SimCall) -> Any:
            return [{"ts": str(call.now_ms - 40_000)}]  # a time endpoint that disagrees with auth

        sim.okx.route("GET", "/api/v5/public/time", lying_time, limit=Limit(10, 2.0, scope="ip"), signed=False)
        async with OKX("ok", "os", "op", base_url=sim.base_url) as okx:
            with pytest.raises(ClockSkewError):
                await okx.transport.request(Request("GET", "/api/v5/test/echo", ECHO), _raw)


async def test_concurrent_callers_of_one_endpoint_stay_under_the_venue_limit() -> None:
    async with Simulator(rate_scale=8) as sim:
        _add_echo_routes(sim)
        sim.okx.add_account("ok", "os", "op")
        limits = RateLimits(scale=8)
        clients = [OKX("ok", "os", "op", base_url=sim.base_url, limits=limits) for _ in range(3)]

        async def run(c: OKX) -> None:
            for _ in range(8):
                await c.transport.request(Request("GET", "/api/v5/test/echo", ECHO), _raw)

        await asyncio.gather(*(run(c) for c in clients))
        for c in clients:
            await c.close()
        assert all(r.status == 200 for r in sim.log)
        assert Simulator.max_in_window(sim.requests(path="/api/v5/test/echo"), ECHO.per) <= ECHO.budget * 8


async def test_without_the_limiter_the_simulator_answers_50011() -> None:
    async with Simulator() as sim:
        _add_echo_routes(sim)
        sim.okx.add_account("ok", "os", "op")
        from loanledger.testing.server import SimError

        async def burst() -> list[int]:
            import aiohttp

            from loanledger.signing import OkxSigner
            from loanledger._args import now_ms

            signer = OkxSigner("ok", "os", "op")
            async with aiohttp.ClientSession() as s:
                out = []
                for _ in range(7):
                    h = signer.headers(now_ms(), "GET", "/api/v5/test/echo", b"")
                    async with s.get(sim.base_url + "/api/v5/test/echo", headers=h) as r:
                        out.append(r.status)
                        assert (r.status == 200) or b'"code":"50011"' in await r.read()
                return out

        statuses = await burst()
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
        assert SimError  # the simulator answers with the venue's code, not a generic error


async def test_get_5xx_and_resets_are_retried_to_success(sim: Simulator) -> None:
    _add_echo_routes(sim)
    sim.okx.add_account("ok", "os", "op")
    sim.faults.force("5xx", path="/api/v5/test/echo")
    sim.faults.force("reset", path="/api/v5/test/echo")
    sim.faults.force("truncate", path="/api/v5/test/echo")
    import msgspec

    from loanledger import DecodeError

    def strict(body: bytes) -> bytes:
        try:
            msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise DecodeError("okx", "echo", str(exc), body) from None
        return body

    async with OKX("ok", "os", "op", base_url=sim.base_url) as okx:
        okx.transport.retry = okx.transport.retry.__class__(base_delay=0.01)
        body = await okx.transport.request(Request("GET", "/api/v5/test/echo", ECHO), strict)
    assert b'"code":"0"' in body
    assert [r.fault for r in sim.log] == ["5xx", "reset", "truncate", None]


async def test_bad_input_fails_before_any_request(sim: Simulator) -> None:
    """Issue 2's list: unknown feed, since > until, naive datetime, empty api key."""
    import datetime as dt

    sim.okx.add_account("ok", "os", "op")
    with pytest.raises(ValueError, match="api_key"):
        OKX("", "os", "op", base_url=sim.base_url)
    async with OKX("ok", "os", "op", base_url=sim.base_url) as okx:
        with pytest.raises(ValueError, match="feed_id: unknown feed 'okx.nope'"):
            okx.events("okx.nope")
        feed_id = okx.feed_ids()[0]
        with pytest.raises(ValueError, match="since: since .* is after until"):
            okx.events(feed_id, since=1_735_689_600_001, until=1_735_689_600_000)
        with pytest.raises(ValueError, match="until: naive datetime"):
            okx.events(feed_id, until=dt.datetime(2025, 1, 1))
        with pytest.raises(ValueError, match="bogus: not a filter of"):
            okx.events(feed_id, bogus="x")
    assert sim.log == []


async def test_gateway_429_and_replaced_bodies() -> None:
    """The "429" fault answers before the handler with Retry-After; force_body replaces the
    answer after the handler ran (fixed bytes, or a function of the real answer)."""
    import aiohttp

    async with Simulator() as sim:
        _add_echo_routes(sim)
        sim.faults.retry_after = 3
        sim.faults.force("429", path="/v5/test/echo")
        sim.faults.force_body(b"[1,2", path="/v5/test/echo", status=200)
        sim.faults.force_body(lambda body: b"wrapped:" + body, path="/v5/test/echo")
        async with aiohttp.ClientSession() as s:
            async with s.get(sim.base_url + "/v5/test/echo") as r:
                assert r.status == 429 and r.headers["Retry-After"] == "3"
            async with s.get(sim.base_url + "/v5/test/echo") as r:
                assert r.status == 200 and await r.read() == b"[1,2"
            async with s.get(sim.base_url + "/v5/test/echo") as r:
                wrapped = await r.read()
                assert wrapped.startswith(b'wrapped:{"retCode":10003')  # the real (unsigned) answer
            async with s.get(sim.base_url + "/v5/test/echo") as r:
                assert (await r.read()).startswith(b'{"retCode":10003')  # the queue is used up
        assert [r.fault for r in sim.log] == ["429", "body", "body", None]
        assert sim.faults.pending == 0
        with pytest.raises(ValueError, match="force_body"):
            sim.faults.force("body")
