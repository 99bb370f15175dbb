"""The Store contract, against every backend (memory, SQLite, PostgreSQL): idempotent upserts,
exact decimals, checkpoint compare-and-set (also between two writers racing), queries, the
three books' balances, read-only handles."""

from __future__ import annotations

import asyncio
import random
import time
from decimal import Decimal

import msgspec
import pytest
from store_support import Backend

from loanledger import (
    Balance,
    BalanceKey,
    CheckpointConflict,
    EventKind,
    EventStatus,
    FeedKey,
    FeedState,
    InvalidArgument,
    LoanEvent,
    Store,
    StoreError,
)
from loanledger._money import exact_sum

KEY = FeedKey("okx", "main", "okx.one_click_repay_history")
T0 = 1_742_194_481_852


def ev(id: str, ts: int, amount: str, **kw: object) -> LoanEvent:
    """An OKX one-click repay record as the normalizer makes it (USDC debt repaid)."""
    base: dict[str, object] = dict(
        venue="okx", account="main", feed="okx.one_click_repay_history", id=id, kind=EventKind.REPAY,
        status=EventStatus.DONE, ts=ts, currency="USDC", amount=Decimal(amount), venue_type="filled",
    )
    base.update(kw)
    return LoanEvent(**base)  # type: ignore[arg-type]


async def all_events(store: Store, **filters: object) -> list[LoanEvent]:
    return [e async for e in store.events(**filters)]  # type: ignore[arg-type]


# --- lifecycle -------------------------------------------------------------------------


async def test_open_is_idempotent_and_a_reopened_store_has_the_data(backend: Backend) -> None:
    first = backend.store()
    assert isinstance(first, Store) and first.read_only is False
    await first.open()
    await first.open()
    await first.commit_page(KEY, [ev("a", T0, "-1")], "t1", expected=None)
    await first.close()
    again = backend.store()
    async with again:  # type: ignore[attr-defined]
        assert [e.id for e in await all_events(again)] == ["a"]
        assert await again.checkpoint(KEY) == "t1"


# --- exact amounts -----------------------------------------------------------------------


async def test_amounts_round_trip_with_their_digits_and_exponent_and_sum_exactly(store: Store) -> None:
    amounts = ["12345678901234567890.123456789012345678", "-0.000000000000000001", "0.10", "-0.1",
               "0E-18", "98765432109876543210987654321", "1.000000000000000000", "-7.5E-30"]
    events = [ev(f"r{i}", T0 + i, a, debt=Decimal(a), collateral=Decimal(a)) for i, a in enumerate(amounts)]
    await store.commit_page(KEY, events, "t1", expected=None)
    back = await all_events(store)
    assert [e.amount.as_tuple() for e in back] == [Decimal(a).as_tuple() for a in amounts]  # digits + exponent
    assert [e.debt.as_tuple() for e in back] == [e.collateral.as_tuple() for e in back] == [
        Decimal(a).as_tuple() for a in amounts]
    assert back == events
    books = (await store.balances())[BalanceKey("okx", "main", "USDC")]
    assert books.wallet == exact_sum(Decimal(a) for a in amounts)
    assert str(books.wallet) == "98765432122222222112222222212.1234567890123456769999999999925"
    assert books.debt == books.collateral == books.wallet
    assert sum((Decimal(a) for a in amounts), Decimal(0)) != books.wallet  # the default context rounds here


async def test_notation_numeric_cannot_keep_is_equal_and_never_reported_changed(backend: Backend, store: Store) -> None:
    """NUMERIC has no positive exponent and no negative zero: PostgreSQL returns 1E+2 as 100
    and -0 as 0. Equal values, and change detection compares values: nothing is re-yielded."""
    given = ["1E+2", "-0", "2.50E+3", "0E+2"]
    events = [ev(f"n{i}", T0 + i, a) for i, a in enumerate(given)]
    assert await store.commit_page(KEY, events, "t1", expected=None) == events
    back = await all_events(store)
    assert [e.amount for e in back] == [Decimal(a) for a in given]
    if backend.keeps_notation:
        assert [e.amount.as_tuple() for e in back] == [Decimal(a).as_tuple() for a in given]
    else:
        assert [str(e.amount) for e in back] == ["100", "0", "2500", "0"]
    assert await store.commit_page(KEY, events, "t2", expected="t1") == []
    plain = [msgspec.structs.replace(e, amount=Decimal(s)) for e, s in zip(events, ["100", "0", "2500", "0"])]
    assert await store.commit_page(KEY, plain, "t3", expected="t2") == []
    assert await store.commit_page(KEY, back, "t4", expected="t3") == []


