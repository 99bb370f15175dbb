"""The cursor kinds and the one engine that drives them.

A feed is walked from the newest record down to a lower bound. Each venue
endpoint declares one cursor kind (how to ask for the next page); the engine
(`Feed`) does everything else the same way for all of them:

- filters by `since`/`until`, drops duplicates (by event id) that cursors with
  inclusive boundaries return twice, keeps memory bounded (it remembers only
  the previous page and the ids at the lowest timestamp reached);
- stops early once a newest-first page goes below the lower bound, and never
  ends silently early: a cursor that repeats, a page cap, or a tie wider than
  a page raises `PaginationError` (ties warn with `DataGapWarning` unless
  ``strict=True``);
- after every page exposes `checkpoint`, an opaque token. ``resume=token``
  continues from it: an interrupted walk is finished first, then a fresh walk
  fetches only what is newer than the last complete walk (records at exactly
  the boundary millisecond are recognised by id), plus the records that were
  still `pending` so their final status arrives.

Cursor kinds (see DESIGN.md):

- `ExclusiveIdCursor`: ``after=<id of the oldest record>`` (OKX refId).
- `TsCursor(inclusive=True)`: ``after=<ts>`` includes that ms: re-ask at the
  oldest ts and dedup (OKX one-click repay). A page wholly at one ms moves past it.
- `TsCursor(inclusive=False)`: ``after=<ts>`` excludes that ms: ask
  ``after=oldest_ts + 1`` so trades sharing the oldest ms are not skipped
  (OKX convert history).
- `PagedWindows`: consecutive non-overlapping ``[start, end]`` windows no longer
  than the venue allows, each paged ``current=1..`` until ``current*size >= total``
  or a short page; the walk's upper bound is frozen at its start (Binance).
- `TimeWindows`: windows without a page parameter; a window that comes back full
  is split and asked again (Binance interest history, Bybit INS loans).
- `OpaqueCursor`: the venue's next-page token; stops on "" or an empty page,
  raises on a token seen before (Bybit).
"""

from __future__ import annotations

import base64
import binascii
import warnings
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ._args import now_ms
from .errors import DataGapWarning, InvalidArgument, PaginationError
from .events import EventStatus, LoanEvent
from .ratelimit import Limit
from .transport import RequestStats

__all__ = [
    "AHEAD_MS",
    "Bounds",
    "CursorKind",
    "DecodeContext",
    "ExclusiveIdCursor",
    "Feed",
    "FeedPage",
    "FeedSpec",
    "FeedStats",
    "OpaqueCursor",
    "Page",
    "PagedWindows",
    "TimeWindows",
    "TsCursor",
    "Walk",
]

Params = list[tuple[str, str]]
_NO_PARENT = {None}
_PENDING = EventStatus.PENDING
DAY_MS = 86_400_000
#: a walk without `until` covers records stamped up to this far after the clock's now
#: (venue clocks run ahead of ours by up to the skew they accept, OKX 30 s, before a resync)
AHEAD_MS = 60_000


# --- what decoders produce ---------------------------------------------------------


class Page(msgspec.Struct):
    """One decoded response: its events plus the wire facts cursors need.

    `count` is the number of wire records (a record may yield several events,
    or none); the ts fields describe the records in wire order: `first_ts` of
    the first record, `last_ts` of the last, `min_ts`/`max_ts` over all.
    `last_key` is the cursor key of the last record (OKX refId), `next_cursor`
    the venue's opaque next-page token, `total` the venue's total row count.
    """

    events: list[LoanEvent]
    count: int
    min_ts: int | None = None
    max_ts: int | None = None
    last_key: str | None = None
    next_cursor: str | None = None
    total: int | None = None


@dataclass(slots=True)
class DecodeContext:
    """Per-call decode settings. `occurrences` carries the counters of derived ids."""

    feed: str
    account: str = "default"
    keep_raw: bool = False
    occurrences: dict[str, int] | None = None


DecodeFn = Callable[[bytes, DecodeContext], Page]


