"""Transport unit tests (aioresponses): retries, writes sent at most once, clock skew, lifecycle."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from transport_support import BASE, GET, OK_BODY, POST, Sleeps, okx_decode

from loanledger import (
    AmbiguousOutcome,
    AuthError,
    BadRequest,
    ClientClosed,
    ClockSkewError,
    ConnectError,
    DecodeError,
    RateLimited,
    RequestTimeout,
    VenueUnavailable,
)
from loanledger.ratelimit import Limit, RateLimits
from loanledger.signing import BybitSigner, OkxSigner
from loanledger.transport import (
    Request,
    RetryPolicy,
    Transport,
    backoff_delay,
    is_ambiguous,
    should_retry,
)
from loanledger.venues.binance import BinanceDialect
from loanledger.venues.bybit import BybitDialect
from loanledger.venues.okx import OKX, OkxDialect

URL_GET = f"{BASE}/api/v5/x?ccy=BTC"
URL_POST = f"{BASE}/api/v5/finance/flexible-loan/repay"




def okx_transport(sleeps: Sleeps | None = None, **kw: Any) -> Transport:
    return Transport(
        OkxDialect(OkxSigner("okx-key-abc", "okx-secret-def", "okx-pass-ghi")),
        base_url=BASE, scope_id="t", limits=RateLimits(scale=1000), rng=lambda: 0.5,
        sleep=sleeps or Sleeps(), **kw,
    )


def sent(m: aioresponses, method: str, url: str) -> int:
    return len(m.requests.get((method, URL(url)), []))


# --- the pure decision -----------------------------------------------------------------


def _venue(cls: type, code: str = "1", **kw: Any) -> Any:
    return cls("okx", 500, code, "m", "/p", **kw)


@pytest.mark.parametrize(
    ("method", "error", "attempt", "expected"),
    [
        ("GET", _venue(VenueUnavailable), 1, True),
        ("GET", RequestTimeout("t"), 1, True),
        ("GET", ConnectError("c"), 1, True),
        ("GET", DecodeError("okx", "f", "truncated", b"{"), 1, True),
        ("GET", DecodeError("okx", "f", "html", b"<html>502</html>"), 1, True),
        ("GET", DecodeError("okx", "f", "unknown type", b'{"code":"0","data":[{"type":"new"}]}'), 1, False),
        ("GET", _venue(RateLimited), 1, True),
        ("GET", _venue(RateLimited, ban_until=1), 1, False),
        ("GET", _venue(BadRequest), 1, False),
        ("GET", _venue(AuthError), 1, False),
        ("GET", _venue(VenueUnavailable), 5, False),
        ("POST", _venue(VenueUnavailable), 1, False),
        ("POST", RequestTimeout("t"), 1, False),
        ("POST", ConnectError("c", before_send=False), 1, False),
        ("POST", ConnectError("c", before_send=True), 1, True),
        ("POST", DecodeError("okx", "f", "x", b""), 1, False),
        ("POST", _venue(RateLimited), 1, True),
        ("POST", _venue(BadRequest), 1, False),
    ],
)
def test_should_retry_table(method: str, error: BaseException, attempt: int, expected: bool) -> None:
    assert should_retry(method, error, attempt, RetryPolicy()) is expected


def test_signature_rejection_is_retried_once() -> None:
    err = AuthError("bybit", 200, "10004", "error sign", "/p")
    err.signature = True
    assert should_retry("POST", err, 1, RetryPolicy()) is True
    assert should_retry("POST", err, 2, RetryPolicy()) is False


def test_ambiguous_outcomes_for_writes() -> None:
    assert is_ambiguous(RequestTimeout("t"))
    assert is_ambiguous(ConnectError("reset", before_send=False))
    assert not is_ambiguous(ConnectError("refused", before_send=True))
    assert is_ambiguous(_venue(VenueUnavailable))
    assert is_ambiguous(DecodeError("okx", "f", "x", b""))
    assert not is_ambiguous(_venue(RateLimited))
    assert not is_ambiguous(_venue(BadRequest))


def test_backoff_is_full_jitter_capped_and_floors_retry_after() -> None:
    p = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [backoff_delay(a, p, rng=lambda: 1.0) for a in (1, 2, 3, 4, 5, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff_delay(3, p, rng=lambda: 0.0) == 0.0
    assert backoff_delay(1, p, retry_after=7.0, rng=lambda: 0.1) == 7.0


# --- retries on the wire ------------------------------------------------------------------


async def test_get_503_then_200_is_retried() -> None:
    sleeps = Sleeps()
    t = okx_transport(sleeps)
    with aioresponses() as m:
        m.get(URL_GET, status=503, body=b"<html>503</html>")
        m.get(URL_GET, status=200, body=OK_BODY)
        assert await t.request(GET, okx_decode) == OK_BODY
        assert sent(m, "GET", URL_GET) == 2
    assert len(sleeps.calls) == 1
    await t.close()


async def test_post_503_is_never_resent_and_is_ambiguous() -> None:
    t = okx_transport()
    with aioresponses() as m:
        m.post(URL_POST, status=503, body=b"busy")
        m.post(URL_POST, status=200, body=OK_BODY)
        with pytest.raises(AmbiguousOutcome) as info:
            await t.request(POST, okx_decode)
        assert sent(m, "POST", URL_POST) == 1
    err = info.value
    assert err.method == "POST" and err.path == POST.path and err.body == {"ordId": "1", "amt": "1000"}
    assert isinstance(err.cause, VenueUnavailable)
    await t.close()


@pytest.mark.parametrize("exc", [aiohttp.ServerDisconnectedError(), TimeoutError(), aiohttp.ClientPayloadError("cut")])
async def test_post_dropped_or_timed_out_after_send_is_ambiguous(exc: BaseException) -> None:
    t = okx_transport()
    with aioresponses() as m:
        m.post(URL_POST, exception=exc)
        m.post(URL_POST, status=200, body=OK_BODY)
        with pytest.raises(AmbiguousOutcome):
            await t.request(POST, okx_decode)
        assert sent(m, "POST", URL_POST) == 1
    await t.close()


async def test_post_with_unparseable_answer_is_ambiguous() -> None:
    t = okx_transport()
    with aioresponses() as m:
        m.post(URL_POST, status=200, body=b'{"code":"0","data":[{"ordId"')
        with pytest.raises(AmbiguousOutcome) as info:
            await t.request(POST, okx_decode)
    assert isinstance(info.value.cause, DecodeError)
    await t.close()


async def test_post_rate_limited_answer_is_retried_after_the_wait() -> None:
    sleeps = Sleeps()
    t = okx_transport(sleeps)
    with aioresponses() as m:
        m.post(URL_POST, status=429, body=b'{"code":"50011","msg":"Too Many Requests","data":[]}')
        m.post(URL_POST, status=200, body=OK_BODY)
        assert await t.request(POST, okx_decode) == OK_BODY
        assert sent(m, "POST", URL_POST) == 2
    assert sleeps.calls == [] and t.bucket(POST)._paused_until > 0  # the wait is the bucket's
    await t.close()


async def test_okx_50011_in_http_200_is_a_rate_limit_not_an_empty_page() -> None:
    t = okx_transport()
    with aioresponses() as m:
        m.get(URL_GET, status=200, body=b'{"code":"50011","msg":"Rate limit reached","data":[]}')
        m.get(URL_GET, status=200, body=OK_BODY)
        assert await t.request(GET, okx_decode) == OK_BODY
        assert sent(m, "GET", URL_GET) == 2
    await t.close()


async def test_post_connection_refused_is_retried_because_nothing_was_sent() -> None:
    # a port nobody listens on: the connect fails before any byte is sent
    with socket_free_port() as port:
        t = Transport(
            OkxDialect(OkxSigner("k", "s", "p")), base_url=f"http://127.0.0.1:{port}", scope_id="t",
            limits=RateLimits(scale=1000), sleep=Sleeps(), retry=RetryPolicy(max_attempts=3),
        )
        stats_req = POST
        with pytest.raises(ConnectError) as info:
            await t.request(stats_req, okx_decode)
        assert info.value.before_send
        await t.close()


async def test_retry_after_is_honoured_and_pauses_the_shared_bucket() -> None:
    from loanledger._args import now_ms

    sleeps = Sleeps()
    t = Transport(
        BinanceDialect(None), base_url="https://bn.test", scope_id="t", limits=RateLimits(scale=1000),
        rng=lambda: 0.0, sleep=sleeps,
    )
    req = Request("GET", "/api/v3/time", Limit(6000, 60, scope="ip", window="fixed"), signed=False)
    other = Transport(BinanceDialect(None), base_url="https://bn.test", scope_id="t2", limits=t.limits)
    with aioresponses() as m:
        m.get("https://bn.test/api/v3/time", status=429, body=b'{"code":-1003,"msg":"Too many"}',
              headers={"Retry-After": "1"})
        m.get("https://bn.test/api/v3/time", status=200, body=b'{"serverTime":1}')
        before = now_ms()
        assert await t.request(req, lambda b: b) == b'{"serverTime":1}'
        after = now_ms()
    # the wait came from the shared (per-IP) bucket, once: the second send waited Retry-After
    assert after - before >= 1000
    assert sleeps.calls == []
    assert other.bucket(req) is t.bucket(req)
    await t.close()
    await other.close()


async def test_binance_418_ban_raises_and_later_requests_fail_fast_unsent() -> None:
    t = Transport(BinanceDialect(None), base_url="https://bn.test", scope_id="t", limits=RateLimits(scale=1000),
                  sleep=Sleeps())
    req = Request("GET", "/api/v3/time", Limit(6000, 60, scope="ip", window="fixed"), signed=False)
    with aioresponses() as m:
        m.get("https://bn.test/api/v3/time", status=418, body=b'{"code":-1003,"msg":"banned"}',
              headers={"Retry-After": "120"}, repeat=True)
        with pytest.raises(RateLimited) as info:
            await t.request(req, lambda b: b)
        assert info.value.ban_until is not None and info.value.status == 418
        with pytest.raises(RateLimited, match="banned"):
            await t.request(req, lambda b: b)
        assert sent(m, "GET", "https://bn.test/api/v3/time") == 1
    await t.close()


async def test_bybit_limit_status_zero_pauses_the_bucket_until_reset() -> None:
    from loanledger._args import now_ms

    t = Transport(BybitDialect(BybitSigner("k", "s")), base_url="https://by.test", scope_id="t",
                  limits=RateLimits(scale=1000), sleep=Sleeps())
    req = Request("GET", "/v5/x", Limit(5, 1.0))
    reset = now_ms() + 60_000
    with aioresponses() as m:
        m.get("https://by.test/v5/x", status=200, body=b'{"retCode":0,"retMsg":"OK","result":{}}',
              headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(reset)})
        await t.request(req, lambda b: b)
    bucket = t.bucket(req)
    assert bucket._paused_until == reset
    await t.close()


# --- clock skew ------------------------------------------------------------------------------


async def test_clock_skew_resyncs_once_and_keeps_the_offset() -> None:
    from loanledger._args import now_ms

    t = okx_transport()
    server_ahead = 40_000
    seen_ts: list[str] = []

    def capture(url: URL, **kw: Any) -> None:
        seen_ts.append(kw["headers"]["OK-ACCESS-TIMESTAMP"])

    with aioresponses() as m:
        m.get(URL_GET, status=401, body=b'{"code":"50102","msg":"Timestamp request expired","data":[]}',
              callback=capture)
        m.get(f"{BASE}/api/v5/public/time", status=200,
              body=('{"code":"0","msg":"","data":[{"ts":"%d"}]}' % (now_ms() + server_ahead)).encode())
        m.get(URL_GET, status=200, body=OK_BODY, callback=capture)
        m.get(URL_GET, status=200, body=OK_BODY, callback=capture)
        assert await t.request(GET, okx_decode) == OK_BODY
        assert await t.request(GET, okx_decode) == OK_BODY
    assert abs(t.clock.offset_ms - server_ahead) < 2_000
    from loanledger.signing import okx_timestamp

    assert seen_ts[1][:16] == okx_timestamp(now_ms() + server_ahead)[:16]  # re-signed with the venue clock
    assert seen_ts[2][:16] == seen_ts[1][:16]  # and the offset stays
    await t.close()


async def test_clock_skew_twice_raises() -> None:
    t = okx_transport()
    skew = b'{"code":"50102","msg":"Timestamp request expired","data":[]}'
    with aioresponses() as m:
        m.get(URL_GET, status=401, body=skew, repeat=True)
        m.get(f"{BASE}/api/v5/public/time", status=200, body=b'{"code":"0","msg":"","data":[{"ts":"1"}]}')
        with pytest.raises(ClockSkewError):
            await t.request(GET, okx_decode)
        assert sent(m, "GET", URL_GET) == 2
    await t.close()


# --- lifecycle, base_url, secrets ---------------------------------------------------------------


async def test_async_with_closes_owned_session_and_use_after_close_raises() -> None:
    with aioresponses() as m:
        m.get("https://eea.okx.com/api/v5/public/time", status=200, body=b'{"code":"0","data":[{"ts":"1700000000000"}]}')
        async with OKX("k", "s", "p", base_url="https://eea.okx.com") as okx:
            await okx.server_time()
            session = okx.transport._sender.session  # the default (aiohttp) sender's own session
            assert session is not None and not session.closed
        assert session.closed and okx.closed
        with pytest.raises(ClientClosed):
            await okx.server_time()


async def test_injected_session_is_not_closed() -> None:
    async with aiohttp.ClientSession() as session:
        okx = OKX("k", "s", "p", session=session)
        await okx.close()
        assert not session.closed
        with pytest.raises(ClientClosed):
            await okx.server_time()


async def test_per_request_timeout() -> None:
    release = asyncio.Event()

    async def slow(request: Any) -> Any:
        await release.wait()

    from aiohttp import web

    app = web.Application()
    app.router.add_get("/api/v5/x", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    t = Transport(OkxDialect(OkxSigner("k", "s", "p")), base_url=f"http://127.0.0.1:{port}", scope_id="t",
                  timeout=0.2, limits=RateLimits(scale=1000), sleep=Sleeps(), retry=RetryPolicy(max_attempts=2))
    try:
        with pytest.raises(RequestTimeout, match="0.2s"):
            await t.request(GET, okx_decode)
    finally:
        release.set()
        await t.close()
        await runner.cleanup()


def test_bad_base_url_fails_before_any_request() -> None:
    for bad in ("okx.com", "ftp://okx.com", "https://okx.com?x=1", ""):
        with pytest.raises(ValueError, match="base_url"):
            OKX("k", "s", "p", base_url=bad or "://")


async def test_secrets_never_reach_errors_reprs_or_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="loanledger")
    okx = OKX("okx-key-abc", "okx-secret-def", "okx-pass-ghi", base_url=BASE)
    with aioresponses() as m:
        m.get(re.compile(r".*"), status=401, body=b'{"code":"50113","msg":"Invalid Sign","data":[]}', repeat=True)
        with pytest.raises(AuthError) as info:
            await okx.transport.request(GET, okx_decode)
    text = " ".join([repr(okx), str(okx), repr(okx.transport), str(info.value), repr(info.value),
                     caplog.text, repr(okx.transport.dialect.signer)])
    for secret in ("okx-key-abc", "okx-secret-def", "okx-pass-ghi"):
        assert secret not in text
    await okx.close()


class socket_free_port:
    """A loopback port with nothing listening on it."""

    def __enter__(self) -> int:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = int(s.getsockname()[1])
        s.close()
        return self.port

    def __exit__(self, *a: object) -> None:
        return None




@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", 2.0), (" 30 ", 30.0), ("1.5", 1.5), ("-5", None), ("inf", None), ("nan", None), ("1e999", None),
     ("9" * 5000, None), ("\u00b2", None), ("soon", None), ("", None)],
)
def test_retry_after_seconds_is_strict(value: str, expected: float | None) -> None:
    from loanledger.transport import retry_after_seconds

    assert retry_after_seconds({"Retry-After": value}) == expected
    assert retry_after_seconds({}) is None


def test_retry_after_http_date() -> None:
    import email.utils
    import time

    from loanledger.transport import retry_after_seconds

    later = email.utils.formatdate(time.time() + 90, usegmt=True)
    got = retry_after_seconds({"Retry-After": later})
    assert got is not None and 85 <= got <= 91
    assert retry_after_seconds({"Retry-After": email.utils.formatdate(time.time() - 90, usegmt=True)}) == 0.0
