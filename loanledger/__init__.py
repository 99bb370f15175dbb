"""loanledger: crypto-loan history from OKX, Binance and Bybit as one exact event stream."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
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
    from .exports import to_arrow
    from .feeds import FeedSpec
    from .ledger import FeedReport, Ledger, SyncReport
    from .paginate import Feed, FeedPage
    from .ratelimit import RateLimits
    from .reconcile import Book, Check, Position, ReconcileReport, Residual, Scope, Verdict
    from .registry import FEEDS, decode
    from .store.base import Balance, BalanceKey, FeedKey, FeedState, Store
    from .store.factory import open_store
    from .store.memory import MemoryStore
    from .store.postgres import PostgresStore
    from .store.sqlite import SQLiteStore
    from .transport import RetryPolicy
    from .venues.binance import Binance, PmLoanAmount
    from .venues.bybit import Bybit, LegacyLoanableCoin, LoanableCoin
    from .venues.okx import OKX

__version__ = "0.1.0"

__all__ = [
    "AmbiguousOutcome",
    "AuthError",
    "BadRequest",
    "Balance",
    "BalanceKey",
    "Binance",
    "Book",
    "Bybit",
    "Check",
    "CheckpointConflict",
    "ClientClosed",
    "ClockSkewError",
    "ConnectError",
    "DataGapWarning",
    "DecodeError",
    "EventKind",
    "EventStatus",
    "FEEDS",
    "Feed",
    "FeedKey",
    "FeedPage",
    "FeedState",
    "FeedReport",
    "FeedSpec",
    "InvalidArgument",
    "Ledger",
    "LegacyLoanableCoin",
    "LoanEvent",
    "LoanLedgerError",
    "LoanableCoin",
    "MemoryStore",
    "OKX",
    "PaginationError",
    "PmLoanAmount",
    "Position",
    "PostgresStore",
    "RateLimited",
    "RateLimits",
    "ReconcileReport",
    "RequestTimeout",
    "Residual",
    "RetryPolicy",
    "SQLiteStore",
    "Scope",
    "Store",
    "StoreError",
    "SyncError",
    "SyncReport",
    "TransportError",
    "VenueError",
    "VenueUnavailable",
    "Verdict",
    "decode",
    "is_transient",
    "open_store",
    "to_arrow",
    "__version__",
]


#: each public name by the module defining it: imported on first use, so `import loanledger`
#: stays light (no aiohttp, aiosqlite, psycopg, cryptography, rich or simulator until a name needs them)
_EXPORTS = {
    ".errors": (
        "AmbiguousOutcome", "AuthError", "BadRequest", "CheckpointConflict", "ClientClosed", "ClockSkewError",
        "ConnectError", "DataGapWarning", "DecodeError", "InvalidArgument", "LoanLedgerError", "PaginationError",
        "RateLimited", "RequestTimeout", "StoreError", "SyncError", "TransportError", "VenueError", "VenueUnavailable",
        "is_transient",
    ),
    ".events": ("EventKind", "EventStatus", "LoanEvent"),
    ".exports": ("to_arrow",),  # needs the `arrow` extra (pyarrow)
    ".feeds": ("FeedSpec",),
    ".ledger": ("FeedReport", "Ledger", "SyncReport"),
    ".paginate": ("Feed", "FeedPage"),
    ".ratelimit": ("RateLimits",),
    ".reconcile": ("Book", "Check", "Position", "ReconcileReport", "Residual", "Scope", "Verdict"),
    ".registry": ("FEEDS", "decode"),
    ".store.base": ("Balance", "BalanceKey", "FeedKey", "FeedState", "Store"),
    ".store.factory": ("open_store",),
    ".store.memory": ("MemoryStore",),
    ".store.postgres": ("PostgresStore",),  # needs the `postgres` extra (psycopg 3)
    ".store.sqlite": ("SQLiteStore",),
    ".transport": ("RetryPolicy",),
    ".venues.binance": ("Binance", "PmLoanAmount"),
    ".venues.bybit": ("Bybit", "LegacyLoanableCoin", "LoanableCoin"),
    ".venues.okx": ("OKX",),
}

#: the public submodules, reachable as attributes (``loanledger.events``) once imported or on first use
_SUBMODULES = (
    "cli", "client", "errors", "events", "exports", "feeds", "ledger", "paginate", "ratelimit", "reconcile",
    "registry", "report", "signing",
    "store", "transport", "venues",
)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS, _SUBMODULES)