# --- upserts -----------------------------------------------------------------------------


async def test_upsert_returns_only_new_or_changed_and_pending_settles(store: Store) -> None:
    running = ev("1742194481852:USDC", 1742194481852, "-9.0", debt=Decimal("-9.0"),
                 status=EventStatus.PENDING, venue_type="running")
    other = ev("1742192217511:USDC", 1742192217511, "-100", debt=Decimal("-100"))
    assert await store.commit_page(KEY, [running, other], "t1", expected=None) == [running, other]
    assert await store.commit_page(KEY, [running, other], "t2", expected="t1") == []  # nothing new
    filled = msgspec.structs.replace(running, status=EventStatus.DONE, amount=Decimal("-9.079631989"),
                                     debt=Decimal("-9.079631989"), venue_type="filled")
    assert await store.commit_page(KEY, [filled, other], "t3", expected="t2") == [filled]
    stored = await all_events(store)
    assert len(stored) == 2 and filled in stored and running not in stored
    assert await store.checkpoint(KEY) == "t3"
    # any one field changing is a change (here the debt book alone)
    fixed = msgspec.structs.replace(other, debt=Decimal("-100.5"))
    assert await store.commit_page(KEY, [fixed], "t4", expected="t3") == [fixed]
    assert fixed in await all_events(store)


async def test_changed_reads_what_a_commit_would_report_and_writes_nothing(store: Store) -> None:
    running = ev("1742194481852:USDC", 1742194481852, "-9.0", status=EventStatus.PENDING, venue_type="running")
    other = ev("1742192217511:USDC", 1742192217511, "-100")
    assert await store.changed(KEY, [running, other]) == [running, other]
    assert await all_events(store) == [] and await store.checkpoint(KEY) is None  # a read only
    await store.commit_page(KEY, [running, other], "t1", expected=None)
    filled = msgspec.structs.replace(running, status=EventStatus.DONE, venue_type="filled")
    assert await store.changed(KEY, [filled, other]) == [filled]
    assert await store.commit_page(KEY, [filled, other], "t2", expected="t1") == [filled]
    assert await store.changed(KEY, [filled, other]) == []


async def test_an_id_repeated_within_a_page_is_stored_once(store: Store) -> None:
    a1 = ev("a", T0, "-1")
    a2 = ev("a", T0, "-2")
    assert await store.commit_page(KEY, [a1, a2, ev("b", T0 + 1, "-3")], "t1", expected=None) == [a1, ev("b", T0 + 1, "-3")]
    assert [(e.id, e.amount) for e in await all_events(store)] == [("a", Decimal("-1")), ("b", Decimal("-3"))]


async def test_an_empty_page_moves_the_checkpoint(store: Store) -> None:
    assert await store.commit_page(KEY, [], "t1", expected=None) == []
    assert await store.checkpoint(KEY) == "t1"
    assert await store.feeds() == [KEY]
    assert await all_events(store) == []


