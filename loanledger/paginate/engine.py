"""The one engine every feed is walked by (`Feed`), whatever its cursor kind.

A feed is walked from the newest record down to a lower bound. The engine:

- filters by `since`/`until`, drops duplicates (by event id) that cursors with
  inclusive boundaries return twice, keeps memory bounded (it remembers only
  the previous page and the ids at the lowest timestamp reached);
- stops early once a newest-first page goes below the lower bound, and never
  ends silently early: a cursor that repeats, a page cap, or a tie wider than
  a page raises `PaginationError` (ties warn with `DataGapWarning` unless
  ``strict=True``);
- after every page exposes `checkpoint`, an opaque token (token.py). ``resume=token``
  continues from it: an interrupted walk is finished first, then a fresh walk
  fetches only what is newer than the last complete walk (records at exactly
  the boundary millisecond are recognised by id), plus the records that were
  not final yet (`FeedSpec.final`, by default: not `pending`) so their final
  state arrives, plus any span the walk is asked for (`since`, or the feed's
  default start) that no complete walk has covered (a backfill);
- ``full=True`` re-reads everything in the bounds, covered or not;
- warns `DataGapWarning` (raises `PaginationError` under ``strict=True``) when a
  walk is asked for records older than the venue keeps: resuming from a
  checkpoint older than the feed's retention, or a `since` beyond it; the span
  is named and kept in the token (`loanledger status` shows it).
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._args import now_ms
from ..errors import DataGapWarning, InvalidArgument, PaginationError
from ..events import EventStatus, LoanEvent
from ..transport import RequestStats
from .cursors import DAY_MS, Bounds, DecodeContext, Page, Params
from .token import Mark, Span, Token, WalkState, decode_token, encode_token, holes, merge_spans

if TYPE_CHECKING:
    from ..feeds import FeedSpec

__all__ = ["AHEAD_MS", "Edges", "Feed", "FeedPage", "FeedStats", "Fetch"]

_NO_PARENT = {None}
_PENDING = EventStatus.PENDING
#: a walk without `until` covers records stamped up to this far after the clock's now
#: (venue clocks run ahead of ours by up to the skew they accept, OKX 30 s, before a resync)
AHEAD_MS = 60_000



@dataclass(frozen=True, slots=True)
class FeedPage:
    """What `Feed.pages()` yields: the new events of one response and the token after it."""

    events: list[LoanEvent]
    checkpoint: str
    records: int
    number: int
    complete: bool


@dataclass(slots=True)
class FeedStats(RequestStats):
    """Counters of one feed run (the ledger's per-feed report); the transport adds
    requests, retries, limiter waits and errors."""

    pages: int = 0
    events: int = 0
    records: int = 0
    duplicates: int = 0
    gaps: int = 0


Fetch = Callable[[Params, DecodeContext, FeedStats], Awaitable[Page]]


def _ids_at(ts: int, ids: list[str], stamps: list[int]) -> list[str]:
    """The ids whose timestamp is `ts`, in page order."""
    if stamps.count(ts) == 1:
        return [ids[stamps.index(ts)]]
    return [i for i, t in zip(ids, stamps) if t == ts]


class Feed(AsyncIterator[LoanEvent]):
    """An async iterator of LoanEvent over one feed; `pages()` for page-at-a-time.

    Use one view per Feed object. `checkpoint` is the resume token covering
    everything consumed so far (after a page's last event in the event view,
    as each page is yielded in the page view).
    """

    def __init__(
        self,
        spec: FeedSpec,
        fetch: Fetch,
        *,
        account: str = "default",
        since: int | None = None,
        until: int | None = None,
        resume: str | None = None,
        strict: bool = False,
        keep_raw: bool = False,
        max_pages: int = 100_000,
        clock: Callable[[], int] = now_ms,
        filters: Sequence[tuple[str, str]] = (),
        full: bool = False,
    ) -> None:
        if since is not None and until is not None and since > until:
            raise InvalidArgument("since", f"since ({since}) is after until ({until})")
        if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
            raise InvalidArgument("max_pages", f"{max_pages!r} must be a positive int")
        for flag, value in (("strict", strict), ("keep_raw", keep_raw), ("full", full)):
            if not isinstance(value, bool):
                raise TypeError(f"{flag}: expected bool, got {type(value).__name__}")
        self.spec = spec
        self.id = spec.id
        self._fetch = fetch
        self.account = account
        self.since = since
        self.until = until
        self.strict = strict
        self.keep_raw = keep_raw
        self.max_pages = max_pages
        self.full = full  # re-read everything in the bounds, covered or not
        self._clock = clock
        self._filters = "&".join(f"{k}={v}" for k, v in sorted(filters))
        self._token = (
            decode_token(resume, spec.id, self._filters) if resume is not None
            else Token(feed=spec.id, flt=self._filters)
        )
        self.checkpoint: str | None = resume
        self.stats = FeedStats()
        self._gen: AsyncGenerator[Any, None] | None = None
        self._events: AsyncGenerator[FeedPage, None] | None = None  # the walk behind the event view
        self._it: Iterator[LoanEvent] | None = None  # the events of the current page
        self._held: str | None = None  # its token, in force once its last event was consumed
        self._warned_retention = False

    def __repr__(self) -> str:
        return f"Feed({self.id!r}, account={self.account!r}, since={self.since}, until={self.until})"

    @property
    def filters(self) -> str:
        """The venue filters of this walk as its checkpoint records them (``"ccy=USDT"``; "" for none)."""
        return self._filters

    # --- the two views ---------------------------------------------------------------

    def __aiter__(self) -> Feed:
        return self

    async def __anext__(self) -> LoanEvent:
        # the per-event path: the next event of the current page, no generator hop
        it = self._it
        if it is not None:
            ev = next(it, None)
            if ev is not None:
                return ev
        return await self._next_page()

    def _start(self, gen: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
        if self._gen is not None:
            raise RuntimeError(f"feed {self.id} is already being iterated; create a new feed")
        self._gen = gen
        return gen

    async def _next_page(self) -> LoanEvent:
        """The first event of the next page with events. The token of the page just
        consumed takes effect here, when the event after its last one is asked for
        (pages without events take effect at once)."""
        if self._events is None:
            self._events = self._start(self._run())
        elif self._held is not None:
            self.checkpoint, self._held = self._held, None
        while True:
            page = await self._events.__anext__()  # StopAsyncIteration ends the view
            if page.events:
                self._held = page.checkpoint
                self._it = it = iter(page.events)
                return next(it)
            self.checkpoint = page.checkpoint

    def pages(self) -> AsyncGenerator[FeedPage, None]:
        """Page-at-a-time view: each FeedPage carries its events and the token after it."""
        return self._start(self._page_view())

    async def _page_view(self) -> AsyncGenerator[FeedPage, None]:
        async for page in self._run():
            self.checkpoint = page.checkpoint
            yield page

    async def aclose(self) -> None:
        """Stop the walk. Nothing is in flight between pages; a pending request is cancelled
        by cancelling the task that awaits the feed."""
        # nor are the rest of the current page's events handed out (nor its token applied)
        self._it = self._held = None
        if self._gen is not None:
            await self._gen.aclose()

    async def collect(self) -> list[LoanEvent]:
        """All events of the walk as a list (for small feeds and tests)."""
        return [ev async for ev in self]

    # --- the walk ---------------------------------------------------------------------

    def _start_of(self, now: int) -> int | None:
        """The lowest ms a walk is asked for: `since`, else the feed's default start (None:
        down to the oldest record the venue serves)."""
        if self.since is not None:
            return self.since
        if self.spec.default_since is not None:
            return self.spec.default_since
        if self.spec.lookback_ms is not None:
            return now - self.spec.lookback_ms  # relative to the venue's clock when this walk starts
        return None

    def _plan(self, tok: Token, now: int) -> WalkState:
        """A fresh walk: its bounds, and whether it re-reads what is covered (a full walk).

        Incremental: from the floor up, lowered to the oldest record not final yet and to the
        oldest span asked for that no complete walk covered (a backfill); `since` raises it.
        Without `since` or a default start, a feed with a retention is asked for what the venue
        keeps (now minus the retention); the walk itself still reads whatever the venue serves."""
        # "up to now" reaches a little past our estimate of the venue's clock: a venue whose
        # clock runs ahead (by less than it tolerates in request timestamps, or before our
        # first resync) stamps new records after our now
        hi = now + AHEAD_MS if self.until is None else min(self.until, now)
        start = self._start_of(now)
        r = self.spec.retention_ms
        kept = now - r if r is not None else None  # the oldest ms the venue still serves
        reach = kept if start is None else None  # what a walk down to the oldest record covers
        full = self.full or tok.floor is None or not tok.cov
        if full:
            lo, asked = start, [Span(start, hi)] if start is not None else []
        else:
            assert tok.floor is not None
            top = tok.floor.ts
            wanted = start if start is not None else kept
            missing = holes(Span(wanted, min(top, hi)), merge_spans([*tok.cov, *tok.lost]))
            asked = [*missing, Span(top + 1, hi)] if top < hi else list(missing)
            lows: list[int | None] = [top, *(s.lo for s in missing)]
            lows += [ts for ts in tok.pend.values() if start is None or ts >= start]
            lo = None if None in lows else min(x for x in lows if x is not None)
            if self.since is not None:
                lo = self.since if lo is None else max(lo, self.since)
        self._retention(tok, asked, now, resumed=not full)
        if self.spec.rewalk and not full:
            # records appear in the past (`rewalk`): read the whole span on every walk; what was
            # asked for past the retention was warned about above, as for any resumed walk
            full, lo = True, start if self.since is None else self.since
        return WalkState(pos={}, lo=lo, hi=hi, full=full, until=self.until is not None,
                         reach=reach if lo is None else None)

    def _retention(self, tok: Token, asked: list[Span], now: int, *, resumed: bool) -> None:
        """Spans asked for that the venue no longer keeps: a DataGapWarning naming them (once
        per feed object), counted in the stats, kept in the token; PaginationError when strict."""
        r = self.spec.retention_ms
        if r is None or self._warned_retention:
            return
        edge = now - r
        gone = [Span(s.lo, min(s.hi, edge - 1)) for s in asked if s.lo is not None and s.lo < edge]
        if not gone:
            return
        self._warned_retention = True
        self.stats.gaps += 1
        spans = ", ".join(f"{_iso(s.lo)} .. {_iso(s.hi)}" for s in gone)
        why = (f"resuming from a checkpoint whose newest record is at {_iso(tok.floor.ts)}"
               if resumed and tok.floor is not None and tok.floor.ts < edge else f"since={self.since}")
        message = (f"{self.id} of account {self.account!r} keeps only {r // DAY_MS} days of records: {spans} "
                   f"can no longer be read "
                   f"({why}); records of that span that were not synced before are lost")
        if self.strict:
            raise PaginationError(message)
        tok.lost = merge_spans([*tok.lost, *gone])
        warnings.warn(message, DataGapWarning, stacklevel=4)

    async def _run(self) -> AsyncGenerator[FeedPage, None]:
        tok = self._token
        number = 0
        # first an interrupted walk, then a fresh walk from the newest record
        for fresh in (False, True):
            if not fresh and tok.walk is None:
                continue
            if fresh:
                tok.walk = self._plan(tok, self._clock())
                b = Bounds(tok.walk.lo, tok.walk.hi)
                first = True
            else:
                assert tok.walk is not None
                b = Bounds(tok.walk.lo, tok.walk.hi)
                first = False
            ws = tok.walk
            # a walk resumed under a later `since` than an earlier run of it skips what lies below
            since = self.since if ws.since is None else ws.since if self.since is None else max(ws.since, self.since)
            walk = self.spec.cursor.walk(b, None if first else ws.pos, self.strict)
            ctx = DecodeContext(
                feed=self.spec.id, account=self.account, keep_raw=self.keep_raw,
                occurrences=(ws.occ if ws.occ is not None else {}) if self.spec.derived_ids else None,
            )
            segment = walk.segment
            spec = self.spec
            edges = Edges(
                b, since=since, floor=tok.floor, pend=dict(tok.pend), top=ws.top, low=ws.low, stats=self.stats,
                covered=() if ws.full else tok.cov, final=spec.final, positional=spec.positional_ids,
            )
            edges.seen_pending.update(ws.seen)
            pages = 0
            early = self.spec.cursor.early_stop
            while not walk.done:
                pages += 1
                if pages > self.max_pages:
                    raise PaginationError(f"{self.id}: more than {self.max_pages} pages; raise max_pages")
                if walk.segment != segment and ctx.occurrences is not None:
                    ctx.occurrences = {}
                segment = walk.segment
                window = walk.window
                page = await self._fetch(walk.params(), ctx, self.stats)
                self.stats.pages += 1
                self.stats.records += page.count
                # order guard: newest-first walks may stop early only if pages really descend
                if early and edges.low_ts is not None and page.max_ts is not None and page.max_ts > edges.low_ts:
                    early = False
                gaps = walk.gaps
                kept = walk.advance(page)
                self.stats.gaps += walk.gaps - gaps
                out = edges.select(kept, window) if kept else []
                if (
                    early
                    and not walk.done
                    and b.lo is not None
                    and page.min_ts is not None
                    and page.min_ts < b.lo
                ):
                    walk.done = True
                if walk.done:
                    floor, pend, span = edges.complete(ws.until, self.id, ws.reach)
                    tok = Token(
                        feed=spec.id, flt=self._filters, floor=floor, pend=pend, walk=None,
                        cov=merge_spans([*tok.cov, span]) if span is not None else tok.cov, lost=tok.lost,
                        at=self._clock(),
                    )
                else:
                    tok = Token(
                        feed=spec.id, flt=self._filters, floor=tok.floor, pend=edges.pend,
                        walk=WalkState(
                            pos=walk.position(), lo=b.lo, hi=b.hi, top=edges.top, low=edges.low_mark(),
                            occ=dict(ctx.occurrences) if ctx.occurrences is not None else None, full=ws.full,
                            seen=sorted(edges.seen_pending), until=ws.until, reach=ws.reach, since=since,
                        ),
                        cov=tok.cov, lost=tok.lost, at=tok.at,
                    )
                self._token = tok
                self.stats.events += len(out)
                number += 1
                yield FeedPage(out, encode_token(tok), page.count, number, walk.done)


#: a record is final unless `pending` (FeedSpec.final overrides this per feed)
Final = Callable[[LoanEvent], bool]


@dataclass(slots=True, init=False)
class Edges:
    """The edge state of one walk, and the page filter that moves it.

    What a walk must remember between pages: its `bounds` and `since`; what it skips: the
    spans complete walks `covered` and their top edge `floor` (a record at or below it inside
    a covered span was yielded before; at the floor's ms itself only the floor's ids were,
    unless the feed's ids are `positional`, when that ms is read again whole), except the
    records not final yet (`pend`: re-read until `final` says so; `seen_pending` are those
    this walk saw); its own `top` edge (the next floor) and `low` edge (`low_ts` and the ids
    seen at it: dedup memory for inclusive boundaries), and the ids of the previous page
    (`prev_ids`). `select` filters one page and moves the edges; `complete` turns a finished
    walk into the next floor, pending set and covered span. Memory stays bounded: one page's
    ids and the ids at the lowest ms reached.
    """

    bounds: Bounds
    since: int | None
    floor: Mark | None
    covered: tuple[tuple[int, int], ...]  # inclusive (lo, hi) ms; lo -1 down to the oldest record
    pend: dict[str, int]
    final: Final | None
    positional: bool
    stats: FeedStats
    top: Mark | None
    low_ts: int | None
    low_ids: set[str]
    prev_ids: set[str]
    seen_pending: set[str]

    def __init__(
        self, bounds: Bounds, *, since: int | None, floor: Mark | None, pend: dict[str, int], stats: FeedStats,
        top: Mark | None = None, low: Mark | None = None, covered: Sequence[Span] | None = None,
        final: Final | None = None, positional: bool = False,
    ) -> None:
        self.bounds = bounds
        self.since = since
        self.floor = floor
        if covered is None:  # everything up to the floor (what a format-1 token means)
            covered = [Span(None, floor.ts)] if floor is not None else []
        self.covered = tuple((-1 if c.lo is None else c.lo, c.hi) for c in covered)
        self.pend = pend
        self.final = final
        self.positional = positional
        self.stats = stats
        self.top = top
        self.low_ts = low.ts if low is not None else None
        self.low_ids = set(low.ids) if low is not None else set()
        self.prev_ids = set()
        self.seen_pending = set()

    def low_mark(self) -> Mark | None:
        """The low edge as it goes into a mid-walk checkpoint."""
        return Mark(self.low_ts, sorted(self.low_ids)) if self.low_ts is not None else None

    def select(self, events: list[LoanEvent], window: tuple[int, int] | None) -> list[LoanEvent]:
        """The events of one page to keep; moves the edges. The hot loop of every feed."""
        out = self.select_all(events, window)
        return self.select_each(events, window) if out is None else out

    def select_each(self, events: list[LoanEvent], window: tuple[int, int] | None) -> list[LoanEvent]:
        """`select` event by event: the general case (and the reference for `select_all`)."""
        out: list[LoanEvent] = []
        page_ids: set[str] = set()
        b = self.bounds
        lo = b.lo if b.lo is not None else -1
        since = self.since if self.since is not None else -1
        hi = b.hi
        w_lo, w_hi = window if window is not None else (-1, hi)
        covered = self.covered
        # what is skipped lies at or below the top of the covered spans (the floor)
        c_hi = covered[0][1] if covered else -2
        c_lo = covered[0][0] if len(covered) == 1 else None  # one span: a comparison, not a loop
        floor = self.floor
        f_ts = floor.ts if floor is not None else -2
        f_ids = () if floor is None or self.positional else floor.ids
        pend, seen_pending, low_ids, prev_ids = self.pend, self.seen_pending, self.low_ids, self.prev_ids
        top, low_ts, final = self.top, self.low_ts, self.final
        duplicates = 0
        parent: str | None = None
        parent_ts = 0
        keep_parent = False
        pending = _PENDING
        for ev in events:
            pid = ev.parent_id
            if pid is not None and pid == parent:
                if keep_parent:
                    out.append(ev)
                    # a part that can still change keeps its record open
                    if (ev.status is pending if final is None else not final(ev)) and parent not in pend:
                        pend[parent] = parent_ts
                        seen_pending.add(parent)
                continue
            ts = ev.ts
            eid = ev.id
            parent = eid
            parent_ts = ts
            keep_parent = False
            if ts > hi or ts < since or ts < w_lo or ts > w_hi:
                continue
            # edges of what this walk has seen (dedup memory and the next floor)
            if top is None or ts > top.ts:
                top = Mark(ts, [eid])
            elif ts == top.ts and eid not in top.ids:
                top.ids.append(eid)
            if low_ts is None or ts < low_ts:
                low_ts = ts
                low_ids.clear()
            if eid in page_ids or eid in prev_ids or (ts == low_ts and eid in low_ids):
                duplicates += 1
                continue
            page_ids.add(eid)
            if ts == low_ts:
                low_ids.add(eid)
            if ts < lo:
                continue
            if (
                ts <= c_hi
                and (ts < f_ts or eid in f_ids)
                and eid not in pend
                and (ts >= c_lo if c_lo is not None else any(a <= ts <= z for a, z in covered))
            ):
                continue  # yielded by an earlier walk
            if ev.status is pending if final is None else not final(ev):
                pend[eid] = ts
                seen_pending.add(eid)
            elif eid in pend:
                del pend[eid]
                seen_pending.add(eid)
            keep_parent = True
            out.append(ev)
        self.top, self.low_ts, self.prev_ids = top, low_ts, page_ids
        self.stats.duplicates += duplicates
        return out

    def select_all(self, events: list[LoanEvent], window: tuple[int, int] | None) -> list[LoanEvent] | None:
        """`select` for the common page (a backfill, the body of an incremental walk): every
        event is inside the bounds, outside what earlier walks covered, new, final and not one
        of the records waiting to be final. Then every event is kept and only the edges move,
        computed with C-level passes instead of the per-event loop; the result is the loop's.
        None (nothing moved) when the page needs the loop (it also handles events that belong
        to a parent: they take no part in the edges)."""
        if {e.parent_id for e in events} != _NO_PARENT:
            return None
        stamps = [e.ts for e in events]
        first, last = min(stamps), max(stamps)
        b = self.bounds
        lo = max(b.lo if b.lo is not None else first, self.since if self.since is not None else first)
        hi = b.hi
        if window is not None:
            lo, hi = max(lo, window[0]), min(hi, window[1])
        if first < lo or last > hi:
            return None
        for c_lo, c_hi in self.covered:
            if first <= c_hi and last >= c_lo:
                return None
        ids = [e.id for e in events]
        page_ids = set(ids)
        low_ts, low_ids = self.low_ts, self.low_ids
        final = self.final
        if (
            len(page_ids) != len(ids)
            or not page_ids.isdisjoint(self.prev_ids)
            or (low_ts is not None and first <= low_ts and not page_ids.isdisjoint(low_ids))
            or not page_ids.isdisjoint(self.pend)
            or (_PENDING in {e.status for e in events} if final is None else not all(map(final, events)))
        ):
            return None
        top = self.top
        if top is None or last > top.ts:
            self.top = Mark(last, _ids_at(last, ids, stamps))
        elif last == top.ts:
            top.ids.extend(i for i in _ids_at(last, ids, stamps) if i not in top.ids)
        if low_ts is None or first < low_ts:
            self.low_ts = first
            low_ids.clear()
        if first == self.low_ts:
            low_ids.update(_ids_at(first, ids, stamps))
        self.prev_ids = page_ids
        return list(events)

    def complete(
        self, until: bool, feed_id: str, reach: int | None = None
    ) -> tuple[Mark | None, dict[str, int], Span | None]:
        """The walk finished: the next one starts above `top` (the new floor); the records not
        final that this walk did not see again although it walked their ms are dropped, with a
        warning. `until`: the walk's upper bound was the caller's `until`, not "now" (then
        everything up to it was walked); `reach`: for a walk without a lower bound, the oldest
        ms it can have read (the venue's retention edge), None for everything. Returns the new
        floor, the pending ids and the span this walk covered."""
        b, floor, top, pend = self.bounds, self.floor, self.top, self.pend
        if until and (top is None or top.ts < b.hi):
            top = Mark(b.hi, [])  # everything up to `until` was walked
        if top is not None:
            if floor is None or top.ts > floor.ts:
                floor = Mark(top.ts, list(top.ids))
            elif top.ts == floor.ts:
                floor = Mark(floor.ts, sorted(set(floor.ids) | set(top.ids)))
        # what this walk read: its bounds, raised to `since` (a walk resumed with a later
        # `since` than it was planned with skips what lies below it)
        since = self.since
        w_lo = b.lo if since is None else since if b.lo is None else max(b.lo, since)
        lost = [i for i, ts in pend.items()
                if i not in self.seen_pending and w_lo is not None and w_lo <= ts <= b.hi]
        if lost:
            self.stats.gaps += 1
            warnings.warn(
                f"{feed_id}: {len(lost)} pending record(s) no longer returned by the venue "
                "(outside its retention?); their last known status stands",
                DataGapWarning,
                stacklevel=3,
            )
            pend = {i: ts for i, ts in pend.items() if i not in lost}
        span: Span | None = None
        if floor is not None:
            # covered: every record from the walk's lower bound up to the floor (a walk bounded by
            # `until` no further than that)
            up = min(floor.ts, b.hi)
            lo = w_lo if w_lo is not None else reach
            if lo is None or lo <= up:
                span = Span(lo, up)
        return floor, pend, span


def _iso(ms: int | None) -> str:
    """A ms timestamp as ISO-8601 UTC, for messages."""
    if ms is None:
        return "the oldest record"
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
