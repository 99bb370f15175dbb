"""Ledger stores: the `Store` protocol and its backends (memory, SQLite, PostgreSQL).

`PostgresStore` needs the `postgres` extra (psycopg 3); it is imported on first use,
so the other stores work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Balance, BalanceKey, FeedKey, FeedState, Store
from .factory import open_store
from .memory import MemoryStore
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from .postgres import PostgresStore

__all__ = [
    "Balance", "BalanceKey", "FeedKey", "FeedState", "MemoryStore", "PostgresStore", "SQLiteStore", "Store", "open_store",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresStore":
        from .postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
