"""`MockSender`: a `Sender` for unit tests, without sockets (and without aiohttp).

    sender = MockSender.replies(
        Response(503, body=b"busy"),
        Response(200, {"X-Bapi-Limit-Status": "9"}, b'{"retCode":0,"retMsg":"OK","result":{}}'),
    )
    async with Bybit("key", "secret", sender=sender) as bybit:
        ...
    assert [r.path for r in sender.requests] == [...]

Each answer is a `Response`, or an exception the request raises instead (a
`ConnectError(before_send=True)` for a refused connection, one with
``before_send=False`` for a dropped one, `RequestTimeout`, `ResponseTooLarge`).
For answers computed from the request, give a handler:
``MockSender(handler)`` with ``async def handler(request) -> Response``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

from ..errors import ClientClosed
from ..transport import OutgoingRequest, Response

__all__ = ["MockHandler", "MockSender"]

MockHandler = Callable[[OutgoingRequest], Awaitable[Response]]


class MockSender:
    """Answers every request with `handler(request)` and records it (`requests`, `timeouts`)."""

    def __init__(self, handler: MockHandler) -> None:
        if not callable(handler):
            raise TypeError(f"handler: expected an async function, got {type(handler).__name__}")
        self._handler = handler
        self.requests: list[OutgoingRequest] = []
        self.timeouts: list[float] = []
        self._closed = False

    @classmethod
    def replies(cls, *answers: Response | BaseException, repeat: bool = False) -> MockSender:
        """Answers in the order given; with `repeat` the last one answers every later request.
        A request with no answer left fails the test (AssertionError naming it)."""
        queue: deque[Response | BaseException] = deque(answers)
        for a in queue:
            if not isinstance(a, Response | BaseException):
                raise TypeError(f"answers: expected Response or an exception, got {type(a).__name__}")

        async def next_answer(request: OutgoingRequest) -> Response:
            if not queue:
                raise AssertionError(f"MockSender: no answer left for {request.method} {request.path}")
            answer = queue[0] if repeat and len(queue) == 1 else queue.popleft()
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return cls(next_answer)

    @property
    def closed(self) -> bool:
        return self._closed

    async def send(self, request: OutgoingRequest, *, timeout: float) -> Response:
        if self._closed:
            raise ClientClosed("the mock sender is closed")
        self.requests.append(request)
        self.timeouts.append(timeout)
        return await self._handler(request)

    async def close(self) -> None:
        self._closed = True

    def sent(self, method: str | None = None, path: str | None = None) -> list[OutgoingRequest]:
        """The recorded requests matching `method` and `path` (the URL's path, no query)."""
        return [r for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path)]

    def __repr__(self) -> str:
        return f"MockSender({len(self.requests)} requests, closed={self._closed})"

