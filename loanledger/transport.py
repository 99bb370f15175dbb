"""HTTP transport: signing, rate limits, timeouts, retries, error mapping.

One `Transport` per client. It signs every attempt afresh through the venue's
`Dialect`, waits on the shared rate-limit bucket, hands the exact bytes to its
`Sender` and the answer's body (bytes, never parsed here) to the caller's pure
decoder, which raises the venue's typed error for an error envelope.

The sender is the only part that does HTTP (like httpx's transports): `send`
one `OutgoingRequest` within a timeout, return a `Response` (status,
case-insensitive headers, body bytes) or raise `ConnectError` (saying whether
anything was sent), `RequestTimeout` or `ResponseTooLarge`. The default is
`loanledger._aiohttp.AiohttpSender`, imported and created on the first request
(it owns an aiohttp ClientSession, or borrows the one a client was given);
`loanledger.testing.MockSender` answers unit tests without sockets. A sender
given by the caller is never closed by us.

Retry rules (`should_retry` is the pure decision):

- GET: retried with exponential backoff and full jitter on timeouts,
  connection errors, 5xx, undecodable bodies and rate-limit answers
  (Retry-After / Bybit reset timestamp honoured).
- POST (borrow, repay): never sent twice unless the venue proved it did not
  execute: a rate-limit answer, a timestamp rejection, a signature rejection,
  or a connection that failed before any byte was sent. A timeout after
  sending, a dropped connection, a 5xx or an unreadable answer raises
  `AmbiguousOutcome`.
- A clock-skew answer (OKX 50102, Binance -1021, Bybit 10002) makes the
  transport fetch the venue's server time once, store the offset, re-sign and
  retry once; the offset is used for every later request.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable
from urllib.parse import quote, urlencode, urlsplit

from ._args import check_positive_number, now_ms
from .errors import (
    AmbiguousOutcome,
    AuthError,
    ClientClosed,
    ClockSkewError,
    ConnectError,
    DecodeError,
    InvalidArgument,
    RateLimited,
    RequestTimeout,
    TransportError,
    VenueError,
    VenueUnavailable,
)
from .ratelimit import Bucket, Limit, RateLimits

__all__ = [
    "MAX_BODY",
    "Clock",
    "Dialect",
    "Headers",
    "OutgoingRequest",
    "Prepared",
    "Request",
    "RequestStats",
    "Response",
    "ResponseTooLarge",
    "RetryPolicy",
    "Sender",
    "Transport",
    "backoff_delay",
    "encode_query",
    "is_ambiguous",
    "retry_after_seconds",
    "should_retry",
]

log = logging.getLogger("loanledger.transport")

T = TypeVar("T")

#: the largest response body read (bytes); a longer one is a DecodeError, never retried
MAX_BODY = 32 * 1024 * 1024


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    """The exact query string we send and sign: insertion order, RFC 3986 percent-encoding."""
    return urlencode(params, quote_via=quote, safe="")


@dataclass(frozen=True, slots=True)
class Request:
    """One venue call before signing. `params` keep their order (it is signed)."""

    method: Literal["GET", "POST"]
    path: str
    limit: Limit
    params: tuple[tuple[str, str], ...] = ()
    body: Mapping[str, Any] | None = None
    signed: bool = True
    group: str = ""

    @property
    def bucket_group(self) -> str:
        return self.group or self.path


@dataclass(frozen=True, slots=True)
class Prepared:
    """The signed request: exact path+query, headers and body bytes."""

    path_qs: str
    headers: dict[str, str]
    body: bytes | None = None


# --- the sender seam ----------------------------------------------------------------


class Headers(Mapping[str, str]):
    """Read-only HTTP headers looked up case-insensitively (``X-MBX-USED-WEIGHT-1M`` finds
    ``x-mbx-used-weight-1m``). A repeated name keeps its first value, as aiohttp's ``get``."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            items.setdefault(name.lower(), (name, value))
        self._items = items

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self._items.values())!r})"


@dataclass(frozen=True, slots=True, repr=False)
class OutgoingRequest:
    """What a `Sender` sends: the exact bytes that were signed.

    `url` is the full URL with its query already percent-encoded (send it as is, never
    re-encoded). The repr shows no header, query or body: they carry keys and signatures.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> str:
        return urlsplit(self.url).query

    def __repr__(self) -> str:
        body = "" if self.body is None else f", {len(self.body)} body bytes"
        return f"OutgoingRequest({self.method} {self.path}{body})"


@dataclass(frozen=True, slots=True)
class Response:
    """What a `Sender` returns: the HTTP status, the headers (any mapping given is wrapped
    in `Headers`, so lookups are case-insensitive) and the whole body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))


