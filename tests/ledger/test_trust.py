"""History you can trust (issue 12): the five cases the issue reports, each reproduced against the
simulator over loopback, plus what the fixes add around them (SyncError, coverage, backfill,
full walks, retention gaps on resume, ids of twins, records read again until final).

Each `test_case_N_...` failed on the code before the change; its docstring says what it reproduces.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import warnings
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from loanledger import (
    FEEDS,
    OKX,
    AuthError,
    BadRequest,
    Bybit,
    DataGapWarning,
    FeedKey,
    Ledger,
    LoanEvent,
    MemoryStore,
    PaginationError,
    RetryPolicy,
    SQLiteStore,
    StoreError,
    SyncError,
)
from loanledger.paginate.token import Span, coverage
from loanledger.ratelimit import RateLimits
from loanledger.store import Store
from loanledger.testing import Simulator

SCALE = 50.0
DAY = 86_400_000
LOAN, CONVERT, INTEREST, REPAY = (
    "okx.flexible_loan_history", "okx.convert_history", "okx.flexible_loan_interest", "okx.one_click_repay_history")
CONTRACTS = "bybit.fixed_borrow_contracts"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=12, rate_scale=SCALE) as s:
        s.okx.add_account("ok-k", "ok-s", "ok-p", label="o")
        s.okx.populate("o", seed=12)
        s.bybit.add_account("by-k", secret="by-s", label="y")
        s.bybit.populate("by-k", seed=12, scale=1.0)
        yield s


def okx(sim: Simulator, *, passphrase: str = "ok-p", account: str = "o") -> OKX:
    return OKX("ok-k", "ok-s", passphrase, account=account, base_url=sim.base_url, limits=RateLimits(scale=SCALE))


def bybit(sim: Simulator) -> Bybit:
    return Bybit("by-k", "by-s", account="y", base_url=sim.base_url, limits=RateLimits(scale=SCALE))


async def stored(store: Store, feed: str) -> dict[str, LoanEvent]:
    return {ev.id: ev async for ev in store.events(feed=feed)}


async def drain(run: AsyncIterator[LoanEvent]) -> list[LoanEvent]:
    return [ev async for ev in run]


async def checkpoint(store: Store, key: FeedKey) -> Any:
    token = await store.checkpoint(key)
    assert token is not None
    return coverage(token)


# --- case 1: failures surface ------------------------------------------------------------------------


async def test_case_1_a_ledger_used_without_async_with_syncs_into_its_store(sim: Simulator, tmp_path: Path) -> None:
    """Issue 12 case 1: `Ledger([okx], store=SQLiteStore("x.db"))` used without `async with`
    yielded 0 events and raised nothing: the store was never opened, every feed failed on it,
    and only `last_report` knew. Now the ledger opens its store on first use."""
    ledger = Ledger([okx(sim)], store=SQLiteStore(tmp_path / "x.db"))
    try:
        events = await drain(ledger.sync([LOAN, CONVERT]))
        assert ledger.last_report is not None and ledger.last_report.ok
        got = {(e.feed, e.id) for e in events}
        assert got == {(f, i) for f in (LOAN, CONVERT) for i in sim.okx.expected_ids("o", f)}
        assert {(f, i) for f in (LOAN, CONVERT) for i in await stored(ledger.store, f)} == got
    finally:
        await ledger.close()


async def test_case_1_a_failed_feed_raises_after_the_healthy_feeds(sim: Simulator) -> None:
    """Issue 12 case 1: a feed that failed (a bad key) ended `sync()` quietly. Now, once every
    healthy feed's events were yielded and committed, SyncError (an ExceptionGroup of the feeds'
    errors) carries the report."""
    good, bad = okx(sim), okx(sim, passphrase="wrong", account="other")
    async with Ledger([good, bad]) as ledger:
        events: list[LoanEvent] = []
        with pytest.raises(SyncError) as caught:
            async for ev in ledger.sync([LOAN, CONVERT]):
                events.append(ev)
        err = caught.value
        assert err.report is ledger.last_report and not err.report.ok
        assert set(err.errors) == {FeedKey("okx", "other", LOAN), FeedKey("okx", "other", CONVERT)}
        assert all(isinstance(e, AuthError) for e in err.exceptions) and len(err.exceptions) == 2
        assert [f.failures for f in err.report.feeds] == [0, 0, 1, 1]
        # the healthy account's feeds came out whole, and were committed before the raise
        assert {(e.account, e.feed, e.id) for e in events} == {
            ("o", f, i) for f in (LOAN, CONVERT) for i in sim.okx.expected_ids("o", f)}
        for f in (LOAN, CONVERT):
            assert set(await stored(ledger.store, f)) == sim.okx.expected_ids("o", f)
    try:  # an ExceptionGroup: except* picks the auth failures
        raise err
    except* AuthError as auth:
        assert isinstance(auth, SyncError) and len(auth.exceptions) == 2 and auth.report is err.report


async def test_case_1_a_store_that_cannot_open_fails_at_once_without_a_request(sim: Simulator,
                                                                             tmp_path: Path) -> None:
    """A Ledger whose store cannot be opened (here: a file that is not a ledger) fails on first
    use, before any request, instead of syncing nothing quietly."""
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"this is not a SQLite database, it is someone's notes" * 100)
    ledger = Ledger([okx(sim)], store=SQLiteStore(bogus))
    try:
        with pytest.raises(StoreError, match="not a loanledger store"):
            await drain(ledger.sync())
    finally:
        await ledger.close()
    assert sim.log == []


# --- case 2: coverage, backfill, full ------------------------------------------------------------------


async def test_case_2_a_narrow_first_sync_is_backfilled_by_a_later_sync(sim: Simulator, tmp_path: Path) -> None:
    """Issue 12 case 2: a first sync with a narrow `since` left the ledger incomplete for good: a
    later sync without `since`, or with an older one, added nothing. Now each checkpoint knows the
    span its walks covered, and a sync reaching below it backfills the missing span, then goes on
    incrementally."""
    loans = sim.okx.records("o", LOAN)
    since = int(loans[25]["ts"])
    db = SQLiteStore(tmp_path / "l.db")
    async with Ledger([okx(sim)], store=db) as ledger:
        first = await drain(ledger.sync([LOAN, CONVERT], since=since))
        for f in (LOAN, CONVERT):
            assert set(await stored(db, f)) == sim.okx.expected_ids("o", f, since=since)
        assert len(first) < sum(len(sim.okx.expected_ids("o", f)) for f in (LOAN, CONVERT)) / 3
        cov = await checkpoint(db, FeedKey("okx", "o", LOAN))
        assert cov.covered == [Span(since, int(loans[0]["ts"]))]

        second = await drain(ledger.sync([LOAN, CONVERT]))  # each feed's default start: everything
        for f in (LOAN, CONVERT):
            assert set(await stored(db, f)) == sim.okx.expected_ids("o", f)
        assert {e.id for e in second if e.feed == LOAN} == sim.okx.expected_ids("o", LOAN) - \
            sim.okx.expected_ids("o", LOAN, since=since)  # only the missing span
        cov = await checkpoint(db, FeedKey("okx", "o", LOAN))
        assert cov.covered == [Span(None, int(loans[0]["ts"]))] and cov.gaps() == []

        assert await drain(ledger.sync([LOAN, CONVERT], since=1_577_836_800_000)) == []  # 2020: covered
        requests = len(sim.log)
        assert await drain(ledger.sync([LOAN, CONVERT])) == []
        assert len(sim.log) - requests == 2  # incremental again: one page per feed


async def test_an_older_since_backfills_only_down_to_it(sim: Simulator) -> None:
    loans = sim.okx.records("o", LOAN)
    recent, older = int(loans[20]["ts"]), int(loans[120]["ts"])
    async with Ledger([okx(sim)]) as ledger:
        await drain(ledger.sync([LOAN], since=recent))
        back = await drain(ledger.sync([LOAN], since=older))
        assert {e.id for e in back} == sim.okx.expected_ids("o", LOAN, since=older) - \
            sim.okx.expected_ids("o", LOAN, since=recent)
        assert set(await stored(ledger.store, LOAN)) == sim.okx.expected_ids("o", LOAN, since=older)
        cov = await checkpoint(ledger.store, FeedKey("okx", "o", LOAN))
        assert cov.covered == [Span(older, int(loans[0]["ts"]))]


async def test_a_span_left_unwalked_is_a_known_gap_until_a_sync_fills_it(sim: Simulator) -> None:
    """A sync bounded by `until`, then one whose `since` starts later, leave a span between them
    that no walk read: the checkpoint knows it (status shows it) and the next sync reaching
    back over it fills it."""
    loans = sim.okx.records("o", LOAN)
    mid, later = int(loans[220]["ts"]), int(loans[20]["ts"])  # (40..170: 130 records share one ms)
    async with Ledger([okx(sim)]) as ledger:
        key = FeedKey("okx", "o", LOAN)
        await drain(ledger.sync([LOAN], until=mid))
        assert (await checkpoint(ledger.store, key)).covered == [Span(None, mid)]
        await drain(ledger.sync([LOAN], since=later))
        cov = await checkpoint(ledger.store, key)
        assert cov.covered == [Span(later, int(loans[0]["ts"])), Span(None, mid)]
        assert cov.gaps() == [Span(mid + 1, later - 1)]
        missing = sim.okx.expected_ids("o", LOAN) - set(await stored(ledger.store, LOAN))
        assert missing == {r["refId"] for r in loans if mid < int(r["ts"]) < later}
        filled = await drain(ledger.sync([LOAN]))
        assert {e.id for e in filled} == missing
        cov = await checkpoint(ledger.store, key)
        assert cov.covered == [Span(None, int(loans[0]["ts"]))] and cov.gaps() == []


async def test_an_interrupted_walk_finished_under_a_later_since_claims_only_what_it_read(sim: Simulator) -> None:
    """A walk cut short (a page cap), finished by a sync with a later `since`, reads nothing below
    that `since`: its covered span starts there, so the next sync reaching further back reads
    what it skipped (the schedule property test found the span below claimed as covered, its
    records never read)."""
    loans = sim.okx.records("o", LOAN)
    later = int(loans[200]["ts"])  # below the first page (100 records)
    key = FeedKey("okx", "o", LOAN)
    async with Ledger([okx(sim)]) as ledger:
        with pytest.raises(SyncError):
            await drain(ledger.sync([LOAN], max_pages=1))  # interrupted after the newest page
        got = await drain(ledger.sync([LOAN], since=later))
        assert min(e.ts for e in got) >= later
        cov = await checkpoint(ledger.store, key)
        assert cov.covered == [Span(later, int(loans[0]["ts"]))]
        assert cov.gaps() == [] and not cov.walking  # the gap below `since` is for a sync reaching it
        back = await drain(ledger.sync([LOAN]))
        assert {e.id for e in back} == sim.okx.expected_ids("o", LOAN) - sim.okx.expected_ids("o", LOAN, since=later)
        assert set(await stored(ledger.store, LOAN)) == sim.okx.expected_ids("o", LOAN)
        assert (await checkpoint(ledger.store, key)).covered == [Span(None, int(loans[0]["ts"]))]


async def test_a_walk_run_part_way_under_a_later_since_is_finished_from_there(sim: Simulator) -> None:
    """The same when the run under the later `since` is itself cut short: the pages it read below
    that `since` yielded nothing, so the walk keeps it as its lower edge when a plain sync finishes
    it, and the span below is read by a walk reaching it (found by the long schedule property:
    Binance interest, a consumer failing at page 2, then `since` one day ago capped at one page)."""
    loans = sim.okx.records("o", LOAN)
    later = int(loans[50]["ts"])  # inside the first page: the second page lies wholly below it
    key = FeedKey("okx", "o", LOAN)
    async with Ledger([okx(sim)]) as ledger:
        with pytest.raises(SyncError):
            await drain(ledger.sync([LOAN], max_pages=1))
        with pytest.raises(SyncError):
            assert await drain(ledger.sync([LOAN], since=later, max_pages=1)) == []  # page 2: all below
        await drain(ledger.sync([LOAN]))
        assert set(await stored(ledger.store, LOAN)) == sim.okx.expected_ids("o", LOAN)
        cov = await checkpoint(ledger.store, key)
        assert cov.covered == [Span(None, int(loans[0]["ts"]))] and not cov.walking


async def test_full_re_walks_and_upserts_what_changed(sim: Simulator) -> None:
    """`sync(full=True)` reads every record again, whatever the checkpoint covers, and yields (and
    stores) only what differs from the stored version: here a record the venue corrected."""
    async with Ledger([okx(sim)]) as ledger:
        await drain(ledger.sync([LOAN]))
        old = sim.okx.account("o").book.loan_history[140]
        old.wire["amt"] = "123.456"  # a correction below the floor: no incremental walk reads it
        assert await drain(ledger.sync([LOAN])) == []
        requests = len(sim.log)
        changed = await drain(ledger.sync([LOAN], full=True))
        assert [(e.id, abs(e.amount)) for e in changed] == [(old.key, Decimal("123.456"))]
        assert len(sim.log) - requests > 3  # every page again
        assert (await stored(ledger.store, LOAN))[old.key] == changed[0]
        assert await drain(ledger.sync([LOAN])) == []  # and incremental again after it


# --- case 3: retention gaps on resume ------------------------------------------------------------------


async def test_case_3_resuming_past_the_retention_warns_names_the_span_and_keeps_it(sim: Simulator) -> None:
    """Issue 12 case 3: resuming from a checkpoint older than the venue's retention (OKX interest:
    30 days) lost the records in between without a word; DataGapWarning fired only for `since=`.
    Now the resumed sync warns naming the feed and the span that can no longer be read, counts
    it in the report and keeps it in the checkpoint (`loanledger status` shows it)."""
    client = okx(sim)
    async with Ledger([client]) as ledger:
        await drain(ledger.sync([INTEREST]))
        floor = (await checkpoint(ledger.store, FeedKey("okx", "o", INTEREST))).newest
        sim.skew_ms = 40 * DAY  # 40 days pass at the venue
        now = await client.server_time()  # the client learns the venue's clock
        with pytest.warns(DataGapWarning, match=r"okx.flexible_loan_interest .*keeps only 30 days of records: "
                                                r".* can no longer be read \(resuming from a checkpoint"):
            await drain(ledger.sync([INTEREST]))
        report = ledger.last_report
        assert report is not None and report.ok and report.feeds[0].gaps == 1
        cov = await checkpoint(ledger.store, FeedKey("okx", "o", INTEREST))
        (lost,) = cov.lost
        # lost up to 30 days before the walk's venue clock, read a moment after `now`
        assert lost.lo == floor + 1 and now - 30 * DAY - 120_000 <= lost.hi < now - 30 * DAY + 60_000


@pytest.mark.parametrize("feed_id", sorted(f for f, spec in FEEDS.items()
                                            if spec.retention_ms is not None and spec.venue in ("okx", "bybit")))
async def test_case_3_every_feed_with_a_retention_warns_when_resumed_past_it(sim: Simulator, feed_id: str) -> None:
    """The same for each feed a venue keeps for a limited time: OKX one-click repays (7 days) and
    interest (30 days), Bybit legacy feeds (six months) and INS feeds (two years)."""
    client = okx(sim) if feed_id.startswith("okx.") else bybit(sim)
    async with Ledger([client]) as ledger:
        await drain(ledger.sync([feed_id]))
        retention = FEEDS[feed_id].retention_ms
        assert retention is not None
        sim.skew_ms = retention + 10 * DAY  # the venue's clock moves past the retention
        await client.server_time()
        with pytest.warns(DataGapWarning) as caught:  # (and records still running past it: another gap)
            await drain(ledger.sync([feed_id]))
        said = rf"{feed_id} of account '{client.account}' keeps only {retention // DAY} days of records: .* can no " \
               r"longer be read \(resuming from a checkpoint"
        assert any(re.search(said, str(w.message)) for w in caught), [str(w.message) for w in caught]
        report = ledger.last_report
        assert report is not None and report.ok and report.feeds[0].gaps >= 1
        assert (await checkpoint(ledger.store, FeedKey(client.venue, client.account, feed_id))).lost


async def test_case_3_under_strict_a_retention_gap_fails_the_feed_before_any_request(sim: Simulator) -> None:
    client = okx(sim)
    async with Ledger([client]) as ledger:
        await drain(ledger.sync([INTEREST, LOAN]))
        token = await ledger.store.checkpoint(FeedKey("okx", "o", INTEREST))
        sim.skew_ms = 40 * DAY
        await client.server_time()
        before = len(sim.requests(path="/api/v5/finance/flexible-loan/interest-accrued"))
        with pytest.raises(SyncError) as caught:
            await drain(ledger.sync([INTEREST, LOAN], strict=True))
        (err,) = caught.value.exceptions
        assert isinstance(err, PaginationError) and "keeps only 30 days" in str(err)
        assert set(caught.value.errors) == {FeedKey("okx", "o", INTEREST)}
        assert len(sim.requests(path="/api/v5/finance/flexible-loan/interest-accrued")) == before
        assert await ledger.store.checkpoint(FeedKey("okx", "o", INTEREST)) == token  # nothing moved


# --- case 4: ids of twins --------------------------------------------------------------------------------


def _twins_dataset(sim: Simulator, now: int) -> list[dict[str, Any]]:
    """550 one-click repays in 7 days; at every page boundary of the inclusive ts cursor (100
    records a page) a millisecond holding 3 to 5 repays of one debt currency straddles it, and
    66 more such groups sit inside pages; some twins are still running."""
    records: list[dict[str, Any]] = []
    ts = now - 5 * 60_000
    i = 0
    ccys = ("USDC", "BTC", "ETH", "SOL")
    while len(records) < 550:
        pos = len(records)
        boundary = pos % 100 in (97, 98)
        size = 5 if boundary else (3 if i % 5 == 0 else 1)
        ccy = ccys[i % len(ccys)]
        for k in range(min(size, 550 - pos)):
            running = (i + k) % 17 == 0
            records.append({
                "debtCcy": ccy, "fillDebtSz": "" if running else f"{i}.{k:02d}{(i * 7 + k) % 100:02d}",
                "ordIdInfo": [] if running else [{
                    "cTime": str(ts + 5), "fillPx": "1.0002", "fillSz": f"{k + 1}.5", "instId": "USDT-USDC",
                    "ordId": f"9{i:05d}{k}", "ordType": "ioc", "px": "1.0002", "side": "sell", "state": "filled",
                    "sz": f"{k + 1}.5"}] if ccy == "USDC" else [],
                "repayCcyList": [ccy, "USDT"], "status": "running" if running else "filled", "ts": str(ts)})
        ts -= 1000 + i % 7
        i += 1
    return records


async def test_case_4_one_click_twins_at_page_boundaries_are_each_one_event(sim: Simulator) -> None:
    """Issue 12 case 4: OKX one-click repay ids `<ts>:<debtCcy>` merged distinct records: where
    several repays of one debt currency share a millisecond, all but one vanished, silently (110
    of 550 reachable records on such a dataset). Now the n-th record sharing both gets `#n`,
    counted within each page in the venue's order, which the inclusive `after=<ts>` cursor makes
    the same on every page holding it: every record is one event, whatever the page boundaries."""
    book = sim.okx.account("o").book
    book.one_click = []
    records = _twins_dataset(sim, sim.now_ms())
    sim.okx.add_records("o", REPAY, records)
    expected = sim.okx.expected_ids("o", REPAY)
    assert len([i for i in expected if ":" in i]) == 550  # ids the simulator derives: 550 repays
    async with Ledger([okx(sim)]) as ledger:
        events = await drain(ledger.sync([REPAY]))
        repays = [e for e in events if e.parent_id is None]
        assert len(repays) == 550 and len({e.id for e in events}) == len(events)
        assert {e.id for e in events} == expected
        twins = [e.id for e in repays if "#" in e.id]
        assert len(twins) > 110
        # each event carries its own record's values (its size, not a twin's)
        assert sorted(str(abs(e.amount)) for e in repays if e.amount) == sorted(
            r["fillDebtSz"] for r in records if r["fillDebtSz"])
        assert len(sim.requests(path="/api/v5/trade/one-click-repay-history-v2")) >= 6
        # again: nothing new, nothing changed
        assert await drain(ledger.sync([REPAY])) == []
        # the running twins settle: exactly those change, under their own ids
        running = {e.id for e in repays if e.status.value == "pending"}
        assert running
        for r in book.one_click:
            if r.wire["status"] == "running":
                r.wire["status"], r.wire["fillDebtSz"] = "filled", "77.5"
        settled = await drain(ledger.sync([REPAY]))
        assert {e.id for e in settled} == running and all(e.amount == Decimal("-77.5") for e in settled)
        assert set(await stored(ledger.store, REPAY)) == expected


async def test_twins_get_the_same_ids_on_every_page_boundary_of_a_split_walk(sim: Simulator) -> None:
    """The walk interrupted after each page and resumed from its checkpoint yields every record
    exactly once under the ids of an uninterrupted walk."""
    sim.okx.account("o").book.one_click = []
    sim.okx.add_records("o", REPAY, _twins_dataset(sim, sim.now_ms()))
    async with okx(sim) as client:
        whole = await client.one_click_repay_history().collect()
        seen: list[LoanEvent] = []
        token = None
        while True:
            feed = client.one_click_repay_history(resume=token)
            pages = feed.pages()
            page = await anext(pages, None)
            await pages.aclose()
            if page is None:
                break
            seen += page.events
            token = page.checkpoint
            if page.complete:
                break
    assert sorted(e.id for e in seen) == sorted(e.id for e in whole)
    assert {e.id: e for e in seen} == {e.id: e for e in whole}


async def test_a_twin_arriving_first_in_the_newest_millisecond_is_read_whole_again(sim: Simulator) -> None:
    """A repay of the same debt currency arriving later in the newest millisecond walked, placed
    first by the venue, renumbers that millisecond's twins: the next sync reads the millisecond
    again whole (`positional_ids`), and the store equals a fresh sync's."""
    async with Ledger([okx(sim)]) as ledger:
        await drain(ledger.sync([REPAY]))
        book = sim.okx.account("o").book
        newest = book.one_click[0]
        twin = copy.deepcopy(newest.wire)
        twin["fillDebtSz"], twin["status"], twin["ordIdInfo"] = "5.25", "filled", []
        sim.okx.add_records("o", REPAY, [twin])
        book.one_click.insert(0, book.one_click.pop(book.one_click.index(
            next(r for r in book.one_click if r.wire is not newest.wire and r.ts == newest.ts
                 and r.wire["debtCcy"] == newest.wire["debtCcy"] and r.wire.get("fillDebtSz") == "5.25"))))
        await drain(ledger.sync([REPAY]))
        fresh = MemoryStore()
        async with Ledger([okx(sim)], store=fresh) as again:
            await drain(again.sync([REPAY]))
        assert await stored(ledger.store, REPAY) == await stored(fresh, REPAY)
        assert set(await stored(fresh, REPAY)) == sim.okx.expected_ids("o", REPAY)


