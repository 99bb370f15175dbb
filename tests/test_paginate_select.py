"""The engine's page filter (`Edges`, the edge state of one walk) has two paths: `select_all`
(C-level passes, the common page) and `select_each` (event by event). Wherever the fast path
accepts a page it must give exactly what the event-by-event path gives: the kept events and
the whole edge state after the page (both edges, the ids remembered for dedup, the pending
ids, the counters)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger import EventKind, EventStatus, LoanEvent
from loanledger.feeds import FeedSpec
from loanledger.paginate import Bounds, Edges, ExclusiveIdCursor, Feed, FeedStats, Page
from loanledger.paginate.token import Mark as _Mark
from loanledger.ratelimit import Limit

SPEC = FeedSpec(id="t.feed", venue="t", path="/t", limit=Limit(1, 1.0), cursor=ExclusiveIdCursor(),
                decode=lambda body, ctx: Page(events=[], count=0))


def _event(i: int, ts: int, status: EventStatus, parent: str | None) -> LoanEvent:
    return LoanEvent(venue="t", account="a", feed="t.feed", id=f"e{i}", kind=EventKind.REPAY, status=status,
                     ts=ts, currency="USDT", amount=Decimal("-1"), parent_id=parent)


@st.composite
def pages(draw: st.DrawFn) -> tuple[Any, ...]:
    """Any page and edge state (duplicates, pending, children, out of bounds, below the floor)."""
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
    top = draw(st.none() | st.builds(_Mark, st.just(stamps[0]) | st.integers(0, 40),
                                     st.lists(st.sampled_from(["e4", "e6"]), unique=True)))
    low_ts = draw(st.none() | st.just(stamps[-1]) | st.integers(0, 40))
    on_page = [e.id for e in events]
    low_ids = set(draw(st.lists(st.sampled_from(["e7", "e8", "e2", *on_page])))) if low_ts is not None else set()
    prev_ids = set(draw(st.lists(st.sampled_from(["e10", "e11", "e3", *on_page]))))
    return events, window, Bounds(lo, hi), since, floor, pend, top, low_ts, low_ids, prev_ids, False


#: what can make a common page need the event-by-event path
PERTURBATIONS = ("duplicate", "previous page", "low edge", "pending event", "pending id", "other pending id",
                 "child", "at the floor", "below since", "out of the window")


@st.composite
def common_pages(draw: st.DrawFn) -> tuple[Any, ...]:
    """The page the fast path exists for (in bounds, above the floor, new, settled, no parents;
    ties at both ends, edges at the page's own ms) with at most one thing that breaks it.
    The last element: True when nothing does (the fast path must take the page)."""
    n = draw(st.integers(1, 12))
    stamps = sorted(draw(st.lists(st.integers(10, 30), min_size=n, max_size=n)), reverse=True)
    ids = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n, unique=True))
    events = [_event(i, ts, EventStatus.DONE, None) for i, ts in zip(ids, stamps)]
    lo = draw(st.none() | st.integers(0, 10))
    since = draw(st.none() | st.integers(0, 10))
    window = draw(st.none() | st.tuples(st.integers(0, 10), st.integers(30, 40)))
    floor = draw(st.none() | st.builds(_Mark, st.integers(0, 9), st.lists(st.sampled_from(["e1", "e2", "e3"]))))
    top = draw(st.none() | st.builds(_Mark, st.just(stamps[0]) | st.integers(0, 40),
                                     st.lists(st.sampled_from(["x4", "x6"]), unique=True)))
    low_ts = draw(st.none() | st.just(stamps[-1]) | st.integers(0, 40))
    low_ids = set(draw(st.lists(st.sampled_from(["x7", "x8"])))) if low_ts is not None else set()
    prev_ids = set(draw(st.lists(st.sampled_from(["x10", "x11"]))))
    pend: dict[str, int] = {}
    broken = draw(st.none() | st.sampled_from(PERTURBATIONS))
    k = draw(st.integers(0, n - 1))
    victim = events[k]
    if broken == "duplicate":
        events.insert(k, victim)
    elif broken == "previous page":
        prev_ids.add(victim.id)
    elif broken == "low edge":
        low_ts = stamps[-1]
        low_ids.add(events[-1].id)
    elif broken == "pending event":
        events[k] = msgspec.structs.replace(victim, status=EventStatus.PENDING)
    elif broken == "pending id":
        pend[victim.id] = victim.ts
    elif broken == "other pending id":
        pend["x9"] = draw(st.integers(0, 40))
    elif broken == "child":
        events.insert(k + 1, _event(99, victim.ts, EventStatus.DONE, victim.id))
    elif broken == "at the floor":
        floor = _Mark(stamps[-1], draw(st.lists(st.sampled_from([events[-1].id, "e1"]))))
    elif broken == "below since":
        since = stamps[-1] + 1
    elif broken == "out of the window":
        window = (stamps[-1] + 1, 40)
    hi = draw(st.integers(30, 40))
    return events, window, Bounds(lo, hi), since, floor, pend, top, low_ts, low_ids, prev_ids, broken is None


def _edges(case: tuple[Any, ...]) -> Edges:
    _, _, b, since, floor, pend, top, low_ts, low_ids, prev_ids, _ = case
    edges = Edges(b, since=since, floor=floor, pend=dict(pend), stats=FeedStats(), top=copy.deepcopy(top),
                  low=_Mark(low_ts, sorted(low_ids)) if low_ts is not None else None)
    edges.prev_ids = set(prev_ids)
    return edges


def _compare(case: tuple[Any, ...]) -> list[LoanEvent] | None:
    """Both paths on copies of one edge state: equal results and equal states after, or the
    fast path refused the page and moved nothing. Returns what the fast path kept."""
    events, window = case[0], case[1]
    slow, fast = _edges(case), _edges(case)
    assert slow == fast
    kept_slow = slow.select_each(events, window)
    kept_fast = fast.select_all(events, window)
    if kept_fast is None:
        assert fast == _edges(case)  # a refused page moved nothing
        return None
    assert kept_fast == kept_slow
    assert fast == slow  # the whole edge state: top (its ids in place), low edge, dedup ids, pending, counters
    assert not slow.seen_pending and slow.stats.duplicates == 0
    return kept_fast


@settings(max_examples=400, deadline=None)
@given(pages())
def test_fast_path_equals_event_by_event(case: tuple[Any, ...]) -> None:
    _compare(case)


@settings(max_examples=300, deadline=None)
@given(common_pages())
def test_fast_path_takes_every_common_page_and_equals_event_by_event(case: tuple[Any, ...]) -> None:
    kept = _compare(case)
    if case[-1]:  # clean: in bounds, above the floor, new, settled
        assert kept == case[0]


def test_fast_path_takes_the_common_page() -> None:
    events = [_event(i, 100 - i, EventStatus.DONE, None) for i in range(10)]
    edges = Edges(Bounds(0, 200), since=0, floor=_Mark(50, ["x"]), pend={}, stats=FeedStats())
    assert edges.select_all(events, None) == events
    assert edges.top == _Mark(100, ["e0"]) and edges.low_ts == 91 and edges.low_ids == {"e9"}
    assert edges.prev_ids == {e.id for e in events}


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
