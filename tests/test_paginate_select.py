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
from loanledger.paginate.token import Span as _Span
from loanledger.paginate.token import merge_spans
from loanledger.ratelimit import Limit

SPEC = FeedSpec(id="t.feed", venue="t", path="/t", limit=Limit(1, 1.0), cursor=ExclusiveIdCursor(),
                decode=lambda body, ctx: Page(events=[], count=0))


def _event(i: int, ts: int, status: EventStatus, parent: str | None) -> LoanEvent:
    return LoanEvent(venue="t", account="a", feed="t.feed", id=f"e{i}", kind=EventKind.REPAY, status=status,
                     ts=ts, currency="USDT", amount=Decimal("-1"), parent_id=parent)


def _not_every_third(ev: LoanEvent) -> bool:
    """A feed's `final`: events whose number is a multiple of 3 can still change."""
    return int(ev.id.lstrip("ex")) % 3 != 0


def _every(ev: LoanEvent) -> bool:
    return True


spans = st.builds(lambda lo, n: _Span(lo, (lo if lo is not None else 0) + n), st.none() | st.integers(0, 35),
                  st.integers(0, 10))


@st.composite
def pages(draw: st.DrawFn) -> dict[str, Any]:
    """Any page and edge state (duplicates, pending, not final, children, out of bounds, covered
    spans, at and below the floor, positional ids)."""
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
    floor = draw(st.none() | st.builds(_Mark, st.integers(0, 30), st.lists(st.sampled_from(["e1", "e2", "e3"]))))
    covered = None  # None: everything up to the floor
    if floor is not None and draw(st.booleans()):
        covered = [_Span(draw(st.none() | st.integers(0, floor.ts)), floor.ts), *draw(st.lists(spans, max_size=2))]
        covered = merge_spans(covered)
    top = draw(st.none() | st.builds(_Mark, st.just(stamps[0]) | st.integers(0, 40),
                                     st.lists(st.sampled_from(["e4", "e6"]), unique=True)))
    low_ts = draw(st.none() | st.just(stamps[-1]) | st.integers(0, 40))
    on_page = [e.id for e in events]
    return dict(
        events=events, window=draw(st.none() | st.tuples(st.integers(0, 15), st.integers(15, 40))),
        bounds=Bounds(draw(st.none() | st.integers(0, 20)), draw(st.integers(10, 40))),
        since=draw(st.none() | st.integers(0, 15)), floor=floor, covered=covered,
        pend=draw(st.dictionaries(st.sampled_from(["e1", "e5", "e9", *on_page]), st.integers(0, 30), max_size=2)),
        top=top, low_ts=low_ts,
        low_ids=set(draw(st.lists(st.sampled_from(["e7", "e8", "e2", *on_page])))) if low_ts is not None else set(),
        prev_ids=set(draw(st.lists(st.sampled_from(["e10", "e11", "e3", *on_page])))),
        final=draw(st.sampled_from([None, _not_every_third, _every])), positional=draw(st.booleans()),
        clean=False,
    )


#: what can make a common page need the event-by-event path
PERTURBATIONS = ("duplicate", "previous page", "low edge", "pending event", "not final", "pending id", "child",
                 "at the floor", "in a covered span", "below since", "out of the window")