# --- case 5: read again until final ---------------------------------------------------------------------


async def test_case_5_a_fixed_contract_repaid_after_it_was_stored_is_read_again(sim: Simulator) -> None:
    """Issue 12 case 5: a record the venue changes after it was stored as `done` was never read
    again, so two ledgers of one account differed by when they were synced: after
    `repay_fixed(loan_id=...)` an incrementally synced store kept the contract at status 3 and
    its residual principal while a fresh sync had status 2 and 0. Now a fixed contract is final
    only once fully repaid: every sync reads the open ones again."""
    contracts = sim.bybit.account("y").book.feeds[CONTRACTS]
    open_one = next(r for r in contracts if r.wire["status"] == 3 and r.wire["residualPrincipal"] != "0")
    client = bybit(sim)
    async with Ledger([client]) as ledger:
        await drain(ledger.sync([CONTRACTS]))
        before = await stored(ledger.store, CONTRACTS)
        penalty = f"{open_one.key}:penalty"  # the overdue penalty owed, booked onto the debt
        assert before[open_one.key].venue_type == before[penalty].venue_type == "3"
        assert before[penalty].debt == Decimal(open_one.wire["residualPenaltyInterest"])
        cov = await checkpoint(ledger.store, FeedKey("bybit", "y", CONTRACTS))
        assert cov.pending == sum(1 for r in contracts if r.wire["status"] != 2)  # the open contracts
        await client.repay_fixed(loan_id=open_one.key)
        changed = await drain(ledger.sync([CONTRACTS]))
        assert {(e.id, e.venue_type) for e in changed} == {(open_one.key, "2"), (penalty, "2")}
        assert next(e for e in changed if e.id == penalty).debt == 0  # settled by the repay
        fresh = MemoryStore()
        async with Ledger([bybit(sim)], store=fresh) as again:
            await drain(again.sync([CONTRACTS]))
        assert await stored(ledger.store, CONTRACTS) == await stored(fresh, CONTRACTS)
        cov = await checkpoint(ledger.store, FeedKey("bybit", "y", CONTRACTS))
        assert cov.pending == sum(1 for r in contracts if r.wire["status"] != 2)


