"""Server-side cursor semantics, as the venues document them, over in-memory rows.

Pure functions used by the simulator's endpoints (and by property tests that
drive the paginator without HTTP). Rows are any objects; `ts(row)` gives the
ms timestamp and `key(row)` the id the venue pages by. Every function returns
rows newest first, ties broken by key descending, which is the order the
docs' examples show (the order itself is UNVERIFIED for several endpoints;
the client does not rely on it except for stopping early).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = [
    "newest_first",
    "page_after_id",
    "page_after_ts",
    "page_by_cursor",
    "page_by_number",
    "rows_in_window",
]

R = TypeVar("R")


def newest_first(rows: Sequence[R], ts: Callable[[R], int], key: Callable[[R], object]) -> list[R]:
    """Rows sorted the way venues list them: newest first, then by key descending."""
    return sorted(rows, key=lambda r: (ts(r), key(r)), reverse=True)


def page_after_id(ordered: Sequence[R], key: Callable[[R], str], after: str | None, limit: int) -> list[R]:
    """OKX refId paging: records *earlier than* the record `after` (exclusive).

    An unknown `after` id returns the records that would follow it in order
    (the venue compares ids; ids here compare as integers when numeric).
    """
    if after is None:
        return list(ordered[:limit])
    if after.isdigit():
        a = int(after)
        return [r for r in ordered if int(key(r)) < a][:limit]
    for i, r in enumerate(ordered):
        if key(r) == after:
            return list(ordered[i + 1 : i + 1 + limit])
    return []


def page_after_ts(
    ordered: Sequence[R], ts: Callable[[R], int], after: int | None, limit: int, *, inclusive: bool
) -> list[R]:
    """OKX ts paging: records earlier than `after` (inclusive: or at it)."""
    if after is None:
        return list(ordered[:limit])
    if inclusive:
        return [r for r in ordered if ts(r) <= after][:limit]
    return [r for r in ordered if ts(r) < after][:limit]


def page_by_cursor(
    ordered: Sequence[R], key: Callable[[R], str], cursor: str | None, limit: int
) -> tuple[list[R], str]:
    """Bybit cursor paging: the page after `cursor` and the next cursor ("" at the end).

    The cursor is the key of the last row returned (an opaque string to the client).
    """
    start = 0
    if cursor:
        for i, r in enumerate(ordered):
            if key(r) == cursor:
                start = i + 1
                break
        else:
            return [], ""
    page = list(ordered[start : start + limit])
    more = start + limit < len(ordered)
    return page, (key(page[-1]) if page and more else "")


def page_by_number(
    rows: Sequence[R], ts: Callable[[R], int], start: int, end: int, current: int, size: int
) -> tuple[int, list[R]]:
    """Binance pmloan-history: (total rows in [start, end], page `current` of `size`)."""
    inside = [r for r in rows if start <= ts(r) <= end]
    first = (current - 1) * size
    return len(inside), inside[first : first + size]


def rows_in_window(rows: Sequence[R], ts: Callable[[R], int], start: int, end: int, size: int) -> list[R]:
    """Window without a page parameter: the newest `size` rows in [start, end]."""
    return [r for r in rows if start <= ts(r) <= end][:size]