@st.composite
def common_pages(draw: st.DrawFn) -> dict[str, Any]:
    """The page the fast path exists for (in bounds, outside every covered span, new, final, none
    of it waiting to be final, no parents; ties at both ends, edges at the page's own ms, other
    ids pending, spans covered below it) with at most one thing that breaks it. `clean`: nothing
    does (the fast path must take the page)."""
    n = draw(st.integers(1, 12))
    stamps = sorted(draw(st.lists(st.integers(10, 30), min_size=n, max_size=n)), reverse=True)
    ids = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n, unique=True))
    final = draw(st.sampled_from([None, _every, _not_every_third]))
    if final is _not_every_third:
        ids = [i for i in ids if i % 3] or [1]
        stamps = stamps[:len(ids)]
        n = len(ids)
    events = [_event(i, ts, EventStatus.DONE, None) for i, ts in zip(ids, stamps)]
    floor = draw(st.none() | st.builds(_Mark, st.integers(0, 9), st.lists(st.sampled_from(["e1", "e2", "e3"]))))
    covered = None
    if floor is not None and draw(st.booleans()):
        below = draw(st.lists(st.builds(lambda lo, n: _Span(lo, lo + n), st.integers(0, 5), st.integers(0, 4)),
                              max_size=2))
        covered = merge_spans([_Span(draw(st.none() | st.integers(0, floor.ts)), floor.ts), *below])
    top = draw(st.none() | st.builds(_Mark, st.just(stamps[0]) | st.integers(0, 40),
                                     st.lists(st.sampled_from(["x4", "x6"]), unique=True)))
    low_ts = draw(st.none() | st.just(stamps[-1]) | st.integers(0, 40))
    case: dict[str, Any] = dict(
        events=events, window=draw(st.none() | st.tuples(st.integers(0, 10), st.integers(30, 40))),
        bounds=Bounds(draw(st.none() | st.integers(0, 10)), draw(st.integers(30, 40))),
        since=draw(st.none() | st.integers(0, 10)), floor=floor, covered=covered,
        pend=draw(st.dictionaries(st.sampled_from(["x1", "x9"]), st.integers(0, 40), max_size=2)),  # other records
        top=top, low_ts=low_ts,
        low_ids=set(draw(st.lists(st.sampled_from(["x7", "x8"])))) if low_ts is not None else set(),
        prev_ids=set(draw(st.lists(st.sampled_from(["x10", "x11"])))), final=final,
        positional=draw(st.booleans()),
    )
    broken = draw(st.none() | st.sampled_from(PERTURBATIONS))
    k = draw(st.integers(0, n - 1))
    victim = events[k]
    if broken == "duplicate":
        events.insert(k, victim)
    elif broken == "previous page":
        case["prev_ids"].add(victim.id)
    elif broken == "low edge":
        case["low_ts"] = stamps[-1]
        case["low_ids"].add(events[-1].id)
    elif broken == "pending event":
        events[k] = msgspec.structs.replace(victim, status=EventStatus.PENDING)
    elif broken == "not final":
        case["final"] = _not_every_third
        events[k] = _event(3 * draw(st.integers(0, 13)), victim.ts, EventStatus.DONE, None)
        if len({e.id for e in events}) < len(events):
            broken = "duplicate"
    elif broken == "pending id":
        case["pend"][victim.id] = victim.ts
    elif broken == "child":
        events.insert(k + 1, _event(99, victim.ts, EventStatus.DONE, victim.id))
    elif broken == "at the floor":
        case["floor"] = _Mark(stamps[-1], draw(st.lists(st.sampled_from([events[-1].id, "e1"]))))
        case["covered"] = None
    elif broken == "in a covered span":
        case["floor"] = case["floor"] or _Mark(5, [])
        hit = draw(st.integers(stamps[-1], stamps[0]))
        case["covered"] = merge_spans([*(case["covered"] or [_Span(None, case["floor"].ts)]),
                                       _Span(hit - draw(st.integers(0, 3)), hit)])
    elif broken == "below since":
        case["since"] = stamps[-1] + 1
    elif broken == "out of the window":
        case["window"] = (stamps[-1] + 1, 40)
    case["clean"] = broken is None
    return case


def _edges(case: dict[str, Any]) -> Edges:
    edges = Edges(case["bounds"], since=case["since"], floor=copy.deepcopy(case["floor"]), pend=dict(case["pend"]),
                  stats=FeedStats(), top=copy.deepcopy(case["top"]),
                  low=_Mark(case["low_ts"], sorted(case["low_ids"])) if case["low_ts"] is not None else None,
                  covered=case["covered"], final=case["final"], positional=case["positional"])
    edges.prev_ids = set(case["prev_ids"])
    return edges


def _compare(case: dict[str, Any]) -> list[LoanEvent] | None:
    """Both paths on copies of one edge state: equal results and equal states after, or the
    fast path refused the page and moved nothing. Returns what the fast path kept."""
    events, window = case["events"], case["window"]
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


@settings(max_examples=500, deadline=None)
@given(pages())
def test_fast_path_equals_event_by_event(case: dict[str, Any]) -> None:
    _compare(case)


@settings(max_examples=400, deadline=None)
@given(common_pages())
def test_fast_path_takes_every_common_page_and_equals_event_by_event(case: dict[str, Any]) -> None:
    kept = _compare(case)
    if case["clean"]:
        assert kept == case["events"]


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
