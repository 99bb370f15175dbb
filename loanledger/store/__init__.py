"""Ledger stores: the `Store` protocol and its backends (memory, SQLite, PostgreSQL).

Each name is imported on first use: `MemoryStore` needs nothing beyond the core,
`SQLiteStore` aiosqlite, `PostgresStore` the `postgres` extra (psycopg 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .base import Balance, BalanceKey, FeedKey, FeedState, Store
    from .factory import open_store
    from .memory import MemoryStore
    from .postgres import PostgresStore
    from .sqlite import SQLiteStore

__all__ = ["Balance", "BalanceKey", "FeedKey", "FeedState", "MemoryStore", "PostgresStore", "SQLiteStore", "Store", "open_store"]

__getattr__, __dir__ = lazy_exports(__name__, globals(), {
    ".base": ("Balance", "BalanceKey", "FeedKey", "FeedState", "Store"),
    ".factory": ("open_store",),
    ".memory": ("MemoryStore",),
    ".postgres": ("PostgresStore",),
    ".sqlite": ("SQLiteStore",),
})
