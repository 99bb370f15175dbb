"""The OKX client against the simulator over loopback: every feed exactly once (ties at
page boundaries included), since/until, resume, one-click repays that settle, the
documented rate limits, error answers, bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import warnings
from collections import Counter
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest

from loanledger import (
    OKX,
    AuthError,
    DataGapWarning,
    EventKind,
    EventStatus,
    Feed,
    InvalidArgument,
    LoanEvent,
    PaginationError,
    RateLimited,
    RateLimits,
)
from loanledger.testing import Simulator
from okx_support import DOCUMENTED, FEED_IDS, KEY, LABEL, PASSPHRASE, PATHS, SCALE, SECRET, ClientFactory

LOAN = "okx.flexible_loan_history"
REPAY = "okx.one_click_repay_history"
CONVERT = "okx.convert_history"
INTEREST = "okx.flexible_loan_interest"
DAY_MS = 86_400_000


def _feed(client: OKX, feed_id: str, **kwargs: Any) -> Feed:
    method = {
        LOAN: client.flexible_loan_history,
        REPAY: client.one_click_repay_history,
        CONVERT: client.convert_history,
        INTEREST: client.flexible_loan_interest,
    }[feed_id]
    return method(**kwargs)


async def _collect(feed: Feed) -> list[LoanEvent]:
    """All events; any DataGapWarning fails the test (the datasets have no lossy tie)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataGapWarning)
        return await feed.collect()


def _once(events: list[LoanEvent]) -> set[str]:
    counts = Counter(e.id for e in events)
    repeated = {i: n for i, n in counts.items() if n > 1}
    assert not repeated, f"events yielded more than once: {repeated}"
    return set(counts)


def _queries(sim: Simulator, path: str) -> list[dict[str, str]]:
    return [dict(parse_qsl(r.query)) for r in sim.requests(path=path)]


