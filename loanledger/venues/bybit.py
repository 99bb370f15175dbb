"""Bybit v5 crypto loans: borrow and repay actions, loanable coins, every loan history feed.

Reads top to bottom: hosts and limits, the error table, the dialect (signing
and error mapping), wire Structs, normalizers and feed specs, actions, the client.
Sources: ../shared/seeds/004 and exchange-api-notes.md sections 1, 2.3, 3.3, 4.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    RateLimited,
    VenueError,
    VenueUnavailable,
    make_error,
)
from ..paginate import FeedSpec
from ..ratelimit import Bucket, Limit, RateLimits
from ..signing import BybitSigner, key_fingerprint
from ..transport import Prepared, Request, RetryPolicy, encode_query

__all__ = ["Bybit", "BybitDialect", "HOSTS"]

VENUE = "bybit"

# --- hosts and limits -------------------------------------------------------------------

HOSTS: Mapping[str, str] = {
    "mainnet": "https://api.bybit.com",
    "bytick": "https://api.bytick.com",
    "testnet": "https://api-testnet.bybit.com",
    "nl": "https://api.bybit.nl",
    "tr": "https://api.bybit.tr",
    "kz": "https://api.bybit.kz",
    "ge": "https://api.bybitgeorgia.ge",
    "ae": "https://api.bybit.ae",
    "eu": "https://api.bybit.eu",
    "id": "https://api.bybit.id",
    "jp": "https://api.manepa.jp",
}

TIME_LIMIT = Limit(600, 5.0, scope="ip")  # IP limit: 600 requests / 5 s

# --- errors (exchange-api-notes.md 1.6, 3.3) -------------------------------------------------

ERRORS: ErrorTable = {
    "10000": VenueUnavailable,  # server timeout: outcome unknown
    "10001": BadRequest,
    "10002": ClockSkewError,
    "10003": AuthError,
    "10004": AuthError,
    "10005": AuthError,
    "10006": RateLimited,
    "10007": AuthError,
    "10008": AuthError,
    "10009": AuthError,
    "10010": AuthError,
    "10014": BadRequest,
    "10016": VenueUnavailable,
    "10017": BadRequest,
    "10027": AuthError,
    "10028": BadRequest,
    "429": VenueUnavailable,  # retCode 429: high server load
    "148019": VenueUnavailable,  # system busy
    "148034": VenueUnavailable,  # please wait and retry
    "148035": VenueUnavailable,
    "177002": VenueUnavailable,  # legacy: server busy
}
SIGNATURE_CODES = frozenset({"10004"})
#: 403 "access too frequent": stop all sessions for at least 10 minutes
IP_BAN_MS = 10 * 60 * 1000


class _ErrorEnvelope(msgspec.Struct):
    retCode: int
    retMsg: str = ""


_error_decoder = msgspec.json.Decoder(_ErrorEnvelope)


def envelope_error(status: int, code: int | str, msg: str, path: str) -> VenueError:
    """The typed error of a Bybit retCode (HTTP 200 envelopes included)."""
    ban_until = now_ms() + IP_BAN_MS if status == 403 else None
    return make_error(
        VENUE, ERRORS, status, str(code), msg, path, ban_until=ban_until, signature_codes=SIGNATURE_CODES
    )


def response_error(status: int, body: bytes, path: str, feed: str | None = None) -> VenueError | DecodeError:
    """The error a body that is not a success envelope stands for."""
    try:
        env = _error_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        if status == 200:
            return DecodeError(VENUE, feed or path, "not a Bybit envelope", body)
        if status == 403:
            return make_error(VENUE, {}, 403, None, "access too frequent or forbidden", path,
                              ban_until=now_ms() + IP_BAN_MS)
        return make_error(VENUE, ERRORS, status, None, body[:200].decode("utf-8", "replace"), path)
    if status == 200 and env.retCode == 0:
        return DecodeError(VENUE, feed or path, "success envelope with unexpected result", body)
    return envelope_error(status, env.retCode, env.retMsg, path)


def decode_envelope(decoder: msgspec.json.Decoder[Any], body: bytes, feed: str, path: str) -> Any:
    """Decode a success envelope; error envelopes raise their typed error."""
    try:
        env = decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        err = response_error(200, body, path, feed)
        if isinstance(err, DecodeError):
            raise DecodeError(VENUE, feed, str(exc), body) from None
        raise err from None
    if env.retCode != 0:
        raise envelope_error(200, env.retCode, env.retMsg, path)
    return env


# --- dialect -------------------------------------------------------------------------------------


class BybitDialect:
    """Bybit signing (ts + key + recvWindow + query|body) and error mapping."""

    venue = VENUE

    def __init__(self, signer: BybitSigner | None) -> None:
        self.signer = signer

    def prepare(self, req: Request, ts_ms: int) -> Prepared:
        headers: dict[str, str] = {}
        if req.method == "GET":
            qs = encode_query(req.params)
            path_qs = f"{req.path}?{qs}" if qs else req.path
            signed_part = qs.encode()
            body = None
        else:
            path_qs = req.path
            body = msgspec.json.encode(req.body if req.body is not None else {})
            signed_part = body
            headers["Content-Type"] = "application/json"
        if req.signed:
            if self.signer is None:
                raise AuthError(VENUE, 0, None, "this client has no credentials", req.path)
            headers.update(self.signer.headers(ts_ms, signed_part))
        return Prepared(path_qs, headers, body)

    def error(self, status: int, headers: Mapping[str, str], body: bytes, path: str) -> VenueError:
        err = response_error(status, body, path)
        if isinstance(err, DecodeError):  # pragma: no cover - only for status 200
            return make_error(VENUE, ERRORS, status, None, err.detail, path)
        return err

    def time_request(self) -> Request:
        return Request("GET", "/v5/market/time", TIME_LIMIT, signed=False)

    def parse_time(self, body: bytes) -> int:
        env = decode_envelope(_time_decoder, body, "market/time", "/v5/market/time")
        return int(env.result.timeNano) // 1_000_000

    def observe(self, bucket: Bucket, status: int, headers: Mapping[str, str]) -> None:
        """``X-Bapi-Limit-Status: 0`` pauses the bucket until the reset timestamp."""
        remaining = headers.get("X-Bapi-Limit-Status")
        reset = headers.get("X-Bapi-Limit-Reset-Timestamp")
        if remaining is not None and reset is not None and remaining.strip() == "0" and reset.isdigit():
            bucket.pause_until(int(reset))


# --- wire structs ------------------------------------------------------------------------------------


class _TimeResult(msgspec.Struct):
    timeSecond: str
    timeNano: str


class _TimeEnvelope(msgspec.Struct):
    retCode: int
    retMsg: str = ""
    result: _TimeResult | None = None


_time_decoder = msgspec.json.Decoder(_TimeEnvelope)


# --- feeds (added by the Bybit adapter) -------------------------------------------------------------

FEEDS: tuple[FeedSpec, ...] = ()


# --- client ----------------------------------------------------------------------------------------------


class Bybit(VenueClient):
    """Bybit client: HMAC `secret` or an RSA PEM `private_key` (exactly one)."""

    venue = VENUE
    default_base_url = HOSTS["mainnet"]
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
        testnet: bool = False,
        recv_window: int = 5000,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(testnet, bool):
            raise TypeError(f"testnet: expected bool, got {type(testnet).__name__}")
        signer = BybitSigner(
            api_key, secret, private_key=private_key, private_key_password=private_key_password,
            recv_window=recv_window,
        )
        self.key_type = signer.method
        self.testnet = testnet
        super().__init__(
            BybitDialect(signer),
            account=account,
            base_url=base_url or (HOSTS["testnet"] if testnet else None),
            scope_id=key_fingerprint(api_key),
            session=session,
            timeout=timeout,
            limits=limits,
            retry=retry,
        )

    def __repr__(self) -> str:
        return (
            f"Bybit(account={self.account!r}, base_url={self.base_url!r}, "
            f"key_type={self.key_type!r}, testnet={self.testnet})"
        )
