"""Bybit v5: hosts, limits, the error table, the dialect (signing, errors, rate headers), envelopes.

Shared by the feeds, the reference data and the actions of this package.
Sources: the Bybit v5 API docs, https://bybit-exchange.github.io/docs/v5/intro
("Authentication", "Rate Limit", "Error Codes", "Crypto Loan", "Institutional Loan").
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from ..._args import now_ms
from ..._money import plausible
from ...errors import (
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
from ...feeds import BadRecord, Envelope
from ...ratelimit import Bucket, Limit
from ...signing import BybitSigner
from ...transport import Clock, Prepared, Request, encode_query

__all__ = [
    "ERRORS",
    "HOSTS",
    "INS_LOANS",
    "INS_REPAID",
    "LIST",
    "BybitDialect",
    "decode_envelope",
    "envelope_error",
    "response_error",
]

VENUE = "bybit"
DAY_MS = 86_400_000

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
#: unauthenticated reference data: only the IP limit applies (600 / 5 s, shared by all public calls)
PUBLIC_LIMIT = Limit(600, 5.0, scope="ip")
#: borrow / repay actions: "UID rate limit: 1 req / second" (legacy repay has no line: same, UNVERIFIED)
ACTION_LIMIT = Limit(1, 1.0)
#: new crypto-loan history and position reads: 5 req / s per UID
HISTORY_LIMIT = Limit(5, 1.0)
#: legacy crypto-loan reads: no documented limit (UNVERIFIED); the new API's 5 req / s
LEGACY_LIMIT = Limit(5, 1.0)
#: ins-loan loan-order and repaid-history: 20 req / s per UID; repay-loan 1 req / s
INS_HISTORY_LIMIT = Limit(20, 1.0)

# paths
P_FLEX_BORROW = "/v5/crypto-loan-flexible/borrow"
P_FLEX_REPAY = "/v5/crypto-loan-flexible/repay"
P_FIXED_REPAY = "/v5/crypto-loan-fixed/fully-repay"
P_LEGACY_REPAY = "/v5/crypto-loan/repay"
P_INS_REPAY = "/v5/ins-loan/repay-loan"
P_LOANABLE = "/v5/crypto-loan-common/loanable-data"
P_LEGACY_LOANABLE = "/v5/crypto-loan/loanable-data"
P_LEGACY_ONGOING = "/v5/crypto-loan/ongoing-orders"

PAGE_LIMIT = 100  # the documented maximum of `limit` on every history endpoint
LEGACY_RETENTION_MS = 183 * DAY_MS  # "last 6 months"
INS_RETENTION_MS = 730 * DAY_MS  # "up to 2 years" / "default and max: past 2 years"
INS_WINDOW_MS = 30 * DAY_MS  # INS windows: no documented maximum; 30 days, split when full
MAX_COLLATERAL = 100  # collateralList: "up to 100 currency in the array"

# --- errors (v5 "Error Codes": general, crypto loan 148xxx / 177xxx, institutional loan 3777xxx) -------------------------------------------------

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
    # new crypto loan 148001-148048
    "148019": VenueUnavailable,  # system busy
    "148021": BadRequest,  # operation conflict
    "148023": BadRequest,  # loan order not found
    "148026": BadRequest,  # failed to create repayment
    "148029": BadRequest,  # insufficient balance in the repayment account
    "148031": BadRequest,  # not allowed during liquidation
    "148032": BadRequest,  # no outstanding debt
    "148034": VenueUnavailable,  # please wait and retry
    "148035": VenueUnavailable,
    "148041": BadRequest,  # a repay order exists
    # legacy crypto loan 177002-177021
    "177002": VenueUnavailable,  # server busy
    "177018": BadRequest,  # duplicate request
    "177021": BadRequest,  # repayment failed
    # institutional loan 3777002-3777043
    "3777039": BadRequest,  # repay exceeds the debt
    "3777040": BadRequest,  # insufficient balance
    "3777043": BadRequest,  # a repayment is already processing
}

SIGNATURE_CODES = frozenset({"10004"})
#: X-Bapi-Limit-Reset-Timestamp further ahead than this is not a rate window (ignored)
MAX_RESET_AHEAD_MS = 60_000
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
    #: every answer carries X-Bapi-Limit / X-Bapi-Limit-Status (https://bybit-exchange.github.io/docs/v5/rate-limit)
    reports_usage = True

    def __init__(self, signer: BybitSigner | None) -> None:
        self.signer = signer
        #: the client's venue clock (set by `Bybit`): reset timestamps are on the venue's clock
        self.clock: Clock | None = None

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
        nano = env.result.timeNano if env.result is not None else ""
        if not (nano.isascii() and nano.isdigit() and len(nano) <= 24):
            raise DecodeError(VENUE, "market/time", f"timeNano {nano!r} is not a time", body)
        return int(nano) // 1_000_000

    def observe(self, bucket: Bucket, status: int, headers: Mapping[str, str], sent_ms: int | None = None) -> None:
        """The venue's count of the endpoint's rolling window (``X-Bapi-Limit`` requests, of which
        ``X-Bapi-Limit-Status`` remain after this one) resyncs the bucket (requests of another
        client on the same UID shrink our share); ``X-Bapi-Limit-Status: 0`` pauses the bucket
        until the reset timestamp (venue clock, converted to ours). Values that are not small
        decimal numbers, and a reset that is not a time within a minute, are ignored."""
        remaining = headers.get("X-Bapi-Limit-Status")
        reset = headers.get("X-Bapi-Limit-Reset-Timestamp")
        if remaining is None:
            return
        remaining = remaining.strip()
        if remaining.isascii() and remaining.isdigit() and len(remaining) <= 9:
            limit = headers.get("X-Bapi-Limit", "").strip()
            bucket.observe_remaining(
                int(remaining), int(limit) if limit.isascii() and limit.isdigit() and len(limit) <= 9 else None,
                now_ms() if sent_ms is None else sent_ms,
            )
        if reset is None or remaining != "0" or not (reset.isascii() and reset.isdigit() and len(reset) <= 15):
            return
        at = int(reset) - (self.clock.offset_ms if self.clock is not None else 0)
        if at <= now_ms() + MAX_RESET_AHEAD_MS:  # the venue's windows are seconds long
            bucket.pause_until(at)


# --- envelopes: {"retCode": 0, "retMsg": "OK", "result": {...}, "time": ms} -------------------------------

R = TypeVar("R")


class _Envelope(msgspec.Struct, Generic[R]):
    retCode: int
    retMsg: str = ""
    result: R | None = None
    time: int | None = None


class _CursorResult(msgspec.Struct, Generic[R]):
    rows: list[R] = msgspec.field(default_factory=list, name="list")
    nextPageCursor: str = ""


class _InsLoanResult(msgspec.Struct, Generic[R]):
    loanInfo: list[R] = []


class _InsRepaidResult(msgspec.Struct, Generic[R]):
    repayInfo: list[R] = []


class _TimeResult(msgspec.Struct):
    timeSecond: str
    timeNano: str


class _TimeEnvelope(msgspec.Struct):
    retCode: int
    retMsg: str = ""
    result: _TimeResult | None = None


_time_decoder = msgspec.json.Decoder(_TimeEnvelope)

Id = str | int


def _reject(body: bytes, feed_id: str, path: str, detail: str) -> Exception:
    err = response_error(200, body, path, feed_id)
    return DecodeError(VENUE, feed_id, detail, body) if isinstance(err, DecodeError) else err


def _accept(env: Any, body: bytes, feed_id: str, path: str) -> None:
    if env.retCode != 0:
        raise envelope_error(200, env.retCode, env.retMsg, path)
    if env.result is None:
        raise DecodeError(VENUE, feed_id, "success envelope without result", body)


def _envelope(result: Any, unpack: Any) -> Envelope:
    return Envelope(VENUE, wrap=lambda row: _Envelope[result[row]], unpack=unpack, reject=_reject, accept=_accept)


#: the crypto-loan histories: ``result: {"list": [...], "nextPageCursor": "..."}``
LIST = _envelope(_CursorResult, lambda env: (env.result.rows, env.result.nextPageCursor, None))
#: GET /v5/ins-loan/loan-order: ``result: {"loanInfo": [...]}`` (no cursor)
INS_LOANS = _envelope(_InsLoanResult, lambda env: (env.result.loanInfo, None, None))
#: GET /v5/ins-loan/repaid-history: ``result: {"repayInfo": [...]}`` (no cursor)
INS_REPAID = _envelope(_InsRepaidResult, lambda env: (env.result.repayInfo, None, None))


# --- wire helpers shared by feeds and actions --------------------------------------------------------------


def _sid(value: Id) -> str:
    text = str(value)
    if not text:
        raise BadRecord("empty id")
    return text


def _money(value: Decimal, name: str) -> Decimal:
    if not plausible(value):
        raise BadRecord(f"{name} is not finite or of sane magnitude: {value}")
    return value


def _ccy(value: str) -> str:
    code = value.strip().upper()
    if not code or not code.isalnum():
        raise BadRecord(f"bad currency {value!r}")
    return code
