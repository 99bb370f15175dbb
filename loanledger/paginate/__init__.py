"""Paging: cursor kinds (cursors.py), the checkpoint token (token.py), the engine (engine.py).

Each venue endpoint declares one cursor kind (how to ask for the next page);
the engine (`Feed`) walks every feed the same way. See the modules' docstrings.
"""

from .cursors import (
    DAY_MS,
    Bounds,
    CursorKind,
    DecodeContext,
    DecodeFn,
    ExclusiveIdCursor,
    OpaqueCursor,
    Page,
    PagedWindows,
    Params,
    TimeWindows,
    TsCursor,
    Walk,
)
from .engine import AHEAD_MS, Edges, Feed, FeedPage, FeedStats, Fetch

__all__ = [
    "AHEAD_MS",
    "DAY_MS",
    "Bounds",
    "CursorKind",
    "DecodeContext",
    "DecodeFn",
    "Edges",
    "ExclusiveIdCursor",
    "Feed",
    "FeedPage",
    "FeedStats",
    "Fetch",
    "OpaqueCursor",
    "Page",
    "PagedWindows",
    "Params",
    "TimeWindows",
    "TsCursor",
    "Walk",
]