def _tie(records: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """The most crowded millisecond of a table and its records."""
    ts, _ = Counter(int(r["ts"]) for r in records).most_common(1)[0]
    return ts, [r for r in records if int(r["ts"]) == ts]


def _children_follow_parents(events: list[LoanEvent]) -> None:
    """One-click legs directly follow their repay; a liquidation leg links to an older leg of its
    episode (events come newest first, so that one comes later)."""
    parent: str | None = None
    position = {ev.id: i for i, ev in enumerate(events)}
    for i, ev in enumerate(events):
        if ev.feed == LOAN:
            if ev.parent_id is not None:
                assert position[ev.parent_id] > i and events[position[ev.parent_id]].parent_id is None
            continue
        if ev.parent_id is None:
            parent = ev.id
        else:
            assert ev.parent_id == parent, f"{ev.id} does not directly follow its parent {ev.parent_id}"


# --- every feed, exactly once ---------------------------------------------------------------------------


@pytest.mark.parametrize("feed_id", FEED_IDS)
async def test_feed_yields_the_dataset_exactly_once(
    okx_sim: Simulator, make_client: ClientFactory, feed_id: str
) -> None:
    expected = okx_sim.okx.expected_ids(LABEL, feed_id)
    assert len(expected) > 200
    async with make_client() as okx:
        feed = _feed(okx, feed_id)
        events = await _collect(feed)
    assert _once(events) == expected
    assert all(e.feed == feed_id and e.venue == "okx" and e.account == LABEL for e in events)
    _children_follow_parents(events)
    assert feed.stats.pages == len(okx_sim.requests(path=PATHS[feed_id]))
    assert all(r.status == 200 and r.code is None for r in okx_sim.log)


#: type -> (wallet, debt, collateral) signs of |amt|; None: the side is decided in the episode
BOOKS = {
    "borrowed": (1, 1, 0), "repaid": (-1, -1, 0), "collateral_locked": (-1, 0, 1), "collateral_released": (1, 0, -1),
    "forced_repayment_sell": (0, 0, -1), "sell_collateral": (0, 0, -1), "forced_repayment_buy": (0, -1, 0),
    "buy_borrowed_coin": (0, -1, 0), "buy_transition_coin": (0, 0, 1), "sell_transition_coin": (0, 0, -1),
    "forced_liquidation": None, "partial_liquidation": None,
}


async def test_loan_history_events_match_the_records(okx_sim: Simulator, make_client: ClientFactory) -> None:
    records = {r["refId"]: r for r in okx_sim.okx.records(LABEL, LOAN)}
    book = okx_sim.okx.account(LABEL).book
    loan_ccy = {r.key: book.orders[r.order_id].loan_ccy for r in book.loan_history}
    async with make_client() as okx:
        events = await _collect(okx.flexible_loan_history())
    assert {e.id for e in events} == set(records)
    signed_on_wire = 0
    for ev in events:
        rec = records[ev.id]
        a = Decimal(rec["amt"]).copy_abs()
        books = BOOKS[rec["type"]]
        if books is None:  # by currency: the order's loan currency is the debt it closed
            books = (0, -1, 0) if rec["ccy"] == loan_ccy[ev.id] else (0, 0, -1)
        assert (ev.amount, ev.debt, ev.collateral) == tuple(s * a for s in books)
        assert (ev.ts, ev.currency, ev.venue_type) == (int(rec["ts"]), rec["ccy"], rec["type"])
        signed_on_wire += rec["amt"].startswith("-")
    assert 0 < signed_on_wire < len(events)  # the dataset sends both forms
    assert {e.venue_type for e in events} == set(BOOKS)
    assert max(len(str(e.amount).lstrip("-").replace(".", "")) for e in events) >= 20


async def test_convert_events_respect_side(okx_sim: Simulator, make_client: ClientFactory) -> None:
    records = {r["tradeId"]: r for r in okx_sim.okx.records(LABEL, CONVERT)}
    async with make_client() as okx:
        events = await _collect(okx.convert_history())
    sides: Counter[tuple[str, str]] = Counter()
    for ev in events:
        rec = records[ev.id]
        received = rec["baseCcy"] if rec["side"] == "buy" else rec["quoteCcy"]
        paid = rec["quoteCcy"] if rec["side"] == "buy" else rec["baseCcy"]
        assert (ev.currency, ev.counter_currency) == (received, paid)
        assert ev.amount >= 0 and ev.counter_amount is not None and ev.counter_amount <= 0
        assert ev.status is (EventStatus.FAILED if rec["state"] == "rejected" else EventStatus.DONE)
        sides[rec["side"], rec["state"]] += 1
    assert {s for s, _ in sides} == {"buy", "sell"} and {st for _, st in sides} == {"fullyFilled", "rejected"}


async def test_keep_raw_end_to_end(okx_sim: Simulator, make_client: ClientFactory) -> None:
    async with make_client() as okx:
        events = await _collect(okx.one_click_repay_history(keep_raw=True))
    for ev in events:
        assert ev.raw is not None
        raw = json.loads(bytes(ev.raw))
        if ev.parent_id is None:
            assert f"{raw['ts']}:{raw['debtCcy']}" == ev.id
        else:
            assert raw["ordId"] == ev.id


# --- ties at page boundaries --------------------------------------------------------------------------


async def test_loan_history_tie_wider_than_a_page_comes_back_once(
    okx_sim: Simulator, make_client: ClientFactory
) -> None:
    tie_ts, tied = _tie(okx_sim.okx.records(LABEL, LOAN))
    assert len(tied) > 100
    async with make_client() as okx:
        events = await _collect(okx.flexible_loan_history())
    ids = _once(events)
    assert {r["refId"] for r in tied} <= ids
    assert sum(1 for e in events if e.ts == tie_ts) == len(tied)
    # the refId cursor stepped through the middle of the tie: no ts cursor could have
    tied_refs = {r["refId"] for r in tied}
    assert any(q.get("after") in tied_refs for q in _queries(okx_sim, PATHS[LOAN]))


async def test_convert_tie_across_a_page_boundary_is_asked_again_inclusively(
    okx_sim: Simulator, make_client: ClientFactory
) -> None:
    records = okx_sim.okx.records(LABEL, CONVERT)
    tie_ts, tied = _tie(records)
    assert len(tied) == 50
    first_page = records[:100]
    assert 0 < sum(1 for r in first_page if int(r["ts"]) == tie_ts) < 50  # it straddles the boundary
    async with make_client() as okx:
        feed = okx.convert_history()
        events = await _collect(feed)
    assert {r["tradeId"] for r in tied} <= _once(events)
    queries = _queries(okx_sim, PATHS[CONVERT])
    assert queries[1]["after"] == str(tie_ts + 1)  # not after=tie_ts, which would skip the rest
    assert feed.stats.duplicates >= 50 - sum(1 for r in first_page if int(r["ts"]) == tie_ts)


async def test_one_click_tie_at_the_inclusive_boundary_is_deduplicated(
    okx_sim: Simulator, make_client: ClientFactory
) -> None:
    records = okx_sim.okx.records(LABEL, REPAY)
    tie_ts, tied = _tie(records)
    on_first = sum(1 for r in records[:100] if int(r["ts"]) == tie_ts)
    assert 0 < on_first < len(tied)
    async with make_client() as okx:
        feed = okx.one_click_repay_history()
        events = await _collect(feed)
    _once(events)
    assert sum(1 for e in events if e.parent_id is None and e.ts == tie_ts) == len(tied)
    assert _queries(okx_sim, PATHS[REPAY])[1]["after"] == str(tie_ts)  # inclusive: ask at the ts again
    assert feed.stats.duplicates == on_first


def _repay_record(ts: int, debt: str) -> dict[str, Any]:
    return {"debtCcy": debt, "fillDebtSz": "1.5", "ordIdInfo": [], "repayCcyList": [debt, "USDT"],
            "status": "filled", "ts": str(ts)}


def _page_wide_tie(sim: Simulator) -> tuple[int, set[str], set[str]]:
    """A second account whose one-click history has 130 repays in one millisecond."""
    sim.okx.add_account("tie-key", "tie-secret", "tie-pass", label="tie")
    now = sim.now_ms()
    tie_ts = now - 3 * 3_600_000
    newer = [_repay_record(now - 60_000 * (i + 1), "USDT") for i in range(3)]
    tied = [_repay_record(tie_ts, f"C{i:03d}") for i in range(130)]
    older = [_repay_record(tie_ts - 60_000 * (i + 1), "BTC") for i in range(20)]
    sim.okx.add_records("tie", REPAY, newer + tied + older)
    ids = lambda rows: {f"{r['ts']}:{r['debtCcy']}" for r in rows}  # noqa: E731
    return tie_ts, ids(newer) | ids(older), ids(tied)


async def test_one_click_page_wide_tie_warns_and_moves_past_it(okx_sim: Simulator) -> None:
    tie_ts, outside, tied = _page_wide_tie(okx_sim)
    async with OKX("tie-key", "tie-secret", "tie-pass", account="tie", base_url=okx_sim.base_url,
                   limits=RateLimits(scale=SCALE)) as okx:
        feed = okx.one_click_repay_history()
        with pytest.warns(DataGapWarning, match=f"share ts {tie_ts}") as record:
            events = await feed.collect()
    assert len([w for w in record if issubclass(w.category, DataGapWarning)]) == 1
    ids = _once(events)
    assert outside <= ids  # records on both sides of the tie: the walk did not stop or loop
    assert len(ids & tied) == 100  # what the venue can show of that millisecond
    queries = _queries(okx_sim, PATHS[REPAY])
    assert [q.get("after") for q in queries[1:]] == [str(tie_ts), str(tie_ts - 1)]


async def test_one_click_page_wide_tie_raises_when_strict(okx_sim: Simulator) -> None:
    tie_ts, _, _ = _page_wide_tie(okx_sim)
    async with OKX("tie-key", "tie-secret", "tie-pass", account="tie", base_url=okx_sim.base_url,
                   limits=RateLimits(scale=SCALE)) as okx:
        with pytest.raises(PaginationError, match=f"share ts {tie_ts}"):
            await okx.one_click_repay_history(strict=True).collect()
    assert len(okx_sim.requests(path=PATHS[REPAY])) == 2


# --- since / until ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("feed_id", FEED_IDS)
async def test_since_and_until_bound_the_result(
    okx_sim: Simulator, make_client: ClientFactory, feed_id: str
) -> None:
    records = okx_sim.okx.records(LABEL, feed_id)
    since, until = int(records[int(len(records) * 0.7)]["ts"]), int(records[int(len(records) * 0.2)]["ts"])
    tie_ts, _ = _tie(records)
    async with make_client() as okx:
        window = await _collect(_feed(okx, feed_id, since=since, until=until))
        at_tie = await _collect(_feed(okx, feed_id, since=tie_ts, until=tie_ts))
        aware = await _collect(_feed(
            okx, feed_id, since=dt.datetime.fromtimestamp(since / 1000, dt.UTC),
            until=dt.datetime.fromtimestamp(until / 1000, dt.timezone(dt.timedelta(hours=8))),
        ))
    assert _once(window) == okx_sim.okx.expected_ids(LABEL, feed_id, since=since, until=until)
    assert all(since <= e.ts <= until for e in window if e.parent_id is None)
    assert _once(at_tie) == okx_sim.okx.expected_ids(LABEL, feed_id, since=tie_ts, until=tie_ts)
    assert {e.id for e in aware} == {e.id for e in window}


async def test_newest_first_walk_stops_below_since(okx_sim: Simulator, make_client: ClientFactory) -> None:
    records = okx_sim.okx.records(LABEL, LOAN)
    since = int(records[10]["ts"])
    async with make_client() as okx:
        events = await _collect(okx.flexible_loan_history(since=since))
    assert len(events) == 11
    assert len(okx_sim.requests(path=PATHS[LOAN])) == 1


@pytest.mark.parametrize(("feed_id", "days"), [(REPAY, 8), (INTEREST, 31)])
async def test_since_older_than_retention_warns_once(
    okx_sim: Simulator, make_client: ClientFactory, feed_id: str, days: int
) -> None:
    since = okx_sim.now_ms() - days * DAY_MS
    async with make_client() as okx:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            events = await _feed(okx, feed_id, since=since).collect()
    gaps = [w for w in record if issubclass(w.category, DataGapWarning)]
    assert len(gaps) == 1 and "keeps only" in str(gaps[0].message)
    assert _once(events) == okx_sim.okx.expected_ids(LABEL, feed_id)


async def test_loan_history_filters_reach_the_venue(okx_sim: Simulator, make_client: ClientFactory) -> None:
    async with make_client() as okx:
        borrowed = await _collect(okx.flexible_loan_history(type="borrowed"))
        interest = await _collect(okx.flexible_loan_interest(currency="BTC"))
    assert borrowed and all(e.venue_type == "borrowed" and e.kind is EventKind.BORROW for e in borrowed)
    assert {e.id for e in borrowed} == {r["refId"] for r in okx_sim.okx.records(LABEL, LOAN)
                                        if r["type"] == "borrowed"}
    assert interest and all(e.currency == "BTC" for e in interest)
    assert all(q.get("type") == "borrowed" for q in _queries(okx_sim, PATHS[LOAN]))
    assert all(q.get("ccy") == "BTC" for q in _queries(okx_sim, PATHS[INTEREST]))


# --- resume -------------------------------------------------------------------------------------------------


def _leg_ids(record: dict[str, Any]) -> set[str]:
    return {leg["ordId"] for leg in record["ordIdInfo"] if leg["fillSz"] not in ("", "0")}


@pytest.mark.parametrize("feed_id", FEED_IDS)
async def test_resume_from_checkpoint_fetches_only_new_pages(
    okx_sim: Simulator, make_client: ClientFactory, feed_id: str
) -> None:
    before = okx_sim.okx.expected_ids(LABEL, feed_id)
    async with make_client() as okx:
        first = _feed(okx, feed_id)
        run1 = await _collect(first)
        assert first.checkpoint is not None
        okx_sim.okx.grow(LABEL, seed=99, n=3)
        after = okx_sim.okx.expected_ids(LABEL, feed_id)
        sent = len(okx_sim.requests(path=PATHS[feed_id]))
        second = _feed(okx, feed_id, resume=first.checkpoint)
        run2 = await _collect(second)
    expected = after - before
    if feed_id == REPAY:  # the records that were running come back, settled
        settled = {e.id for e in run1 if e.status is EventStatus.PENDING and e.parent_id is None}
        assert len(settled) == 2
        for rec in okx_sim.okx.records(LABEL, REPAY):
            if f"{rec['ts']}:{rec['debtCcy']}" in settled:
                expected |= {f"{rec['ts']}:{rec['debtCcy']}"} | _leg_ids(rec)
    assert _once(run2) == expected
    assert len(after - before) >= 3
    assert len(okx_sim.requests(path=PATHS[feed_id])) - sent == 1  # one page held everything new
    assert all(e.status is not EventStatus.PENDING for e in run2)


@pytest.mark.parametrize("feed_id", FEED_IDS)
async def test_interrupted_walk_resumes_exactly_once(
    okx_sim: Simulator, make_client: ClientFactory, feed_id: str
) -> None:
    async with make_client() as okx:
        feed = _feed(okx, feed_id)
        pages = feed.pages()
        seen: list[LoanEvent] = []
        async for page in pages:  # the first page ends inside a tie on every dataset but interest's
            seen += page.events
            break
        await pages.aclose()
        assert feed.checkpoint is not None
        rest = await _collect(_feed(okx, feed_id, resume=feed.checkpoint))
    # records still pending come again (their status may have changed); nothing else does
    pending = {e.id for e in seen if e.status is EventStatus.PENDING and e.parent_id is None}
    again = {e.id for e in seen} & {e.id for e in rest}
    assert again == pending | {e.id for e in seen if e.parent_id in pending}
    assert bool(pending) == (feed_id == REPAY)
    assert _once(seen) | _once(rest) == okx_sim.okx.expected_ids(LABEL, feed_id)


async def test_running_one_click_repay_settles_under_the_same_id(
    okx_sim: Simulator, make_client: ClientFactory
) -> None:
    async with make_client() as okx:
        first = okx.one_click_repay_history()
        run1 = await _collect(first)
        running = {e.id: e for e in run1 if e.parent_id is None and e.status is EventStatus.PENDING}
        assert running
        okx_sim.okx.grow(LABEL, seed=5, n=1)
        run2 = await _collect(okx.one_click_repay_history(resume=first.checkpoint))
        fresh = await _collect(okx.one_click_repay_history())
    for events in (run2, fresh):
        by_id = {e.id: e for e in events}
        for rid, old in running.items():
            new = by_id[rid]
            assert new.status is EventStatus.DONE
            assert (new.ts, new.currency, new.kind) == (old.ts, old.currency, EventKind.REPAY)
            assert new.amount < 0 and new.amount != old.amount
            legs_before = {e.id for e in run1 if e.parent_id == rid}
            legs_after = {e.id for e in events if e.parent_id == rid}
            assert legs_before < legs_after  # the buy leg that finished the repay


# --- rate limits ------------------------------------------------------------------------------------------


async def test_limiter_keeps_every_feed_under_its_documented_rate(
    okx_sim: Simulator, make_client: ClientFactory
) -> None:
    # more requests per feed than its budget allows in one window: the limiter must space them
    walks = {LOAN: 28, INTEREST: 35, REPAY: 11, CONVERT: 42}
    async with make_client() as a, make_client() as b:  # two clients, one key, one registry

        async def run(feed_id: str, i: int) -> int:
            return len(await _collect(_feed(a if i % 2 else b, feed_id)))

        results = await asyncio.gather(*(run(f, i) for f, n in walks.items() for i in range(n)))
    assert all(results)
    assert all(r.code is None for r in okx_sim.log), "the venue had to refuse a request"
    for feed_id, path in PATHS.items():
        budget, per = DOCUMENTED[path]
        logged = okx_sim.requests(path=path)
        assert len(logged) > budget * SCALE, "the test must exceed one window's budget"
        assert Simulator.max_in_window(logged, per) <= budget * SCALE, feed_id


# --- error answers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("http", [200, 429])
async def test_rate_answer_mid_walk_is_retried_not_taken_for_the_last_page(
    okx_sim: Simulator, make_client: ClientFactory, http: int
) -> None:
    okx_sim.okx_rate_http = http
    async with make_client() as okx:
        feed = okx.flexible_loan_history()
        pages = feed.pages()
        events = list((await pages.__anext__()).events)
        okx_sim.faults.force("rate", path=PATHS[LOAN])  # the next page: {"code":"50011","data":[]}
        async for page in pages:
            events += page.events
    assert _once(events) == okx_sim.okx.expected_ids(LABEL, LOAN)
    refused = [r for r in okx_sim.log if r.code == "50011"]
    assert len(refused) == 1 and refused[0].status == http
    assert feed.stats.retries == 1


async def test_persistent_rate_answers_raise(okx_sim: Simulator, make_client: ClientFactory) -> None:
    okx_sim.okx_rate_http = 200
    okx_sim.faults.force("rate", path=PATHS[CONVERT], count=10)
    async with make_client() as okx:
        with pytest.raises(RateLimited) as info:
            await okx.convert_history().collect()
    assert info.value.code == "50011"


async def test_broken_body_mid_walk_is_retried(okx_sim: Simulator, make_client: ClientFactory) -> None:
    async with make_client() as okx:
        feed = okx.one_click_repay_history()
        pages = feed.pages()
        events = list((await pages.__anext__()).events)
        okx_sim.faults.force("truncate", path=PATHS[REPAY])
        async for page in pages:
            events += page.events
    assert _once(events) == okx_sim.okx.expected_ids(LABEL, REPAY)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"passphrase": "wrong-pass"}, "50105"),
        ({"secret": "wrong-secret"}, "50113"),
        ({"api_key": "unknown-key"}, "50111"),
        ({"demo": True}, "50101"),
    ],
)
async def test_auth_answers_are_auth_errors(
    okx_sim: Simulator, make_client: ClientFactory, kwargs: dict[str, Any], code: str
) -> None:
    async with make_client(**kwargs) as okx:
        with pytest.raises(AuthError) as info:
            await okx.flexible_loan_interest().collect()
    assert info.value.code == code
    assert SECRET not in str(info.value) and PASSPHRASE not in str(info.value)


