"""Declaring a feed: one block per endpoint, filters as data, one codec builder for every venue.

A venue module declares each feed once, with `feed()`:

    LOAN_HISTORY = feed(
        "okx.flexible_loan_history", OKX_DATA,           # id, the venue's envelope shape
        path="/api/v5/finance/flexible-loan/loan-history",
        limit=Limit(5, 2.0),                              # the documented limit
        cursor=ExclusiveIdCursor(param="after", limit=100),
        row=_LoanRow, ts="ts", key="refId",               # the wire Struct; its time and cursor key
        normalize=_loan_history,                          # wire rows -> LoanEvents
        filters={"type": Filter("type", choice(LOAN_HISTORY_TYPES)), ...},
    )

and everything else follows from the block: the typed and the raw (``keep_raw``)
decoders, built once; the sans-IO ``decode(body, ctx) -> Page`` used by the engine,
the transport and `loanledger.decode`; argument checks of the filters, run by
`VenueClient.events` (and so by every per-feed method) before any request.

A normalizer is ``normalize(rows, raws, ctx, out)``: it appends the events of one
page's wire rows to `out` (`raws` holds each row's bytes when ``ctx.keep_raw``,
else None) and raises `BadRecord` for a record that breaks the documented shape
(it becomes `DecodeError` naming the feed and carrying the body). It may return
`Held`: its trailing records belong with the next page's (OKX liquidation legs
that link to older legs), so a walk that goes on asks for them again.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NamedTuple, TypedDict

import msgspec

from ._args import TimeArg, check_currency
from .errors import DecodeError, InvalidArgument
from .events import LoanEvent
from .paginate.cursors import CursorKind, DecodeContext, DecodeFn, Page
from .ratelimit import Limit

__all__ = [
    "BadRecord",
    "Check",
    "Envelope",
    "FeedOptions",
    "FeedSpec",
    "Filter",
    "Held",
    "Normalize",
    "choice",
    "currency",
    "digits",
    "feed",
    "venue_id",
]


# --- filters: a venue parameter and the check of its Python argument ---------------------------

#: ``check(argument_name, value) -> wire value``; raises TypeError (wrong type) or
#: InvalidArgument (a value the venue does not take), naming the argument
Check = Callable[[str, object], str]


@dataclass(frozen=True, slots=True)
class Filter:
    """A venue filter of a feed: its wire parameter and the check of the Python value."""

    wire: str
    check: Check


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected str, got {builtins.type(value).__name__}")
    return value


def currency(name: str, value: object) -> str:
    """An upper-case alphanumeric asset code such as ``USDT``."""
    return check_currency(name, value)


def choice(values: Iterable[str | int]) -> Check:
    """One of `values` (an int is taken as its decimal text when the values are codes)."""
    allowed = tuple(str(v) for v in values)
    accepts_int = all(v.isdigit() for v in allowed)

    def check(name: str, value: object) -> str:
        if accepts_int and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text = _text(name, value)
        if text not in allowed:
            raise InvalidArgument(name, f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return check


def digits(what: str) -> Check:
    """A decimal id (OKX order ids)."""

    def check(name: str, value: object) -> str:
        text = _text(name, value)
        if not (text.isascii() and text.isdigit() and len(text) <= 64):
            raise InvalidArgument(name, f"{text!r} is not {what} (digits)")
        return text

    return check


_VENUE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def venue_id(name: str, value: object) -> str:
    """A venue id: letters, digits, ``-`` or ``_`` (an int is taken as its text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _text(name, value)
    if not _VENUE_ID.fullmatch(text):
        raise InvalidArgument(name, f"{text!r} is not a venue id (letters, digits, - or _)")
    return text


class FeedOptions(TypedDict, total=False):
    """The options every feed takes, beside its filters (see `VenueClient.events`)."""

    since: TimeArg
    until: TimeArg
    resume: str | None
    strict: bool
    keep_raw: bool
    max_pages: int
    full: bool


#: the names of FeedOptions (the per-feed methods take exactly these plus the feed's filters)
OPTIONS: tuple[str, ...] = tuple(FeedOptions.__annotations__)


# --- envelopes and the codec builder ------------------------------------------------------------


class BadRecord(Exception):
    """A wire record that does not follow the documented shape (becomes DecodeError)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """How a venue wraps one page of rows.

    `wrap(row_type)` is the Struct type of a success body holding rows of that type;
    `unpack(envelope)` gives ``(rows, next_cursor, total)``; `accept(envelope, body,
    feed, path)` raises the venue's typed error for an error envelope that decoded
    (``{"code": "50011", "data": []}`` is never an empty last page); `reject(body,
    feed, path, detail)` is the error for a body that is not this shape (the venue's
    typed error when the body is an error envelope, else DecodeError).
    """

    venue: str
    wrap: Callable[[Any], Any]
    unpack: Callable[[Any], tuple[list[Any], str | None, int | None]]
    reject: Callable[[bytes, str, str, str], Exception]
    accept: Callable[[Any, bytes, str, str], None] | None = None


class Held(NamedTuple):
    """What a normalizer holds back of a page: its last `rows` wire records, which yielded its
    last `events` events, are only complete with records the next page holds. The page's
    `min_ts`, `max_ts` and `last_key` then describe the records before them, so an id cursor
    that goes on asks for them again (and drops these events); on the last page, or in a
    one-off `loanledger.decode`, the events stay. `rows` must be less than the page's."""

    rows: int
    events: int


#: ``normalize(rows, raws, ctx, out)``: append one page's events to `out` (optionally say what is `Held`)
Normalize = Callable[[list[Any], "list[msgspec.Raw] | None", DecodeContext, list[LoanEvent]], "Held | None"]

_WIRE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


def _decoder(
    env: Envelope, path: str, row: type[Any], raw_row: type[Any] | None, normalize: Normalize,
    ts: str | Callable[[Any], int], key: str | None,
) -> tuple[DecodeFn, msgspec.json.Decoder[Any]]:
    """The decode function of one feed (envelope -> rows -> events, with the page's wire facts)
    and its typed envelope decoder."""
    typed: msgspec.json.Decoder[Any] = msgspec.json.Decoder(env.wrap(row), strict=False)
    raw: msgspec.json.Decoder[Any] = msgspec.json.Decoder(env.wrap(msgspec.Raw))
    one: msgspec.json.Decoder[Any] = msgspec.json.Decoder(raw_row or row, strict=False)
    # keep_raw: the page's records typed in one pass (a second scan of the body in C), not one
    # decode call per record; `one` remains the path of a page that does not decode whole
    typed_raw: msgspec.json.Decoder[Any] = (
        typed if raw_row is None else msgspec.json.Decoder(env.wrap(raw_row), strict=False))
    stamp = attrgetter(ts) if isinstance(ts, str) else ts
    last = attrgetter(key) if key is not None else None
    unpack, accept, reject, venue = env.unpack, env.accept, env.reject, env.venue
    copy_raw = msgspec.Raw.copy

    def decode(body: bytes, ctx: DecodeContext) -> Page:
        feed_id = ctx.feed
        try:
            envelope = (raw if ctx.keep_raw else typed).decode(body)
        except _WIRE_ERRORS as exc:
            raise reject(body, feed_id, path, str(exc)) from None
        if accept is not None:
            accept(envelope, body, feed_id, path)
        rows, cursor, total = unpack(envelope)
        raws: list[msgspec.Raw] | None = None
        events: list[LoanEvent] = []
        try:
            if ctx.keep_raw:
                # a copy each (Raw.copy releases the slice of the body): an event never pins the body
                raws = list(map(copy_raw, rows))
                try:
                    typed_rows: list[Any] | None = unpack(typed_raw.decode(body))[0]
                except _WIRE_ERRORS:
                    typed_rows = None
                if typed_rows is not None and len(typed_rows) == len(raws):
                    rows = typed_rows
                else:  # record by record: the error names the record's own path, as it always did
                    rows = [one.decode(r) for r in raws]
            stamps = list(map(stamp, rows))
            held = normalize(rows, raws, ctx, events)
            kept = len(rows)
            if held is not None and 0 < held.rows < kept:
                kept -= held.rows
                stamps = stamps[:kept]
            else:
                held = None
            last_key = str(last(rows[kept - 1])) if last is not None and kept else None
        except (BadRecord, *_WIRE_ERRORS) as exc:
            raise DecodeError(venue, feed_id, str(exc), body) from None
        return Page(events=events, count=len(rows), min_ts=min(stamps) if stamps else None,
                    max_ts=max(stamps) if stamps else None, last_key=last_key, next_cursor=cursor, total=total,
                    held=held.events if held is not None else 0)

    return decode, typed


# --- the feed block ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """Everything the engine, the client and the registry know about one feed.

    `filters`: Python keyword -> `Filter` (wire parameter + check). `derived_ids`: the
    venue gives no id; the decoder derives one and appends an occurrence index (``#n``,
    counted in ``ctx.occurrences``) so identical rows stay distinct. `retention_ms`: how
    far back the venue keeps records. `default_since` (absolute ms) or `lookback_ms`
    (relative to the venue's clock when a walk starts): the lower bound when none is
    given (window kinds need one). `future_since`: whether a `since` after now is
    accepted (windows walked from a future bound would only waste requests).
    `final(event)`: whether the venue can still change the record (None: final unless
    `pending`); records not final are read again on every walk until they are.
    `positional_ids`: the derived id of a record depends on its place among records
    sharing its key at one ms (OKX one-click repays), so the newest ms walked is read
    again whole by the next walk rather than recognised by id. `rewalk`: records appear
    with timestamps in the past (a loan listed at its borrow time once it completes), so
    every walk reads the whole span the venue keeps instead of what is newer than the last.
    """

    id: str
    venue: str
    path: str
    limit: Limit
    cursor: CursorKind
    decode: DecodeFn
    description: str = ""
    filters: Mapping[str, Filter] = field(default_factory=dict)
    derived_ids: bool = False
    retention_ms: int | None = None
    default_since: int | None = None
    lookback_ms: int | None = None
    future_since: bool = True
    kinds: tuple[str, ...] = ()
    final: Callable[[LoanEvent], bool] | None = None
    positional_ids: bool = False
    rewalk: bool = False
    #: the typed envelope decoder behind `decode` (msgspec only, no normalization: for benchmarks)
    wire: msgspec.json.Decoder[Any] | None = None

    def wire_filters(self, values: Mapping[str, object]) -> list[tuple[str, str]]:
        """The wire parameters of `values` (Python filter names -> values; None = not given),
        every value checked: unknown names, wrong types and bad values raise before any request."""
        out: list[tuple[str, str]] = []
        for name, value in values.items():
            f = self.filters.get(name)
            if f is None:
                known = ", ".join(sorted(self.filters)) or "none"
                raise InvalidArgument(name, f"not a filter of {self.id} (filters: {known})")
            if value is None:
                continue
            if isinstance(value, str) and not value:
                raise InvalidArgument(name, "must not be empty")
            out.append((f.wire, f.check(name, value)))
        return out


def feed(
    feed_id: str,
    envelope: Envelope,
    *,
    path: str,
    limit: Limit,
    cursor: CursorKind,
    row: type[Any],
    normalize: Normalize,
    ts: str | Callable[[Any], int],
    key: str | None = None,
    raw_row: type[Any] | None = None,
    description: str = "",
    filters: Mapping[str, Filter] | None = None,
    kinds: Sequence[str] = (),
    derived_ids: bool = False,
    retention_ms: int | None = None,
    default_since: int | None = None,
    lookback_ms: int | None = None,
    future_since: bool = True,
    final: Callable[[LoanEvent], bool] | None = None,
    positional_ids: bool = False,
    rewalk: bool = False,
) -> FeedSpec:
    """Declare one feed (see the module docstring): the block a venue module writes per endpoint.

    `row` is the wire Struct of one record, `ts` its time field (or a function of the row),
    `key` the field an id cursor continues from, `raw_row` the Struct a kept raw record is
    decoded into (when nested parts stay raw too), `final` when a record can no longer change
    (default: not `pending`; docs/venues/ tabulates it per feed).
    """
    if not feed_id.startswith(envelope.venue + "."):
        raise ValueError(f"feed id {feed_id!r} must start with {envelope.venue!r}.")
    decode, wire = _decoder(envelope, path, row, raw_row, normalize, ts, key)
    return FeedSpec(
        id=feed_id, venue=envelope.venue, path=path, limit=limit, cursor=cursor, decode=decode, wire=wire,
        description=description, filters=dict(filters or {}), derived_ids=derived_ids,
        retention_ms=retention_ms, default_since=default_since, lookback_ms=lookback_ms,
        future_since=future_since, kinds=tuple(sorted({str(k) for k in kinds})), final=final,
        positional_ids=positional_ids,
        rewalk=rewalk,
    )
