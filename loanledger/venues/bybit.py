"""Bybit v5 crypto loans: borrow and repay actions, loanable coins, every loan history feed.

Reads top to bottom: hosts and limits, the error table, the dialect (signing
and error mapping), wire Structs, normalizers and feed specs, actions, the client.
Sources: ../shared/seeds/004 and exchange-api-notes.md sections 1, 2.3, 3.3, 4.
The type -> (kind, sign) tables and the id rules are documented in docs/venues/bybit.md.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

import aiohttp
import msgspec

from .._args import TimeArg, check_amount, check_currency, now_ms
from .._money import MAX_ADJUSTED, exact_sum, plausible, signed
from ..client import VenueClient
from ..errors import (
    AmbiguousOutcome,
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
from ..events import EventKind, EventStatus, LoanEvent
from ..paginate import DecodeContext, DecodeFn, Feed, FeedSpec, OpaqueCursor, Page, TimeWindows
from ..ratelimit import Bucket, Limit, RateLimits
from ..signing import BybitSigner, key_fingerprint
from ..transport import Clock, Prepared, Request, RetryPolicy, encode_query

__all__ = [
    "ERRORS",
    "FEEDS",
    "HOSTS",
    "Bybit",
    "BybitDialect",
    "LegacyLoanableCoin",
    "LoanableCoin",
    "decode_legacy_loanable",
    "decode_loanable",
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
P_FLEX_BORROW_HISTORY = "/v5/crypto-loan-flexible/borrow-history"
P_FLEX_REPAY_HISTORY = "/v5/crypto-loan-flexible/repayment-history"
P_FIXED_CONTRACTS = "/v5/crypto-loan-fixed/borrow-contract-info"
P_FIXED_REPAY_HISTORY = "/v5/crypto-loan-fixed/repayment-history"
P_ADJUST_HISTORY = "/v5/crypto-loan-common/adjustment-history"
P_LEGACY_BORROW_HISTORY = "/v5/crypto-loan/borrow-history"
P_LEGACY_REPAY_HISTORY = "/v5/crypto-loan/repayment-history"
P_LEGACY_ONGOING = "/v5/crypto-loan/ongoing-orders"
P_INS_LOANS = "/v5/ins-loan/loan-order"
P_INS_REPAID = "/v5/ins-loan/repaid-history"

PAGE_LIMIT = 100  # the documented maximum of `limit` on every history endpoint
LEGACY_RETENTION_MS = 183 * DAY_MS  # "last 6 months"
INS_RETENTION_MS = 730 * DAY_MS  # "up to 2 years" / "default and max: past 2 years"
INS_WINDOW_MS = 30 * DAY_MS  # INS windows: no documented maximum; 30 days, split when full
MAX_COLLATERAL = 100  # collateralList: "up to 100 currency in the array"

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

    def observe(self, bucket: Bucket, status: int, headers: Mapping[str, str]) -> None:
        """``X-Bapi-Limit-Status: 0`` pauses the bucket until the reset timestamp (venue clock,
        converted to ours). A reset that is not a time within a minute is ignored."""
        remaining = headers.get("X-Bapi-Limit-Status")
        reset = headers.get("X-Bapi-Limit-Reset-Timestamp")
        if (
            remaining is None or reset is None or remaining.strip() != "0"
            or not (reset.isascii() and reset.isdigit() and len(reset) <= 15)
        ):
            return
        at = int(reset) - (self.clock.offset_ms if self.clock is not None else 0)
        if at <= now_ms() + MAX_RESET_AHEAD_MS:  # the venue's windows are seconds long
            bucket.pause_until(at)




# --- wire structs ------------------------------------------------------------------------------------
#
# Only the fields used. Ids that drift between int and str are `str | int`; times are `int`
# and the decoders run with strict=False (so "1728629786875" decodes to an int); money is
# Decimal, parsed from the wire string (or number: repayAmount is documented as long).

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


class FlexBorrowRow(msgspec.Struct, gc=False):
    borrowTime: int
    initialLoanAmount: Decimal
    loanCurrency: str
    orderId: Id
    status: int | str


class FlexRepayRow(msgspec.Struct, gc=False):
    loanCurrency: str
    repayAmount: Decimal
    repayId: Id
    repayStatus: int | str
    repayTime: int
    repayType: int | str


class FixedContractRow(msgspec.Struct, gc=False):
    borrowCurrency: str
    borrowTime: int
    loanId: Id
    orderId: Id
    residualPrincipal: Decimal
    status: int | str
    residualPenaltyInterest: Decimal | None = None


class FixedRepayLeg(msgspec.Struct, gc=False):
    loanId: Id
    repayAmount: Decimal
    loanCurrency: str = ""


class FixedRepayRow(msgspec.Struct):
    loanCurrency: str
    repayAmount: Decimal
    repayId: Id
    repayStatus: int | str
    repayTime: int
    repayType: int | str
    details: list[FixedRepayLeg] = []


class AdjustRow(msgspec.Struct, gc=False):
    adjustId: Id
    adjustTime: int
    amount: Decimal
    collateralCurrency: str
    direction: int | str
    status: int | str = 1


class LegacyBorrowRow(msgspec.Struct, gc=False):
    borrowTime: int
    initialLoanAmount: Decimal
    loanCurrency: str
    orderId: Id
    status: int | str


class LegacyRepayRow(msgspec.Struct, gc=False):
    loanCurrency: str
    orderId: Id
    repayAmount: Decimal
    repayId: Id
    repayStatus: int | str
    repayTime: int
    repayType: int | str
    collateralCurrency: str = ""
    collateralReturn: Decimal | None = None


class LegacyOngoingRow(msgspec.Struct):
    orderId: Id
    loanCurrency: str
    totalDebt: Decimal | None = None


class InsLoanRow(msgspec.Struct, gc=False):
    orderId: Id
    loanTime: int
    loanCoin: str
    loanAmount: Decimal
    status: int | str = "1"


class InsRepaidRow(msgspec.Struct, gc=False):
    repayOrderId: Id
    repaidTime: int
    token: str
    quantity: Decimal
    interest: Decimal | None = None
    businessType: int | str = "1"
    status: int | str = "1"


# --- normalization tables (docs/venues/bybit.md lists every row; tests cover each) -----------------

K = EventKind

#: new crypto loan status / repayStatus / adjustment status: 1 success, 2 processing, 3 fail
NEW_STATUS: Mapping[str, EventStatus] = {"1": EventStatus.DONE, "2": EventStatus.PENDING, "3": EventStatus.FAILED}
#: legacy repayStatus: 1 success, 2 processing
LEGACY_REPAY_STATUS: Mapping[str, EventStatus] = {"1": EventStatus.DONE, "2": EventStatus.PENDING}
#: legacy completed loans (1 repaid manually, 2 repaid by liquidation) and fixed contracts
#: (1 unrepaid, 2 fully repaid, 3 overdue) and INS loans (1 outstanding, 2 paid off):
#: the borrow itself happened in every case
BORROW_DONE = EventStatus.DONE
#: ins-loan repaid-history status: 1 success, 2 fail
INS_REPAY_STATUS: Mapping[str, EventStatus] = {"1": EventStatus.DONE, "2": EventStatus.FAILED}

#: flexible repayType -> (kind, sign of amount)
FLEX_REPAY_TYPES: Mapping[str, tuple[EventKind, int]] = {
    "1": (K.REPAY, -1),  # by user
    "2": (K.LIQUIDATION, -1),  # by liquidation
    "5": (K.REPAY, -1),  # by delisting
    "6": (K.LIQUIDATION, -1),  # by delay liquidation
    "7": (K.REPAY, -1),  # by currency (repaid with collateral)
}
#: fixed repayType -> (kind, sign)
FIXED_REPAY_TYPES: Mapping[str, tuple[EventKind, int]] = {
    "1": (K.REPAY, -1),  # by user
    "2": (K.LIQUIDATION, -1),  # by liquidation
    "3": (K.REPAY, -1),  # auto repay
    "4": (K.REPAY, -1),  # overdue repay
    "5": (K.REPAY, -1),  # by delisting
    "6": (K.LIQUIDATION, -1),  # by delay liquidation
    "7": (K.REPAY, -1),  # by currency
    "8": (K.REPAY, -1),  # transfer to flexible loan
}
#: legacy repayType -> (kind, sign)
LEGACY_REPAY_TYPES: Mapping[str, tuple[EventKind, int]] = {
    "1": (K.REPAY, -1),  # by user
    "2": (K.LIQUIDATION, -1),  # by liquidation
}
#: ins-loan businessType -> (kind, sign)
INS_REPAY_TYPES: Mapping[str, tuple[EventKind, int]] = {
    "1": (K.REPAY, -1),  # normal
    "2": (K.LIQUIDATION, -1),  # by liquidation
}
#: an unknown repay type is still a repayment of debt (the venue added 7 and 8 in 2025)
UNKNOWN_REPAY: tuple[EventKind, int] = (K.REPAY, -1)
#: collateral adjustment direction -> (kind, sign): 0 add (leaves the wallet), 1 reduce (returns)
ADJUST_DIRECTIONS: Mapping[str, tuple[EventKind, int]] = {
    "0": (K.COLLATERAL_ADD, -1),
    "1": (K.COLLATERAL_REMOVE, +1),
}
#: the parts of a record that become extra events (id suffix, kind, sign)
LEGACY_COLLATERAL_RETURN = ("collateral", K.COLLATERAL_REMOVE, +1)  # collateralReturn of a final repay
INS_INTEREST = ("interest", K.INTEREST, -1)  # interest paid with an INS repayment


class _Bad(Exception):
    """A record that does not follow the documented shape (becomes DecodeError)."""


def _sid(value: Id) -> str:
    text = str(value)
    if not text:
        raise _Bad("empty id")
    return text


def _money(value: Decimal, name: str) -> Decimal:
    if not plausible(value):
        raise _Bad(f"{name} is not finite or of sane magnitude: {value}")
    return value


def _ccy(value: str) -> str:
    code = value.strip().upper()
    if not code or not code.isalnum():
        raise _Bad(f"bad currency {value!r}")
    return code


# --- normalizers: one page of wire rows -> its events ---------------------------------------------------
#
# The hot path: one loop per page with the checks inlined, tables resolved once to
# (kind, negative, venue_type) for both the int and the str spelling of a code, currency
# codes validated once per distinct value per page, `raw` paired only when asked.

Raws = list[msgspec.Raw] | None
_NO_RAW = itertools.repeat(None)
TypeEntry = tuple[EventKind, bool, str]


def _type_table(table: Mapping[str, tuple[EventKind, int]]) -> dict[int | str, TypeEntry]:
    """code -> (kind, negative, venue_type) under both spellings ("1" and 1) of each code."""
    out: dict[int | str, TypeEntry] = {}
    for code, (kind, sign) in table.items():
        out[code] = out[int(code)] = (kind, sign < 0, code)
    return out


def _status_table(table: Mapping[str, EventStatus]) -> dict[int | str, EventStatus]:
    """code -> status under both spellings; look-ups default to pending: an undocumented
    status can still change, and pending keeps the record in the next syncs."""
    out: dict[int | str, EventStatus] = {}
    for code, status in table.items():
        out[code] = out[int(code)] = status
    return out


def _type_of(fast: dict[int | str, TypeEntry], table: Mapping[str, tuple[EventKind, int]], value: Id) -> TypeEntry:
    """The (kind, negative, venue_type) of a code; codes not in the table are repayments."""
    entry = fast.get(value)
    if entry is None:
        vt = str(value)
        kind, sign = table.get(vt, UNKNOWN_REPAY)
        entry = (kind, sign < 0, vt)
    return entry


_FLEX_REPAY = _type_table(FLEX_REPAY_TYPES)
_FIXED_REPAY = _type_table(FIXED_REPAY_TYPES)
_LEGACY_REPAY = _type_table(LEGACY_REPAY_TYPES)
_INS_REPAY = _type_table(INS_REPAY_TYPES)
_ADJUST = _type_table(ADJUST_DIRECTIONS)
_NEW_STATUS = _status_table(NEW_STATUS)
_LEGACY_STATUS = _status_table(LEGACY_REPAY_STATUS)
_INS_STATUS = _status_table(INS_REPAY_STATUS)
# enum members as module constants: `EventKind.BORROW` is a metaclass look-up (~90 ns), a global ~20 ns
_PENDING = EventStatus.PENDING
_DONE = EventStatus.DONE
_BORROW = EventKind.BORROW


def _cur(cache: dict[str, str], value: str) -> str:
    """A currency code through the page's cache (validated once per distinct value)."""
    code = cache.get(value)
    if code is None:
        code = cache[value] = _ccy(value)
    return code


