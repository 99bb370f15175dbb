"""What the transport tests share: an OKX-shaped request pair, a decoder in the shape of the
venue decoders, and a recorder of the sleeps a transport asks for (test_transport.py runs the
rules through the aiohttp sender, test_transport_sender.py through MockSender)."""

from __future__ import annotations

import msgspec

from loanledger import DecodeError
from loanledger.ratelimit import Limit
from loanledger.transport import Request
from loanledger.venues.okx import response_error

__all__ = ["BASE", "GET", "LIMIT", "OK_BODY", "POST", "Sleeps", "okx_decode"]

BASE = "https://okx.test"
LIMIT = Limit(5, 2.0)
OK_BODY = b'{"code":"0","msg":"","data":[{"ok":"1"}]}'
GET = Request("GET", "/api/v5/x", LIMIT, params=(("ccy", "BTC"),))
POST = Request("POST", "/api/v5/finance/flexible-loan/repay", LIMIT, body={"ordId": "1", "amt": "1000"})


class _Env(msgspec.Struct):
    code: str
    data: list[dict[str, str]] = []


_env = msgspec.json.Decoder(_Env)


def okx_decode(body: bytes) -> bytes:
    """A decoder in the shape of the venue decoders: typed error for error envelopes,
    DecodeError for anything that does not parse."""
    assert isinstance(body, bytes)
    try:
        env = _env.decode(body)
    except msgspec.MsgspecError as exc:
        raise DecodeError("okx", "test", str(exc), body) from None
    if env.code != "0":
        raise response_error(200, body, "/api/v5/x")
    return body


class Sleeps:
    """The delays a transport asked to sleep, in order (given as its `sleep`)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.calls.append(delay)
