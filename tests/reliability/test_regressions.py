"""Regression tests for the bugs the reliability work found, one per fix (see docs/RELIABILITY.md)."""

from __future__ import annotations

import asyncio
from typing import Any

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


@pytest.mark.parametrize("venue", ["okx", "bybit", "binance"])
async def test_a_gateway_429_retry_after_is_honoured_by_every_venue(venue: str) -> None:
    """An HTTP 429 with Retry-After (a gateway or CDN in front of the venue): the next request
    to that endpoint waits at least that long, whichever venue it is."""
    async with Simulator(rate_scale=SCALE) as sim:
        client, feed, path = _one_feed(sim, venue)
        sim.faults.retry_after = 1
        sim.faults.force("429", path=path)
        async with client:
            await client.events(feed).collect()
        first, second = sim.requests(path=path)[:2]
        assert first.status == 429 and second.at - first.at >= 0.95


@pytest.mark.parametrize(
    ("venue", "status", "headers"),
    [
        ("binance", 418, {"Retry-After": "inf"}),
        ("binance", 429, {"Retry-After": "nan"}),
        ("binance", 429, {"Retry-After": "1e999"}),
        ("binance", 200, {"X-SAPI-USED-IP-WEIGHT-1M": "\u00b2"}),
        ("binance", 200, {"X-SAPI-USED-IP-WEIGHT-1M": "9" * 5000}),
        ("okx", 429, {"Retry-After": "-5"}),
        ("bybit", 200, {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": "\u00b2"}),
        ("bybit", 200, {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": "9" * 30}),
        ("bybit", 200, {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": "99999999999999"}),
    ],
)
async def test_malformed_rate_headers_neither_leak_nor_hang(venue: str, status: int, headers: dict[str, str]) -> None:
    """Rate-limit headers the venue documents as numbers, sent malformed (a non-ASCII digit,
    5000 digits, inf, a reset in the year 3 billion): the client ignores them or raises its
    typed error, and never sleeps for ever."""
    import asyncio

    from loanledger import LoanLedgerError

    async with Simulator(rate_scale=SCALE) as sim:
        client, feed, path = _one_feed(sim, venue)
        sim.faults.force_body(lambda body: body, path=path, status=status, headers=headers)
        async with client:
            try:
                await asyncio.wait_for(client.events(feed).collect(), 20)
            except LoanLedgerError:
                assert status != 200
        assert sim.faults.pending == 0


def _one_feed(sim: Simulator, venue: str) -> tuple[Any, str, str]:
    from loanledger import OKX, Binance

    limits = RateLimits(scale=SCALE)
    retry = RetryPolicy(base_delay=0.01, max_delay=0.1)
    if venue == "okx":
        sim.okx.populate(sim.okx.add_account(KEY, SECRET, "pass"), seed=3, scale=0.1)
        okx = OKX(KEY, SECRET, "pass", base_url=sim.base_url, limits=limits, retry=retry)
        return okx, "okx.convert_history", "/api/v5/asset/convert/history"
    if venue == "binance":
        sim.binance.populate(sim.binance.add_account(KEY, secret=SECRET), seed=3, scale=0.1)
        bnb = Binance(KEY, SECRET, base_url=sim.base_url, limits=limits, retry=retry)
        return bnb, "binance.pmloan_history", "/sapi/v1/portfolio/pmloan-history"
    sim.bybit.populate(sim.bybit.add_account(KEY, secret=SECRET), seed=3, scale=0.1)
    bybit = Bybit(KEY, SECRET, base_url=sim.base_url, limits=limits, retry=retry)
    return bybit, "bybit.institutional_loan_orders", "/v5/ins-loan/loan-order"  # many requests per walk


@pytest.mark.parametrize("answer", [
    b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1","timeNano":"abc"},"time":1}',
    b'{"retCode":0,"retMsg":"OK","result":null,"time":1}',
    b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1","timeNano":"' + b"9" * 5000 + b'"},"time":1}',
])
async def test_a_malformed_bybit_server_time_is_a_decode_error(answer: bytes) -> None:
    from loanledger import DecodeError

    async with Simulator(rate_scale=SCALE, skew_ms=40_000) as sim:
        sim.bybit.add_account(KEY, secret=SECRET)
        sim.faults.force_body(answer, path="/v5/market/time", count=10)
        async with Bybit(KEY, SECRET, base_url=sim.base_url, limits=RateLimits(scale=SCALE), retry=FAST) as c:
            with pytest.raises(DecodeError):
                await c.flexible_borrow_history().collect()


async def test_a_bybit_reset_timestamp_is_read_on_the_venue_clock() -> None:
    """10006 + X-Bapi-Limit-Reset-Timestamp (venue clock) from a venue 40 s ahead: the client
    waits until the reset, not 40 s more."""
    import asyncio

    async with Simulator(rate_scale=SCALE, skew_ms=40_000) as sim:
        acct = sim.bybit.add_account(KEY, secret=SECRET)
        sim.bybit.populate(acct, seed=3, scale=0.1)
        path = "/v5/ins-loan/loan-order"
        async with Bybit(KEY, SECRET, base_url=sim.base_url, limits=RateLimits(scale=SCALE), retry=FAST) as c:
            await c.server_time()
            sim.faults.force("rate", path=path)  # reset = the venue's now + 200 ms
            got = await asyncio.wait_for(c.institutional_loan_orders().collect(), 10)
        assert sorted(e.id for e in got) == sorted(sim.bybit.expected_ids(acct, "bybit.institutional_loan_orders"))
        first, second = sim.requests(path=path)[:2]
        assert first.code == "10006" and second.at - first.at < 5


async def test_retry_after_holds_for_the_next_request_even_without_a_retry() -> None:
    """A 429 with Retry-After when no attempt is left: the error is raised, and the endpoint's
    next request (a resumed walk, another feed on the same bucket) still waits it out."""
    from loanledger import OKX, RateLimited

    async with Simulator(rate_scale=SCALE) as sim:
        sim.okx.populate(sim.okx.add_account(KEY, SECRET, "pass"), seed=3, scale=0.1)
        path = "/api/v5/asset/convert/history"
        sim.faults.retry_after = 1
        sim.faults.force("429", path=path)
        async with OKX(KEY, SECRET, "pass", base_url=sim.base_url, limits=RateLimits(scale=SCALE),
                       retry=RetryPolicy(max_attempts=1, base_delay=0.01, max_delay=0.1)) as c:
            with pytest.raises(RateLimited) as info:
                await c.convert_history().collect()
            assert info.value.retry_after == 1
            await c.convert_history().collect()
        first, second = sim.requests(path=path)[:2]
        assert first.status == 429 and second.at - first.at >= 0.95


@pytest.mark.parametrize(("slow", "executes"), [(0.6, True), (2.5, False)])
async def test_reconcile_of_a_timed_out_action_waits_out_the_recv_window(slow: float, executes: bool) -> None:
    """A borrow delayed before the venue's handler beyond the client's timeout: the venue may
    still execute it (within its recv window) after the client gave up. reconcile() must not
    answer None while that can happen: it finds the late execution, and answers None only
    once the venue would refuse the request (here: a 1 s recv window, a 2.5 s delay)."""
    import time

    async with Simulator(rate_scale=SCALE) as sim:
        acct = sim.bybit.add_account(KEY, secret=SECRET)
        sim.bybit.populate(acct, seed=3, scale=0.1)
        sim.faults.slow_seconds = slow
        sim.faults.force("slow", path="/v5/crypto-loan-flexible/borrow")
        async with Bybit(KEY, SECRET, base_url=sim.base_url, limits=RateLimits(scale=SCALE), retry=FAST,
                         timeout=0.3, recv_window=1000) as c:
            with pytest.raises(AmbiguousOutcome) as info:
                await c.borrow_flexible("ETH", "3.25")
            started = time.monotonic()
            found = await info.value.reconcile()
            waited = time.monotonic() - started
        await asyncio.sleep(max(0.0, slow - 0.3 - waited) + 0.2)  # the delayed request has reached the venue
        assert [m.id for m in sim.bybit.mutations] == ([found.id] if executes and found is not None else [])
        assert (found is not None) is executes


async def test_repay_fixed_returns_the_open_principal_to_the_last_digit() -> None:
    from decimal import Decimal

    async with Simulator(rate_scale=SCALE) as sim:
        acct = sim.bybit.add_account(KEY, secret=SECRET)
        sim.bybit.populate(acct, seed=3, scale=0.2)
        row = next(r for r in acct.book.feeds["bybit.fixed_borrow_contracts"] if r.wire["status"] in (1, 3))
        row.wire["residualPrincipal"] = "12345678901234567890.123456789012345678"  # 38 digits
        async with Bybit(KEY, SECRET, base_url=sim.base_url, limits=RateLimits(scale=SCALE), retry=FAST) as c:
            ev = await c.repay_fixed(loan_id=row.key)
        assert ev.amount == Decimal("-12345678901234567890.123456789012345678")
        assert str(ev.amount) == "-12345678901234567890.123456789012345678"


@pytest.fixture(scope="module")
def bodies() -> dict[str, list[bytes]]:
    from rel_support import sample_bodies

    return asyncio.run(sample_bodies(scale=0.2))


@pytest.mark.parametrize("amount", ["1E+999999999", "-1e999999999", "1E-999999999", "0E-999999999"])
def test_amounts_with_absurd_exponents_are_decode_errors(bodies: dict[str, list[bytes]], amount: str) -> None:
    """1E+999999999 parses as a finite Decimal: accepted, it turned into a gigabyte of digits in
    a Binance id (the decoder hung) and in any plain-notation output (CSV export) for the rest."""
    import json

    from rel_support import AMOUNT_FIELDS, records_of, set_fields

    from loanledger import DecodeError, decode

    for feed, names in AMOUNT_FIELDS.items():
        body = next(b for b in bodies[feed] if records_of(json.loads(b)))
        doc = json.loads(body)
        first = records_of(doc)[0]
        assert set_fields(first, names, amount) >= 1, feed
        with pytest.raises(DecodeError):
            decode(feed, json.dumps(doc).encode())


@pytest.mark.parametrize("loan_id", ["9" * 5000, "\u00b2", "\u0661\u0662"])
def test_a_fixed_repayment_leg_with_an_odd_loan_id_decodes(loan_id: str) -> None:
    """Leg order compared loanIds with int(): 5000 digits or a non-ASCII digit raised ValueError."""
    import json

    from loanledger import decode

    body = json.dumps({"retCode": 0, "retMsg": "OK", "time": 1, "result": {"nextPageCursor": "", "list": [{
        "repayId": "7", "repayTime": 1731659485000, "repayStatus": 1, "repayType": 1, "loanCurrency": "USDT",
        "repayAmount": "3", "details": [
            {"loanId": loan_id, "loanCurrency": "USDT", "repayAmount": "1"},
            {"loanId": "12", "loanCurrency": "USDT", "repayAmount": "2"}]}]}}).encode()
    events = decode("bybit.fixed_repayment_history", body)
    assert sorted(e.ref_id or "" for e in events) == sorted([loan_id, "12"])


async def test_a_skew_answer_right_after_a_resync_fetches_the_time_again() -> None:
    """The venue's clock moved (or ours stepped) within a second of a resync: a request signed
    after that resync and refused for skew must not reuse it (ClockSkewError with the old
    offset), but fetch the time again. Concurrent requests signed before a resync share it."""
    async with Simulator(rate_scale=SCALE, skew_ms=40_000) as sim:
        acct = sim.bybit.add_account(KEY, secret=SECRET)
        sim.bybit.populate(acct, seed=3, scale=0.1)
        async with Bybit(KEY, SECRET, base_url=sim.base_url, limits=RateLimits(scale=SCALE), retry=FAST) as c:
            await c.flexible_borrow_history().collect()  # 10002, resync to +40 s
            sim.skew_ms = -40_000
            got = await c.flexible_borrow_history().collect()  # 10002 again within the second
            assert sorted(e.id for e in got) == sorted(sim.bybit.expected_ids(acct, "bybit.flexible_borrow_history"))
            sim.skew_ms = 40_000
            feeds = ["bybit.flexible_borrow_history", "bybit.flexible_repayment_history", "bybit.legacy_borrow_history"]
            await asyncio.gather(*(c.events(f).collect() for f in feeds))
        assert len(sim.requests(path="/v5/market/time")) == 3  # concurrent skew answers shared one fetch


async def test_a_ledger_cancelled_while_closing_still_closes_everything(tmp_path: Any) -> None:
    """Ctrl-C (a cancellation) that lands while the ledger is closing: every client session and
    the store are still closed (no 'Unclosed client session', no SQLite connection left
    holding the file), and the cancellation still propagates."""
    from loanledger import OKX, Ledger, SQLiteStore

    closed: list[str] = []

    class SlowOKX(OKX):
        async def close(self) -> None:
            await asyncio.sleep(0.05)
            await super().close()
            closed.append(self.account)

    class SlowStore(SQLiteStore):
        async def close(self) -> None:
            await asyncio.sleep(0.05)
            await super().close()
            closed.append("store")

    async with Simulator(rate_scale=SCALE) as sim:
        sim.okx.add_account(KEY, SECRET, "pass")
        clients = [SlowOKX(KEY, SECRET, "pass", account=f"a{i}", base_url=sim.base_url) for i in range(3)]
        for c in clients:
            c.transport._sender_or_create()._session_or_create()  # sessions exist, as after a sync
        ledger = Ledger(clients, store=SlowStore(tmp_path / "l.db"))

        entered = asyncio.Event()

        async def use() -> None:
            async with ledger:
                entered.set()  # the body ends here: the ledger starts closing now

        for delay in (0.02, 0.07):  # during the clients' close, during the store's close
            closed.clear()
            entered.clear()
            task = asyncio.create_task(use())
            await entered.wait()  # the store's open can take longer than `delay` on a busy machine
            await asyncio.sleep(delay)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert sorted(closed) == ["a0", "a1", "a2", "store"], delay
            assert all(c.transport._sender.session.closed for c in clients)