# --- cursor kinds --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bounds:
    """The ms range one walk covers: `lo` (None = to the end of the data) .. `hi`."""

    lo: int | None
    hi: int


class Walk(ABC):
    """The mutable state of one walk. `params()` is None once the walk is complete."""

    done: bool = False
    #: events outside this (inclusive) ms range are not part of the current window
    window: tuple[int, int] | None = None
    #: changes when a new window starts (derived-id counters restart)
    segment: int = 0
    #: data gaps this walk warned about (ties wider than a page)
    gaps: int = 0
    strict: bool = False

    def gap(self, message: str) -> None:
        """Records may be missing: warn (DataGapWarning), or raise PaginationError when strict."""
        self.gaps += 1
        if self.strict:
            raise PaginationError(message)
        warnings.warn(message, DataGapWarning, stacklevel=5)

    @abstractmethod
    def params(self) -> Params: ...

    @abstractmethod
    def advance(self, page: Page) -> list[LoanEvent]:
        """Move past `page`; returns the events to keep from it ([] if it is superseded)."""

    @abstractmethod
    def position(self) -> dict[str, Any]: ...


class CursorKind(ABC):
    """How one endpoint pages. Immutable; part of a FeedSpec."""

    name: str = ""
    #: the engine may stop as soon as a page goes below the lower bound
    early_stop: bool = True

    @abstractmethod
    def walk(self, bounds: Bounds, position: Mapping[str, Any] | None, strict: bool) -> Walk: ...


@dataclass(frozen=True, slots=True)
class ExclusiveIdCursor(CursorKind):
    """``after=<id>`` returns records older than that id, excluding it."""

    param: str = "after"
    limit: int = 100
    limit_param: str = "limit"
    name: str = "exclusive_id"

    def walk(self, bounds: Bounds, position: Mapping[str, Any] | None, strict: bool) -> Walk:
        return _IdWalk(self, (position or {}).get("after"))


class _IdWalk(Walk):
    def __init__(self, kind: ExclusiveIdCursor, after: str | None) -> None:
        self.kind = kind
        self.after = after
        self.seen: set[str] = set()

    def params(self) -> Params:
        p = [(self.kind.limit_param, str(self.kind.limit))]
        if self.after is not None:
            p.append((self.kind.param, self.after))
        return p

    def advance(self, page: Page) -> list[LoanEvent]:
        if page.count < self.kind.limit:
            self.done = True
            return page.events
        nxt = page.last_key
        if nxt is None or nxt == self.after or nxt in self.seen:
            raise PaginationError(f"id cursor did not advance (after={self.after!r}, next={nxt!r})")
        self.seen.add(nxt)
        self.after = nxt
        return page.events

    def position(self) -> dict[str, Any]:
        return {"after": self.after}


@dataclass(frozen=True, slots=True)
class TsCursor(CursorKind):
    """``after=<ms>`` returns records older than (inclusive: or at) that ms."""

    inclusive: bool
    param: str = "after"
    limit: int = 100
    limit_param: str = "limit"
    name: str = "ts"

    def walk(self, bounds: Bounds, position: Mapping[str, Any] | None, strict: bool) -> Walk:
        if position is not None:
            after = position.get("after")
        else:
            after = bounds.hi if self.inclusive else bounds.hi + 1
        return _TsWalk(self, after, strict)


class _TsWalk(Walk):
    def __init__(self, kind: TsCursor, after: int | None, strict: bool) -> None:
        self.kind = kind
        self.after = after
        self.strict = strict

    def params(self) -> Params:
        p = [(self.kind.limit_param, str(self.kind.limit))]
        if self.after is not None:
            p.append((self.kind.param, str(self.after)))
        return p

    def advance(self, page: Page) -> list[LoanEvent]:
        if page.count < self.kind.limit or page.min_ts is None or page.max_ts is None:
            self.done = True
            return page.events
        oldest = page.min_ts
        if oldest == page.max_ts:
            # a full page at one millisecond: the rest of that ms cannot be reached
            self.gap(
                f"{page.count} records share ts {oldest} (page limit {self.kind.limit}); "
                "records beyond the page at that millisecond may be missing"
            )
            nxt = oldest - 1 if self.kind.inclusive else oldest
        else:
            nxt = oldest if self.kind.inclusive else oldest + 1
        if self.after is not None and nxt >= self.after:
            raise PaginationError(f"ts cursor did not advance (after={self.after}, next={nxt})")
        self.after = nxt
        return page.events

    def position(self) -> dict[str, Any]:
        return {"after": self.after}


