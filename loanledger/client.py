"""The part every venue client shares: lifecycle, feeds, argument checks.

A venue client (`OKX`, `Binance`, `Bybit`) is a thin class in its venue
module: it builds its `Dialect` (signing + error table) and declares its feed
specs; everything else (the transport and its sender, turning a FeedSpec into
a paged `Feed`) lives here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ._args import check_label, check_window
from .errors import InvalidArgument
from .feeds import OPTIONS, FeedSpec
from .paginate import DecodeContext, Feed, FeedStats, Page, Params
from .ratelimit import RateLimits
from .reconcile import Position, Scope
from .transport import Dialect, Request, RetryPolicy, Sender, Transport

if TYPE_CHECKING:
    import aiohttp

__all__ = ["VenueClient"]

C = TypeVar("C", bound="VenueClient")


class VenueClient:
    """Base class of the venue clients. Use as ``async with Client(...) as c:``."""

    venue: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    feed_specs: ClassVar[Mapping[str, FeedSpec]] = {}
    #: the venue products whose positions `positions()` reads, with the feeds each covers
    scopes: ClassVar[Mapping[str, Scope]] = {}

    def __init__(
        self,
        dialect: Dialect,
        *,
        account: str,
        base_url: str | None,
        scope_id: str,
        session: aiohttp.ClientSession | None,
        timeout: float,
        limits: RateLimits | None,
        retry: RetryPolicy | None,
        sender: Sender | None = None,
    ) -> None:
        self.account = check_label("account", account)
        if session is not None:
            if sender is not None:
                raise InvalidArgument("sender", "give a session or a sender, not both")
            from ._aiohttp import AiohttpSender  # checks the session's type

            sender = AiohttpSender(session)
        if limits is not None and not isinstance(limits, RateLimits):
            raise TypeError(f"limits: expected RateLimits, got {type(limits).__name__}")
        if base_url is not None and not isinstance(base_url, str):
            raise TypeError(f"base_url: expected str, got {type(base_url).__name__}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry: expected RetryPolicy, got {type(retry).__name__}")
        self.transport = Transport(
            dialect,
            base_url=base_url or self.default_base_url,
            scope_id=scope_id,
            sender=sender,
            timeout=timeout,
            retry=retry,
            limits=limits,
        )

    # --- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def closed(self) -> bool:
        return self.transport.closed

    async def close(self) -> None:
        """Close the client's own HTTP session (a given `session` or `sender` stays open).
        Later requests raise ClientClosed."""
        await self.transport.close()

    async def __aenter__(self: C) -> C:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(account={self.account!r}, base_url={self.base_url!r})"


    async def server_time(self) -> int:
        """The venue's clock (ms); also stores the offset used for signing."""
        await self.transport.sync_clock()
        return self.transport.clock.now_ms()

    async def positions(self) -> list[Position]:
        """What the venue reports the account owes and has pledged now, per scope and currency
        (every position endpoint of the venue; see `scopes`). Compared with the ledger by
        `Ledger.reconcile()`."""
        return []

    # --- feeds -----------------------------------------------------------------------

    @classmethod
    def feed_ids(cls) -> list[str]:
        return sorted(cls.feed_specs)

    def events(self, feed_id: str, **arguments: Any) -> Feed:
        """A paged feed of LoanEvent by id (``"okx.flexible_loan_history"``).

        Takes the feed's filters by their Python names (see `FeedSpec.filters` and the
        feed's method) and the options every feed takes (`FeedOptions`): `since` / `until`
        (int ms or aware datetimes), `resume` (a checkpoint token), `strict` (raise on a
        data gap instead of warning), `keep_raw` (keep each record's bytes), `max_pages` and
        `full` (with `resume`: re-read everything in the bounds, not only what the token has
        not covered). Every argument is checked here, before any request.
        """
        spec = self.feed_specs.get(feed_id) if isinstance(feed_id, str) else None
        if spec is None:
            raise InvalidArgument(
                "feed_id", f"unknown feed {feed_id!r} for {self.venue}; known: {', '.join(self.feed_ids())}"
            )
        options = {k: arguments.pop(k) for k in OPTIONS if k in arguments}
        wire = spec.wire_filters(arguments)
        lo, hi = check_window(options.get("since"), options.get("until"), allow_future=spec.future_since)
        if lo is None and hi is not None and spec.default_since is not None and hi < spec.default_since:
            raise InvalidArgument(
                "until", f"{hi} is before the feed's default since ({spec.default_since}); pass since too"
            )
        transport = self.transport

        async def fetch(params: Params, ctx: DecodeContext, stats: FeedStats) -> Page:
            req = Request("GET", spec.path, spec.limit, params=tuple(params + wire))
            return await transport.request(req, lambda body: spec.decode(body, ctx), stats=stats)

        return Feed(
            spec,
            fetch,
            account=self.account,
            since=lo,
            until=hi,
            resume=options.get("resume"),
            strict=options.get("strict", False),
            keep_raw=options.get("keep_raw", False),
            max_pages=options.get("max_pages", 100_000),
            clock=transport.clock.now_ms,  # the venue's clock as far as we know it (resynced on skew)
            filters=wire,
            full=options.get("full", False),
        )