def norm_flex_borrow(rows: list[FlexBorrowRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        oid = str(r.orderId)
        if not oid:
            raise _Bad("empty id")
        amount = r.initialLoanAmount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise _Bad(f"initialLoanAmount is not finite or of sane magnitude: {amount}")
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=oid, kind=_BORROW,
            status=_NEW_STATUS.get(r.status, _PENDING), ts=r.borrowTime,
            currency=ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency), amount=amount.copy_abs(),
            ref_id=oid, venue_type="", raw=raw,
        ))


def norm_flex_repay(rows: list[FlexRepayRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        kind, negative, vt = _FLEX_REPAY.get(r.repayType) or _type_of(_FLEX_REPAY, FLEX_REPAY_TYPES, r.repayType)
        rid = str(r.repayId)
        if not rid:
            raise _Bad("empty id")
        amount = r.repayAmount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise _Bad(f"repayAmount is not finite or of sane magnitude: {amount}")
        mag = amount.copy_abs()
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=rid, kind=kind,
            status=_NEW_STATUS.get(r.repayStatus, _PENDING), ts=r.repayTime,
            currency=ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency),
            amount=mag.copy_negate() if negative else mag, venue_type=vt, raw=raw,
        ))


def norm_fixed_contract(rows: list[FixedContractRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        lid = str(r.loanId)
        oid = str(r.orderId)
        if not lid or not oid:
            raise _Bad("empty id")
        amount = r.residualPrincipal
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise _Bad(f"residualPrincipal is not finite or of sane magnitude: {amount}")
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=lid, kind=_BORROW, status=BORROW_DONE, ts=r.borrowTime,
            currency=ccys.get(r.borrowCurrency) or _cur(ccys, r.borrowCurrency), amount=amount.copy_abs(),
            ref_id=oid, venue_type=str(r.status), raw=raw,
        ))


def _leg_order(loan_id: str) -> tuple[int, int, str]:
    """Numeric loanIds by value (without int(): any length), then the others by text."""
    if loan_id.isascii() and loan_id.isdigit():
        digits = loan_id.lstrip("0")
        return (0, len(digits), digits)
    return (1, 0, loan_id)


def fixed_leg_ids(repay_id: str, loan_ids: Iterable[str]) -> list[str]:
    """Event ids of a fixed repayment's legs, in the order of `sorted(loan_ids)` by loanId:
    the first leg carries the repayId itself (so the event `repay_fixed` returned merges
    with it), the others ``repayId:loanId``."""
    ordered = sorted(set(loan_ids), key=_leg_order)
    return [repay_id if i == 0 else f"{repay_id}:{lid}" for i, lid in enumerate(ordered)]