@dataclass(frozen=True, slots=True)
class OpaqueCursor(CursorKind):
    """The venue's next-page token; "" or an empty page ends the walk."""

    param: str = "cursor"
    limit: int = 100
    limit_param: str = "limit"
    name: str = "opaque"

    def walk(self, bounds: Bounds, position: Mapping[str, Any] | None, strict: bool) -> Walk:
        return _OpaqueWalk(self, (position or {}).get("cursor"))


class _OpaqueWalk(Walk):
    def __init__(self, kind: OpaqueCursor, cursor: str | None) -> None:
        self.kind = kind
        self.cursor = cursor
        self.seen: set[str] = set() if cursor is None else {cursor}

    def params(self) -> Params:
        p = [(self.kind.limit_param, str(self.kind.limit))]
        if self.cursor:
            p.append((self.kind.param, self.cursor))
        return p

    def advance(self, page: Page) -> list[LoanEvent]:
        nxt = page.next_cursor
        if page.count == 0 or not nxt:
            self.done = True
            return page.events
        if nxt in self.seen:
            raise PaginationError(f"the venue repeated cursor {nxt!r}; refusing to loop")
        self.seen.add(nxt)
        self.cursor = nxt
        return page.events

    def position(self) -> dict[str, Any]:
        return {"cursor": self.cursor}


@dataclass(frozen=True, slots=True)
class PagedWindows(CursorKind):
    """``[start, end]`` windows of at most `span_ms`, each paged with a page number."""

    span_ms: int
    size: int = 100
    start_param: str = "startTime"
    end_param: str = "endTime"
    page_param: str = "current"
    size_param: str = "size"
    name: str = "paged_windows"
    early_stop: bool = False

    def walk(self, bounds: Bounds, position: Mapping[str, Any] | None, strict: bool) -> Walk:
        if bounds.lo is None:
            raise InvalidArgument("since", "this feed needs a lower bound (its spec sets default_since)")
        pos = position or {}
        return _PagedWindowWalk(self, bounds.lo, int(pos.get("whi", bounds.hi)), int(pos.get("page", 1)))


class _PagedWindowWalk(Walk):
    def __init__(self, kind: PagedWindows, lo: int, whi: int, page: int) -> None:
        self.kind = kind
        self.lo = lo
        self.whi = whi
        self.page = page
        self.segment = whi
        self.done = whi < lo
        self.window = (self._wlo(), whi)

    def _wlo(self) -> int:
        return max(self.lo, self.whi - self.kind.span_ms + 1)

    def params(self) -> Params:
        k = self.kind
        return [
            (k.start_param, str(self._wlo())),
            (k.end_param, str(self.whi)),
            (k.page_param, str(self.page)),
            (k.size_param, str(k.size)),
        ]

    def advance(self, page: Page) -> list[LoanEvent]:
        k = self.kind
        short = page.count < k.size
        if short or (page.total is not None and self.page * k.size >= page.total):
            self.whi = self._wlo() - 1
            self.page = 1
            self.segment = self.whi
            self.done = self.whi < self.lo
            self.window = (self._wlo(), self.whi)
        else:
            self.page += 1
        return page.events

    def position(self) -> dict[str, Any]:
        return {"whi": self.whi, "page": self.page}


