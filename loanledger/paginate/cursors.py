"""Cursor kinds: how one endpoint asks for its next page, and what decoders hand them.

A decoder turns a response body into a `Page` (its events plus the wire facts
cursors need); a `CursorKind` (immutable, part of a FeedSpec) starts a `Walk`
(the mutable position of one walk) that turns each Page into the next request's
parameters. The kinds (see docs/ARCHITECTURE.md):

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

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from ..errors import DataGapWarning, InvalidArgument, PaginationError
from ..events import LoanEvent

__all__ = [
    "DAY_MS",
    "Bounds",
    "CursorKind",
    "DecodeContext",
    "DecodeFn",
    "ExclusiveIdCursor",
    "OpaqueCursor",
    "Page",
    "PagedWindows",
    "Params",
    "TimeWindows",
    "TsCursor",
    "Walk",
]

Params = list[tuple[str, str]]
DAY_MS = 86_400_000

# --- what decoders produce ---------------------------------------------------------


class Page(msgspec.Struct):
    """One decoded response: its events plus the wire facts cursors need.

    `count` is the number of wire records (a record may yield several events,
    or none); the ts fields describe the records in wire order: `first_ts` of
    the first record, `last_ts` of the last, `min_ts`/`max_ts` over all.
    `last_key` is the cursor key of the last record (OKX refId), `next_cursor`
    the venue's opaque next-page token, `total` the venue's total row count.
    `held`: the last `held` events come from trailing records the decoder holds
    back (they belong with records of the next page, see `feeds.Held`); `min_ts`,
    `max_ts` and `last_key` leave those records out, and a cursor that goes on
    (`ExclusiveIdCursor`) drops the events and asks again from the record before
    them. On the last page they stay.
    """

    events: list[LoanEvent]
    count: int
    min_ts: int | None = None
    max_ts: int | None = None
    last_key: str | None = None
    next_cursor: str | None = None
    total: int | None = None
    held: int = 0


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
        # records held back come again at the top of the next page (after= the record before them)
        return page.events[: len(page.events) - page.held] if page.held else page.events

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
