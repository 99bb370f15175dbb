"""loanledger: crypto-loan history from OKX, Binance and Bybit as one exact event stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AmbiguousOutcome,
    AuthError,
    BadRequest,
    CheckpointConflict,
    ClientClosed,
    ClockSkewError,
    ConnectError,
    DataGapWarning,
    DecodeError,
    InvalidArgument,
    LoanLedgerError,
    PaginationError,
    RateLimited,
    RequestTimeout,
    StoreError,
    SyncError,
    TransportError,
    VenueError,
    VenueUnavailable,
    is_transient,
)
from .events import EventKind, EventStatus, LoanEvent
from .ledger import FeedReport, Ledger, SyncReport
from .feeds import FeedSpec
from .paginate import Feed, FeedPage
from .ratelimit import RateLimits
from .registry import FEEDS, decode
from .store import Balance, BalanceKey, FeedKey, FeedState, MemoryStore, SQLiteStore, Store, open_store
from .transport import RetryPolicy
from .venues.binance import Binance, PmLoanAmount
from .venues.bybit import Bybit, LegacyLoanableCoin, LoanableCoin
from .venues.okx import OKX

if TYPE_CHECKING:
    from .store.postgres import PostgresStore

__version__ = "0.1.0"

__all__ = [
    "FEEDS",
    "OKX",
    "AmbiguousOutcome",
    "AuthError",
    "BadRequest",
    "Balance",
    "BalanceKey",
    "Binance",
    "CheckpointConflict",
    "Bybit",
    "ClientClosed",
    "ClockSkewError",
    "ConnectError",
    "DataGapWarning",
    "DecodeError",
    "EventKind",
    "EventStatus",
    "Feed",
    "FeedKey",
    "FeedPage",
    "FeedReport",
    "FeedSpec",
    "FeedState",
    "InvalidArgument",
    "Ledger",
    "LegacyLoanableCoin",
    "LoanEvent",
    "LoanLedgerError",
    "LoanableCoin",
    "MemoryStore",
    "PaginationError",
    "PmLoanAmount",
    "PostgresStore",
    "RateLimited",
    "RateLimits",
    "RequestTimeout",
    "RetryPolicy",
    "SQLiteStore",
    "Store",
    "StoreError",
    "SyncError",
    "SyncReport",
    "TransportError",
    "VenueError",
    "VenueUnavailable",
    "__version__",
    "decode",
    "is_transient",
    "open_store",
]


def __getattr__(name: str) -> Any:
    """`PostgresStore` is imported on first use: it needs the `postgres` extra (psycopg 3)."""
    if name == "PostgresStore":
        from .store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