# --- the options every feed takes, on the ledger ------------------------------------------------------------


async def test_ledger_filters_are_per_feed_checked_before_any_request_and_bound_to_the_checkpoint(
        sim: Simulator) -> None:
    async with Ledger([okx(sim)]) as ledger:
        for bad, match in (({"okx.nope": {"currency": "USDT"}}, "filters: 'okx.nope' is not a selected feed"),
                           ({INTEREST: {"currency": "usdt"}}, "currency"),
                           ({INTEREST: {"ccy": "USDT"}}, "ccy: not a filter of okx.flexible_loan_interest"),
                           ({LOAN: {"type": "bogus"}}, "type: 'bogus' is not one of")):
            with pytest.raises(ValueError, match=match):
                ledger.sync([INTEREST, LOAN], filters=bad)
        with pytest.raises(TypeError, match="filters"):
            ledger.sync(filters=[("currency", "USDT")])  # type: ignore[arg-type]
        for kwargs, match in (({"max_pages": 0}, "max_pages"), ({"strict": "yes"}, "strict"),
                              ({"full": 1}, "full"), ({"since": 5, "until": 4}, "since")):
            with pytest.raises((ValueError, TypeError), match=match):
                ledger.sync(**kwargs)  # type: ignore[arg-type]
        assert sim.log == []
        got = await drain(ledger.sync([INTEREST], filters={INTEREST: {"currency": "USDC"}}))
        assert got and {e.currency for e in got} == {"USDC"}
        assert {e.id for e in got} == {r["refId"] for r in sim.okx.records("o", INTEREST) if r["ccy"] == "USDC"}
        requests = len(sim.log)
        # the feed's checkpoint belongs to its filters: another selection is refused before any request
        with pytest.raises(ValueError, match="made with filters 'ccy=USDC', not 'none'"):
            await drain(ledger.sync([INTEREST]))
        with pytest.raises(ValueError, match="made with filters 'ccy=USDC', not 'ccy=BTC'"):
            await drain(ledger.sync([INTEREST], filters={"okx:o:okx.flexible_loan_interest": {"currency": "BTC"}}))
        assert len(sim.log) == requests
        # full=True walks it again with the new selection (a new checkpoint)
        rest = await drain(ledger.sync([INTEREST], full=True))
        assert {e.id for e in rest} == sim.okx.expected_ids("o", INTEREST) - {e.id for e in got}
        cov = await checkpoint(ledger.store, FeedKey("okx", "o", INTEREST))
        assert cov.filters == "" and cov.covered


