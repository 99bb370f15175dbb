"""loanledger: crypto-loan history from OKX, Binance and Bybit as one exact event stream."""

from .errors import (
    AmbiguousOutcome,
    AuthError,
    BadRequest,
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
    TransportError,
    VenueError,
    VenueUnavailable,
)
from .events import EventKind, EventStatus, LoanEvent
from .paginate import Feed, FeedPage, FeedSpec
from .ratelimit import RateLimits
from .registry import FEEDS, decode
from .transport import RetryPolicy
from .venues.binance import Binance
from .venues.bybit import Bybit
from .venues.okx import OKX

__version__ = "0.1.0"

__all__ = [
    "FEEDS",
    "OKX",
    "AmbiguousOutcome",
    "AuthError",
    "BadRequest",
    "Binance",
    "Bybit",
    "ClientClosed",
    "ClockSkewError",
    "ConnectError",
    "DataGapWarning",
    "DecodeError",
    "EventKind",
    "EventStatus",
    "Feed",
    "FeedPage",
    "FeedSpec",
    "InvalidArgument",
    "LoanEvent",
    "LoanLedgerError",
    "PaginationError",
    "RateLimited",
    "RateLimits",
    "RequestTimeout",
    "RetryPolicy",
    "TransportError",
    "VenueError",
    "VenueUnavailable",
    "__version__",
    "decode",
]