def norm_fixed_repay(rows: list[FixedRepayRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        rid = _sid(r.repayId)
        kind, negative, vt = _FIXED_REPAY.get(r.repayType) or _type_of(_FIXED_REPAY, FIXED_REPAY_TYPES, r.repayType)
        status = _NEW_STATUS.get(r.repayStatus, _PENDING)
        ccy = ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency)
        if not r.details:
            amount = _money(r.repayAmount, "repayAmount")
            append(LoanEvent(
                venue=VENUE, account=account, feed=feed, id=rid, kind=kind, status=status, ts=r.repayTime,
                currency=ccy, amount=signed(amount, negative), venue_type=vt, raw=raw,
            ))
            continue
        legs: dict[str, tuple[str, Decimal]] = {}
        for leg in r.details:
            lid = _sid(leg.loanId)
            amount = _money(leg.repayAmount, "details.repayAmount")
            lccy = _cur(ccys, leg.loanCurrency) if leg.loanCurrency else ccy
            prev = legs.get(lid)
            legs[lid] = (lccy, amount if prev is None else exact_sum((prev[1], amount)))  # a repeated loanId is one leg
        ordered = sorted(legs, key=_leg_order) if len(legs) > 1 else list(legs)
        for i, lid in enumerate(ordered):
            lccy, amount = legs[lid]
            append(LoanEvent(
                venue=VENUE, account=account, feed=feed, id=rid if i == 0 else f"{rid}:{lid}", kind=kind,
                status=status, ts=r.repayTime, currency=lccy, amount=signed(amount, negative), ref_id=lid,
                parent_id=None if i == 0 else rid, venue_type=vt, raw=raw,
            ))


def norm_adjust(rows: list[AdjustRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        entry = _ADJUST.get(r.direction)
        if entry is None:
            raise _Bad(f"unknown collateral direction {str(r.direction)!r}")
        kind, negative, vt = entry
        aid = str(r.adjustId)
        if not aid:
            raise _Bad("empty id")
        amount = r.amount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise _Bad(f"amount is not finite or of sane magnitude: {amount}")
        mag = amount.copy_abs()
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=aid, kind=kind, status=_NEW_STATUS.get(r.status, _PENDING),
            ts=r.adjustTime, currency=ccys.get(r.collateralCurrency) or _cur(ccys, r.collateralCurrency),
            amount=mag.copy_negate() if negative else mag, venue_type=vt, raw=raw,
        ))


def norm_legacy_borrow(rows: list[LegacyBorrowRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        oid = str(r.orderId)
        if not oid:
            raise _Bad("empty id")
        amount = r.initialLoanAmount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise _Bad(f"initialLoanAmount is not finite or of sane magnitude: {amount}")
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=oid, kind=_BORROW, status=BORROW_DONE, ts=r.borrowTime,
            currency=ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency), amount=amount.copy_abs(),
            venue_type=str(r.status), ref_id=oid, raw=raw,
        ))


def norm_legacy_repay(rows: list[LegacyRepayRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    suffix, ckind, csign = LEGACY_COLLATERAL_RETURN
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        rid = str(r.repayId)
        oid = str(r.orderId)
        if not rid or not oid:
            raise _Bad("empty id")
        kind, negative, vt = _LEGACY_REPAY.get(r.repayType) or _type_of(_LEGACY_REPAY, LEGACY_REPAY_TYPES, r.repayType)
        status = _LEGACY_STATUS.get(r.repayStatus, _PENDING)
        amount = r.repayAmount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise _Bad(f"repayAmount is not finite or of sane magnitude: {amount}")
        mag = amount.copy_abs()
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=rid, kind=kind, status=status, ts=r.repayTime,
            currency=ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency),
            amount=mag.copy_negate() if negative else mag, venue_type=vt, ref_id=oid, raw=raw,
        ))
        back = r.collateralReturn
        if back is not None and _money(back, "collateralReturn") != 0:
            append(LoanEvent(
                venue=VENUE, account=account, feed=feed, id=f"{rid}:{suffix}", kind=ckind, status=status,
                ts=r.repayTime, currency=_cur(ccys, r.collateralCurrency), amount=signed(back, csign < 0),
                venue_type=vt, ref_id=oid, parent_id=rid, raw=raw,
            ))


def norm_ins_loan(rows: list[InsLoanRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        oid = str(r.orderId)
        if not oid:
            raise _Bad("empty id")
        amount = r.loanAmount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise _Bad(f"loanAmount is not finite or of sane magnitude: {amount}")
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=oid, kind=_BORROW, status=BORROW_DONE, ts=r.loanTime,
            currency=ccys.get(r.loanCoin) or _cur(ccys, r.loanCoin), amount=amount.copy_abs(),
            venue_type=str(r.status), ref_id=oid, raw=raw,
        ))


def norm_ins_repaid(rows: list[InsRepaidRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    suffix, ikind, isign = INS_INTEREST
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        rid = str(r.repayOrderId)
        if not rid:
            raise _Bad("empty id")
        kind, negative, vt = _INS_REPAY.get(r.businessType) or _type_of(_INS_REPAY, INS_REPAY_TYPES, r.businessType)
        status = _INS_STATUS.get(r.status, _PENDING)
        ccy = ccys.get(r.token) or _cur(ccys, r.token)
        amount = r.quantity
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise _Bad(f"quantity is not finite or of sane magnitude: {amount}")
        mag = amount.copy_abs()
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=rid, kind=kind, status=status, ts=r.repaidTime,
            currency=ccy, amount=mag.copy_negate() if negative else mag, venue_type=vt, raw=raw,
        ))
        interest = r.interest
        if interest is not None and _money(interest, "interest") != 0:
            append(LoanEvent(
                venue=VENUE, account=account, feed=feed, id=f"{rid}:{suffix}", kind=ikind, status=status,
                ts=r.repaidTime, currency=ccy, amount=signed(interest, isign < 0), venue_type=vt, parent_id=rid,
                raw=raw,
            ))


# --- decoders -----------------------------------------------------------------------------------------

PageNorm = Callable[[list[Any], Raws, DecodeContext, list[LoanEvent]], None]


@dataclass(frozen=True, slots=True)
class _Codec:
    """The decoders of one feed, built once at import."""

    path: str
    rows: msgspec.json.Decoder[Any]  # envelope with typed rows
    raws: msgspec.json.Decoder[Any]  # envelope with raw rows (keep_raw)
    row: msgspec.json.Decoder[Any]  # one row
    extract: Callable[[Any], tuple[list[Any], str | None]]
    stamps: Callable[[list[Any]], list[int]]  # the rows' timestamps
    norm: PageNorm


def _param(generic: Any, arg: Any) -> Any:
    """``generic[arg]`` for a generic Struct chosen at run time."""
    return generic[arg]


def _cursor_rows(result: Any) -> tuple[list[Any], str | None]:
    return result.rows, result.nextPageCursor


def _codec(
    path: str, row: type[Any], result: type[Any], stamps: Callable[[list[Any]], list[int]], norm: PageNorm,
    extract: Callable[[Any], tuple[list[Any], str | None]] = _cursor_rows,
) -> _Codec:
    return _Codec(
        path,
        msgspec.json.Decoder(_param(_Envelope, _param(result, row)), strict=False),
        msgspec.json.Decoder(_param(_Envelope, _param(result, msgspec.Raw))),
        msgspec.json.Decoder(row, strict=False),
        extract,
        stamps,
        norm,
    )