@dataclass(frozen=True, slots=True)
class TimeWindows(CursorKind):
    """Windows without a page parameter; a full window is split in halves and re-asked.

    `pad_ms` widens each request by that much on both sides and the engine keeps
    only rows inside the window, so the walk is exact whether the venue treats
    the bounds as inclusive or exclusive (undocumented for these endpoints).
    """

    span_ms: int
    size: int = 100
    start_param: str = "startTime"
    end_param: str = "endTime"
    size_param: str = "size"
    pad_ms: int = 1
    name: str = "time_windows"
    early_stop: bool = False

    def walk(self, bounds: Bounds, position: Mapping[str, Any] | None, strict: bool) -> Walk:
        if bounds.lo is None:
            raise InvalidArgument("since", "this feed needs a lower bound (its spec sets default_since)")
        pos = position or {}
        return _TimeWindowWalk(
            self, bounds.lo, int(pos.get("whi", bounds.hi)), int(pos.get("span", self.span_ms)), strict
        )


class _TimeWindowWalk(Walk):
    """Newest window first. A full answer is split in halves; a full 1-ms window is
    re-asked without padding, which settles it under either bound semantics:
    inclusive bounds answer the lone ms exactly; exclusive bounds answer nothing,
    and then the padded answer held only that ms."""

    def __init__(self, kind: TimeWindows, lo: int, whi: int, span: int, strict: bool) -> None:
        self.kind = kind
        self.lo = lo
        self.whi = whi
        self.span = span
        self.strict = strict
        self.done = whi < lo
        self.held: list[LoanEvent] | None = None  # padded answer of a full 1-ms window
        self._set_window()

    def _set_window(self) -> None:
        self.window = (max(self.lo, self.whi - self.span + 1), self.whi)
        self.segment = self.whi * 10_000_000_000_000 + self.span

    def params(self) -> Params:
        k = self.kind
        assert self.window is not None
        wlo, whi = self.window
        pad = 0 if self.held is not None else k.pad_ms
        return [
            (k.start_param, str(wlo - pad)),
            (k.end_param, str(whi + pad)),
            (k.size_param, str(k.size)),
        ]

    def _next_window(self, wlo: int) -> None:
        self.whi = wlo - 1
        self.span = min(self.kind.span_ms, self.span * 2)
        self.done = self.whi < self.lo
        self._set_window()

    def advance(self, page: Page) -> list[LoanEvent]:
        assert self.window is not None
        wlo, whi = self.window
        full = page.count >= self.kind.size
        if self.held is not None:  # the unpadded re-ask of one ms
            held, self.held = self.held, None
            at_ms = [e for e in held if e.ts == whi]
            if page.count == 0:
                events = at_ms  # exclusive bounds: the padded answer was that ms alone
                lossy = bool(at_ms)
            else:
                events, lossy = page.events, full
            if lossy:
                self.gap(f"more than {self.kind.size} rows at ts {whi}; some may be missing")
            self._next_window(wlo)
            return events
        if full:
            if whi > wlo:
                # more rows than one answer holds: ask again in halves, newest half first
                self.span = max(1, (whi - wlo + 1) // 2)
                self._set_window()
                return []
            if self.kind.pad_ms:
                self.held = page.events
                return []
            self.gap(f"more than {self.kind.size} rows at ts {whi}; some may be missing")
        self._next_window(wlo)
        return page.events

    def position(self) -> dict[str, Any]:
        return {"whi": self.whi, "span": self.span}


# --- feed spec -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """Everything the engine and the registry know about one feed.

    `filters` maps the Python keyword of a venue filter (``order_id``) to its
    wire parameter (``ordId``). `derived_ids`: the venue gives no id; the
    decoder derives one and appends an occurrence index (``#n``) so identical
    rows stay distinct. `retention_ms`: how far back the venue keeps records.
    `default_since`: the lower bound when none is given (window kinds need one).
    """

    id: str
    venue: str
    path: str
    limit: Limit
    cursor: CursorKind
    decode: DecodeFn
    description: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    derived_ids: bool = False
    retention_ms: int | None = None
    default_since: int | None = None
    kinds: tuple[str, ...] = ()


# --- the engine ------------------------------------------------------------------------


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


class _Mark(msgspec.Struct, array_like=True):
    """A (ts, ids at that ts) pair: the top or the bottom edge of what a walk has seen."""

    ts: int
    ids: list[str]


class _WalkState(msgspec.Struct, kw_only=True):
    pos: dict[str, Any]
    lo: int | None
    hi: int
    top: _Mark | None = None
    low: _Mark | None = None
    occ: dict[str, int] | None = None


class _Token(msgspec.Struct, kw_only=True):
    v: int = 1
    feed: str
    flt: str = ""  # the venue filters the walks used (a token only resumes the same selection)
    floor: _Mark | None = None
    pend: dict[str, int] = {}
    walk: _WalkState | None = None


_token_encoder = msgspec.json.Encoder()
_token_decoder = msgspec.json.Decoder(_Token)


def _encode_token(tok: _Token) -> str:
    return base64.urlsafe_b64encode(_token_encoder.encode(tok)).decode().rstrip("=")


def _decode_token(text: str, feed: str, filters: str) -> _Token:
    if not isinstance(text, str):
        raise TypeError(f"resume: expected the str token from feed.checkpoint, got {type(text).__name__}")
    try:
        tok = _token_decoder.decode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidArgument("resume", "not a checkpoint token produced by loanledger") from None
    if tok.v != 1:
        raise InvalidArgument("resume", f"unsupported checkpoint version {tok.v}")
    if tok.feed != feed:
        raise InvalidArgument("resume", f"token belongs to feed {tok.feed!r}, not {feed!r}")
    if tok.flt != filters:
        raise InvalidArgument(
            "resume", f"token was made with filters {tok.flt or 'none'!r}, not {filters or 'none'!r}"
        )
    return tok


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
    ) -> None:
        if since is not None and until is not None and since > until:
            raise InvalidArgument("since", f"since ({since}) is after until ({until})")
        if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
            raise InvalidArgument("max_pages", f"{max_pages!r} must be a positive int")
        for flag, value in (("strict", strict), ("keep_raw", keep_raw)):
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
        self._clock = clock
        self._filters = "&".join(f"{k}={v}" for k, v in sorted(filters))
        self._token = (
            _decode_token(resume, spec.id, self._filters) if resume is not None
            else _Token(feed=spec.id, flt=self._filters)
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

    def _bounds(self, floor: _Mark | None, pend: Mapping[str, int], now: int) -> Bounds:
        lo: int | None = None
        if floor is not None:
            lo = floor.ts
        if pend:
            p = min(pend.values())
            lo = p if lo is None else min(lo, p)
        if self.since is not None:
            lo = self.since if lo is None else max(lo, self.since)
        if lo is None:
            lo = self.spec.default_since
        # "up to now" reaches a little past our estimate of the venue's clock: a venue whose
        # clock runs ahead (by less than it tolerates in request timestamps, or before our
        # first resync) stamps new records after our now
        return Bounds(lo, now + AHEAD_MS if self.until is None else min(self.until, now))

    def _retention_check(self, lo: int | None, now: int) -> None:
        r = self.spec.retention_ms
        if r is None or self._warned_retention or lo is None or self.since is None:
            return
        if lo < now - r:
            self._warned_retention = True
            self.stats.gaps += 1
            warnings.warn(
                f"{self.id} keeps only {r // DAY_MS} days of records; "
                f"nothing before {now - r} can be fetched (since={self.since})",
                DataGapWarning,
                stacklevel=3,
            )

    async def _run(self) -> AsyncGenerator[FeedPage, None]:
        tok = self._token
        number = 0
        # first an interrupted walk, then a fresh walk from the newest record
        for fresh in (False, True):
            if not fresh and tok.walk is None:
                continue
            if fresh:
                now = self._clock()
                b = self._bounds(tok.floor, tok.pend, now)
                tok.walk = _WalkState(pos={}, lo=b.lo, hi=b.hi)
                first = True
            else:
                assert tok.walk is not None
                b = Bounds(tok.walk.lo, tok.walk.hi)
                first = False
            self._retention_check(b.lo, self._clock())
            ws = tok.walk
            walk = self.spec.cursor.walk(b, None if first else ws.pos, self.strict)
            ctx = DecodeContext(
                feed=self.spec.id, account=self.account, keep_raw=self.keep_raw,
                occurrences=(ws.occ if ws.occ is not None else {}) if self.spec.derived_ids else None,
            )
            segment = walk.segment
            prev_ids: set[str] = set()
            low_ids: set[str] = set(ws.low.ids) if ws.low is not None else set()
            low_ts = ws.low.ts if ws.low is not None else None
            top = ws.top
            floor = tok.floor
            pend = dict(tok.pend)
            seen_pending: set[str] = set()
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
                if early and low_ts is not None and page.max_ts is not None and page.max_ts > low_ts:
                    early = False
                gaps = walk.gaps
                kept = walk.advance(page)
                self.stats.gaps += walk.gaps - gaps
                out: list[LoanEvent] = []
                if kept:
                    out, top, low_ts, prev_ids = self._select(
                        kept, window, b, floor, pend, seen_pending, top, low_ts, low_ids, prev_ids
                    )
                if (
                    early
                    and not walk.done
                    and b.lo is not None
                    and page.min_ts is not None
                    and page.min_ts < b.lo
                ):
                    walk.done = True
                if walk.done:
                    floor, pend = self._complete(floor, top, pend, seen_pending, b)
                    tok = _Token(feed=self.spec.id, flt=self._filters, floor=floor, pend=pend, walk=None)
                else:
                    tok = _Token(
                        feed=self.spec.id, flt=self._filters, floor=floor, pend=pend,
                        walk=_WalkState(
                            pos=walk.position(), lo=b.lo, hi=b.hi, top=top,
                            low=_Mark(low_ts, sorted(low_ids)) if low_ts is not None else None,
                            occ=dict(ctx.occurrences) if ctx.occurrences is not None else None,
                        ),
                    )
                self._token = tok
                self.stats.events += len(out)
                number += 1
                yield FeedPage(out, _encode_token(tok), page.count, number, walk.done)

    def _select(
        self,
        events: list[LoanEvent],
        window: tuple[int, int] | None,
        b: Bounds,
        floor: _Mark | None,
        pend: dict[str, int],
        seen_pending: set[str],
        top: _Mark | None,
        low_ts: int | None,
        low_ids: set[str],
        prev_ids: set[str],
    ) -> tuple[list[LoanEvent], _Mark | None, int | None, set[str]]:
        """Filter one page's events; update the top/low edges. The hot loop of every feed."""
        fast = self._select_all(events, window, b, floor, pend, top, low_ts, low_ids, prev_ids)
        if fast is not None:
            return fast
        return self._select_each(events, window, b, floor, pend, seen_pending, top, low_ts, low_ids, prev_ids)

    def _select_each(
        self,
        events: list[LoanEvent],
        window: tuple[int, int] | None,
        b: Bounds,
        floor: _Mark | None,
        pend: dict[str, int],
        seen_pending: set[str],
        top: _Mark | None,
        low_ts: int | None,
        low_ids: set[str],
        prev_ids: set[str],
    ) -> tuple[list[LoanEvent], _Mark | None, int | None, set[str]]:
        """`_select` event by event: the general case (and the reference for `_select_all`)."""
        out: list[LoanEvent] = []
        page_ids: set[str] = set()
        lo = b.lo if b.lo is not None else -1
        since = self.since if self.since is not None else -1
        hi = b.hi
        w_lo, w_hi = window if window is not None else (-1, hi)
        f_ts = floor.ts if floor is not None else -1
        f_ids = floor.ids if floor is not None else ()
        parent: str | None = None
        keep_parent = False
        pending = EventStatus.PENDING
        for ev in events:
            pid = ev.parent_id
            if pid is not None and pid == parent:
                if keep_parent:
                    out.append(ev)
                continue
            ts = ev.ts
            eid = ev.id
            parent = eid
            keep_parent = False
            if ts > hi or ts < since or ts < w_lo or ts > w_hi:
                continue
            # edges of what this walk has seen (dedup memory and the next floor)
            if top is None or ts > top.ts:
                top = _Mark(ts, [eid])
            elif ts == top.ts and eid not in top.ids:
                top.ids.append(eid)
            if low_ts is None or ts < low_ts:
                low_ts = ts
                low_ids.clear()
            if eid in page_ids or eid in prev_ids or (ts == low_ts and eid in low_ids):
                self.stats.duplicates += 1
                continue
            page_ids.add(eid)
            if ts == low_ts:
                low_ids.add(eid)
            if ts < lo:
                continue
            if ts <= f_ts and not (ts == f_ts and eid not in f_ids) and eid not in pend:
                continue
            if ev.status is pending:
                pend[eid] = ts
                seen_pending.add(eid)
            elif eid in pend:
                del pend[eid]
                seen_pending.add(eid)
            keep_parent = True
            out.append(ev)
        return out, top, low_ts, page_ids

    def _select_all(
        self,
        events: list[LoanEvent],
        window: tuple[int, int] | None,
        b: Bounds,
        floor: _Mark | None,
        pend: dict[str, int],
        top: _Mark | None,
        low_ts: int | None,
        low_ids: set[str],
        prev_ids: set[str],
    ) -> tuple[list[LoanEvent], _Mark | None, int | None, set[str]] | None:
        """`_select` for the common page (a backfill, the body of an incremental walk): every
        event is inside the bounds, above the floor, new, and nothing is pending. Then every
        event is kept and only the edges move, computed with C-level passes instead of the
        per-event loop; the result is the loop's. None when the page needs the loop (it
        also handles events that belong to a parent: they take no part in the edges)."""
        if pend or {e.parent_id for e in events} != _NO_PARENT:
            return None
        stamps = [e.ts for e in events]
        first, last = min(stamps), max(stamps)
        lo = max(b.lo if b.lo is not None else first, self.since if self.since is not None else first)
        hi = b.hi
        if window is not None:
            lo, hi = max(lo, window[0]), min(hi, window[1])
        if first < lo or last > hi or (floor is not None and first <= floor.ts):
            return None
        ids = [e.id for e in events]
        page_ids = set(ids)
        if (
            len(page_ids) != len(ids)
            or not page_ids.isdisjoint(prev_ids)
            or (low_ts is not None and first <= low_ts and not page_ids.isdisjoint(low_ids))
            or _PENDING in {e.status for e in events}
        ):
            return None
        if top is None or last > top.ts:
            top = _Mark(last, _ids_at(last, ids, stamps))
        elif last == top.ts:
            top.ids.extend(i for i in _ids_at(last, ids, stamps) if i not in top.ids)
        if low_ts is None or first < low_ts:
            low_ts = first
            low_ids.clear()
        if first == low_ts:
            low_ids.update(_ids_at(first, ids, stamps))
        return list(events), top, low_ts, page_ids

    def _complete(
        self,
        floor: _Mark | None,
        top: _Mark | None,
        pend: dict[str, int],
        seen_pending: set[str],
        b: Bounds,
    ) -> tuple[_Mark | None, dict[str, int]]:
        """A walk finished: the next one starts above `top`; vanished pending ids are dropped."""
        if self.until is not None and (top is None or top.ts < b.hi):
            top = _Mark(b.hi, [])  # everything up to `until` was walked
        if top is not None:
            if floor is None or top.ts > floor.ts:
                floor = _Mark(top.ts, list(top.ids))
            elif top.ts == floor.ts:
                floor = _Mark(floor.ts, sorted(set(floor.ids) | set(top.ids)))
        lost = [i for i, ts in pend.items() if i not in seen_pending and b.lo is not None and ts >= b.lo]
        if lost:
            self.stats.gaps += 1
            warnings.warn(
                f"{self.id}: {len(lost)} pending record(s) no longer returned by the venue "
                "(outside its retention?); their last known status stands",
                DataGapWarning,
                stacklevel=3,
            )
            pend = {i: ts for i, ts in pend.items() if i not in lost}
        return floor, pend

