"""The exception tree. Every error the SDK raises on purpose is one of these.

    LoanLedgerError
    ├── InvalidArgument (also ValueError)    bad input, raised before any request
    ├── ClientClosed                         a client used after close()
    ├── TransportError                       nothing usable came back from the network
    │   ├── RequestTimeout
    │   └── ConnectError
    ├── VenueError                           the venue answered with an error
    │   ├── AuthError                        key, signature, passphrase, permission, IP
    │   ├── RateLimited                      429 / 418 / 50011 / 10006 (retry_after, ban_until)
    │   ├── ClockSkewError                   50102 / -1021 / 10002 after one resync
    │   ├── BadRequest                       a parameter the venue refused
    │   └── VenueUnavailable                 5xx, maintenance, "system busy"
    ├── AmbiguousOutcome                     a write that may or may not have executed
    ├── DecodeError                          a body that is not the venue's documented shape
    ├── PaginationError                      a cursor that repeats, a page cap, a tie too wide,
    │                                        a data gap under strict=True
    ├── StoreError                           the ledger store refused or failed a write
    │   └── CheckpointConflict               another writer advanced the feed's checkpoint
    └── SyncError (also ExceptionGroup)      feeds of a Ledger sync failed: their errors, `report`

    DataGapWarning (UserWarning)             records may be missing (retention, wide ties)

Wrong argument *types* raise the built-in TypeError (floats for amounts among
them); every message names the argument. `is_transient(error)` tells the errors
asking again later may cure (rate limits, unavailability, network, a body cut
short, clock skew, a checkpoint another writer moved) from the others. Venue code tables (which code maps to
which class) are data in each venue module. No exception carries request
headers, keys, secrets, passphrases or signatures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from .ledger import SyncReport
    from .store.base import FeedKey

__all__ = [
    "AmbiguousOutcome",
    "AuthError",
    "BadRequest",
    "CheckpointConflict",
    "ClientClosed",
    "ClockSkewError",
    "ConnectError",
    "DataGapWarning",
    "DecodeError",
    "InvalidArgument",
    "LoanLedgerError",
    "PaginationError",
    "RateLimited",
    "RequestTimeout",
    "StoreError",
    "SyncError",
    "TransportError",
    "VenueError",
    "VenueUnavailable",
    "is_transient",
]

_BODY_EXCERPT = 200


def excerpt(body: bytes | str, limit: int = _BODY_EXCERPT) -> str:
    """A short printable excerpt of a response body, for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if len(text) > limit:
        return text[:limit] + f"... [{len(text)} chars]"
    return text


class LoanLedgerError(Exception):
    """Base class of every error raised by loanledger."""


class InvalidArgument(LoanLedgerError, ValueError):
    """An argument failed validation; raised before any request is sent."""

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        super().__init__(f"{argument}: {message}")


class ClientClosed(LoanLedgerError):
    """The client (or its session) was closed and cannot send requests."""


class TransportError(LoanLedgerError):
    """The request did not produce an HTTP response we could read."""

    def __init__(self, message: str, *, venue: str = "", path: str = "") -> None:
        self.venue = venue
        self.path = path
        super().__init__(f"{venue} {path}: {message}" if venue else message)


class RequestTimeout(TransportError):
    """No complete response within the per-request timeout."""


class ConnectError(TransportError):
    """The connection could not be established or broke before a response."""

    def __init__(
        self, message: str, *, venue: str = "", path: str = "", before_send: bool = False
    ) -> None:
        self.before_send = before_send
        super().__init__(message, venue=venue, path=path)


class VenueError(LoanLedgerError):
    """The venue answered with an error.

    Carries the venue, the HTTP status, the venue's own code and message, and
    the request path (never headers, keys or signatures).
    """

    def __init__(
        self,
        venue: str,
        status: int,
        code: str | None,
        message: str,
        path: str,
    ) -> None:
        self.venue = venue
        self.status = status
        self.code = code
        self.venue_message = message
        self.path = path
        super().__init__(f"{venue} {path}: HTTP {status}, code {code}: {message}")


class AuthError(VenueError):
    """Key, signature, passphrase, permission or IP whitelist rejected.

    `signature` is True when the venue rejected the signature itself: the
    request was not executed, and the transport re-signs and retries once.
    """

    signature: bool = False


class RateLimited(VenueError):
    """The venue throttled the request.

    `retry_after` is seconds to wait when the venue said so; `ban_until` is the
    ms timestamp a ban ends (Binance 418), after which the client may send again.
    """

    def __init__(
        self,
        venue: str,
        status: int,
        code: str | None,
        message: str,
        path: str,
        *,
        retry_after: float | None = None,
        ban_until: int | None = None,
    ) -> None:
        super().__init__(venue, status, code, message, path)
        self.retry_after = retry_after
        self.ban_until = ban_until


class ClockSkewError(VenueError):
    """The venue rejected the request timestamp, even after a server-time resync."""


class BadRequest(VenueError):
    """The venue refused a parameter."""


class VenueUnavailable(VenueError):
    """5xx, maintenance or a documented 'busy, retry' code."""