async def test_ledger_max_pages_and_until(sim: Simulator) -> None:
    loans = sim.okx.records("o", LOAN)
    async with Ledger([okx(sim)]) as ledger:
        with pytest.raises(SyncError) as caught:
            await drain(ledger.sync([LOAN], max_pages=1))
        assert isinstance(caught.value.exceptions[0], PaginationError)
        # the committed page stays (less a liquidation episode's legs the decoder holds for the
        # next page, when the page ends inside one); the next sync resumes
        first = await stored(ledger.store, LOAN)
        assert 0 < len(first) <= 100 and set(first) <= sim.okx.expected_ids("o", LOAN, since=int(loans[99]["ts"]))
        until = int(loans[100]["ts"])
        await drain(ledger.sync([LOAN], until=until))
        assert set(await stored(ledger.store, LOAN)) == sim.okx.expected_ids("o", LOAN)  # finished the walk first
        assert (await checkpoint(ledger.store, FeedKey("okx", "o", LOAN))).covered == [
            Span(None, int(loans[0]["ts"]))]


async def test_merged_raises_sync_error_after_merging_the_healthy_feeds(sim: Simulator) -> None:
    async with Ledger([okx(sim), okx(sim, passphrase="bad", account="x")]) as ledger:
        got: list[LoanEvent] = []
        with pytest.raises(SyncError) as caught:
            async for ev in ledger.merged([LOAN, CONVERT]):
                got.append(ev)
        assert [e.ts for e in got] == sorted((e.ts for e in got), reverse=True)
        assert len(got) == sum(len(sim.okx.expected_ids("o", f)) for f in (LOAN, CONVERT))
        assert {k.account for k in caught.value.errors} == {"x"}


