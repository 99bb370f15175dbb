"""Bybit feeds end to end against the simulator over loopback: every feed returns its dataset
exactly once (many page boundaries and ties), since/until bounds, resume fetches only what is
new, rate limits hold, bad input fails before any request, a repeated cursor raises."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from bybit_support import SCALE, small_page_client

from loanledger import Bybit, DataGapWarning, EventStatus, InvalidArgument, LoanEvent, PaginationError
from loanledger.testing import SimCall, Simulator
from loanledger.testing.bybit import BybitAccount
from loanledger.venues.bybit import FEEDS

FEED_IDS = [spec.id for spec in FEEDS]
METHODS = {fid: fid.removeprefix("bybit.") for fid in FEED_IDS}


def uniq(events: list[LoanEvent]) -> set[str]:
    ids = [e.id for e in events]
    dup = [i for i, n in Counter(ids).items() if n > 1]
    assert not dup, f"yielded twice: {dup[:5]}"
    return set(ids)


@pytest.mark.parametrize("feed_id", FEED_IDS)
@pytest.mark.parametrize("limit", [100, 7])
async def test_each_feed_returns_its_dataset_exactly_once(
    bsim: Simulator, acct: BybitAccount, make_client: Callable[..., Bybit], feed_id: str, limit: int
) -> None:
    async with make_client(small_page_client(limit) if limit != 100 else Bybit) as c:
        feed = getattr(c, METHODS[feed_id])()
        events = await feed.collect()
    expected = bsim.bybit.expected_ids(acct, feed_id)
    assert len(expected) >= 13
    assert uniq(events) == expected
    assert all(e.feed == feed_id and e.account == "main" and e.venue == "bybit" for e in events)
    assert all(isinstance(e.amount, Decimal) and e.amount.is_finite() and e.currency.isupper() for e in events)
    spec = FEEDS[FEED_IDS.index(feed_id)]
    if spec.cursor.name == "opaque":  # one request per page, none after nextPageCursor ""
        assert len(bsim.requests(path=spec.path)) == -(-len(acct.book.feeds[feed_id]) // limit)


async def test_ties_across_page_boundaries(bsim: Simulator, acct: BybitAccount,
                                           make_client: Callable[..., Bybit]) -> None:
    rows = acct.book.feeds["bybit.flexible_borrow_history"]
    ties = Counter(r.ts for r in rows)
    assert max(ties.values()) >= 2  # the dataset has ties; with 3 per page some straddle a boundary
    async with make_client(small_page_client(3)) as c:
        got = uniq(await c.flexible_borrow_history().collect())
    assert got == bsim.bybit.expected_ids(acct, "bybit.flexible_borrow_history")


@pytest.mark.parametrize("feed_id", ["bybit.flexible_repayment_history", "bybit.institutional_repayment_history",
                                     "bybit.fixed_repayment_history"])
async def test_since_until_bounds(bsim: Simulator, acct: BybitAccount, make_client: Callable[..., Bybit],
                                  feed_id: str) -> None:
    ts = sorted({r.ts for r in acct.book.feeds[feed_id]})
    lo, hi = ts[len(ts) // 4], ts[3 * len(ts) // 4]
    async with make_client(small_page_client(5)) as c:
        full = await c.events(feed_id).collect()
        part = await c.events(feed_id, since=lo, until=hi).collect()
    assert uniq(part) == {e.id for e in full if lo <= e.ts <= hi}
    assert part and all(lo <= e.ts <= hi for e in part)


async def test_cursor_walk_stops_early_below_since(bsim: Simulator, acct: BybitAccount,
                                                  make_client: Callable[..., Bybit]) -> None:
    feed_id = "bybit.collateral_adjustment_history"
    ts = sorted(r.ts for r in acct.book.feeds[feed_id])
    async with make_client(small_page_client(5)) as c:
        got = await c.collateral_adjustment_history(since=ts[-6]).collect()
    assert {e.ts for e in got} <= set(ts[-6:]) and len(got) >= 6
    assert len(bsim.requests(path=FEEDS[4].path)) < -(-len(ts) // 5)  # did not walk every page


@pytest.mark.parametrize("feed_id", FEED_IDS)
async def test_resume_fetches_only_new_and_settled(bsim: Simulator, acct: BybitAccount,
                                                  make_client: Callable[..., Bybit], feed_id: str) -> None:
    spec = FEEDS[FEED_IDS.index(feed_id)]
    final = spec.final or (lambda e: e.status is not EventStatus.PENDING)  # the feed's notion of final
    async with make_client(small_page_client(6)) as c:
        first = c.events(feed_id)
        before = uniq(await first.collect())
        again = await c.events(feed_id).collect()
        pending = {e.id for e in again if e.status is EventStatus.PENDING}
        still_open = {e.id for e in again if not final(e)}  # pending, and e.g. fixed contracts not repaid
        bsim.bybit.grow(acct, seed=3, n=4)
        log_start = len(bsim.log)
        second = await c.events(feed_id, resume=first.checkpoint).collect()
    new = bsim.bybit.expected_ids(acct, feed_id) - before
    got = uniq(second)
    assert new and new <= got
    assert still_open <= got  # read again until final
    if spec.rewalk:  # records appear in the past: every walk reads the feed whole
        assert got == bsim.bybit.expected_ids(acct, feed_id)
    else:
        assert got <= new | still_open  # nothing old and final comes again
    assert all(e.status is not EventStatus.PENDING for e in second if e.id in pending)
    if spec.cursor.name == "opaque" and not still_open and not spec.rewalk:
        # newest-first: the walk stops once a page reaches the checkpoint
        total_pages = -(-len(acct.book.feeds[feed_id]) // 6)
        assert len(bsim.log) - log_start < total_pages


async def test_rate_limits_are_respected(bsim: Simulator, acct: BybitAccount,
                                         make_client: Callable[..., Bybit]) -> None:
    bsim.bybit.populate(acct, seed=21, scale=4.0)
    async with make_client(small_page_client(2)) as c, make_client() as c100:
        await c.flexible_repayment_history().collect()
        await c.legacy_repayment_history().collect()
        await c100.institutional_repayment_history().collect()
    for spec, busy in ((FEEDS[1], True), (FEEDS[6], True), (FEEDS[8], False)):
        reqs = bsim.requests(path=spec.path)
        if busy:  # enough requests that an unpaced client would break the limit
            assert len(reqs) > spec.limit.budget * SCALE / 2
        assert Simulator.max_in_window(reqs, spec.limit.per) <= spec.limit.budget * SCALE
        assert all(r.code is None for r in reqs), "the venue refused a request (10006)"


async def test_filters_are_sent_and_applied(bsim: Simulator, acct: BybitAccount, client: Bybit) -> None:
    got = await client.flexible_borrow_history(currency="ETH").collect()
    want = {r.key for r in acct.book.feeds["bybit.flexible_borrow_history"] if r.wire["loanCurrency"] == "ETH"}
    assert {e.id for e in got} == want
    assert "loanCurrency=ETH" in bsim.requests(path=FEEDS[0].path)[-1].query
    some = next(r for r in acct.book.feeds["bybit.fixed_borrow_contracts"] if r.wire["status"] == 1)
    (ev,) = await client.fixed_borrow_contracts(loan_id=some.key, term=int(some.wire["term"])).collect()
    assert ev.id == some.key
    assert f"loanId={some.key}" in bsim.requests(path=FEEDS[2].path)[-1].query
    order = acct.book.feeds["bybit.fixed_borrow_orders"][0]
    got = await client.fixed_borrow_orders(currency=order.wire["orderCurrency"], state=order.wire["state"]).collect()
    assert order.key in {e.id for e in got} and {e.currency for e in got} == {order.wire["orderCurrency"]}
    ins = acct.book.feeds["bybit.institutional_loan_orders"][0]
    assert [e.id for e in await client.institutional_loan_orders(order_id=ins.key).collect()] == [ins.key]


async def test_ins_params_are_integers_and_windows_are_bounded(bsim: Simulator, client: Bybit) -> None:
    await client.institutional_repayment_history().collect()
    for r in bsim.requests(path="/v5/ins-loan/repaid-history"):
        params = dict(p.split("=") for p in r.query.split("&"))
        assert set(params) == {"startTime", "endTime", "limit"}
        assert all(v.isdigit() for v in params.values())
        assert int(params["endTime"]) - int(params["startTime"]) <= 30 * 86_400_000 + 2


async def test_keep_raw_over_the_wire(acct: BybitAccount, client: Bybit) -> None:
    events = await client.fixed_repayment_history(keep_raw=True).collect()
    assert events and all(e.raw is not None for e in events)


BAD_FEED_CALLS: list[tuple[Callable[[Bybit], object], type[Exception], str]] = [
    (lambda c: c.flexible_borrow_history(currency="eth"), InvalidArgument, "currency"),
    (lambda c: c.flexible_borrow_history(order_id="1 2"), InvalidArgument, "order_id"),
    (lambda c: c.fixed_borrow_contracts(term=8), InvalidArgument, "term"),
    (lambda c: c.fixed_borrow_contracts(term=True), TypeError, "term"),
    (lambda c: c.legacy_repayment_history(since=2_000_000_000_000, until=1_900_000_000_000), InvalidArgument, "since"),
    (lambda c: c.institutional_loan_orders(since=1_700_000_000), InvalidArgument, "since"),
    (lambda c: c.events("bybit.nope"), InvalidArgument, "feed_id"),
    (lambda c: c.events("bybit.flexible_borrow_history", loan_id="1"), InvalidArgument, "loan_id"),
    (lambda c: c.flexible_repayment_history(resume="garbage"), InvalidArgument, "resume"),
]


@pytest.mark.parametrize(("call", "exc", "arg"), BAD_FEED_CALLS)
async def test_bad_feed_input_fails_before_any_request(bsim: Simulator, client: Bybit,
                                                       call: Callable[[Bybit], object], exc: type[Exception],
                                                       arg: str) -> None:
    with pytest.raises(exc, match=arg):
        call(client)
    assert bsim.log == []


async def test_repeated_cursor_raises(bsim: Simulator, client: Bybit) -> None:
    async def looping(call: SimCall) -> object:
        return {"list": [{"borrowTime": 1_700_000_000_000 - len(bsim.log), "initialLoanAmount": "1",
                          "loanCurrency": "BTC", "orderId": str(len(bsim.log)), "status": 1}],
                "nextPageCursor": "same"}

    bsim.bybit.route("GET", "/v5/crypto-loan-flexible/borrow-history", looping, limit=FEEDS[0].limit)
    with pytest.raises(PaginationError, match="repeated cursor"):
        await client.flexible_borrow_history().collect()
    assert len(bsim.requests(path=FEEDS[0].path)) == 2


async def test_non_empty_cursor_with_empty_list_ends_the_walk(bsim: Simulator, client: Bybit) -> None:
    async def empty(call: SimCall) -> object:
        return {"list": [], "nextPageCursor": "more?"}

    bsim.bybit.route("GET", "/v5/crypto-loan-flexible/repayment-history", empty, limit=FEEDS[1].limit)
    assert await client.flexible_repayment_history().collect() == []


async def test_legacy_since_beyond_retention_warns(client: Bybit) -> None:
    with pytest.warns(DataGapWarning, match="keeps only 183 days"):
        await client.legacy_borrow_history(since=1_500_000_000_000).collect()


async def test_reads_are_retried_on_5xx(bsim: Simulator, acct: BybitAccount, client: Bybit) -> None:
    bsim.faults.force("5xx", path=FEEDS[0].path)
    bsim.faults.force("truncate", path=FEEDS[0].path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = uniq(await client.flexible_borrow_history().collect())
    assert got == bsim.bybit.expected_ids(acct, "bybit.flexible_borrow_history")
