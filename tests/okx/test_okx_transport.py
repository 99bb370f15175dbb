"""The OKX feeds at the HTTP level (aioresponses): exact requests, hosts, demo header,
rate-limit envelopes with HTTP 200 and 429."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
import pytest
from aioresponses import aioresponses

from loanledger import OKX, RateLimited, RateLimits, RetryPolicy
from loanledger.signing import okx_sign
from loanledger.venues.okx import HOSTS

KEY, SECRET, PASSPHRASE = "k-123", "s-456", "p-789"
ANY_OKX = re.compile(r"^https://[a-z.]*okx\.com/api/v5/.*$")
RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)


def _client(**kwargs: Any) -> OKX:
    kwargs.setdefault("limits", RateLimits(scale=50))
    kwargs.setdefault("retry", RETRY)
    return OKX(KEY, SECRET, PASSPHRASE, **kwargs)


def _loan_rows(first: int, n: int) -> list[dict[str, str]]:
    return [{"amt": "1.5", "ccy": "BTC", "refId": str(first - i), "ts": str(1_760_000_000_000 - i), "type": "borrowed"}
            for i in range(n)]


def _ok(rows: list[dict[str, str]]) -> bytes:
    return msgspec.json.encode({"code": "0", "msg": "", "data": rows})


def _calls(m: aioresponses) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for (_, url), calls in m.requests.items():
        for call in calls:
            out.append((str(url), call.kwargs))
    return out


async def test_request_is_signed_over_the_exact_query_sent() -> None:
    with aioresponses() as m:
        m.get(ANY_OKX, status=200, body=_ok(_loan_rows(1000, 3)))
        async with _client() as okx:
            events = await okx.flexible_loan_history(type="borrowed", order_id="680234819012345678").collect()
        ((url, kwargs),) = _calls(m)
    assert len(events) == 3
    parts = urlsplit(url)
    assert parts.netloc == "www.okx.com" and parts.path == "/api/v5/finance/flexible-loan/loan-history"
    # aioresponses records the URL with its query sorted; the simulator checks the bytes sent
    sent = "limit=100&type=borrowed&ordId=680234819012345678"
    assert sorted(parse_qsl(parts.query)) == sorted(parse_qsl(sent))
    h = kwargs["headers"]
    assert h["OK-ACCESS-KEY"] == KEY and h["OK-ACCESS-PASSPHRASE"] == PASSPHRASE
    assert "x-simulated-trading" not in h
    expected = okx_sign(SECRET.encode(), h["OK-ACCESS-TIMESTAMP"], "GET", f"{parts.path}?{sent}", b"")
    assert base64.b64decode(h["OK-ACCESS-SIGN"]) == base64.b64decode(expected)


async def test_second_page_asks_after_the_oldest_ref_id() -> None:
    with aioresponses() as m:
        m.get(ANY_OKX, status=200, body=_ok(_loan_rows(5000, 100)))
        m.get(ANY_OKX, status=200, body=_ok(_loan_rows(4900, 7)))
        async with _client() as okx:
            events = await okx.flexible_loan_history().collect()
        urls = [u for u, _ in _calls(m)]
    assert len(events) == 107
    assert [dict(parse_qsl(urlsplit(u).query)).get("after") for u in urls] == [None, "4901"]


@pytest.mark.parametrize("host", sorted(HOSTS))
async def test_every_documented_host_can_be_chosen(host: str) -> None:
    with aioresponses() as m:
        m.get(ANY_OKX, status=200, body=_ok([]))
        async with _client(base_url=HOSTS[host]) as okx:
            assert await okx.convert_history().collect() == []
        ((url, _),) = _calls(m)
    assert url.startswith(HOSTS[host] + "/api/v5/asset/convert/history?")


async def test_demo_sends_the_simulated_trading_header() -> None:
    with aioresponses() as m:
        m.get(ANY_OKX, status=200, body=_ok([]))
        async with _client(demo=True) as okx:
            await okx.one_click_repay_history().collect()
        ((_, kwargs),) = _calls(m)
    assert kwargs["headers"]["x-simulated-trading"] == "1"


@pytest.mark.parametrize("status", [200, 429])
async def test_rate_envelope_with_empty_data_is_retried_then_the_walk_goes_on(status: int) -> None:
    with aioresponses() as m:
        m.get(ANY_OKX, status=200, body=_ok(_loan_rows(9000, 100)))
        m.get(ANY_OKX, status=status, body=b'{"code":"50011","msg":"Too Many Requests","data":[]}')
        m.get(ANY_OKX, status=200, body=_ok(_loan_rows(8900, 42)))
        async with _client() as okx:
            feed = okx.flexible_loan_history()
            events = await feed.collect()
    assert len(events) == 142  # the error page was not taken for an empty last page
    assert feed.stats.retries == 1


async def test_rate_envelope_that_persists_raises() -> None:
    with aioresponses() as m:
        for _ in range(RETRY.max_attempts):
            m.get(ANY_OKX, status=200, body=b'{"code":"50011","msg":"Too Many Requests","data":[]}')
        async with _client() as okx:
            with pytest.raises(RateLimited) as info:
                await okx.convert_history().collect()
    assert (info.value.status, info.value.code) == (200, "50011")
