"""The feed registry: every venue's feed specs by id, and the sans-IO `decode`.

This is the only shared module that imports the venue modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .errors import DecodeError, InvalidArgument
from .events import LoanEvent
from .feeds import FeedSpec
from .paginate import DecodeContext
from .venues import binance, bybit, okx

__all__ = ["FEEDS", "decode"]


def _collect() -> Mapping[str, FeedSpec]:
    specs: dict[str, FeedSpec] = {}
    for module in (okx, binance, bybit):
        for spec in module.FEEDS:
            if spec.id in specs:  # pragma: no cover - a programming error caught at import
                raise RuntimeError(f"duplicate feed id {spec.id}")
            specs[spec.id] = spec
    return MappingProxyType(dict(sorted(specs.items())))


#: feed id -> FeedSpec, for every feed of every venue (read-only)
FEEDS: Mapping[str, FeedSpec] = _collect()


def decode(feed: str, body: bytes, *, account: str = "default", keep_raw: bool = False) -> list[LoanEvent]:
    """Decode one response body of `feed` into LoanEvents. Pure: no I/O, no event loop.

    An unknown feed raises ValueError naming the known ones; a body that is not
    the venue's success envelope raises the venue's typed error (VenueError) or
    DecodeError.
    """
    spec = FEEDS.get(feed) if isinstance(feed, str) else None
    if spec is None:
        known = ", ".join(FEEDS) or "none registered"
        raise InvalidArgument("feed", f"unknown feed {feed!r}; known feeds: {known}")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"body: expected bytes, got {type(body).__name__}")
    ctx = DecodeContext(feed=feed, account=account, keep_raw=keep_raw,
                        occurrences={} if spec.derived_ids else None)
    data = bytes(body)
    try:
        return spec.decode(data, ctx).events
    except RecursionError:  # msgspec's answer to JSON nested 100,000 deep
        raise DecodeError(spec.venue, feed, "JSON nested too deeply", data[:200], transient=False) from None