class ResponseTooLarge(Exception):
    """Raised by a sender for a body over its limit; the transport turns it into a DecodeError."""

    def __init__(self, message: str, head: bytes = b"") -> None:
        super().__init__(message)
        self.message = message
        self.head = head


@runtime_checkable
class Sender(Protocol):
    """Sends one request (the only part of the SDK that does HTTP).

    `send` returns the answer whatever its status, or raises `ConnectError` (with
    ``before_send=True`` only when no byte reached the network), `RequestTimeout` (no
    whole answer within `timeout` seconds) or `ResponseTooLarge`; the transport adds the
    venue and path to the error. `closed` is True once it can send no more (closed, or
    its borrowed session was closed).
    """

    @property
    def closed(self) -> bool: ...

    async def send(self, request: OutgoingRequest, *, timeout: float) -> Response: ...

    async def close(self) -> None: ...


class Dialect(Protocol):
    """What a venue module provides to the transport."""

    venue: str
    #: the venue reports its rate-limit count on every answer (`observe` reads it): its
    #: buckets pace from that feedback instead of keeping blind headroom (ratelimit.py)
    reports_usage: bool

    def prepare(self, req: Request, ts_ms: int) -> Prepared:
        """Sign `req` at `ts_ms` (venue clock) into the exact bytes to send."""
        ...

    def error(self, status: int, headers: Mapping[str, str], body: bytes, path: str) -> VenueError:
        """The typed error for a non-200 answer."""
        ...

    def time_request(self) -> Request:
        """The unsigned server-time request."""
        ...

    def parse_time(self, body: bytes) -> int:
        """Server time in ms from the time endpoint's body."""
        ...

    def observe(self, bucket: Bucket, status: int, headers: Mapping[str, str], sent_ms: int | None = None) -> None:
        """Feed rate-limit headers (usage, remaining, reset) back into the bucket; `sent_ms`:
        when the request left (epoch ms; None: now)."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard reads are retried. Writes follow the stricter rules in `should_retry`."""

    max_attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError(f"max_attempts: expected int, got {type(self.max_attempts).__name__}")
        if self.max_attempts < 1:
            raise InvalidArgument("max_attempts", "must be >= 1")
        check_positive_number("base_delay", self.base_delay)
        check_positive_number("max_delay", self.max_delay)


_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,6})?")


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The Retry-After header in seconds: delay-seconds or an HTTP-date (RFC 9110 10.2.3).

    Anything else (negative, inf, nan, 5000 digits, garbage) is ignored: None.
    """
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when.timestamp() * 1000 - now_ms()) / 1000)


def is_ambiguous(error: BaseException) -> bool:
    """For a write: could the venue have executed it? (then it must not be re-sent)"""
    if isinstance(error, ConnectError):
        return not error.before_send
    return isinstance(error, TransportError | VenueUnavailable | DecodeError)


def should_retry(method: str, error: BaseException, attempt: int, policy: RetryPolicy) -> bool:
    """Pure decision: send attempt number `attempt + 1` after `error`?

    `attempt` counts attempts already made (1 after the first failure).
    """
    if attempt >= policy.max_attempts:
        return False
    if isinstance(error, RateLimited):
        return error.ban_until is None
    if isinstance(error, AuthError):
        # a signature rejection: the venue did not execute; re-sign once
        return getattr(error, "signature", False) and attempt == 1
    if method == "GET":
        if isinstance(error, DecodeError):
            return error.transient  # a well-formed body of the wrong shape will not change
        return isinstance(error, TransportError | VenueUnavailable)
    # writes: only what provably did not reach the venue
    return isinstance(error, ConnectError) and error.before_send


def backoff_delay(
    attempt: int,
    policy: RetryPolicy,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Full-jitter exponential backoff, capped; a venue's Retry-After is a floor."""
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))
    delay = float(rng()) * ceiling
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_delay * 20))
    return delay