async def test_raw_is_kept_and_not_erased_by_a_later_write_without_it(store: Store) -> None:
    raw = msgspec.Raw(b'{"debtCcy":"USDC","fillDebtSz":"9.079631989","status":"filled","extra":1}')
    await store.commit_page(KEY, [ev("a", T0, "-1", raw=raw)], "t1", expected=None)
    failed = ev("a", T0, "-1", status=EventStatus.FAILED)
    assert await store.commit_page(KEY, [failed], "t2", expected="t1") == [failed]
    (back,) = await all_events(store)
    assert back.status is EventStatus.FAILED and back.raw is not None and bytes(back.raw) == bytes(raw)
    # the same event without raw again: unchanged; with other raw bytes: changed, and replaced
    assert await store.commit_page(KEY, [failed], "t3", expected="t2") == []
    raw2 = msgspec.Raw(b'{"debtCcy":"USDC","fillDebtSz":"9.079631989","status":"failed"}')
    refetched = msgspec.structs.replace(failed, raw=raw2)
    assert await store.commit_page(KEY, [refetched], "t4", expected="t3") == [refetched]
    (back,) = await all_events(store)
    assert back.raw is not None and bytes(back.raw) == bytes(raw2)


# --- checkpoints -------------------------------------------------------------------------


async def test_checkpoint_compare_and_set_refuses_and_writes_nothing(store: Store) -> None:
    with pytest.raises(CheckpointConflict):  # first page, but the writer thinks it resumes
        await store.commit_page(KEY, [ev("z", T0, "-1")], "t0", expected="t-1")
    assert await store.checkpoint(KEY) is None and await store.feeds() == []
    await store.commit_page(KEY, [ev("a", T0, "-1")], "t1", expected=None)
    with pytest.raises(CheckpointConflict, match="okx/main/okx.one_click_repay_history"):
        await store.commit_page(KEY, [ev("b", T0 + 1, "-1")], "t2", expected="stale")
    with pytest.raises(CheckpointConflict):  # a second "first page"
        await store.commit_page(KEY, [ev("c", T0 + 2, "-1")], "t2", expected=None)
    with pytest.raises(CheckpointConflict):  # a conflict never half-writes, even an update
        await store.commit_page(KEY, [ev("a", T0, "-5")], "t2", expected="stale")
    assert [(e.id, e.amount) for e in await all_events(store)] == [("a", Decimal("-1"))]
    assert await store.checkpoint(KEY) == "t1"
    other = FeedKey("okx", "main", "okx.convert_history")  # checkpoints are per feed
    assert await store.checkpoint(other) is None


async def test_feed_states_list_each_checkpoint_with_the_time_of_its_last_commit(store: Store) -> None:
    """`feed_states()`: what `loanledger status` reads: every feed with a checkpoint, in key order,
    its token and when its last page was committed (the store's clock, ms UTC), a conflict or
    another feed's commit moving nothing."""
    assert await store.feed_states() == []
    other = FeedKey("okx", "main", "okx.convert_history")
    before = time.time_ns() // 1_000_000
    await store.commit_page(KEY, [ev("a", T0, "-1")], "t1", expected=None)
    await asyncio.sleep(0.01)
    await store.commit_page(other, [], "c1", expected=None)
    after = time.time_ns() // 1_000_000
    states = await store.feed_states()
    assert [(s.key, s.checkpoint) for s in states] == [(other, "c1"), (KEY, "t1")]  # key order
    assert [s.key for s in states] == await store.feeds()
    first_at = {s.key: s.updated_at for s in states}
    assert all(before <= t <= after for t in first_at.values()) and first_at[other] > first_at[KEY]
    with pytest.raises(CheckpointConflict):
        await store.commit_page(KEY, [ev("b", T0 + 1, "-1")], "t2", expected="stale")
    assert [(s.key, s.checkpoint, s.updated_at) for s in await store.feed_states()] == [
        (k, t, first_at[k]) for k, t in ((other, "c1"), (KEY, "t1"))]
    await asyncio.sleep(0.01)
    await store.commit_page(KEY, [], "t2", expected="t1")  # an empty page moves it too
    moved = {s.key: s for s in await store.feed_states()}
    assert moved[KEY].checkpoint == "t2" and moved[KEY].updated_at > first_at[KEY]
    assert moved[other].updated_at == first_at[other]
    assert isinstance(moved[KEY], FeedState)