async def test_follow_polls_through_transient_failures_and_raises_on_a_permanent_one(sim: Simulator) -> None:
    client = okx(sim)
    async with Ledger([client]) as ledger:
        # the venue unavailable for the first rounds (no retries within a round)
        sim.faults.force("5xx", path="/api/v5/asset/convert/history", count=3)
        client.transport.retry = RetryPolicy(max_attempts=1)
        stream = ledger.follow(0.05, [CONVERT, LOAN])
        got: list[LoanEvent] = []
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataGapWarning)
            async for ev in stream:
                got.append(ev)
                if len(got) == len(sim.okx.expected_ids("o", CONVERT)) + len(sim.okx.expected_ids("o", LOAN)):
                    break
        report = ledger.last_report
        assert report is not None
        convert = next(f for f in report.feeds if f.key.feed == CONVERT)
        assert convert.failures >= 1  # counted, logged, polled on
        await stream.aclose()
        # a permanent failure (the key revoked) raises after its round
        acct = sim.okx.account("o")
        acct.passphrase = "revoked"
        with pytest.raises(SyncError) as caught:
            async for _ in ledger.follow(0.05, [CONVERT]):
                pass
        assert isinstance(caught.value.exceptions[0], AuthError)


@pytest.mark.parametrize(("fault", "error"), [
    ("rate", "RateLimited"),  # the venue's rate-limit answer
    ("5xx", "VenueUnavailable"),
    ("reset", "ConnectError"),  # the connection dropped before an answer
])
async def test_follow_logs_counts_and_polls_on_through_each_transient_failure(
    sim: Simulator, caplog: pytest.LogCaptureFixture, fault: str, error: str,
) -> None:
    client = okx(sim)
    client.transport.retry = RetryPolicy(max_attempts=1)  # no retry within a round: the round fails
    want = len(sim.okx.expected_ids("o", CONVERT)) + len(sim.okx.expected_ids("o", LOAN))
    async with Ledger([client]) as ledger:
        sim.faults.force(fault, path="/api/v5/asset/convert/history", count=2)  # fails two rounds
        stream = ledger.follow(0.02, [CONVERT, LOAN])
        got: list[LoanEvent] = []
        with caplog.at_level(logging.WARNING, logger="loanledger.ledger"):
            async for ev in stream:
                got.append(ev)
                if len(got) == want:
                    break
            await stream.aclose()
        assert {(e.feed, e.id) for e in got} == {
            (f, i) for f in (CONVERT, LOAN) for i in sim.okx.expected_ids("o", f)}
        report = ledger.last_report
        assert report is not None
        (failures,) = [f.failures for f in report.feeds if f.key.feed == CONVERT]
        # each failed round counted and logged (a dropped connection may be re-sent once by aiohttp)
        assert failures == 2 or (fault == "reset" and failures >= 1)
        lines = [r.getMessage() for r in caplog.records if r.name == "loanledger.ledger"]
        assert len(lines) == failures
        assert all(f"okx/o/{CONVERT} failed" in m and error in m and "polling on" in m for m in lines)


