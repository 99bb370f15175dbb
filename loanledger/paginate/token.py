"""The checkpoint token: what a walk must remember to resume exactly (opaque to users).

After every page the engine encodes one `Token` as URL-safe base64 JSON:

- `floor`: the newest complete walk's top edge (ts + the ids at that ts): what lies at or
  below it was yielded before;
- `pend`: the ids of records that were not final yet (re-read on every walk until they are);
- `cov`: the spans complete walks have covered, newest first (`lo` None: down to the oldest
  record the venue served); `lost`: spans found unreadable (older than the venue's
  retention when a walk resumed or asked for them); `at`: when the newest complete walk ended
  (venue clock, ms);
- mid-walk, `walk`: the cursor position, the walk's frozen bounds, its dedup edge, its
  derived-id counters, whether it re-reads everything (`full`) and the pending ids it has
  read again so far (`seen`: an id it did not see by its end is no longer served).

A token only resumes the feed and the venue filters it was made with. Format 1 tokens
(loanledger 0.1/0.2, no `cov`) still resume: their covered span is taken as everything up to
their floor, which is what format 1 assumed (`full=True` re-walks a feed whose first sync was
narrower). `coverage(text)` reads a token for display (`loanledger status`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from ..errors import InvalidArgument

__all__ = [
    "VERSION",
    "Coverage",
    "Mark",
    "Span",
    "Token",
    "WalkState",
    "coverage",
    "decode_token",
    "encode_token",
    "holes",
    "merge_spans",
]

#: the token format written; format 1 is still read
VERSION = 2


class Mark(msgspec.Struct, array_like=True):
    """A (ts, ids at that ts) pair: the top or the bottom edge of what a walk has seen."""

    ts: int
    ids: list[str]


class Span(msgspec.Struct, array_like=True, frozen=True):
    """An inclusive ms range [lo, hi]; `lo` None reaches down to the oldest record."""

    lo: int | None
    hi: int


class WalkState(msgspec.Struct, kw_only=True):
    pos: dict[str, Any]
    lo: int | None
    hi: int
    top: Mark | None = None
    low: Mark | None = None
    occ: dict[str, int] | None = None
    full: bool = False  # re-reads everything in [lo, hi], covered or not
    seen: list[str] = []  # pending ids this walk has read again so far
    until: bool = False  # `hi` is the caller's until (not "now"): all up to it is walked at the end
    reach: int | None = None  # lo None on a feed with a retention: the oldest ms it can have read
    #: the highest `since` a run of this walk filtered by (None: none): it read nothing below it,
    #: so it covers from there even when a later run finishes it without `since`
    since: int | None = None


class Token(msgspec.Struct, kw_only=True):
    v: int = VERSION
    feed: str
    flt: str = ""  # the venue filters the walks used (a token only resumes the same selection)
    floor: Mark | None = None
    pend: dict[str, int] = {}
    walk: WalkState | None = None
    cov: list[Span] = []
    lost: list[Span] = []
    at: int | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Token)


def encode_token(tok: Token) -> str:
    return base64.urlsafe_b64encode(_encoder.encode(tok)).decode().rstrip("=")


def _read(text: str) -> Token:
    if not isinstance(text, str):
        raise TypeError(f"resume: expected the str token from feed.checkpoint, got {type(text).__name__}")
    try:
        tok = _decoder.decode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidArgument("resume", "not a checkpoint token produced by loanledger") from None
    if tok.v not in (1, VERSION):
        raise InvalidArgument(
            "resume", f"unsupported checkpoint format {tok.v} (this loanledger reads formats 1 and {VERSION})"
        )
    if tok.v == 1:
        # format 1 knew no coverage: a complete walk covered everything up to its floor
        tok.v = VERSION
        if tok.floor is not None and not tok.cov:
            tok.cov = [Span(None, tok.floor.ts)]
    return tok


def decode_token(text: str, feed: str, filters: str) -> Token:
    tok = _read(text)
    if tok.feed != feed:
        raise InvalidArgument("resume", f"token belongs to feed {tok.feed!r}, not {feed!r}")
    if tok.flt != filters:
        raise InvalidArgument(
            "resume", f"token was made with filters {tok.flt or 'none'!r}, not {filters or 'none'!r}"
        )
    return tok


# --- spans ---------------------------------------------------------------------------------------


_BOTTOM = -(1 << 62)  # stands for a span reaching down to the oldest record (lo None)


def _low(s: Span) -> int:
    return _BOTTOM if s.lo is None else s.lo


def _span(lo: int, hi: int) -> Span:
    return Span(None if lo == _BOTTOM else lo, hi)


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or adjacent spans merged into one, newest first."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: s.hi, reverse=True):
        if out and s.hi >= _low(out[-1]) - 1:
            out[-1] = _span(min(_low(out[-1]), _low(s)), out[-1].hi)
        else:
            out.append(s)
    return out


def holes(wanted: Span, covered: Sequence[Span]) -> list[Span]:
    """The parts of `wanted` that no span of `covered` (merged, newest first) reaches, newest first."""
    bottom = _low(wanted)
    out: list[Span] = []
    top = wanted.hi  # the highest ms not accounted for yet
    for s in covered:
        if top < bottom:
            return out
        if s.hi < top:
            lo = max(s.hi + 1, bottom)
            if lo <= top:
                out.append(_span(lo, top))
        top = min(top, _low(s) - 1)
    if top >= bottom:
        out.append(_span(bottom, top))
    return out


# --- reading a token for display -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a feed's checkpoint says about the feed (see `coverage`)."""

    feed: str
    filters: str
    covered: list[Span]  # spans complete walks covered, newest first
    lost: list[Span]  # spans found past the venue's retention
    newest: int | None  # the newest record's ts a complete walk reached (the floor)
    pending: int  # records re-read on every walk until final
    walking: bool  # a walk was interrupted; the next sync finishes it first
    walk_full: bool  # ... and it is a full re-walk
    completed_at: int | None  # when the newest complete walk ended (venue clock, ms)

    def gaps(self) -> list[Span]:
        """Spans between covered spans that no walk read (a sync with `since` later than the
        previous floor leaves one; a sync reaching back over it fills it), newest first."""
        if len(self.covered) < 2:
            return []
        return holes(Span(self.covered[-1].lo, self.covered[0].hi), self.covered)


def coverage(text: str) -> Coverage:
    """What a checkpoint token (any feed, any filters) says: spans covered, pending, gaps."""
    tok = _read(text)
    return Coverage(
        feed=tok.feed, filters=tok.flt, covered=list(tok.cov), lost=list(tok.lost),
        newest=tok.floor.ts if tok.floor is not None else None, pending=len(tok.pend),
        walking=tok.walk is not None, walk_full=tok.walk is not None and tok.walk.full, completed_at=tok.at,
    )