async def test_bad_pages_are_refused_before_anything_is_written(store: Store) -> None:
    alien = ev("x", T0, "1", feed="okx.convert_history")
    with pytest.raises(ValueError, match="events: event 'x' belongs to okx/main/okx.convert_history"):
        await store.commit_page(KEY, [ev("a", T0, "1"), alien], "t1", expected=None)
    with pytest.raises(ValueError, match="events"):
        await store.commit_page(KEY, [ev("y", T0, "1", account="other")], "t1", expected=None)
    with pytest.raises(TypeError, match="checkpoint"):
        await store.commit_page(KEY, [ev("a", T0, "1")], 7, expected=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="events"):
        await store.commit_page(KEY, [{"id": "a"}], "t1", expected=None)  # type: ignore[list-item]
    assert await store.checkpoint(KEY) is None and await all_events(store) == []


async def test_concurrent_feeds_commit_through_one_store(store: Store) -> None:
    keys = [FeedKey("okx", "main", f"okx.feed{i}") for i in range(8)]

    async def writer(key: FeedKey) -> None:
        token = None
        for page in range(5):
            evs = [ev(f"{key.feed}:{page}:{j}", T0 + page * 10 + j, "-1", feed=key.feed) for j in range(20)]
            new = f"{key.feed}:{page}"
            assert len(await store.commit_page(key, evs, new, expected=token)) == 20
            token = new

    await asyncio.gather(*(writer(k) for k in keys))
    assert len(await all_events(store)) == 8 * 5 * 20
    assert [await store.checkpoint(k) for k in keys] == [f"{k.feed}:4" for k in keys]
    assert await store.feeds() == sorted(keys)


async def test_two_writers_racing_one_expected_token_one_wins_the_other_wrote_nothing(backend: Backend) -> None:
    """Two handles (two connections, for SQLite and PostgreSQL) commit the same feed with the
    same expected token at the same moment, round after round, the first page included:
    exactly one wins; the other gets CheckpointConflict and none of its events are stored."""
    a, b = backend.store(), backend.store()
    await a.open()
    await b.open()
    try:
        token: str | None = None
        wins = {"a": 0, "b": 0}
        for rnd in range(12):
            pages = {
                name: [ev(f"{name}{rnd}:{j}", T0 + rnd * 100 + j, "-1", ref_id=name) for j in range(30)]
                for name in ("a", "b")
            }
            results = await asyncio.gather(
                a.commit_page(KEY, pages["a"], f"a{rnd}", expected=token),
                b.commit_page(KEY, pages["b"], f"b{rnd}", expected=token),
                return_exceptions=True,
            )
            outcome = dict(zip("ab", results))
            winners = [n for n, r in outcome.items() if isinstance(r, list)]
            losers = [n for n, r in outcome.items() if isinstance(r, CheckpointConflict)]
            assert len(winners) == 1 and len(losers) == 1, outcome
            (w,), (lo,) = winners, losers
            wins[w] += 1
            token = f"{w}{rnd}"
            assert await a.checkpoint(KEY) == token and await b.checkpoint(KEY) == token
            stored = {e.id for e in await all_events(b)}
            assert {e.id for e in pages[w]} <= stored
            assert not {e.id for e in pages[lo]} & stored, "the loser wrote events"
        assert len(await all_events(a)) == 12 * 30
    finally:
        await a.close()
        await b.close()


async def test_a_commit_cancelled_at_any_moment_is_whole_or_absent(backend: Backend, store: Store) -> None:
    """A sync task cancelled mid-commit (Ctrl-C, a worker shutting down): the page and its
    checkpoint are stored together or not at all, CancelledError propagates, and the store
    takes the next page."""
    rng = random.Random(5)
    loop = asyncio.get_running_loop()
    # one whole commit first: the cancels then land anywhere within the time a commit takes on
    # this machine now (a loaded machine's commit may take far longer than an idle one's)
    started = loop.time()
    first = [ev(f"p0:{j}", T0 + j, "-1") for j in range(40)]
    await store.commit_page(KEY, first, "t0", expected=None)
    span = max(loop.time() - started, 0.001)
    token: str | None = "t0"
    stored: set[str] = {e.id for e in first}
    outcomes: list[bool] = []
    for i in range(1, 31):
        page = [ev(f"p{i}:{j}", T0 + i * 100 + j, "-1") for j in range(40)]
        task = asyncio.create_task(store.commit_page(KEY, page, f"t{i}", expected=token))
        await asyncio.sleep(rng.uniform(0, 1.5 * span))
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        now = await store.checkpoint(KEY)
        ids = {e.id for e in await all_events(store)}
        outcomes.append(now == f"t{i}")
        if now == f"t{i}":
            assert ids == stored | {e.id for e in page}
            token = now
            stored = ids
        else:
            assert now == token and ids == stored, f"round {i}: a partial page"
    if backend.separate_writers:  # a database round trip: both outcomes happen (memory commits at once)
        assert any(outcomes) and not all(outcomes), outcomes
    final = [ev("last", T0 + 99_999, "-1")]
    assert await store.commit_page(KEY, final, "final", expected=token) == final


