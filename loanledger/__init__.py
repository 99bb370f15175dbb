"""loanledger: crypto-loan history from OKX, Binance and Bybit as one exact event stream."""

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
    TransportError,
    VenueError,
    VenueUnavailable,
)
from .events import EventKind, EventStatus, LoanEvent
from .ledger import FeedReport, Ledger, SyncReport
from .feeds import FeedSpec
from .paginate import Feed, FeedPage
from .ratelimit import RateLimits
from .registry import FEEDS, decode
from .store import FeedKey, SQLiteStore, Store
from .transport import RetryPolicy
from .venues.binance import Binance, PmLoanAmount
from .venues.bybit import Bybit, LegacyLoanableCoin, LoanableCoin
from .venues.okx import OKX

__version__ = "0.1.0"

__all__ = [
    "FEEDS",
    "OKX",
    "AmbiguousOutcome",
    "AuthError",
    "BadRequest",
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
    "InvalidArgument",
    "Ledger",
    "LegacyLoanableCoin",
    "LoanEvent",
    "LoanLedgerError",
    "LoanableCoin",
    "PaginationError",
    "PmLoanAmount",
    "RateLimited",
    "RateLimits",
    "RequestTimeout",
    "RetryPolicy",
    "SQLiteStore",
    "Store",
    "StoreError",
    "SyncReport",
    "TransportError",
    "VenueError",
    "VenueUnavailable",
    "__version__",
    "decode",
]