async def test_clock_skew_is_resynced(okx_sim: Simulator, make_client: ClientFactory) -> None:
    okx_sim.skew_ms = 95_000
    async with make_client() as okx:
        events = await _collect(okx.convert_history())
    assert _once(events) == okx_sim.okx.expected_ids(LABEL, CONVERT)
    assert [r.code for r in okx_sim.log[:2]] == ["50102", None]
    assert okx_sim.log[1].path == "/api/v5/public/time"


# --- bad input fails before any request -------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "argument"),
    [
        (lambda o: o.flexible_loan_history(since=1_760_000_000_001, until=1_760_000_000_000), InvalidArgument, "since"),
        (lambda o: o.flexible_loan_history(type="borrow"), InvalidArgument, "type"),
        (lambda o: o.flexible_loan_history(type=1), TypeError, "type"),
        (lambda o: o.flexible_loan_history(order_id="abc"), InvalidArgument, "order_id"),
        (lambda o: o.flexible_loan_history(order_id=12345), TypeError, "order_id"),
        (lambda o: o.flexible_loan_interest(currency="usdt"), InvalidArgument, "currency"),
        (lambda o: o.one_click_repay_history(since=dt.datetime(2026, 1, 1)), InvalidArgument, "since"),
        (lambda o: o.one_click_repay_history(since=1_760_000_000.5), TypeError, "since"),
        (lambda o: o.convert_history(until=1_760_000_000), InvalidArgument, "until"),
        (lambda o: o.convert_history(resume="not-a-token"), InvalidArgument, "resume"),
        (lambda o: o.events("okx.nope"), InvalidArgument, "feed_id"),
        (lambda o: o.events(CONVERT, currency="BTC"), InvalidArgument, "currency"),
        (lambda o: o.events(LOAN, type=""), InvalidArgument, "type"),
    ],
)
async def test_bad_input_fails_before_any_request(
    okx_sim: Simulator, make_client: ClientFactory, call: Any, error: type, argument: str
) -> None:
    async with make_client() as okx:
        with pytest.raises(error, match=argument):
            call(okx)
    assert okx_sim.log == []


async def test_resume_token_of_another_feed_is_refused(okx_sim: Simulator, make_client: ClientFactory) -> None:
    async with make_client() as okx:
        feed = okx.flexible_loan_interest(since=okx_sim.now_ms() - DAY_MS)
        await _collect(feed)
        n = len(okx_sim.log)
        assert feed.checkpoint is not None
        with pytest.raises(InvalidArgument, match="resume"):
            okx.flexible_loan_history(resume=feed.checkpoint)
    assert len(okx_sim.log) == n


def test_generic_events_and_methods_share_specs() -> None:
    assert OKX.feed_ids() == sorted(FEED_IDS)
    okx = OKX(KEY, SECRET, PASSPHRASE)
    assert okx.base_url == "https://www.okx.com"
    assert repr(okx).startswith("OKX(") and SECRET not in repr(okx) and PASSPHRASE not in repr(okx)