# --- queries -----------------------------------------------------------------------------


async def test_queries_filter_and_order(store: Store) -> None:
    k2 = FeedKey("bybit", "b", "bybit.flexible_borrow_history")
    await store.commit_page(KEY, [ev("a", 10, "-1"), ev("b", 30, "-2", currency="BTC")], "t", expected=None)
    borrow = LoanEvent(venue="bybit", account="b", feed=k2.feed, id="1363", kind=EventKind.BORROW,
                       status=EventStatus.DONE, ts=20, currency="BTC", amount=Decimal("0.1"), debt=Decimal("0.1"))
    await store.commit_page(k2, [borrow], "u", expected=None)
    assert [e.id for e in await all_events(store)] == ["a", "1363", "b"]
    assert [e.id for e in await all_events(store, descending=True)] == ["b", "1363", "a"]
    assert [e.id for e in await all_events(store, currency="BTC")] == ["1363", "b"]
    assert [e.id for e in await all_events(store, kind="borrow")] == ["1363"]
    assert [e.id for e in await all_events(store, kind=EventKind.REPAY)] == ["a", "b"]
    assert [e.id for e in await all_events(store, venue="okx", since=11, until=30)] == ["b"]
    assert [e.id for e in await all_events(store, since=10, until=10)] == ["a"]  # both ends inclusive
    assert [e.id for e in await all_events(store, account="b")] == ["1363"]
    assert [e.id for e in await all_events(store, feed=k2.feed, account="main")] == []
    assert await store.feeds() == [k2, KEY]
    assert await store.summary() == [
        ("bybit", "b", "bybit.flexible_borrow_history", "borrow", 1),
        ("okx", "main", "okx.one_click_repay_history", "repay", 2),
    ]
    with pytest.raises(ValueError, match="kind: unknown kind 'bogus'"):
        await all_events(store, kind="bogus")
    with pytest.raises(TypeError, match="since"):
        await all_events(store, since="2024-01-01")


async def test_ties_in_ts_order_by_venue_account_feed_then_id_in_code_point_order(store: Store) -> None:
    """Same ts: venue, account, feed ascend in code-point order (never the locale's), id follows
    the direction. PostgreSQL's text columns use the "C" collation for this."""
    labels = ["Zeta", "alpha", "élan", "Beta"]
    for label in labels:
        key = FeedKey("okx", label, KEY.feed)
        await store.commit_page(key, [ev(i, 500, "-1", account=label) for i in ("2", "10", "B", "a")], "t",
                                expected=None)
    got = [(e.account, e.id) for e in await all_events(store)]
    assert got == [(label, i) for label in sorted(labels) for i in sorted(["2", "10", "B", "a"])]
    down = [(e.account, e.id) for e in await all_events(store, descending=True)]
    assert down == [(label, i) for label in sorted(labels) for i in sorted(["2", "10", "B", "a"], reverse=True)]
    assert [k.account for k in await store.feeds()] == sorted(labels)
    assert [s[1] for s in await store.summary()] == sorted(labels)


# --- balances ----------------------------------------------------------------------------