def _make_decoder(codec: _Codec) -> DecodeFn:
    def decode(body: bytes, ctx: DecodeContext) -> Page:
        env = decode_envelope(codec.raws if ctx.keep_raw else codec.rows, body, ctx.feed, codec.path)
        if env.result is None:
            raise DecodeError(VENUE, ctx.feed, "success envelope without result", body)
        rows, nxt = codec.extract(env.result)
        events: list[LoanEvent] = []
        raws: Raws = None
        try:
            if ctx.keep_raw:
                raws = rows
                rows = [codec.row.decode(raw) for raw in rows]
            stamps = codec.stamps(rows)
            codec.norm(rows, raws, ctx, events)
        except (_Bad, msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise DecodeError(VENUE, ctx.feed, str(exc), body) from None
        return Page(events=events, count=len(rows), min_ts=min(stamps) if stamps else None,
                    max_ts=max(stamps) if stamps else None, next_cursor=nxt)

    return decode


CODECS: Mapping[str, _Codec] = {
    "bybit.flexible_borrow_history": _codec(
        P_FLEX_BORROW_HISTORY, FlexBorrowRow, _CursorResult, lambda rows: [r.borrowTime for r in rows], norm_flex_borrow),
    "bybit.flexible_repayment_history": _codec(
        P_FLEX_REPAY_HISTORY, FlexRepayRow, _CursorResult, lambda rows: [r.repayTime for r in rows], norm_flex_repay),
    "bybit.fixed_borrow_contracts": _codec(
        P_FIXED_CONTRACTS, FixedContractRow, _CursorResult, lambda rows: [r.borrowTime for r in rows], norm_fixed_contract),
    "bybit.fixed_repayment_history": _codec(
        P_FIXED_REPAY_HISTORY, FixedRepayRow, _CursorResult, lambda rows: [r.repayTime for r in rows], norm_fixed_repay),
    "bybit.collateral_adjustment_history": _codec(
        P_ADJUST_HISTORY, AdjustRow, _CursorResult, lambda rows: [r.adjustTime for r in rows], norm_adjust),
    "bybit.legacy_borrow_history": _codec(
        P_LEGACY_BORROW_HISTORY, LegacyBorrowRow, _CursorResult, lambda rows: [r.borrowTime for r in rows], norm_legacy_borrow),
    "bybit.legacy_repayment_history": _codec(
        P_LEGACY_REPAY_HISTORY, LegacyRepayRow, _CursorResult, lambda rows: [r.repayTime for r in rows], norm_legacy_repay),
    "bybit.institutional_loan_orders": _codec(
        P_INS_LOANS, InsLoanRow, _InsLoanResult, lambda rows: [r.loanTime for r in rows], norm_ins_loan,
        lambda res: (res.loanInfo, None)),
    "bybit.institutional_repayment_history": _codec(
        P_INS_REPAID, InsRepaidRow, _InsRepaidResult, lambda rows: [r.repaidTime for r in rows], norm_ins_repaid,
        lambda res: (res.repayInfo, None)),
}

# --- feed specs --------------------------------------------------------------------------------------

_CURSOR = OpaqueCursor(limit=PAGE_LIMIT)
_INS_WINDOWS = TimeWindows(span_ms=INS_WINDOW_MS, size=PAGE_LIMIT, size_param="limit")
#: INS feeds walk time windows and need a lower bound: the venue keeps two years
_INS_SINCE = now_ms() - INS_RETENTION_MS


def _spec(
    feed_id: str, limit: Limit, kinds: tuple[EventKind, ...], description: str,
    filters: Mapping[str, str], **extra: Any,
) -> FeedSpec:
    codec = CODECS[feed_id]
    cursor = extra.pop("cursor", _CURSOR)
    return FeedSpec(
        id=feed_id, venue=VENUE, path=codec.path, limit=limit, cursor=cursor, decode=_make_decoder(codec),
        description=description, filters=filters, kinds=tuple(k.value for k in kinds), **extra,
    )


FEEDS: tuple[FeedSpec, ...] = (
    _spec("bybit.flexible_borrow_history", HISTORY_LIMIT, (K.BORROW,),
          "new crypto loan, flexible: borrow orders",
          {"order_id": "orderId", "currency": "loanCurrency"}),
    _spec("bybit.flexible_repayment_history", HISTORY_LIMIT, (K.REPAY, K.LIQUIDATION),
          "new crypto loan, flexible: repayments",
          {"repay_id": "repayId", "currency": "loanCurrency"}),
    _spec("bybit.fixed_borrow_contracts", HISTORY_LIMIT, (K.BORROW,),
          "new crypto loan, fixed term: loan contracts (one per loanId)",
          {"order_id": "orderId", "loan_id": "loanId", "currency": "orderCurrency", "term": "term"}),
    _spec("bybit.fixed_repayment_history", HISTORY_LIMIT, (K.REPAY, K.LIQUIDATION),
          "new crypto loan, fixed term: repayments, one event per loan contract leg",
          {"repay_id": "repayId", "currency": "loanCurrency"}),
    _spec("bybit.collateral_adjustment_history", HISTORY_LIMIT, (K.COLLATERAL_ADD, K.COLLATERAL_REMOVE),
          "new crypto loan: collateral adjustments",
          {"adjust_id": "adjustId", "currency": "collateralCurrency"}),
    _spec("bybit.legacy_borrow_history", LEGACY_LIMIT, (K.BORROW,),
          "legacy crypto loan: completed (fully repaid) loans, last 6 months",
          {"order_id": "orderId", "currency": "loanCurrency", "collateral_currency": "collateralCurrency"},
          retention_ms=LEGACY_RETENTION_MS),
    _spec("bybit.legacy_repayment_history", LEGACY_LIMIT, (K.REPAY, K.LIQUIDATION, K.COLLATERAL_REMOVE),
          "legacy crypto loan: repayments (+ collateral returned by a final repayment), last 6 months",
          {"order_id": "orderId", "repay_id": "repayId", "currency": "loanCurrency"},
          retention_ms=LEGACY_RETENTION_MS),
    _spec("bybit.institutional_loan_orders", INS_HISTORY_LIMIT, (K.BORROW,),
          "institutional (INS/OTC) loans, up to 2 years, time windows",
          {"order_id": "orderId"},
          cursor=_INS_WINDOWS, retention_ms=INS_RETENTION_MS, default_since=_INS_SINCE),
    _spec("bybit.institutional_repayment_history", INS_HISTORY_LIMIT, (K.REPAY, K.LIQUIDATION, K.INTEREST),
          "institutional (INS/OTC) loan repayments, up to 2 years, time windows",
          {},
          cursor=_INS_WINDOWS, retention_ms=INS_RETENTION_MS, default_since=_INS_SINCE),
)


# --- reference data: loanable coins -------------------------------------------------------------------------


_NO_RATE = msgspec.Raw(b'""')


def _rate(raw: msgspec.Raw) -> Decimal | None:
    """A rate or limit the venue sends as a string ("" = not offered) or a number."""
    text = bytes(raw).decode()
    if text.startswith('"'):
        text = msgspec.json.decode(raw, type=str)
    if text in ("", "null"):
        return None
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise _Bad(f"{text!r} is not a decimal") from None
    return _money(value, "rate")


class LoanableCoin(msgspec.Struct, frozen=True, kw_only=True):
    """One coin of GET /v5/crypto-loan-common/loanable-data (new crypto loan).

    Rates are annualized (``0.08`` = 8 %); None where the venue sends "" (term not offered
    or no lender in the market). Limits are in the coin; accuracies are decimal places.
    """

    currency: str
    vip_level: str
    fixed_borrowable: bool
    fixed_borrowing_accuracy: int
    flexible_borrowable: bool
    flexible_borrowing_accuracy: int
    max_borrowing_amount: Decimal | None
    min_fixed_borrowing_amount: Decimal | None
    min_flexible_borrowing_amount: Decimal | None
    flexible_annualized_interest_rate: Decimal | None
    annualized_interest_rate_7d: Decimal | None
    annualized_interest_rate_14d: Decimal | None
    annualized_interest_rate_30d: Decimal | None
    annualized_interest_rate_60d: Decimal | None
    annualized_interest_rate_90d: Decimal | None
    annualized_interest_rate_180d: Decimal | None


class LegacyLoanableCoin(msgspec.Struct, frozen=True, kw_only=True):
    """One coin of GET /v5/crypto-loan/loanable-data (legacy crypto loan), per VIP level.

    Rates are hourly; None where the venue sends "" (the term is not supported).
    """

    currency: str
    vip_level: str
    borrowing_accuracy: int
    max_borrowing_amount: Decimal | None
    min_borrowing_amount: Decimal | None
    flexible_hourly_interest_rate: Decimal | None
    hourly_interest_rate_7d: Decimal | None
    hourly_interest_rate_14d: Decimal | None
    hourly_interest_rate_30d: Decimal | None
    hourly_interest_rate_90d: Decimal | None
    hourly_interest_rate_180d: Decimal | None


class _LoanableRow(msgspec.Struct):
    currency: str
    vipLevel: str = ""
    fixedBorrowable: bool = False
    fixedBorrowingAccuracy: int = 0
    flexibleBorrowable: bool = False
    flexibleBorrowingAccuracy: int = 0
    maxBorrowingAmount: msgspec.Raw = _NO_RATE
    minFixedBorrowingAmount: msgspec.Raw = _NO_RATE
    minFlexibleBorrowingAmount: msgspec.Raw = _NO_RATE
    flexibleAnnualizedInterestRate: msgspec.Raw = _NO_RATE
    annualizedInterestRate7D: msgspec.Raw = _NO_RATE
    annualizedInterestRate14D: msgspec.Raw = _NO_RATE
    annualizedInterestRate30D: msgspec.Raw = _NO_RATE
    annualizedInterestRate60D: msgspec.Raw = _NO_RATE
    annualizedInterestRate90D: msgspec.Raw = _NO_RATE
    annualizedInterestRate180D: msgspec.Raw = _NO_RATE


class _LegacyLoanableRow(msgspec.Struct):
    currency: str
    borrowingAccuracy: int = 0
    maxBorrowingAmount: msgspec.Raw = _NO_RATE
    minBorrowingAmount: msgspec.Raw = _NO_RATE
    flexibleHourlyInterestRate: msgspec.Raw = _NO_RATE
    hourlyInterestRate7D: msgspec.Raw = _NO_RATE
    hourlyInterestRate14D: msgspec.Raw = _NO_RATE
    hourlyInterestRate30D: msgspec.Raw = _NO_RATE
    hourlyInterestRate90D: msgspec.Raw = _NO_RATE
    hourlyInterestRate180D: msgspec.Raw = _NO_RATE


class _LegacyVipList(msgspec.Struct):
    vipLevel: str
    rows: list[_LegacyLoanableRow] = msgspec.field(default_factory=list, name="list")


class _LegacyLoanableResult(msgspec.Struct):
    vipCoinList: list[_LegacyVipList] = []


_loanable_decoder = msgspec.json.Decoder(_Envelope[_CursorResult[_LoanableRow]], strict=False)
_legacy_loanable_decoder = msgspec.json.Decoder(_Envelope[_LegacyLoanableResult], strict=False)


def decode_loanable(body: bytes) -> list[LoanableCoin]:
    """Body of GET /v5/crypto-loan-common/loanable-data -> LoanableCoin list (pure)."""
    feed = "loanable-data"
    env = decode_envelope(_loanable_decoder, body, feed, P_LOANABLE)
    if env.result is None:
        raise DecodeError(VENUE, feed, "success envelope without result", body)
    try:
        return [
            LoanableCoin(
                currency=_ccy(r.currency), vip_level=r.vipLevel,
                fixed_borrowable=r.fixedBorrowable, fixed_borrowing_accuracy=r.fixedBorrowingAccuracy,
                flexible_borrowable=r.flexibleBorrowable, flexible_borrowing_accuracy=r.flexibleBorrowingAccuracy,
                max_borrowing_amount=_rate(r.maxBorrowingAmount),
                min_fixed_borrowing_amount=_rate(r.minFixedBorrowingAmount),
                min_flexible_borrowing_amount=_rate(r.minFlexibleBorrowingAmount),
                flexible_annualized_interest_rate=_rate(r.flexibleAnnualizedInterestRate),
                annualized_interest_rate_7d=_rate(r.annualizedInterestRate7D),
                annualized_interest_rate_14d=_rate(r.annualizedInterestRate14D),
                annualized_interest_rate_30d=_rate(r.annualizedInterestRate30D),
                annualized_interest_rate_60d=_rate(r.annualizedInterestRate60D),
                annualized_interest_rate_90d=_rate(r.annualizedInterestRate90D),
                annualized_interest_rate_180d=_rate(r.annualizedInterestRate180D),
            )
            for r in env.result.rows
        ]
    except (_Bad, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DecodeError(VENUE, feed, str(exc), body) from None


def decode_legacy_loanable(body: bytes) -> list[LegacyLoanableCoin]:
    """Body of GET /v5/crypto-loan/loanable-data -> LegacyLoanableCoin list, flattened over VIP levels."""
    feed = "legacy loanable-data"
    env = decode_envelope(_legacy_loanable_decoder, body, feed, P_LEGACY_LOANABLE)
    if env.result is None:
        raise DecodeError(VENUE, feed, "success envelope without result", body)
    try:
        return [
            LegacyLoanableCoin(
                currency=_ccy(r.currency), vip_level=vip.vipLevel, borrowing_accuracy=r.borrowingAccuracy,
                max_borrowing_amount=_rate(r.maxBorrowingAmount),
                min_borrowing_amount=_rate(r.minBorrowingAmount),
                flexible_hourly_interest_rate=_rate(r.flexibleHourlyInterestRate),
                hourly_interest_rate_7d=_rate(r.hourlyInterestRate7D),
                hourly_interest_rate_14d=_rate(r.hourlyInterestRate14D),
                hourly_interest_rate_30d=_rate(r.hourlyInterestRate30D),
                hourly_interest_rate_90d=_rate(r.hourlyInterestRate90D),
                hourly_interest_rate_180d=_rate(r.hourlyInterestRate180D),
            )
            for vip in env.result.vipCoinList
            for r in vip.rows
        ]
    except (_Bad, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DecodeError(VENUE, feed, str(exc), body) from None


# --- actions: request bodies and answers --------------------------------------------------------------------


class _OrderIdResult(msgspec.Struct):
    orderId: Id


class _RepayIdResult(msgspec.Struct):
    repayId: Id


class _InsRepayResult(msgspec.Struct):
    repayOrderStatus: str


_borrow_answer = msgspec.json.Decoder(_Envelope[_OrderIdResult], strict=False)
_repay_answer = msgspec.json.Decoder(_Envelope[_RepayIdResult], strict=False)
_ins_repay_answer = msgspec.json.Decoder(_Envelope[_InsRepayResult], strict=False)
_ongoing_decoder = msgspec.json.Decoder(_Envelope[_CursorResult[LegacyOngoingRow]], strict=False)

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_VIP = re.compile(r"(VIP|PRO)[0-9]{1,2}")
TERMS = frozenset({"7", "14", "30", "60", "90", "180"})


def _check_id(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{name}: expected str, got {type(value).__name__}")
    text = str(value)
    if not _ID.fullmatch(text):
        raise InvalidArgument(name, f"{text!r} is not a venue id (letters, digits, - or _)")
    return text


def _opt_id(name: str, value: object) -> str | None:
    return None if value is None else _check_id(name, value)


def _opt_ccy(name: str, value: object) -> str | None:
    return None if value is None else check_currency(name, value)


def _wire_amount(value: Decimal) -> str:
    """A positive Decimal as the plain decimal string the venue expects (no exponent)."""
    return format(value, "f")


def check_collateral(value: object) -> list[tuple[str, Decimal]]:
    """`collateral`: a mapping currency -> amount or a list of (currency, amount) pairs."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, Iterable) and not isinstance(value, str | bytes):
        pairs = []
        for i, item in enumerate(value):
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise TypeError(f"collateral[{i}]: expected a (currency, amount) pair, got {item!r}")
            pairs.append((item[0], item[1]))
    else:
        raise TypeError(f"collateral: expected a mapping or a list of (currency, amount), got {type(value).__name__}")
    if not pairs:
        raise InvalidArgument("collateral", "is empty; pass None to borrow against existing collateral")
    if len(pairs) > MAX_COLLATERAL:
        raise InvalidArgument("collateral", f"{len(pairs)} entries; the venue takes at most {MAX_COLLATERAL}")
    out: list[tuple[str, Decimal]] = []
    seen: set[str] = set()
    for i, (ccy, amount) in enumerate(pairs):
        code = check_currency(f"collateral[{i}].currency", ccy)
        if code in seen:
            raise InvalidArgument("collateral", f"currency {code} appears twice")
        seen.add(code)
        out.append((code, check_amount(f"collateral[{i}].amount", amount)))
    return out


def borrow_flexible_body(currency: str, amount: Decimal, collateral: list[tuple[str, Decimal]] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"loanCurrency": currency, "loanAmount": _wire_amount(amount)}
    if collateral is not None:
        body["collateralList"] = [{"currency": c, "amount": _wire_amount(a)} for c, a in collateral]
    return body


def action_event(
    account: str, feed: str, *, id: str, kind: EventKind, status: EventStatus, ts: int, currency: str,
    amount: Decimal, venue_type: str, ref_id: str | None = None,
) -> LoanEvent:
    """The event an action returns: the same feed and id the history later yields."""
    return LoanEvent(venue=VENUE, account=account, feed=feed, id=id, kind=kind, status=status, ts=ts,
                     currency=currency, amount=amount, ref_id=ref_id, venue_type=venue_type)


def _answer(decoder: msgspec.json.Decoder[Any], body: bytes, path: str) -> Any:
    env = decode_envelope(decoder, body, path, path)
    if env.result is None:
        raise DecodeError(VENUE, path, "success envelope without result", body)
    return env


#: how far before the client's request time a venue record of it may be stamped: the venue
#: accepts a request signed up to 1000 ms ahead of its clock (section 2.3)
RECONCILE_SLACK_MS = 1000


# --- client ----------------------------------------------------------------------------------------------

Match = Callable[[LoanEvent], bool]


class Bybit(VenueClient):
    """Bybit client: HMAC `secret` or an RSA PEM `private_key` (exactly one).

    History feeds are methods returning a `Feed` (``async for ev in bybit.flexible_borrow_history()``);
    the borrow / repay actions return the `LoanEvent` the matching history feed will later yield
    (same feed and id, status pending until the venue settles it). An action whose outcome is
    unknown raises `AmbiguousOutcome`; ``await exc.reconcile()`` finds it in the history.
    """

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
        self._recv_window = signer.recv_window
        #: (feed, id) of the events this client's actions returned: reconciliation skips them
        self._returned: set[tuple[str, str]] = set()
        #: derived id of an INS repay event -> the repaid-history record reconcile() matched to it
        self._claims: dict[str, str] = {}
        dialect = BybitDialect(signer)
        super().__init__(
            dialect,
            account=account,
            base_url=base_url or (HOSTS["testnet"] if testnet else None),
            scope_id=key_fingerprint(api_key),
            session=session,
            timeout=timeout,
            limits=limits,
            retry=retry,
        )
        dialect.clock = self.transport.clock

    def __repr__(self) -> str:
        return (
            f"Bybit(account={self.account!r}, base_url={self.base_url!r}, "
            f"key_type={self.key_type!r}, testnet={self.testnet})"
        )

    # --- history feeds ----------------------------------------------------------------------

    def flexible_borrow_history(
        self, *, since: TimeArg = None, until: TimeArg = None, resume: str | None = None,
        strict: bool = False, keep_raw: bool = False, order_id: str | None = None, currency: str | None = None,
    ) -> Feed:
        """Flexible loan borrow orders (GET /v5/crypto-loan-flexible/borrow-history), newest first."""
        return self.events(
            "bybit.flexible_borrow_history", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, order_id=_opt_id("order_id", order_id), currency=_opt_ccy("currency", currency),
        )

    def flexible_repayment_history(
        self, *, since: TimeArg = None, until: TimeArg = None, resume: str | None = None,
        strict: bool = False, keep_raw: bool = False, repay_id: str | None = None, currency: str | None = None,
    ) -> Feed:
        """Flexible loan repayments (GET /v5/crypto-loan-flexible/repayment-history)."""
        return self.events(
            "bybit.flexible_repayment_history", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, repay_id=_opt_id("repay_id", repay_id), currency=_opt_ccy("currency", currency),
        )

    def fixed_borrow_contracts(
        self, *, since: TimeArg = None, until: TimeArg = None, resume: str | None = None,
        strict: bool = False, keep_raw: bool = False, order_id: str | None = None, loan_id: str | None = None,
        currency: str | None = None, term: int | str | None = None,
    ) -> Feed:
        """Fixed-term loan contracts, one BORROW per loanId (GET /v5/crypto-loan-fixed/borrow-contract-info)."""
        term_text: str | None = None
        if term is not None:
            if isinstance(term, bool) or not isinstance(term, int | str):
                raise TypeError(f"term: expected int days, got {type(term).__name__}")
            term_text = str(term)
            if term_text not in TERMS:
                raise InvalidArgument("term", f"{term!r} is not one of {sorted(TERMS, key=int)} days")
        return self.events(
            "bybit.fixed_borrow_contracts", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, order_id=_opt_id("order_id", order_id), loan_id=_opt_id("loan_id", loan_id),
            currency=_opt_ccy("currency", currency), term=term_text,
        )

    def fixed_repayment_history(
        self, *, since: TimeArg = None, until: TimeArg = None, resume: str | None = None,
        strict: bool = False, keep_raw: bool = False, repay_id: str | None = None, currency: str | None = None,
    ) -> Feed:
        """Fixed-term repayments, one event per contract leg (GET /v5/crypto-loan-fixed/repayment-history)."""
        return self.events(
            "bybit.fixed_repayment_history", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, repay_id=_opt_id("repay_id", repay_id), currency=_opt_ccy("currency", currency),
        )

    def collateral_adjustment_history(
        self, *, since: TimeArg = None, until: TimeArg = None, resume: str | None = None,
        strict: bool = False, keep_raw: bool = False, adjust_id: str | None = None, currency: str | None = None,
    ) -> Feed:
        """Collateral added / removed (GET /v5/crypto-loan-common/adjustment-history)."""
        return self.events(
            "bybit.collateral_adjustment_history", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, adjust_id=_opt_id("adjust_id", adjust_id), currency=_opt_ccy("currency", currency),
        )

    def legacy_borrow_history(
        self, *, since: TimeArg = None, until: TimeArg = None, resume: str | None = None,
        strict: bool = False, keep_raw: bool = False, order_id: str | None = None, currency: str | None = None,
        collateral_currency: str | None = None,
    ) -> Feed:
        """Legacy completed loans, last 6 months (GET /v5/crypto-loan/borrow-history)."""
        return self.events(
            "bybit.legacy_borrow_history", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, order_id=_opt_id("order_id", order_id), currency=_opt_ccy("currency", currency),
            collateral_currency=_opt_ccy("collateral_currency", collateral_currency),
        )

    def legacy_repayment_history(
        self, *, since: TimeArg = None, until: TimeArg = None, resume: str | None = None,
        strict: bool = False, keep_raw: bool = False, order_id: str | None = None, repay_id: str | None = None,
        currency: str | None = None,
    ) -> Feed:
        """Legacy repayments, last 6 months (GET /v5/crypto-loan/repayment-history)."""
        return self.events(
            "bybit.legacy_repayment_history", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, order_id=_opt_id("order_id", order_id), repay_id=_opt_id("repay_id", repay_id),
            currency=_opt_ccy("currency", currency),
        )

    def institutional_loan_orders(
        self, *, since: TimeArg = None, until: TimeArg = None, resume: str | None = None,
        strict: bool = False, keep_raw: bool = False, order_id: str | None = None,
    ) -> Feed:
        """INS loans (GET /v5/ins-loan/loan-order), walked in time windows (default: the last 2 years)."""
        return self.events(
            "bybit.institutional_loan_orders", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, order_id=_opt_id("order_id", order_id),
        )

    def institutional_repayment_history(
        self, *, since: TimeArg = None, until: TimeArg = None, resume: str | None = None,
        strict: bool = False, keep_raw: bool = False,
    ) -> Feed:
        """INS repayments (GET /v5/ins-loan/repaid-history), walked in time windows (default: 2 years)."""
        return self.events(
            "bybit.institutional_repayment_history", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw,
        )

    # --- reference data ------------------------------------------------------------------------

    async def loanable_coins(self, *, currency: str | None = None, vip_level: str | None = None) -> list[LoanableCoin]:
        """Borrowable coins of the new crypto loan (unauthenticated)."""
        params = self._loanable_params(currency, vip_level)
        req = Request("GET", P_LOANABLE, PUBLIC_LIMIT, params=params, signed=False, group="public")
        return await self.transport.request(req, decode_loanable)

    async def legacy_loanable_coins(
        self, *, currency: str | None = None, vip_level: str | None = None
    ) -> list[LegacyLoanableCoin]:
        """Borrowable coins of the legacy crypto loan, per VIP level (unauthenticated)."""
        params = self._loanable_params(currency, vip_level)
        req = Request("GET", P_LEGACY_LOANABLE, PUBLIC_LIMIT, params=params, signed=False, group="public")
        return await self.transport.request(req, decode_legacy_loanable)

    @staticmethod
    def _loanable_params(currency: str | None, vip_level: str | None) -> tuple[tuple[str, str], ...]:
        params: list[tuple[str, str]] = []
        if currency is not None:
            params.append(("currency", check_currency("currency", currency)))
        if vip_level is not None:
            if not isinstance(vip_level, str):
                raise TypeError(f"vip_level: expected str, got {type(vip_level).__name__}")
            if not _VIP.fullmatch(vip_level):
                raise InvalidArgument("vip_level", f"{vip_level!r} is not a level like VIP0..VIP5, VIP99, PRO1..PRO6")
            params.append(("vipLevel", vip_level))
        return tuple(params)

    # --- actions --------------------------------------------------------------------------------

    async def borrow_flexible(
        self, currency: str, amount: Decimal | str | int, *,
        collateral: Mapping[str, Decimal | str | int] | Iterable[tuple[str, Decimal | str | int]] | None = None,
    ) -> LoanEvent:
        """Borrow on a flexible loan (POST /v5/crypto-loan-flexible/borrow). The funds go to the
        Funding wallet; `collateral` (currency -> amount, at most 100) is taken from it.

        Returns the pending BORROW event of ``bybit.flexible_borrow_history`` (id = orderId).
        """
        ccy = check_currency("currency", currency)
        qty = check_amount("amount", amount)
        pledge = None if collateral is None else check_collateral(collateral)
        body = borrow_flexible_body(ccy, qty, pledge)
        feed = "bybit.flexible_borrow_history"
        t0 = self.transport.clock.now_ms()

        def match(ev: LoanEvent) -> bool:
            return ev.currency == ccy and ev.amount == qty

        env = await self._act(P_FLEX_BORROW, body, _borrow_answer,
                              lambda: self._find(feed, t0, match, currency=ccy))
        oid = _sid(env.result.orderId)
        return self._returning(action_event(
            self.account, feed, id=oid, kind=_BORROW, status=EventStatus.PENDING, ts=self._ts(env),
            currency=ccy, amount=qty, venue_type="", ref_id=oid))

    async def repay_flexible(self, currency: str, amount: Decimal | str | int) -> LoanEvent:
        """Repay a flexible loan (POST /v5/crypto-loan-flexible/repay): interest first, then principal.

        Returns the pending REPAY event of ``bybit.flexible_repayment_history`` (id = repayId).
        """
        ccy = check_currency("currency", currency)
        qty = check_amount("amount", amount)
        # the wire field is `amount` (the pybit example's `loanAmount` is wrong)
        body = {"loanCurrency": ccy, "amount": _wire_amount(qty)}
        feed = "bybit.flexible_repayment_history"
        t0 = self.transport.clock.now_ms()

        def match(ev: LoanEvent) -> bool:
            return ev.currency == ccy and ev.amount == qty.copy_negate() and ev.venue_type == "1"

        env = await self._act(P_FLEX_REPAY, body, _repay_answer,
                              lambda: self._find(feed, t0, match, currency=ccy))
        return self._returning(action_event(
            self.account, feed, id=_sid(env.result.repayId), kind=K.REPAY, status=EventStatus.PENDING,
            ts=self._ts(env), currency=ccy, amount=qty.copy_negate(), venue_type="1"))

    async def repay_fixed(self, *, loan_id: str | None = None, currency: str | None = None) -> LoanEvent:
        """Fully repay fixed-term loans (POST /v5/crypto-loan-fixed/fully-repay): one contract
        (`loan_id`) or every contract in `currency` (exactly one of them).

        The venue does not say the amount: before sending, the open contracts are read
        (``fixed_borrow_contracts``) to learn the currency and the principal due; none open
        raises InvalidArgument. Returns the pending REPAY event of ``bybit.fixed_repayment_history``
        whose id is the repayId (the history's first leg carries the same id), amount = minus
        the open principal (the history's legs carry the final amounts).
        """
        if (loan_id is None) == (currency is None):
            raise InvalidArgument("loan_id", "pass exactly one of loan_id or currency")
        lid = _opt_id("loan_id", loan_id)
        ccy = _opt_ccy("currency", currency)
        open_legs: list[LoanEvent] = []
        async for ev in self.fixed_borrow_contracts(loan_id=lid, currency=ccy):
            if ev.venue_type in ("1", "3") and ev.amount > 0 and (lid is None or ev.id == lid):
                open_legs.append(ev)
        if not open_legs:
            arg, what = ("loan_id", f"loan {lid}") if lid is not None else ("currency", f"currency {ccy}")
            raise InvalidArgument(arg, f"no open fixed loan contract for {what}")
        ccy = open_legs[0].currency
        due = exact_sum(ev.amount for ev in open_legs)
        # with a loanId, the loan's currency goes along, as in the venue's request example
        body: dict[str, Any] = {"loanId": lid, "loanCurrency": ccy} if lid is not None else {"loanCurrency": ccy}
        feed = "bybit.fixed_repayment_history"
        t0 = self.transport.clock.now_ms()
        loans = {ev.id for ev in open_legs}

        def match(ev: LoanEvent) -> bool:
            return ev.currency == ccy and ev.venue_type == "1" and ev.ref_id in loans and (
                ev.ref_id == lid if lid is not None else ev.parent_id is None)

        env = await self._act(P_FIXED_REPAY, body, _repay_answer,
                              lambda: self._find(feed, t0, match, currency=ccy))
        return self._returning(action_event(
            self.account, feed, id=_sid(env.result.repayId), kind=K.REPAY, status=EventStatus.PENDING,
            ts=self._ts(env), currency=ccy, amount=due.copy_negate(), venue_type="1", ref_id=lid))

    async def repay_legacy(self, order_id: str, amount: Decimal | str | int) -> LoanEvent:
        """Repay a legacy crypto loan (POST /v5/crypto-loan/repay), fully or partly.

        The order is read first (GET /v5/crypto-loan/ongoing-orders) for its currency; an
        order that is not open raises InvalidArgument. Returns the pending REPAY event of
        ``bybit.legacy_repayment_history`` (id = repayId, ref_id = the order id).
        """
        oid = _check_id("order_id", order_id)
        qty = check_amount("amount", amount)
        req = Request("GET", P_LEGACY_ONGOING, LEGACY_LIMIT, params=(("orderId", oid),))
        env = await self.transport.request(req, lambda b: _answer(_ongoing_decoder, b, P_LEGACY_ONGOING))
        rows = [r for r in env.result.rows if str(r.orderId) == oid]
        if not rows:
            raise InvalidArgument("order_id", f"no open legacy loan order {oid}")
        try:
            ccy = _ccy(rows[0].loanCurrency)
        except _Bad as exc:
            raise DecodeError(VENUE, P_LEGACY_ONGOING, str(exc), b"") from None
        body = {"orderId": oid, "amount": _wire_amount(qty)}
        feed = "bybit.legacy_repayment_history"
        t0 = self.transport.clock.now_ms()

        def match(ev: LoanEvent) -> bool:
            return ev.ref_id == oid and ev.amount == qty.copy_negate() and ev.venue_type == "1" and ev.parent_id is None

        answer = await self._act(P_LEGACY_REPAY, body, _repay_answer,
                                 lambda: self._find(feed, t0, match, order_id=oid))
        return self._returning(action_event(
            self.account, feed, id=_sid(answer.result.repayId), kind=K.REPAY, status=EventStatus.PENDING,
            ts=self._ts(answer), currency=ccy, amount=qty.copy_negate(), venue_type="1", ref_id=oid))

    async def repay_institutional(self, token: str, quantity: Decimal | str | int) -> LoanEvent:
        """Repay an institutional loan (POST /v5/ins-loan/repay-loan). Asynchronous at the venue:
        the answer is only ``repayOrderStatus: "P"`` and no id; the repayment appears in
        ``institutional_repayment_history`` 2-3 minutes later.

        Returns a pending REPAY event with a derived id ``repay-loan:<ts>:<token>:<quantity>``
        (it cannot merge with the history record, which has the venue's repayOrderId);
        ``await bybit.reconcile(event)`` finds that record once it is listed.
        """
        ccy = check_currency("token", token)
        qty = check_amount("quantity", quantity)
        body = {"token": ccy, "quantity": _wire_amount(qty)}
        feed = "bybit.institutional_repayment_history"
        t0 = self.transport.clock.now_ms()
        env = await self._act(P_INS_REPAY, body, _ins_repay_answer,
                              lambda: self._find(feed, t0, _ins_match(ccy, qty)))
        ts = self._ts(env)
        status = env.result.repayOrderStatus
        return action_event(
            self.account, feed, id=f"repay-loan:{ts}:{ccy}:{_wire_amount(qty)}", kind=K.REPAY,
            status=EventStatus.FAILED if status == "F" else EventStatus.PENDING, ts=ts, currency=ccy, amount=qty.copy_negate(),
            venue_type=status)

    async def reconcile(self, event: LoanEvent) -> LoanEvent | None:
        """The history record of an event an action returned, or None while the venue does not list it.

        By id where the venue gave one (flexible borrow: orderId; repays: repayId); for an INS
        repayment (no id) the earliest ``institutional_repayment_history`` record of the same
        token and quantity stamped at or after the event's time minus 1 s that no earlier
        reconciliation claimed.
        """
        if not isinstance(event, LoanEvent):
            raise TypeError(f"event: expected LoanEvent, got {type(event).__name__}")
        if event.venue != VENUE or event.feed not in self.feed_specs:
            raise InvalidArgument("event", f"not a Bybit action event (feed {event.feed!r})")
        since = event.ts - 7 * DAY_MS

        def same_id(ev: LoanEvent) -> bool:
            return ev.id == event.id

        if event.feed == "bybit.flexible_borrow_history":
            return await self._find(event.feed, since, same_id, claim=False, order_id=event.id)
        if event.feed == "bybit.institutional_repayment_history" and event.id.startswith("repay-loan:"):
            claimed = self._claims.get(event.id)
            if claimed is not None:
                return await self._find(event.feed, event.ts, lambda ev: ev.id == claimed, claim=False)
            found = await self._find(event.feed, event.ts, _ins_match(event.currency, event.amount.copy_negate()))
            if found is not None:
                self._claims[event.id] = found.id
            return found
        if event.feed in ("bybit.flexible_repayment_history", "bybit.fixed_repayment_history",
                          "bybit.legacy_repayment_history"):
            return await self._find(event.feed, since, same_id, claim=False, repay_id=event.id.split(":", 1)[0])
        return await self._find(event.feed, since, same_id, claim=False)

    # --- action plumbing ---------------------------------------------------------------------

    async def _act(
        self, path: str, body: Mapping[str, Any], decoder: msgspec.json.Decoder[Any],
        reconcile: Callable[[], Awaitable[LoanEvent | None]],
    ) -> Any:
        """Send one action; an unknown outcome raises AmbiguousOutcome with `reconcile` attached.

        The venue executes a request until its timestamp is `recv_window` old: a request still
        in flight when the client gave up (a timeout) may execute after the error. So the
        attached lookup answers None only once that window has passed, searching again then.
        """
        req = Request("POST", path, ACTION_LIMIT, body=body)
        try:
            return await self.transport.request(req, lambda b: _answer(decoder, b, path))
        except AmbiguousOutcome as exc:
            clock = self.transport.clock
            # the last attempt was signed before now; allow our clock offset a second of error
            settled_at = clock.now_ms() + self._recv_window + RECONCILE_SLACK_MS

            async def settled() -> LoanEvent | None:
                found = await reconcile()
                wait = settled_at - clock.now_ms()
                if found is None and wait > 0:
                    await asyncio.sleep(wait / 1000)
                    found = await reconcile()
                return found

            exc.set_reconciler(settled)
            raise

    def _ts(self, env: Any) -> int:
        return env.time if isinstance(env.time, int) else self.transport.clock.now_ms()

    def _returning(self, ev: LoanEvent) -> LoanEvent:
        self._returned.add((ev.feed, ev.id))
        return ev

    async def _find(
        self, feed_id: str, t0: int, match: Match, *, claim: bool = True, **filters: Any
    ) -> LoanEvent | None:
        """The earliest record of `feed_id` stamped at or after ``t0 - 1 s`` that `match`es.

        With `claim` (matching by content, not by id), records an action of this client
        returned or an earlier reconciliation claimed are skipped, and the result is claimed.
        """
        lo = t0 - RECONCILE_SLACK_MS
        best: LoanEvent | None = None
        async for ev in self.events(feed_id, since=lo, **filters):
            if ev.ts < lo or (claim and (ev.feed, ev.id) in self._returned) or not match(ev):
                continue
            if best is None or (ev.ts, ev.id) < (best.ts, best.id):
                best = ev
        if best is not None and claim:
            self._returned.add((best.feed, best.id))
        return best


def _ins_match(token: str, quantity: Decimal) -> Match:
    def match(ev: LoanEvent) -> bool:
        return ev.parent_id is None and ev.currency == token and ev.amount == quantity.copy_negate() and ev.venue_type == "1"

    return match