class Clock:
    """Local wall clock plus the offset to the venue's server time."""

    __slots__ = ("_source", "offset_ms")

    def __init__(self, offset_ms: int = 0, source: Callable[[], int] = now_ms) -> None:
        self.offset_ms = offset_ms
        self._source = source

    def local_ms(self) -> int:
        return self._source()

    def now_ms(self) -> int:
        return self._source() + self.offset_ms


@dataclass(slots=True)
class RequestStats:
    """Counters one feed or action accumulates across its requests."""

    requests: int = 0
    retries: int = 0
    wait_seconds: float = 0.0
    clock_syncs: int = 0
    errors: list[str] = field(default_factory=list)


class Transport:
    """Sends signed, paced, retried requests for one client through its `Sender`."""

    def __init__(
        self,
        dialect: Dialect,
        *,
        base_url: str,
        scope_id: str,
        sender: Sender | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        limits: RateLimits | None = None,
        clock: Clock | None = None,
        rng: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise InvalidArgument("base_url", f"{base_url!r} is not an http(s) origin like https://host[:port]")
        if sender is not None and not isinstance(sender, Sender):
            raise TypeError(f"sender: expected a Sender (send, close, closed), got {type(sender).__name__}")
        self.dialect = dialect
        self.venue = dialect.venue
        self.base_url = base_url.rstrip("/")
        self.host = parts.netloc
        self.scope_id = scope_id
        self.timeout = check_positive_number("timeout", timeout)
        self.retry = retry or RetryPolicy()
        self._limits = limits
        self.clock = clock or Clock()
        self._rng = rng
        self._sleep = sleep
        self._sender = sender
        self._own_sender = sender is None
        self._closed = False
        self._sync_lock: asyncio.Lock | None = None
        self._last_sync = 0.0

    # --- lifecycle ---------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def sender(self) -> Sender | None:
        """The sender in use: the one given, or the default one once the first request made it."""
        return self._sender

    @property
    def limits(self) -> RateLimits:
        if self._limits is None:
            self._limits = RateLimits.shared()
        return self._limits

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosed(f"{self.venue} client is closed")
        if self._sender is not None and self._sender.closed:
            raise ClientClosed(f"{self.venue} client's session is closed")

    def _sender_or_create(self) -> Sender:
        self._check_open()
        if self._sender is None:
            from ._aiohttp import AiohttpSender  # aiohttp is imported when the first request needs it

            self._sender = AiohttpSender()
        return self._sender

    async def close(self) -> None:
        """Close the default sender and its session (a given sender or session stays open). Idempotent."""
        self._closed = True
        if self._own_sender and self._sender is not None:
            await self._sender.close()

    def bucket(self, req: Request) -> Bucket:
        scope = self.host if req.limit.scope == "ip" else self.scope_id
        return self.limits.bucket(self.venue, scope, req.bucket_group, req.limit, feedback=self.dialect.reports_usage)

    # --- requests ----------------------------------------------------------------

    async def request(
        self,
        req: Request,
        decode: Callable[[bytes], T],
        *,
        stats: RequestStats | None = None,
    ) -> T:
        """Send `req`, retrying per the rules above; `decode(body)` of a 200 answer."""
        stats = stats if stats is not None else RequestStats()
        bucket = self.bucket(req)
        attempt = 0
        resynced = False
        while True:
            self._check_open()
            banned = self.limits.banned_until(self.venue, self.host)
            if banned is not None:
                raise RateLimited(
                    self.venue, 418, None, "host is banned by the venue", req.path, ban_until=banned
                )
            stats.wait_seconds += await bucket.acquire()
            attempt += 1
            stats.requests += 1
            signed_at = asyncio.get_running_loop().time()
            try:
                return await self._attempt(req, decode, bucket)
            except ClockSkewError as exc:
                stats.errors.append(type(exc).__name__)
                if resynced:
                    raise
                resynced = True
                stats.clock_syncs += 1
                await self.sync_clock(signed_at=signed_at)
                attempt -= 1  # the resync retry is free
                continue
            except (TransportError, VenueError, DecodeError) as exc:
                stats.errors.append(type(exc).__name__)
                if isinstance(exc, RateLimited) and exc.ban_until is not None:
                    self.limits.ban(self.venue, self.host, exc.ban_until)
                elif isinstance(exc, RateLimited) and exc.retry_after is not None:
                    # the venue's word holds for every request on this bucket, retried or not
                    wait = min(exc.retry_after, self.retry.max_delay * 20)
                    bucket.pause_until(now_ms() + int(wait * 1000))
                if req.method != "GET" and is_ambiguous(exc):
                    raise AmbiguousOutcome(
                        str(exc), venue=self.venue, method=req.method, path=req.path,
                        body=req.body, cause=exc,
                    ) from exc
                if not should_retry(req.method, exc, attempt, self.retry):
                    raise
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                delay = backoff_delay(attempt, self.retry, retry_after, self._rng)
                stats.retries += 1
                log.info(
                    "%s %s %s failed (%s); retry %d in %.2fs",
                    self.venue, req.method, req.path, type(exc).__name__, attempt, delay,
                )
                if isinstance(exc, RateLimited):
                    # every task sharing the bucket waits, not only this one
                    bucket.pause_until(now_ms() + int(delay * 1000))
                else:
                    await self._sleep(delay)

    async def _attempt(self, req: Request, decode: Callable[[bytes], T], bucket: Bucket) -> T:
        prep = self.dialect.prepare(req, self.clock.now_ms())
        sender = self._sender_or_create()
        outgoing = OutgoingRequest(req.method, self.base_url + prep.path_qs, prep.headers, prep.body)
        started = time.perf_counter()
        sent_ms = now_ms()
        try:
            resp = await sender.send(outgoing, timeout=self.timeout)
        except TransportError as exc:
            if exc.venue:  # a sender that named the venue itself
                raise
            if isinstance(exc, ConnectError):
                raise ConnectError(str(exc), venue=self.venue, path=req.path, before_send=exc.before_send) from None
            raise type(exc)(str(exc), venue=self.venue, path=req.path) from None
        except ResponseTooLarge as exc:
            raise DecodeError(self.venue, req.path, exc.message, exc.head, transient=False) from None
        status, headers, body = resp.status, resp.headers, resp.body
        if len(body) > MAX_BODY:  # a sender without a limit of its own
            raise DecodeError(self.venue, req.path, f"body exceeds {MAX_BODY} bytes", body[:200], transient=False)
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("%s %s %s -> %d (%d bytes, %.1f ms)", self.venue, req.method, req.path, status, len(body), elapsed)
        self.dialect.observe(bucket, status, headers, sent_ms)
        try:
            if status == 200:
                return decode(body)
            err = self.dialect.error(status, headers, body, req.path)
        except RecursionError:  # msgspec's answer to JSON nested 100,000 deep
            raise DecodeError(self.venue, req.path, "JSON nested too deeply", body[:200], transient=False) from None
        if isinstance(err, RateLimited) and err.retry_after is None:
            # a gateway's 429 in front of any venue: its Retry-After is a floor for the retry
            err.retry_after = retry_after_seconds(headers)
        raise err

    async def sync_clock(self, *, signed_at: float | None = None) -> int:
        """Fetch the venue's server time and store the offset; returns it (ms).

        Concurrent callers (several feeds hit by the same skew) share one fetch: a
        request refused for skew reuses a sync that finished after it was signed
        (`signed_at`, loop time); without `signed_at`, one that finished less than a
        second ago. The fetch is a read: paced by its endpoint's bucket and retried
        like any GET.
        """
        self._check_open()  # a closed client raises here, cached offset or not
        if self._sync_lock is None:
            self._sync_lock = asyncio.Lock()
        async with self._sync_lock:
            loop = asyncio.get_running_loop()
            fresh = self._last_sync and (
                self._last_sync > signed_at if signed_at is not None else loop.time() - self._last_sync <= 1.0)
            if not fresh:
                req = self.dialect.time_request()
                bucket = self.bucket(req)
                attempt = 0
                while True:
                    await bucket.acquire()
                    attempt += 1
                    before = self.clock.local_ms()
                    try:
                        server = await self._attempt(req, self.dialect.parse_time, bucket)
                        break
                    except (TransportError, VenueError, DecodeError) as exc:
                        if isinstance(exc, ClockSkewError) or not should_retry("GET", exc, attempt, self.retry):
                            raise
                        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                        await self._sleep(backoff_delay(attempt, self.retry, retry_after, self._rng))
                after = self.clock.local_ms()
                self.clock.offset_ms = server - (before + after) // 2
                self._last_sync = loop.time()
                log.info("%s clock offset set to %d ms", self.venue, self.clock.offset_ms)
            return self.clock.offset_ms

    def __repr__(self) -> str:
        return f"Transport({self.venue!r}, {self.base_url!r}, closed={self._closed})"

