"""Ledger stores: the `Store` protocol and the default SQLite backend."""

from .base import FeedKey, Store
from .sqlite import SQLiteStore

__all__ = ["FeedKey", "SQLiteStore", "Store"]