async def test_balances_count_counter_legs_and_skip_failed_and_pending(store: Store) -> None:
    legs = [
        ev("p", 100, "-9.079631989", debt=Decimal("-9.079631989")),
        ev("p:1", 101, "9.088651", kind=EventKind.CONVERT, counter_currency="USDT",
           counter_amount=Decimal("-9.088651"), parent_id="p"),
        ev("f", 102, "-5", debt=Decimal("-5"), status=EventStatus.FAILED),
        ev("q", 103, "-7", debt=Decimal("-7"), status=EventStatus.PENDING),
    ]
    await store.commit_page(KEY, legs, "t", expected=None)
    usdc, usdt = BalanceKey("okx", "main", "USDC"), BalanceKey("okx", "main", "USDT")
    assert await store.balances() == {
        usdc: Balance(wallet=Decimal("0.009019011"), debt=Decimal("-9.079631989")),
        usdt: Balance(wallet=Decimal("-9.088651")),
    }
    with_pending = await store.balances(include_pending=True)
    assert with_pending[usdc] == Balance(wallet=Decimal("-6.990980989"), debt=Decimal("-16.079631989"))
    assert with_pending[usdt] == Balance(wallet=Decimal("-9.088651"))
    assert await store.balances(until=100) == {usdc: Balance(wallet=Decimal("-9.079631989"),
                                                             debt=Decimal("-9.079631989"))}
    assert await store.balances(until=99) == {}
    # currency= selects the key: the USDT leg booked on a USDC event counts for USDT
    assert await store.balances(currency="USDT") == {usdt: Balance(wallet=Decimal("-9.088651"))}
    assert list(await store.balances(currency="USDC")) == [usdc]


async def test_balances_are_per_venue_an_account_label_shared_by_two_venues_never_merges(store: Store) -> None:
    okx = FeedKey("okx", "main", "okx.flexible_loan_history")
    bybit = FeedKey("bybit", "main", "bybit.flexible_borrow_history")
    await store.commit_page(okx, [ev("o1", T0, "100", feed=okx.feed, kind=EventKind.BORROW, currency="USDT",
                                     debt=Decimal("100"), venue_type="borrow")], "t", expected=None)
    await store.commit_page(bybit, [ev("b1", T0, "50", venue="bybit", feed=bybit.feed, kind=EventKind.BORROW,
                                       currency="USDT", debt=Decimal("50"), venue_type="borrow")], "t",
                            expected=None)
    got = await store.balances(account="main")
    assert got == {
        BalanceKey("bybit", "main", "USDT"): Balance(wallet=Decimal("50"), debt=Decimal("50")),
        BalanceKey("okx", "main", "USDT"): Balance(wallet=Decimal("100"), debt=Decimal("100")),
    }
    assert list(got) == sorted(got)
    assert await store.balances(venue="okx") == {BalanceKey("okx", "main", "USDT"):
                                                 Balance(wallet=Decimal("100"), debt=Decimal("100"))}
    assert await store.balances(account="other") == {}


async def test_balances_keep_three_books_and_what_interest_cost(store: Store) -> None:
    """A flexible loan's life on one venue: borrow 1000 USDT against 0.05 BTC, interest accrues
    onto the debt twice, a fee is charged to the wallet, a partial repay, part of the collateral
    released. Wallet, debt and collateral are summed per currency; interest = debt - amount
    over interest events (accrued onto the debt + charged to the wallet)."""
    k = FeedKey("okx", "main", "okx.flexible_loan_history")
    life = [
        ("pledge", EventKind.COLLATERAL_ADD, "BTC", "-0.05", "0", "0.05"),
        ("borrow", EventKind.BORROW, "USDT", "1000", "1000", "0"),
        ("accrue1", EventKind.INTEREST, "USDT", "0", "0.123456789012345678", "0"),
        ("accrue2", EventKind.INTEREST, "USDT", "0", "0.2", "0"),
        ("fee", EventKind.INTEREST, "USDT", "-0.01", "0", "0"),
        ("repay", EventKind.REPAY, "USDT", "-600.323456789012345678", "-600.323456789012345678", "0"),
        ("release", EventKind.COLLATERAL_REMOVE, "BTC", "0.02", "0", "-0.02"),
    ]
    events = [ev(name, T0 + i, amount, feed=k.feed, kind=kind, currency=ccy, debt=Decimal(debt),
                 collateral=Decimal(coll), venue_type=name)
              for i, (name, kind, ccy, amount, debt, coll) in enumerate(life)]
    await store.commit_page(k, events, "t", expected=None)
    assert await store.balances() == {
        BalanceKey("okx", "main", "BTC"): Balance(wallet=Decimal("-0.03"), collateral=Decimal("0.03")),
        BalanceKey("okx", "main", "USDT"): Balance(
            wallet=Decimal("399.666543210987654322"), debt=Decimal("400.000000000000000000"),
            interest=Decimal("0.333456789012345678")),
    }
    # as of the second accrual: owed 1000.323456789012345678, interest so far 0.323456789012345678
    mid = (await store.balances(until=T0 + 3))[BalanceKey("okx", "main", "USDT")]
    assert mid == Balance(wallet=Decimal("1000"), debt=Decimal("1000.323456789012345678"),
                          interest=Decimal("0.323456789012345678"))


