"""Binance Portfolio Margin Pro: bankruptcy-loan repay history and negative-balance interest.

Reads top to bottom: hosts and limits, the error table, the dialect (signing
and error mapping), wire Structs, normalizers and feed specs, the client.
Sources: ../shared/seeds/003 and exchange-api-notes.md sections 2.2, 3.2, 4, 6.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import msgspec

from .._args import now_ms
from ..client import VenueClient
from ..errors import (
    AuthError,
    BadRequest,
    ClockSkewError,
    DecodeError,
    ErrorTable,
    InvalidArgument,
    RateLimited,
    VenueError,
    VenueUnavailable,
    make_error,
)
from ..paginate import FeedSpec
from ..ratelimit import Bucket, Limit, RateLimits
from ..signing import BinanceSigner, key_fingerprint
from ..transport import Prepared, Request, RetryPolicy, encode_query

__all__ = ["Binance", "BinanceDialect", "HOSTS"]

VENUE = "binance"

# --- hosts and limits ----------------------------------------------------------------

#: The PM Pro docs list only api.binance.com for /sapi/v1/portfolio/*; /sapi has no testnet.
HOSTS: Mapping[str, str] = {"api": "https://api.binance.com"}

#: /sapi endpoints: each IP-limited endpoint has its own 12,000 weight / minute,
#: UID-limited ones 180,000 / minute; counters reset on the minute.
SAPI_IP_BUDGET = 12_000
SAPI_UID_BUDGET = 180_000
TIME_LIMIT = Limit(6_000, 60.0, weight=1, scope="ip", window="fixed")  # /api/v3/time

# --- errors (exchange-api-notes.md 3.2) --------------------------------------------------

ERRORS: ErrorTable = {
    "-1000": VenueUnavailable,
    "-1001": VenueUnavailable,
    "-1002": AuthError,
    "-1003": RateLimited,
    "-1006": VenueUnavailable,  # unexpected response: execution status unknown
    "-1007": VenueUnavailable,  # timeout: execution status unknown
    "-1008": VenueUnavailable,
    "-1016": VenueUnavailable,
    "-1021": ClockSkewError,
    "-1022": AuthError,
    "-1100": BadRequest,
    "-1101": BadRequest,
    "-1102": BadRequest,
    "-1103": BadRequest,
    "-1104": BadRequest,
    "-1105": BadRequest,
    "-1106": BadRequest,
    "-1130": BadRequest,
    "-2014": AuthError,
    "-2015": AuthError,
}
SIGNATURE_CODES = frozenset({"-1022"})


class _ErrorBody(msgspec.Struct):
    code: int
    msg: str = ""


_error_decoder = msgspec.json.Decoder(_ErrorBody)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def response_error(status: int, headers: Mapping[str, str], body: bytes, path: str) -> VenueError:
    """The typed error of a non-success answer ({"code": -1021, "msg": ...})."""
    code: str | None = None
    msg = body[:200].decode("utf-8", "replace")
    try:
        err = _error_decoder.decode(body)
        code, msg = str(err.code), err.msg
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    retry_after = _retry_after(headers)
    ban_until = None
    if status == 418:
        ban_until = now_ms() + int((retry_after if retry_after is not None else 120) * 1000)
    return make_error(
        VENUE, ERRORS, status, code, msg, path,
        retry_after=retry_after, ban_until=ban_until, signature_codes=SIGNATURE_CODES,
    )


# --- dialect -------------------------------------------------------------------------------


class BinanceDialect:
    """Binance signing (payload = the exact query string) and error mapping."""

    venue = VENUE

    def __init__(self, signer: BinanceSigner | None, recv_window: int = 5000) -> None:
        self.signer = signer
        self.recv_window = recv_window

    def prepare(self, req: Request, ts_ms: int) -> Prepared:
        params = list(req.params)
        headers: dict[str, str] = {}
        if req.signed:
            if self.signer is None:
                raise AuthError(VENUE, 0, None, "this client has no credentials", req.path)
            params += [("recvWindow", str(self.recv_window)), ("timestamp", str(ts_ms))]
            qs = encode_query(params)
            qs = f"{qs}&signature={self.signer.signature(qs.encode())}"
            headers.update(self.signer.headers())
        else:
            qs = encode_query(params)
        return Prepared(f"{req.path}?{qs}" if qs else req.path, headers, None)

    def error(self, status: int, headers: Mapping[str, str], body: bytes, path: str) -> VenueError:
        return response_error(status, headers, body, path)

    def time_request(self) -> Request:
        return Request("GET", "/api/v3/time", TIME_LIMIT, signed=False)

    def parse_time(self, body: bytes) -> int:
        try:
            return _time_decoder.decode(body).serverTime
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise DecodeError(VENUE, "api/v3/time", str(exc), body) from None

    def observe(self, bucket: Bucket, status: int, headers: Mapping[str, str]) -> None:
        """Resync the bucket from the used-weight headers of this endpoint's counter."""
        names: tuple[str, ...]
        if bucket.limit.scope == "ip":
            names = ("X-SAPI-USED-IP-WEIGHT-1M", "X-MBX-USED-WEIGHT-1M")
        else:
            names = ("X-SAPI-USED-UID-WEIGHT-1M",)
        for name in names:
            value = headers.get(name)
            if value is not None and value.isdigit():
                bucket.observe_used(int(value), now_ms())
                return


# --- wire structs ---------------------------------------------------------------------------


class _ServerTime(msgspec.Struct):
    serverTime: int


_time_decoder = msgspec.json.Decoder(_ServerTime)


# --- feeds (added by the Binance adapter) -------------------------------------------------------

FEEDS: tuple[FeedSpec, ...] = ()


# --- client ----------------------------------------------------------------------------------------


class Binance(VenueClient):
    """Binance client: HMAC `secret`, or an RSA/Ed25519 PEM `private_key` (exactly one)."""

    venue = VENUE
    default_base_url = HOSTS["api"]
    feed_specs = {spec.id: spec for spec in FEEDS}

    def __init__(
        self,
        api_key: str,
        secret: str | None = None,
        *,
        private_key: str | bytes | None = None,
        private_key_password: str | bytes | None = None,
        account: str = "default",
        base_url: str | None = None,
        recv_window: int = 5000,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if isinstance(recv_window, bool) or not isinstance(recv_window, int):
            raise TypeError(f"recv_window: expected int milliseconds, got {type(recv_window).__name__}")
        if not 0 < recv_window <= 60_000:
            raise InvalidArgument("recv_window", f"{recv_window} must be in 1..60000 ms")
        signer = BinanceSigner(
            api_key, secret, private_key=private_key, private_key_password=private_key_password
        )
        self.key_type = signer.method
        super().__init__(
            BinanceDialect(signer, recv_window),
            account=account,
            base_url=base_url,
            scope_id=key_fingerprint(api_key),
            session=session,
            timeout=timeout,
            limits=limits,
            retry=retry,
        )

    def __repr__(self) -> str:
        return f"Binance(account={self.account!r}, base_url={self.base_url!r}, key_type={self.key_type!r})"
