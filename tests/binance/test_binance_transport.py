"""Transport-level behaviour of the Binance client with canned answers (aioresponses)."""

from __future__ import annotations

import re
import time

import pytest
from aioresponses import aioresponses

from loanledger import Binance, DecodeError, RateLimited, RateLimits, RetryPolicy, VenueUnavailable

BASE = "http://bn.test"
PMLOAN_URL = re.compile(r"^http://bn\.test/sapi/v1/portfolio/pmloan-history\?.*signature=")
AMOUNT_URL = re.compile(r"^http://bn\.test/sapi/v1/portfolio/pmLoan\?.*")
PAGE = {"total": 1, "rows": [{"asset": "USDT", "amount": "404.80294503", "repayTime": 1731336427804}]}
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01)


def client(**kw: object) -> Binance:
    kw.setdefault("retry", FAST)
    return Binance("k", "s", base_url=BASE, limits=RateLimits(scale=1000), **kw)  # type: ignore[arg-type]


def sent(m: aioresponses) -> int:
    return sum(len(v) for v in m.requests.values())


async def test_a_5xx_read_is_retried() -> None:
    with aioresponses() as m:
        m.get(PMLOAN_URL, status=503, body="Service Unavailable")
        m.get(PMLOAN_URL, payload=PAGE)
        async with client() as c:
            feed = c.pmloan_history(since=1731336427000, until=1731336428000)
            events = await feed.collect()
        assert [e.id for e in events] == ["1731336427804:USDT:404.80294503#0"]
        assert feed.stats.retries == 1 and sent(m) == 2


async def test_a_truncated_body_is_retried_then_raised() -> None:
    with aioresponses() as m:
        for _ in range(3):
            m.get(PMLOAN_URL, status=200, body='{"total":1,"rows":[{"asset":"USDT"')
        async with client() as c:
            with pytest.raises(DecodeError):
                await c.pmloan_history(since=1731336427000, until=1731336428000).collect()
        assert sent(m) == 3


async def test_persistent_5xx_raises_venue_unavailable() -> None:
    with aioresponses() as m:
        for _ in range(3):
            m.get(AMOUNT_URL, status=502, body="<html>Bad Gateway</html>")
        async with client() as c:
            with pytest.raises(VenueUnavailable):
                await c.pmloan_amount()


async def test_418_takes_the_ban_end_from_the_message_and_sends_nothing_more() -> None:
    until = int(time.time() * 1000) + 3 * 86_400_000
    body = {"code": -1003, "msg": f"Way too much request weight used; IP banned until {until}. Please use WebSocket."}
    with aioresponses() as m:
        m.get(PMLOAN_URL, status=418, payload=body, headers={"Retry-After": "120"})
        async with client() as c:
            with pytest.raises(RateLimited) as info:
                await c.pmloan_history(since=1731336427000, until=1731336428000).collect()
            assert info.value.ban_until == until and info.value.status == 418
            with pytest.raises(RateLimited) as again:
                await c.pmloan_amount()
            assert again.value.ban_until == until
        assert sent(m) == 1