async def test_balances_of_huge_amounts_are_exact(store: Store) -> None:
    big = ["123456789012345678901234567890.123456789012345678", "0.000000000000000001",
           "-99999999999999999999999999999.999999999999999999"]
    await store.commit_page(KEY, [ev(f"h{i}", T0 + i, a, debt=Decimal(a)) for i, a in enumerate(big)], "t",
                            expected=None)
    books = (await store.balances())[BalanceKey("okx", "main", "USDC")]
    assert books.wallet == books.debt == Decimal("23456789012345678901234567890.123456789012345680")


# --- read-only ---------------------------------------------------------------------------


async def test_a_read_only_handle_reads_everything_and_writes_nothing(backend: Backend) -> None:
    async with backend.store() as writer:  # type: ignore[attr-defined]
        await writer.commit_page(KEY, [ev("a", T0, "-1", debt=Decimal("-1"))], "t1", expected=None)
        reader = backend.store(read_only=True)
        assert reader.read_only is True
        async with reader:  # type: ignore[attr-defined]
            assert repr(reader) != repr(writer)
            assert [e.id for e in await all_events(reader)] == ["a"]
            assert await reader.checkpoint(KEY) == "t1"
            assert await reader.feeds() == [KEY]
            assert await reader.feed_states() == await writer.feed_states()
            assert await reader.summary() == await writer.summary()
            assert await reader.balances() == await writer.balances()
            with pytest.raises(StoreError, match="read-only"):
                await reader.commit_page(KEY, [ev("b", T0 + 1, "-1")], "t2", expected="t1")
            # the writer's later pages are visible to the reader
            await writer.commit_page(KEY, [ev("c", T0 + 2, "-1")], "t3", expected="t1")
            assert [e.id for e in await all_events(reader)] == ["a", "c"]
        assert await writer.checkpoint(KEY) == "t3"


async def test_balances_of_some_feeds_only(store: Store) -> None:
    other_key = FeedKey("okx", "main", "okx.flexible_loan_history")
    await store.commit_page(KEY, [ev("r1", T0, "-10", debt=Decimal("-10"))], "t1", expected=None)
    await store.commit_page(other_key, [ev("b1", T0 + 1, "25", debt=Decimal("25"), feed=other_key.feed,
                                           kind=EventKind.BORROW)], "t1", expected=None)
    both = await store.balances()
    only_loans = await store.balances(feeds=[other_key.feed])
    only_repays = await store.balances(feeds=(KEY.feed,))
    key = BalanceKey("okx", "main", "USDC")
    assert (both[key].debt, only_loans[key].debt, only_repays[key].debt) == (Decimal(15), Decimal(25), Decimal(-10))
    assert await store.balances(feeds=["okx.convert_history"]) == {}
    with pytest.raises(InvalidArgument, match="feeds"):
        await store.balances(feeds=[])
    with pytest.raises(TypeError, match="feeds"):
        await store.balances(feeds="okx.convert_history")