class _FailingStore(MemoryStore):
    """A store whose disk fills after its first `ok` pages."""

    def __init__(self, ok: int) -> None:
        super().__init__()
        self.ok = ok

    async def commit_page(self, key: FeedKey, events: Any, checkpoint: str, *, expected: str | None) -> Any:
        if self.ok <= 0:
            raise StoreError("database or disk is full")
        self.ok -= 1
        return await super().commit_page(key, events, checkpoint, expected=expected)


@pytest.mark.parametrize("permanent", ["auth", "bad request", "store"])
async def test_follow_raises_on_each_permanent_failure(sim: Simulator, permanent: str) -> None:
    client = okx(sim)
    store = _FailingStore(ok=1 if permanent == "store" else 10_000)
    async with Ledger([client], store=store) as ledger:
        if permanent == "auth":
            sim.okx.account("o").passphrase = "revoked"
        elif permanent == "bad request":
            sim.faults.force_body(b'{"code":"51000","msg":"Parameter ccy error","data":[]}',
                                  path="/api/v5/asset/convert/history")
        yielded = 0
        with pytest.raises(SyncError) as caught:
            async for _ in ledger.follow(0.02, [CONVERT]):
                yielded += 1
        err = caught.value
        expected = {"auth": AuthError, "bad request": BadRequest, "store": StoreError}[permanent]
        assert [type(e) for e in err.exceptions] == [expected]
        assert err.report is ledger.last_report and err.report.feeds[0].failures == 1
        # raised in the first round, after what was committed (the store: its first page) was yielded
        assert yielded == err.report.feeds[0].events and (yielded > 0) == (permanent == "store")