class AmbiguousOutcome(LoanLedgerError):
    """A write (borrow/repay) was sent and its result is unknown.

    It may or may not have executed. It is never re-sent automatically. The
    request (method, path, body without secrets) is attached; `reconcile()`,
    when the action supports it, looks the action up in the venue's history
    feed and returns the matching event, or None once the venue can no longer
    execute the request (a request still in flight when the client timed out may
    execute later: Bybit's lookup waits out the request's recv window first).
    """

    def __init__(
        self,
        message: str,
        *,
        venue: str,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        cause: BaseException | None = None,
        reconciler: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.venue = venue
        self.method = method
        self.path = path
        self.body = dict(body) if body is not None else None
        self.cause = cause
        self._reconciler = reconciler
        super().__init__(f"{venue} {method} {path}: outcome unknown: {message}")

    def set_reconciler(self, reconciler: Callable[[], Awaitable[Any]]) -> AmbiguousOutcome:
        """Attach the history lookup (done by the action that knows which feed to ask)."""
        self._reconciler = reconciler
        return self

    @property
    def can_reconcile(self) -> bool:
        return self._reconciler is not None

    async def reconcile(self) -> Any:
        """Look the action up in the venue's history; the event, or None if absent."""
        if self._reconciler is None:
            raise NotImplementedError("this action cannot be reconciled automatically")
        return await self._reconciler()


class DecodeError(LoanLedgerError):
    """A body that is not the venue's documented shape (truncated, wrong types, not JSON).

    `transient` is True when the body is not JSON at all (cut short, an HTML error
    page from a proxy): asking again may work. A well-formed JSON body of the wrong
    shape (an unknown type, a missing field) is deterministic: asking again cannot help.
    """

    def __init__(
        self, venue: str, feed: str, detail: str, body: bytes | str, *, transient: bool | None = None
    ) -> None:
        self.venue = venue
        self.feed = feed
        self.detail = detail
        self.body_excerpt = excerpt(body)
        if transient is None:
            try:
                msgspec.json.decode(body)
                transient = False
            except msgspec.DecodeError:
                transient = True
            except RecursionError:  # JSON nested deeper than msgspec follows: it will not change
                transient = False
        self.transient = transient
        super().__init__(f"{venue} {feed}: cannot decode response ({detail}): {self.body_excerpt!r}")


class PaginationError(LoanLedgerError):
    """The walk cannot continue without losing or repeating records."""


ErrorTable = Mapping[str, type[VenueError]]


def make_error(
    venue: str,
    table: ErrorTable,
    status: int,
    code: str | None,
    message: str,
    path: str,
    *,
    retry_after: float | None = None,
    ban_until: int | None = None,
    signature_codes: frozenset[str] = frozenset(),
) -> VenueError:
    """The typed error for a venue code (its table first, then the HTTP status)."""
    cls = table.get(code) if code is not None else None
    if cls is None:
        if status == 429 or status == 418:
            cls = RateLimited
        elif status >= 500:
            cls = VenueUnavailable
        elif status in (401, 403):
            cls = AuthError
        elif 400 <= status < 500:
            cls = BadRequest
        else:
            cls = VenueError
    if issubclass(cls, RateLimited):
        return cls(venue, status, code, message, path, retry_after=retry_after, ban_until=ban_until)
    err = cls(venue, status, code, message, path)
    if isinstance(err, AuthError) and code in signature_codes:
        err.signature = True
    return err


class StoreError(LoanLedgerError):
    """The ledger store refused or failed a write."""


class CheckpointConflict(StoreError):
    """The stored checkpoint is not the one this writer started from (another writer won)."""


class SyncError(LoanLedgerError, ExceptionGroup):
    """Feeds of a `Ledger` sync failed. Raised by `sync()`, `merged()` and `follow()` once every
    healthy feed's events were yielded and committed (`follow()`: on a permanent error).

    An ExceptionGroup of the feeds' errors (``except* AuthError:`` works); `report` is the
    sync's SyncReport and `errors` maps each failed feed (FeedKey) to its error.
    """

    report: SyncReport
    errors: dict[FeedKey, Exception]

    def __new__(
        cls, message: str, errors: Mapping[FeedKey, Exception], *, report: SyncReport
    ) -> SyncError:
        self = super().__new__(cls, message, list(errors.values()))
        self.report = report
        self.errors = dict(errors)
        return self

    def __init__(self, message: str, errors: Mapping[FeedKey, Exception], *, report: SyncReport) -> None:
        super().__init__(message, list(errors.values()))

    def derive(self, excs: Sequence[Exception]) -> SyncError:  # type: ignore[override]
        """The part of the group `except*` splits off: the same report, the matching feeds."""
        keep = {id(e) for e in excs}
        return SyncError(self.message, {k: e for k, e in self.errors.items() if id(e) in keep}, report=self.report)


def is_transient(error: BaseException) -> bool:
    """Whether asking again later may succeed: a rate limit, the venue unavailable, a connection
    or timeout failure, a body that was not JSON (cut short, a proxy's error page), the venue's
    clock skew, or another writer having advanced the feed's checkpoint (the next sync re-reads
    it). Authentication, bad requests, bodies of the wrong shape, pagination and other store
    errors are permanent: asking again cannot help."""
    if isinstance(error, DecodeError):
        return error.transient
    return isinstance(error, RateLimited | VenueUnavailable | TransportError | ClockSkewError | CheckpointConflict)


class DataGapWarning(UserWarning):
    """Records may be missing: outside the venue's retention (asked for by `since` or by resuming
    from an old checkpoint), or a tie wider than a page. The message names the feed and the span."""
