"""Bybit test helpers (a uniquely named module: every venue's tests share one sys.path)."""

from __future__ import annotations

import dataclasses

from loanledger import Bybit
from loanledger.feeds import FeedSpec
from loanledger.paginate import OpaqueCursor

SCALE = 20  # rate_scale of the simulator and the clients (limits x20: fast, still enforced)
KEY, SECRET = "BYBITTESTKEY01", "bybit-test-secret-0123456789abcdef"


def small_page_client(limit: int) -> type[Bybit]:
    """A Bybit client whose feeds ask for `limit` rows per page (many page boundaries)."""
    specs: dict[str, FeedSpec] = {}
    for sid, spec in Bybit.feed_specs.items():
        cur = spec.cursor
        cur = OpaqueCursor(limit=limit) if isinstance(cur, OpaqueCursor) else dataclasses.replace(cur, size=limit)  # type: ignore[type-var]
        specs[sid] = dataclasses.replace(spec, cursor=cur)
    return type(f"Bybit{limit}", (Bybit,), {"feed_specs": specs})
