"""The transport through its sender seam, without sockets (MockSender): retries, Retry-After,
writes sent at most once, clock-skew resync, the body limit, lifecycle.

tests/core/test_transport.py runs the same rules through the aiohttp sender (aioresponses and
loopback); this file pins what the transport itself does with a sender's answers and errors.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest

from transport_support import BASE, GET, OK_BODY, POST, Sleeps, okx_decode

from loanledger import (
    OKX,
    AmbiguousOutcome,
    Binance,
    Bybit,
    ClientClosed,
    ClockSkewError,
    ConnectError,
    DecodeError,
    InvalidArgument,
    RateLimited,
    RequestTimeout,
    VenueUnavailable,
)
from loanledger._args import now_ms
from loanledger.ratelimit import Limit, RateLimits
from loanledger.signing import BybitSigner, OkxSigner, okx_sign, okx_timestamp
from loanledger.testing import MockSender
from loanledger.transport import (
    MAX_BODY,
    Headers,
    OutgoingRequest,
    Request,
    Response,
    ResponseTooLarge,
    RetryPolicy,
    Sender,
    Transport,
)
from loanledger.venues.binance import BinanceDialect
from loanledger.venues.bybit import BybitDialect
from loanledger.venues.okx import OkxDialect

SKEW = b'{"code":"50102","msg":"Timestamp request expired","data":[]}'




def okx_transport(sender: Sender, sleeps: Sleeps | None = None, **kw: Any) -> Transport:
    return Transport(
        OkxDialect(OkxSigner("okx-key-abc", "okx-secret-def", "okx-pass-ghi")),
        base_url=BASE, scope_id="t", limits=RateLimits(scale=1000), rng=lambda: 0.5,
        sleep=sleeps or Sleeps(), sender=sender, **kw,
    )


# --- what a sender receives ------------------------------------------------------------------


async def test_the_sender_gets_the_signed_bytes_and_the_timeout() -> None:
    sender = MockSender.replies(Response(200, {}, OK_BODY))
    t = okx_transport(sender, timeout=3.5)
    assert await t.request(GET, okx_decode) == OK_BODY
    (req,) = sender.requests
    assert req.method == "GET" and req.url == f"{BASE}/api/v5/x?ccy=BTC" and req.body is None
    assert req.path == "/api/v5/x" and req.query == "ccy=BTC"
    h = req.headers
    expected = okx_sign(b"okx-secret-def", h["OK-ACCESS-TIMESTAMP"], "GET", "/api/v5/x?ccy=BTC")
    assert h["OK-ACCESS-KEY"] == "okx-key-abc" and h["OK-ACCESS-SIGN"] == expected
    assert sender.timeouts == [3.5]
    # the repr of what was sent shows no key, signature, query or body
    assert repr(req) == "OutgoingRequest(GET /api/v5/x)"
    await t.close()


async def test_a_post_carries_its_json_body_and_its_repr_hides_it() -> None:
    sender = MockSender.replies(Response(200, {}, OK_BODY))
    t = okx_transport(sender)
    await t.request(POST, okx_decode)
    (req,) = sender.sent("POST", POST.path)
    assert msgspec.json.decode(req.body or b"") == {"ordId": "1", "amt": "1000"}
    assert "1000" not in repr(req) and "okx-key-abc" not in repr(req)
    await t.close()


def test_response_headers_are_case_insensitive() -> None:
    resp = Response(200, {"x-sapi-used-ip-weight-1m": "120", "Retry-After": "2"})
    assert isinstance(resp.headers, Headers)
    assert resp.headers["X-SAPI-USED-IP-WEIGHT-1M"] == "120" and resp.headers.get("retry-after") == "2"
    assert resp.headers.get("X-Other") is None and 5 not in resp.headers  # type: ignore[comparison-overlap]
    assert list(resp.headers) == ["x-sapi-used-ip-weight-1m", "Retry-After"] and len(resp.headers) == 2
    # a repeated name keeps its first value (as aiohttp's headers.get)
    assert Headers([("X-A", "1"), ("x-a", "2")])["X-A"] == "1"


async def test_binance_weight_headers_in_lower_case_resync_the_bucket() -> None:
    req = Request("GET", "/api/v3/time", Limit(6000, 60, scope="ip", window="fixed"), signed=False)
    sender = MockSender.replies(Response(200, {"x-mbx-used-weight-1m": "5400"}, b'{"serverTime":1}'))
    t = Transport(BinanceDialect(None), base_url="https://bn.test", scope_id="t", limits=RateLimits(scale=1),
                  sender=sender)
    await t.request(req, lambda b: b)
    assert t.bucket(req)._window_used == 5400  # the venue's count, read through a lower-case header name
    await t.close()


# --- retries -----------------------------------------------------------------------------------


async def test_get_503_then_200_is_retried_after_a_backoff() -> None:
    sleeps = Sleeps()
    sender = MockSender.replies(Response(503, {}, b"<html>503</html>"), Response(200, {}, OK_BODY))
    t = okx_transport(sender, sleeps)
    assert await t.request(GET, okx_decode) == OK_BODY
    assert len(sender.requests) == 2 and len(sleeps.calls) == 1
    # every attempt is signed afresh
    assert sender.requests[0].headers is not sender.requests[1].headers
    await t.close()


@pytest.mark.parametrize(
    "error",
    [ConnectError("reset by peer", before_send=True), ConnectError("dropped", before_send=False),
     RequestTimeout("no response within 10.0s")],
)
async def test_a_get_is_retried_after_any_transport_error(error: Exception) -> None:
    sender = MockSender.replies(error, Response(200, {}, OK_BODY))
    t = okx_transport(sender)
    assert await t.request(GET, okx_decode) == OK_BODY
    assert len(sender.requests) == 2
    await t.close()


async def test_persistent_5xx_raises_venue_unavailable_after_max_attempts() -> None:
    sender = MockSender.replies(Response(502, {}, b"<html>Bad Gateway</html>"), repeat=True)
    t = okx_transport(sender, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(VenueUnavailable):
        await t.request(GET, okx_decode)
    assert len(sender.requests) == 3
    await t.close()


async def test_a_sender_error_names_the_venue_and_path() -> None:
    sender = MockSender.replies(RequestTimeout("no response within 2.0s"), repeat=True)
    t = okx_transport(sender, retry=RetryPolicy(max_attempts=2))
    with pytest.raises(RequestTimeout) as info:
        await t.request(GET, okx_decode)
    assert str(info.value) == "okx /api/v5/x: no response within 2.0s"
    assert info.value.venue == "okx" and info.value.path == "/api/v5/x"
    await t.close()


# --- writes: sent at most once --------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [Response(503, {}, b"busy"), ConnectError("Server disconnected", before_send=False),
     RequestTimeout("no response within 10.0s"), Response(200, {}, b'{"code":"0","data":[{"ordId"'),
     ResponseTooLarge(f"body exceeds {MAX_BODY} bytes")],
)
async def test_post_with_an_unknown_outcome_is_never_resent(answer: Response | Exception) -> None:
    sender = MockSender.replies(answer, Response(200, {}, OK_BODY))
    t = okx_transport(sender)
    with pytest.raises(AmbiguousOutcome) as info:
        await t.request(POST, okx_decode)
    assert len(sender.requests) == 1
    err = info.value
    assert err.method == "POST" and err.path == POST.path and err.body == {"ordId": "1", "amt": "1000"}
    assert isinstance(err.cause, VenueUnavailable | ConnectError | RequestTimeout | DecodeError)
    await t.close()


async def test_post_refused_before_any_byte_is_sent_again() -> None:
    sender = MockSender.replies(ConnectError("cannot connect: refused", before_send=True),
                                Response(200, {}, OK_BODY))
    t = okx_transport(sender)
    assert await t.request(POST, okx_decode) == OK_BODY
    assert len(sender.requests) == 2
    await t.close()


async def test_post_refused_every_time_raises_connect_error_before_send() -> None:
    sender = MockSender.replies(ConnectError("cannot connect: refused", before_send=True), repeat=True)
    t = okx_transport(sender, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ConnectError) as info:
        await t.request(POST, okx_decode)
    assert info.value.before_send and len(sender.requests) == 3
    await t.close()


async def test_post_rate_limited_is_retried_and_the_wait_is_the_buckets() -> None:
    sleeps = Sleeps()
    sender = MockSender.replies(
        Response(429, {}, b'{"code":"50011","msg":"Too Many Requests","data":[]}'), Response(200, {}, OK_BODY)
    )
    t = okx_transport(sender, sleeps)
    assert await t.request(POST, okx_decode) == OK_BODY
    assert len(sender.requests) == 2
    assert sleeps.calls == [] and t.bucket(POST)._paused_until > 0
    await t.close()


# --- Retry-After and bans ---------------------------------------------------------------------------


async def test_retry_after_pauses_the_shared_bucket_for_every_client() -> None:
    sleeps = Sleeps()
    sender = MockSender.replies(
        Response(429, {"retry-after": "1"}, b'{"code":-1003,"msg":"Too many"}'),
        Response(200, {}, b'{"serverTime":1}'),
    )
    t = Transport(BinanceDialect(None), base_url="https://bn.test", scope_id="t", limits=RateLimits(scale=1000),
                  rng=lambda: 0.0, sleep=sleeps, sender=sender)
    other = Transport(BinanceDialect(None), base_url="https://bn.test", scope_id="t2", limits=t.limits,
                      sender=MockSender.replies())
    req = Request("GET", "/api/v3/time", Limit(6000, 60, scope="ip", window="fixed"), signed=False)
    before = now_ms()
    assert await t.request(req, lambda b: b) == b'{"serverTime":1}'
    assert now_ms() - before >= 1000  # the second send waited Retry-After, on the shared bucket
    assert sleeps.calls == [] and other.bucket(req) is t.bucket(req)
    await t.close()
    await other.close()


async def test_a_gateway_429_with_an_http_date_retry_after_pauses_the_bucket() -> None:
    import email.utils
    import time

    later = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1 to 2 s from now
    sender = MockSender.replies(Response(429, {"Retry-After": later}, b"<html>429 Too Many Requests</html>"))
    t = okx_transport(sender, retry=RetryPolicy(max_attempts=1))
    before = now_ms()
    with pytest.raises(RateLimited) as info:
        await t.request(GET, okx_decode)
    assert info.value.retry_after is not None and 0.5 < info.value.retry_after <= 2.0
    assert t.bucket(GET)._paused_until >= before + 500  # the whole bucket waits, not only this call
    await t.close()


async def test_a_418_ban_fails_later_requests_unsent() -> None:
    sender = MockSender.replies(Response(418, {"Retry-After": "120"}, b'{"code":-1003,"msg":"banned"}'),
                                repeat=True)
    t = Transport(BinanceDialect(None), base_url="https://bn.test", scope_id="t", limits=RateLimits(scale=1000),
                  sleep=Sleeps(), sender=sender)
    req = Request("GET", "/api/v3/time", Limit(6000, 60, scope="ip", window="fixed"), signed=False)
    with pytest.raises(RateLimited) as info:
        await t.request(req, lambda b: b)
    assert info.value.ban_until is not None and info.value.status == 418
    with pytest.raises(RateLimited, match="banned"):
        await t.request(req, lambda b: b)
    assert len(sender.requests) == 1
    await t.close()


async def test_bybit_limit_status_zero_pauses_the_bucket_until_reset() -> None:
    reset = now_ms() + 60_000
    sender = MockSender.replies(Response(
        200, {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(reset)},
        b'{"retCode":0,"retMsg":"OK","result":{}}',
    ))
    t = Transport(BybitDialect(BybitSigner("k", "s")), base_url="https://by.test", scope_id="t",
                  limits=RateLimits(scale=1000), sleep=Sleeps(), sender=sender)
    req = Request("GET", "/v5/x", Limit(5, 1.0))
    await t.request(req, lambda b: b)
    assert t.bucket(req)._paused_until == reset
    await t.close()


# --- clock skew ------------------------------------------------------------------------------------


async def test_clock_skew_resyncs_once_re_signs_and_keeps_the_offset() -> None:
    server_ahead = 40_000

    async def venue(request: OutgoingRequest) -> Response:
        if request.path == "/api/v5/public/time":
            return Response(200, {}, b'{"code":"0","msg":"","data":[{"ts":"%d"}]}' % (now_ms() + server_ahead))
        sent_at = request.headers["OK-ACCESS-TIMESTAMP"]
        if abs(_parse_okx_ts(sent_at) - (now_ms() + server_ahead)) > 30_000:
            return Response(401, {}, SKEW)
        return Response(200, {}, OK_BODY)

    sender = MockSender(venue)
    t = okx_transport(sender)
    assert await t.request(GET, okx_decode) == OK_BODY
    assert await t.request(GET, okx_decode) == OK_BODY
    assert [r.path for r in sender.requests] == ["/api/v5/x", "/api/v5/public/time", "/api/v5/x", "/api/v5/x"]
    assert abs(t.clock.offset_ms - server_ahead) < 2_000
    stamps = [r.headers["OK-ACCESS-TIMESTAMP"] for r in sender.sent(path="/api/v5/x")]
    assert stamps[1][:16] == okx_timestamp(now_ms() + server_ahead)[:16]  # re-signed on the venue clock
    await t.close()


def _parse_okx_ts(text: str) -> int:
    import datetime as dt

    return int(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


async def test_clock_skew_twice_raises_after_one_resync() -> None:
    async def venue(request: OutgoingRequest) -> Response:
        if request.path == "/api/v5/public/time":
            return Response(200, {}, b'{"code":"0","msg":"","data":[{"ts":"1"}]}')
        return Response(401, {}, SKEW)

    sender = MockSender(venue)
    t = okx_transport(sender)
    with pytest.raises(ClockSkewError):
        await t.request(GET, okx_decode)
    assert len(sender.sent(path="/api/v5/x")) == 2 and len(sender.sent(path="/api/v5/public/time")) == 1
    await t.close()


# --- the body limit ----------------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_a_decode_error_never_retried() -> None:
    sender = MockSender.replies(ResponseTooLarge(f"body of {MAX_BODY + 1} bytes exceeds {MAX_BODY}"),
                                Response(200, {}, OK_BODY))
    t = okx_transport(sender)
    with pytest.raises(DecodeError, match=f"exceeds {MAX_BODY}") as info:
        await t.request(GET, okx_decode)
    assert not info.value.transient and len(sender.requests) == 1
    await t.close()


async def test_a_sender_without_a_limit_is_held_to_max_body() -> None:
    huge = b'{"code":"0","data":[' + b" " * MAX_BODY + b"]}"
    sender = MockSender.replies(Response(200, {}, huge), Response(200, {}, OK_BODY))
    t = okx_transport(sender)
    with pytest.raises(DecodeError, match=f"body exceeds {MAX_BODY} bytes"):
        await t.request(GET, okx_decode)
    assert len(sender.requests) == 1
    await t.close()


# --- lifecycle ----------------------------------------------------------------------------------------


async def test_a_given_sender_serves_every_venue_client_and_is_not_closed_by_them() -> None:
    async def venue(request: OutgoingRequest) -> Response:
        if request.path == "/api/v5/public/time":
            return Response(200, {}, b'{"code":"0","data":[{"ts":"1700000000000"}]}')
        if request.path == "/api/v3/time":
            return Response(200, {}, b'{"serverTime":1700000000001}')
        return Response(200, {}, b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1700000000",'
                                 b'"timeNano":"1700000000002000000"},"time":1700000000002}')

    sender = MockSender(venue)
    clients = [OKX("k", "s", "p", sender=sender), Binance("k", "s", sender=sender), Bybit("k", "s", sender=sender)]
    for c in clients:
        async with c:
            await c.server_time()
        assert c.closed
        with pytest.raises(ClientClosed):
            await c.server_time()
    assert not sender.closed
    assert [r.path for r in sender.requests] == ["/api/v5/public/time", "/api/v3/time", "/v5/market/time"]


async def test_a_closed_given_sender_fails_before_any_wait() -> None:
    sender = MockSender.replies(Response(200, {}, OK_BODY))
    t = okx_transport(sender)
    await sender.close()
    with pytest.raises(ClientClosed, match="okx client's session is closed"):
        await t.request(GET, okx_decode)
    assert sender.requests == []
    await t.close()


def test_session_and_sender_together_or_a_wrong_sender_are_refused() -> None:
    class NotASender:
        async def send(self, request: OutgoingRequest) -> Response:
            return Response(200)

    with pytest.raises(InvalidArgument, match="^sender: give a session or a sender, not both"):
        OKX("k", "s", "p", session=object(), sender=MockSender.replies())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^sender: expected a Sender"):
        OKX("k", "s", "p", sender=NotASender())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^session: expected aiohttp.ClientSession, got str"):
        Binance("k", "s", session="http://x")  # type: ignore[arg-type]


async def test_mock_sender_fails_the_test_when_no_answer_is_left() -> None:
    sender = MockSender.replies(Response(200, {}, OK_BODY))
    t = okx_transport(sender)
    await t.request(GET, okx_decode)
    with pytest.raises(AssertionError, match="no answer left for GET /api/v5/x"):
        await t.request(GET, okx_decode)
    await t.close()


async def test_secrets_never_reach_reprs_errors_or_logs_through_a_sender(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="loanledger")
    sender = MockSender.replies(ConnectError("Server disconnected", before_send=False), repeat=True)
    t = okx_transport(sender, retry=RetryPolicy(max_attempts=2))
    with pytest.raises(ConnectError) as info:
        await t.request(GET, okx_decode)
    text = " ".join([repr(t), repr(sender), *map(repr, sender.requests), str(info.value), caplog.text])
    for secret in ("okx-key-abc", "okx-secret-def", "okx-pass-ghi", "OK-ACCESS"):
        assert secret not in text
    await t.close()

