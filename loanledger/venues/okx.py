"""OKX: flexible-loan history, one-click repay history v2, convert history, interest accrued.

Reads top to bottom: hosts and limits, the error table, the dialect (signing
and error mapping), wire Structs, normalizers and feed specs, the client.
Sources: ../shared/seeds/000-002 and exchange-api-notes.md sections 2.1, 3.1, 4, 5.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import msgspec

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
from ..signing import OkxSigner, key_fingerprint
from ..transport import Prepared, Request, RetryPolicy, encode_query

__all__ = ["HOSTS", "OKX", "OkxDialect"]

VENUE = "okx"

# --- hosts and limits ---------------------------------------------------------------

#: www.okx.com is what python-okx and ccxt use; the 2026 docs name openapi.okx.com
#: (whether www still serves the API is UNVERIFIED, so the default stays on the
#: host every SDK uses and the others are one argument away). US/AU and EEA
#: accounts must use their regional host.
HOSTS: Mapping[str, str] = {
    "www": "https://www.okx.com",
    "openapi": "https://openapi.okx.com",
    "us": "https://us.okx.com",
    "eea": "https://eea.okx.com",
}

TIME_LIMIT = Limit(10, 2.0, scope="ip")  # public/time: 10 req / 2 s per IP

# --- errors (exchange-api-notes.md 3.1) -------------------------------------------------

ERRORS: ErrorTable = {
    "50001": VenueUnavailable,
    "50004": VenueUnavailable,  # endpoint timeout: outcome unknown
    "50011": RateLimited,
    "50013": VenueUnavailable,  # systems busy
    "50026": VenueUnavailable,
    "50040": RateLimited,
    "50038": BadRequest,  # unavailable in demo trading
    "50101": AuthError,
    "50102": ClockSkewError,
    "50103": AuthError,
    "50104": AuthError,
    "50105": AuthError,
    "50106": AuthError,
    "50107": AuthError,
    "50110": AuthError,
    "50111": AuthError,
    "50112": AuthError,
    "50113": AuthError,
    "50114": AuthError,
    "50119": AuthError,
    "50120": AuthError,
    "51000": BadRequest,
}
SIGNATURE_CODES = frozenset({"50113"})


class _ErrorEnvelope(msgspec.Struct):
    code: str | int = ""
    msg: str = ""


_error_decoder = msgspec.json.Decoder(_ErrorEnvelope)


def envelope_error(status: int, code: str, msg: str, path: str) -> VenueError:
    """The typed error for an OKX `code` (HTTP 200 envelopes included)."""
    return make_error(VENUE, ERRORS, status, code, msg, path, signature_codes=SIGNATURE_CODES)


def response_error(status: int, body: bytes, path: str, feed: str | None = None) -> VenueError | DecodeError:
    """The error a body that is not a success envelope stands for."""
    try:
        env = _error_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        if status == 200:
            return DecodeError(VENUE, feed or path, "not an OKX envelope", body)
        return make_error(VENUE, ERRORS, status, None, body[:200].decode("utf-8", "replace"), path)
    code = str(env.code)
    if status == 200 and code in ("", "0"):
        return DecodeError(VENUE, feed or path, "success envelope with unexpected data", body)
    return envelope_error(status, code, env.msg, path)


# --- dialect ----------------------------------------------------------------------------


class OkxDialect:
    """OKX signing (base64 HMAC over ts+METHOD+path?query+body) and error mapping."""

    venue = VENUE

    def __init__(self, signer: OkxSigner | None) -> None:
        self.signer = signer

    def prepare(self, req: Request, ts_ms: int) -> Prepared:
        qs = encode_query(req.params)
        path_qs = f"{req.path}?{qs}" if qs else req.path
        body = msgspec.json.encode(req.body) if req.body is not None else b""
        headers: dict[str, str] = {}
        if req.method == "POST":
            headers["Content-Type"] = "application/json"
        if req.signed:
            if self.signer is None:
                raise AuthError(VENUE, 0, None, "this client has no credentials", req.path)
            headers.update(self.signer.headers(ts_ms, req.method, path_qs, body))
        return Prepared(path_qs, headers, body if req.method == "POST" else None)

    def error(self, status: int, headers: Mapping[str, str], body: bytes, path: str) -> VenueError:
        err = response_error(status, body, path)
        if isinstance(err, DecodeError):  # pragma: no cover - status != 200 never yields DecodeError
            return make_error(VENUE, ERRORS, status, None, err.detail, path)
        return err

    def time_request(self) -> Request:
        return Request("GET", "/api/v5/public/time", TIME_LIMIT, signed=False)

    def parse_time(self, body: bytes) -> int:
        env = _decode_envelope(_time_decoder, body, "public/time", "/api/v5/public/time")
        if not env.data:
            raise DecodeError(VENUE, "public/time", "no data", body)
        ts: int = env.data[0].ts
        return ts

    def observe(self, bucket: Bucket, status: int, headers: Mapping[str, str]) -> None:
        """OKX documents no rate-limit headers."""


# --- wire structs -------------------------------------------------------------------------


class _TimeRow(msgspec.Struct):
    ts: int


class _TimeEnvelope(msgspec.Struct):
    code: str
    msg: str = ""
    data: list[_TimeRow] = []


_time_decoder = msgspec.json.Decoder(_TimeEnvelope, strict=False)


def _decode_envelope(decoder: msgspec.json.Decoder[Any], body: bytes, feed: str, path: str) -> Any:
    """Decode a success envelope; error envelopes raise their typed error."""
    try:
        env = decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        err = response_error(200, body, path, feed)
        if isinstance(err, DecodeError):
            raise DecodeError(VENUE, feed, str(exc), body) from None
        raise err from None
    if env.code != "0":
        raise envelope_error(200, env.code, env.msg, path)
    return env


# --- feeds (added by the OKX adapter) --------------------------------------------------------

FEEDS: tuple[FeedSpec, ...] = ()


# --- client -------------------------------------------------------------------------------------


class OKX(VenueClient):
    """OKX client. ``async with OKX(key, secret, passphrase) as okx: ...``

    `base_url` defaults to https://www.okx.com; see `HOSTS` for openapi / us / eea.
    `demo=True` adds ``x-simulated-trading: 1`` (demo keys only).
    """

    venue = VENUE
    default_base_url = HOSTS["www"]
    feed_specs = {spec.id: spec for spec in FEEDS}

    def __init__(
        self,
        api_key: str,
        secret: str,
        passphrase: str,
        *,
        account: str = "default",
        base_url: str | None = None,
        demo: bool = False,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(demo, bool):
            raise TypeError(f"demo: expected bool, got {type(demo).__name__}")
        signer = OkxSigner(api_key, secret, passphrase, demo=demo)
        self.demo = demo
        super().__init__(
            OkxDialect(signer),
            account=account,
            base_url=base_url,
            scope_id=key_fingerprint(api_key),
            session=session,
            timeout=timeout,
            limits=limits,
            retry=retry,
        )

    def __repr__(self) -> str:
        return f"OKX(account={self.account!r}, base_url={self.base_url!r}, demo={self.demo})"
