"""The aiohttp sender: the only module of the client side that imports aiohttp.

`AiohttpSender` owns one aiohttp ClientSession (created on the first send, inside
the running loop, and closed by `close`) or borrows the one a client was given
(``session=``; never closed by us). It sends the exact bytes the transport
signed (the URL is not re-encoded, redirects are not followed), reads the body
as bytes up to a limit, and maps aiohttp's exceptions onto loanledger's:

- a connect timeout or a refused connection: `ConnectError(before_send=True)`
  (nothing reached the venue, so even a write may be sent again);
- no whole answer within the timeout: `RequestTimeout`;
- any other aiohttp error (a dropped connection, a cut body):
  `ConnectError(before_send=False)` (a write may have executed);
- a body over `max_body`: `ResponseTooLarge`.

The transport imports this module lazily, on the first request that needs a
default sender; `import loanledger` and `loanledger.decode` never load aiohttp.
"""

from __future__ import annotations

import aiohttp
from yarl import URL

from .errors import ClientClosed, ConnectError, RequestTimeout
from .transport import MAX_BODY, OutgoingRequest, Response, ResponseTooLarge

__all__ = ["AiohttpSender"]


class AiohttpSender:
    """A `Sender` over aiohttp: an own ClientSession, or a borrowed one (``session=``)."""

    __slots__ = ("_closed", "_own", "_session", "max_body")

    def __init__(self, session: aiohttp.ClientSession | None = None, *, max_body: int = MAX_BODY) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError(f"session: expected aiohttp.ClientSession, got {type(session).__name__}")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise TypeError(f"max_body: expected a positive int, got {max_body!r}")
        self._session = session
        self._own = session is None
        self._closed = False
        self.max_body = max_body

    @property
    def closed(self) -> bool:
        return self._closed or (self._session is not None and self._session.closed)

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session: the borrowed one, or the own one once the first send created it."""
        return self._session

    def _session_or_create(self) -> aiohttp.ClientSession:
        if self.closed:
            raise ClientClosed("the HTTP session is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def send(self, request: OutgoingRequest, *, timeout: float) -> Response:
        session = self._session_or_create()
        url = URL(request.url, encoded=True)
        try:
            async with session.request(
                request.method, url, headers=request.headers, data=request.body,
                timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False,
            ) as resp:
                status = resp.status
                headers = resp.headers
                body = await self._read(resp)
        except aiohttp.ConnectionTimeoutError as exc:
            raise ConnectError(f"connect timeout: {exc}", before_send=True) from None
        except TimeoutError:
            raise RequestTimeout(f"no response within {timeout}s") from None
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(f"cannot connect: {exc.os_error}", before_send=True) from None
        except aiohttp.ClientError as exc:
            raise ConnectError(f"{type(exc).__name__}: {exc}", before_send=False) from None
        return Response(status, headers, body)

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        limit = self.max_body
        length = resp.content_length
        if length is not None and length > limit:
            raise ResponseTooLarge(f"body of {length} bytes exceeds {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(f"body exceeds {limit} bytes", b"".join(chunks[:1]))
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        """Close the own session (a borrowed one stays open). Idempotent."""
        self._closed = True
        if self._own and self._session is not None and not self._session.closed:
            await self._session.close()

    def __repr__(self) -> str:
        kind = "own" if self._own else "borrowed"
        return f"AiohttpSender({kind} session, closed={self.closed})"