# --- checkpoints of format 1 ---------------------------------------------------------------------------


def _v1(token: str) -> str:
    """A format-2 token written as loanledger 0.1/0.2 did (format 1: no coverage, no lost spans)."""
    import base64

    raw = msgspec.json.decode(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw["v"] = 1
    for k in ("cov", "lost", "at"):
        raw.pop(k)
    if raw["walk"] is not None:
        raw["walk"].pop("full")
        raw["walk"].pop("seen")
        raw["walk"].pop("until")
    return base64.urlsafe_b64encode(msgspec.json.encode(raw)).decode().rstrip("=")


async def test_a_format_1_checkpoint_resumes_and_an_unknown_format_fails_clearly(sim: Simulator) -> None:
    async with okx(sim) as client:
        first = client.flexible_loan_history()
        await first.collect()
        assert first.checkpoint is not None
        old = _v1(first.checkpoint)
        sim.okx.grow("o", seed=4, n=3)
        again = await client.flexible_loan_history(resume=old).collect()
        assert {e.id for e in again} == {r["refId"] for r in sim.okx.records("o", LOAN)[:3]}
        # mid-walk too
        pages = client.flexible_loan_history().pages()
        page = await anext(pages)
        await pages.aclose()
        rest = await client.flexible_loan_history(resume=_v1(page.checkpoint)).collect()
        assert len(rest) + len(page.events) == len(sim.okx.expected_ids("o", LOAN))
        import base64

        future = base64.urlsafe_b64encode(msgspec.json.encode({"v": 9, "feed": LOAN})).decode()
        with pytest.raises(ValueError, match="resume: unsupported checkpoint format 9"):
            client.flexible_loan_history(resume=future)
