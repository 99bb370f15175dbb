"""The engine's page filter has two paths: `_select_all` (C-level passes, the common page)
and `_select_each` (event by event). Wherever the fast path accepts a page it must give
exactly what the event-by-event path gives: the kept events, both edges and the ids
remembered for dedup, without touching pending state."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger import EventKind, EventStatus, LoanEvent
from loanledger.feeds import FeedSpec
from loanledger.paginate import Bounds, ExclusiveIdCursor, Feed, Page
from loanledger.paginate.token import Mark as _Mark
from loanledger.ratelimit import Limit

SPEC = FeedSpec(id="t.feed", venue="t", path="/t", limit=Limit(1, 1.0), cursor=ExclusiveIdCursor(),
                decode=lambda body, ctx: Page(events=[], count=0))


async def _fetch(params: Any, ctx: Any, stats: Any) -> Page:  # pragma: no cover - never called
    raise AssertionError


def _event(i: int, ts: int, status: EventStatus, parent: str | None) -> LoanEvent:
    return LoanEvent(venue="t", account="a", feed="t.feed", id=f"e{i}", kind=EventKind.REPAY, status=status,
                     ts=ts, currency="USDT", amount=Decimal("-1"), parent_id=parent)


@st.composite
def pages(draw: st.DrawFn) -> tuple[Any, ...]:
    n = draw(st.integers(1, 12))
    stamps = sorted(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), reverse=True)
    ids = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))  # repeats: duplicates in a page
    events = []
    head: str | None = None
    for i, ts in zip(ids, stamps):
        status = draw(st.sampled_from([EventStatus.DONE] * 4 + [EventStatus.PENDING]))
        child = head is not None and draw(st.integers(0, 5)) == 0
        ev = _event(i, ts, status, head if child else None)
        if not child:
            head = ev.id
        events.append(ev)
    lo = draw(st.none() | st.integers(0, 20))
    hi = draw(st.integers(10, 40))
    window = draw(st.none() | st.tuples(st.integers(0, 15), st.integers(15, 40)))
    since = draw(st.none() | st.integers(0, 15))
    floor = draw(st.none() | st.builds(_Mark, st.integers(0, 30), st.lists(st.sampled_from(["e1", "e2", "e3"]))))
    pend = draw(st.dictionaries(st.sampled_from(["e1", "e5", "e9"]), st.integers(0, 30), max_size=2))
    top = draw(st.none() | st.builds(_Mark, st.integers(0, 40), st.lists(st.sampled_from(["e4", "e6"]),
                                                                         unique=True)))
    low_ts = draw(st.none() | st.integers(0, 40))
    low_ids = set(draw(st.lists(st.sampled_from(["e7", "e8", "e2"])))) if low_ts is not None else set()
    prev_ids = set(draw(st.lists(st.sampled_from(["e10", "e11", "e3"]))))
    return events, window, Bounds(lo, hi), since, floor, pend, top, low_ts, low_ids, prev_ids


@settings(max_examples=400, deadline=None)
@given(pages())
def test_fast_path_equals_event_by_event(case: tuple[Any, ...]) -> None:
    events, window, b, since, floor, pend, top, low_ts, low_ids, prev_ids = case
    feed = Feed(SPEC, _fetch, since=since)
    slow_state = copy.deepcopy((pend, top, low_ids, prev_ids))
    fast_state = copy.deepcopy((pend, top, low_ids, prev_ids))
    seen: set[str] = set()
    slow = feed._select_each(events, window, b, floor, slow_state[0], seen, slow_state[1], low_ts,
                             slow_state[2], slow_state[3])
    fast = feed._select_all(events, window, b, floor, fast_state[0], fast_state[1], low_ts, fast_state[2],
                            fast_state[3])
    if fast is None:
        return
    assert fast[0] == slow[0]
    assert (fast[1], fast[2], fast[3]) == (slow[1], slow[2], slow[3])
    assert fast_state == slow_state  # in-place updates (top.ids, low_ids) alike
    assert not seen and feed.stats.duplicates == 0


def test_fast_path_takes_the_common_page() -> None:
    events = [_event(i, 100 - i, EventStatus.DONE, None) for i in range(10)]
    feed = Feed(SPEC, _fetch, since=0)
    low_ids: set[str] = set()
    got = feed._select_all(events, None, Bounds(0, 200), _Mark(50, ["x"]), {}, None, None, low_ids, set())
    assert got is not None
    out, top, low_ts, page_ids = got
    assert out == events and top == _Mark(100, ["e0"]) and low_ts == 91 and low_ids == {"e9"}
    assert page_ids == {e.id for e in events}


async def test_event_view_after_aclose_yields_nothing_more() -> None:
    events = [_event(i, 100 - i, EventStatus.DONE, None) for i in range(5)]
    pages = iter([Page(events=events, count=5), Page(events=[], count=0)])

    async def fetch(params: Any, ctx: Any, stats: Any) -> Page:
        return next(pages)

    feed = Feed(SPEC, fetch, since=0)
    first = await feed.__anext__()
    assert first.id == "e0" and feed.checkpoint is None
    await feed.aclose()
    assert [ev async for ev in feed] == []
    assert feed.checkpoint is None  # the page was not consumed: its token never took effect


async def test_event_view_token_takes_effect_after_the_page_is_consumed() -> None:
    events = [_event(i, 100 - i, EventStatus.DONE, None) for i in range(3)]
    pages = iter([Page(events=events, count=3)])

    async def fetch(params: Any, ctx: Any, stats: Any) -> Page:
        return next(pages)

    feed = Feed(SPEC, fetch, since=0)
    got = [await feed.__anext__() for _ in range(3)]
    assert [e.id for e in got] == ["e0", "e1", "e2"] and feed.checkpoint is None
    assert [ev async for ev in feed] == []  # the short page ended the walk
    assert feed.checkpoint is not None
