"""The checkpoint token: what a walk must remember to resume exactly (opaque to users).

After every page the engine encodes one `Token` as URL-safe base64 JSON: the
newest complete walk's top edge (`floor`: ts + ids at that ts), the ids still
`pending`, and, mid-walk, the cursor position, the walk's frozen bounds, its
dedup edge and derived-id counters. A token only resumes the feed and the
venue filters it was made with.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from ..errors import InvalidArgument

__all__ = ["Mark", "Token", "WalkState", "decode_token", "encode_token"]


class Mark(msgspec.Struct, array_like=True):
    """A (ts, ids at that ts) pair: the top or the bottom edge of what a walk has seen."""

    ts: int
    ids: list[str]


class WalkState(msgspec.Struct, kw_only=True):
    pos: dict[str, Any]
    lo: int | None
    hi: int
    top: Mark | None = None
    low: Mark | None = None
    occ: dict[str, int] | None = None


class Token(msgspec.Struct, kw_only=True):
    v: int = 1
    feed: str
    flt: str = ""  # the venue filters the walks used (a token only resumes the same selection)
    floor: Mark | None = None
    pend: dict[str, int] = {}
    walk: WalkState | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Token)


def encode_token(tok: Token) -> str:
    return base64.urlsafe_b64encode(_encoder.encode(tok)).decode().rstrip("=")


def decode_token(text: str, feed: str, filters: str) -> Token:
    if not isinstance(text, str):
        raise TypeError(f"resume: expected the str token from feed.checkpoint, got {type(text).__name__}")
    try:
        tok = _decoder.decode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
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
