"""OKX: flexible-loan history, one-click repay history v2, convert history, interest accrued.

Reads top to bottom: hosts and limits, the error table, the dialect (signing
and error mapping), wire Structs, normalizers and feed specs, the client.
Sources: ../shared/seeds/000-002 and exchange-api-notes.md sections 2.1, 3.1, 4, 5.
"""

from __future__ import annotations

import builtins
import decimal
import itertools
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

import aiohttp
import msgspec

from .._args import TimeArg, check_currency
from .._money import EXACT, MAX_ADJUSTED
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
from ..events import EventKind, EventStatus, LoanEvent
from ..paginate import DecodeContext, ExclusiveIdCursor, Feed, FeedSpec, Page, TsCursor
from ..ratelimit import Bucket, Limit, RateLimits
from ..signing import OkxSigner, key_fingerprint
from ..transport import Prepared, Request, RetryPolicy, encode_query

__all__ = [
    "CONVERT_STATE",
    "FEEDS",
    "HOSTS",
    "KIND_SIGN",
    "LOAN_HISTORY_TYPES",
    "OKX",
    "ONE_CLICK_REPAY_STATUS",
    "OkxDialect",
    "decode_convert_history",
    "decode_interest_accrued",
    "decode_loan_history",
    "decode_one_click_repay",
    "one_click_repay_id",
]

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

LOAN_HISTORY_PATH = "/api/v5/finance/flexible-loan/loan-history"
INTEREST_PATH = "/api/v5/finance/flexible-loan/interest-accrued"
ONE_CLICK_REPAY_PATH = "/api/v5/trade/one-click-repay-history-v2"
CONVERT_PATH = "/api/v5/asset/convert/history"

LOAN_HISTORY_LIMIT = Limit(5, 2.0)  # 5 requests / 2 s per User ID (seed 000)
INTEREST_LIMIT = Limit(5, 2.0)  # 5 requests / 2 s per User ID (notes section 5)
ONE_CLICK_REPAY_LIMIT = Limit(1, 2.0)  # 1 request / 2 s per User ID (seed 001)
CONVERT_LIMIT = Limit(6, 1.0)  # 6 requests / s per User ID (seed 002)

DAY_MS = 86_400_000
#: one-click repay history keeps "the past 7 days" (seed 001)
ONE_CLICK_RETENTION_MS = 7 * DAY_MS
#: interest-accrued covers "the past 30 days" (notes section 5)
INTEREST_RETENTION_MS = 30 * DAY_MS

PAGE_LIMIT = 100  # every feed here: max 100, default 100

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


# --- feeds: wire structs --------------------------------------------------------------------
#
# Money fields are `Decimal` straight from the wire string where the docs always
# give a number; fields that may be "" (unfilled legs, rejected trades) stay `str`
# and go through `_amount`. Unknown extra fields are ignored.

R = TypeVar("R")


class _Envelope(msgspec.Struct, Generic[R]):
    code: str
    data: list[R]
    msg: str = ""


class _LoanRow(msgspec.Struct, gc=False):
    refId: str
    type: str
    ccy: str
    amt: Decimal
    ts: int


class _InterestRow(msgspec.Struct, gc=False):
    refId: str
    ccy: str
    interest: Decimal
    ts: int


class _RepayLeg(msgspec.Struct, gc=False):
    ordId: str
    instId: str
    side: str
    cTime: int
    fillPx: str = ""
    fillSz: str = ""
    state: str = ""


class _RepayRow(msgspec.Struct):
    debtCcy: str
    fillDebtSz: str
    status: str
    ts: int
    ordIdInfo: list[_RepayLeg] = []


class _RepayRowRaw(msgspec.Struct):
    """`_RepayRow` for `keep_raw`: each leg stays raw bytes, decoded on its own and kept as its `raw`."""

    debtCcy: str
    fillDebtSz: str
    status: str
    ts: int
    ordIdInfo: list[msgspec.Raw] = []


class _ConvertRow(msgspec.Struct, gc=False):
    tradeId: str
    side: str
    baseCcy: str
    quoteCcy: str
    fillBaseSz: str
    fillQuoteSz: str
    state: str
    ts: int
    clTReqId: str = ""


class _Codec(Generic[R]):
    """The decoders of one endpoint, built once: typed rows, or raw rows for `keep_raw`.

    `raw_row` is the row type decoded from each raw record (the same as `row` unless
    the raw path keeps nested parts raw too).
    """

    def __init__(self, row: type[R], path: str, raw_row: type[Any] | None = None) -> None:
        self.path = path
        self.typed: msgspec.json.Decoder[_Envelope[R]] = msgspec.json.Decoder(_Envelope[row], strict=False)  # type: ignore[valid-type]
        self.raw: msgspec.json.Decoder[_Envelope[msgspec.Raw]] = msgspec.json.Decoder(_Envelope[msgspec.Raw])
        self.row: msgspec.json.Decoder[Any] = msgspec.json.Decoder(raw_row or row, strict=False)

    def rows(self, body: bytes, ctx: DecodeContext) -> tuple[list[Any], list[msgspec.Raw] | None]:
        """The records of a success envelope and, with `keep_raw`, their bytes (an error
        envelope raises its typed error first: `{"code":"50011","data":[]}` is never an
        empty last page)."""
        if not ctx.keep_raw:
            env: _Envelope[R] = _decode_envelope(self.typed, body, ctx.feed, self.path)
            return env.data, None
        renv: _Envelope[msgspec.Raw] = _decode_envelope(self.raw, body, ctx.feed, self.path)
        raws = renv.data
        try:
            return [self.row.decode(raw) for raw in raws], [msgspec.Raw(bytes(raw)) for raw in raws]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise DecodeError(VENUE, ctx.feed, f"record: {exc}", body) from None


_loan_codec = _Codec(_LoanRow, LOAN_HISTORY_PATH)
_interest_codec = _Codec(_InterestRow, INTEREST_PATH)
_repay_codec = _Codec(_RepayRow, ONE_CLICK_REPAY_PATH, _RepayRowRaw)
_convert_codec = _Codec(_ConvertRow, CONVERT_PATH)
_leg_decoder = msgspec.json.Decoder(_RepayLeg, strict=False)
_NO_RAW = itertools.repeat(None)


# --- feeds: normalization tables ---------------------------------------------------------------
#
# Every kind has one sign (borrow +, repay -, interest -, collateral_add -,
# collateral_remove +, liquidation -, convert +): the wire `amt` of loan history
# may come signed or not (UNVERIFIED), so the sign is derived from the kind and
# only the magnitude is taken from the wire. The venue's value stays in `raw`.

KIND_SIGN: Mapping[EventKind, int] = {
    EventKind.BORROW: 1,
    EventKind.REPAY: -1,
    EventKind.INTEREST: -1,
    EventKind.COLLATERAL_ADD: -1,
    EventKind.COLLATERAL_REMOVE: 1,
    EventKind.LIQUIDATION: -1,
    EventKind.CONVERT: 1,
}

#: flexible-loan history `type` -> kind (the sign follows from KIND_SIGN)
LOAN_HISTORY_TYPES: Mapping[str, EventKind] = {
    "borrowed": EventKind.BORROW,
    "repaid": EventKind.REPAY,
    "collateral_locked": EventKind.COLLATERAL_ADD,
    "collateral_released": EventKind.COLLATERAL_REMOVE,
    # forced repayment: collateral is sold and the borrowed coin bought to repay the debt
    "forced_repayment_buy": EventKind.CONVERT,
    "forced_repayment_sell": EventKind.LIQUIDATION,
    "forced_liquidation": EventKind.LIQUIDATION,
    "partial_liquidation": EventKind.LIQUIDATION,
    # the legs of selling collateral into the borrowed coin (via a transition coin)
    "sell_collateral": EventKind.LIQUIDATION,
    "buy_transition_coin": EventKind.CONVERT,
    "sell_transition_coin": EventKind.LIQUIDATION,
    "buy_borrowed_coin": EventKind.CONVERT,
}

#: one-click repay v2 `status` -> event status
ONE_CLICK_REPAY_STATUS: Mapping[str, EventStatus] = {
    "running": EventStatus.PENDING,
    "filled": EventStatus.DONE,
    "failed": EventStatus.FAILED,
}

#: convert history `state` -> event status
CONVERT_STATE: Mapping[str, EventStatus] = {
    "fullyFilled": EventStatus.DONE,
    "rejected": EventStatus.FAILED,
}

#: one-click repay leg `state` values after which the order no longer changes
_LEG_FINAL = frozenset({"filled", "canceled"})

# enum members as module constants: `EventKind.CONVERT` is a metaclass look-up (~90 ns), a global ~20 ns
_CONVERT, _DONE, _PENDING = EventKind.CONVERT, EventStatus.DONE, EventStatus.PENDING

ONE_CLICK_REPAY_TYPE = "one_click_repay"
INTEREST_TYPE = "interest_accrued"
_ZERO = Decimal(0)


def _bad(ctx: DecodeContext, body: bytes, detail: str) -> DecodeError:
    return DecodeError(VENUE, ctx.feed, detail, body)


def _amount(text: str, what: str, ctx: DecodeContext, body: bytes, *, empty: bool = False) -> Decimal:
    """A wire decimal string (`empty=True`: "" stands for zero, e.g. an unfilled leg)."""
    if not text:
        if empty:
            return _ZERO
        raise _bad(ctx, body, f"{what} is empty")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _bad(ctx, body, f"{what} is not a decimal string: {text!r}") from None
    # Decimal() also takes surrounding whitespace and "1_000": the wire never has them
    if "_" in text or text != text.strip():
        raise _bad(ctx, body, f"{what} is not a decimal string: {text!r}")
    if not (value.is_finite() and -MAX_ADJUSTED <= value.adjusted() <= MAX_ADJUSTED):
        raise _bad(ctx, body, f"{what} is not a finite number of sane magnitude: {value}")
    return value


def _product(a: Decimal, b: Decimal, ctx: DecodeContext, body: bytes) -> Decimal:
    """a * b exactly (EXACT raises rather than round; an absurd exponent is a DecodeError)."""
    try:
        return EXACT.multiply(a, b)
    except decimal.DecimalException:
        raise _bad(ctx, body, f"fillSz x fillPx cannot be computed exactly ({a} x {b})") from None


def _page(events: list[LoanEvent], rows: list[Any], stamps: list[int], last_key: str | None = None) -> Page:
    return Page(
        events=events,
        count=len(rows),
        min_ts=min(stamps) if stamps else None,
        max_ts=max(stamps) if stamps else None,
        last_key=last_key,
    )


# --- feeds: decoders ---------------------------------------------------------------------------------
#
# The hot path: one loop per page with the checks inlined (no helper call per record
# unless a record needs one), tables resolved to (kind, negative) once, `raw` paired
# with its row only when asked.

#: loan-history `type` -> (kind, amount is negative)
_LOAN_KINDS: Mapping[str, tuple[EventKind, bool]] = {t: (k, KIND_SIGN[k] < 0) for t, k in LOAN_HISTORY_TYPES.items()}


def decode_loan_history(body: bytes, ctx: DecodeContext) -> Page:
    """GET /api/v5/finance/flexible-loan/loan-history: one event per record, id = refId."""
    rows, raws = _loan_codec.rows(body, ctx)
    events: list[LoanEvent] = []
    append = events.append
    account, feed = ctx.account, ctx.feed
    done = EventStatus.DONE
    kinds = _LOAN_KINDS
    for row, raw in zip(rows, _NO_RAW if raws is None else raws):
        vtype = row.type
        entry = kinds.get(vtype)
        ref = row.refId
        if entry is None:
            raise _bad(ctx, body, f"unknown loan-history type {vtype!r} (refId {ref!r})")
        if not ref:
            raise _bad(ctx, body, "refId is empty")
        ccy = row.ccy
        if not ccy:
            raise _bad(ctx, body, "ccy is empty")
        amt = row.amt
        if not (amt.is_finite() and -MAX_ADJUSTED <= amt.adjusted() <= MAX_ADJUSTED):
            raise _bad(ctx, body, f"amt is not a finite number of sane magnitude: {amt}")
        kind, negative = entry
        mag = amt.copy_abs()
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=ref, kind=kind, status=done, ts=row.ts,
            currency=ccy.upper(), amount=mag.copy_negate() if negative and mag else mag,
            ref_id=ref, venue_type=vtype, raw=raw,
        ))
    return _page(events, rows, [r.ts for r in rows], rows[-1].refId if rows else None)


def decode_interest_accrued(body: bytes, ctx: DecodeContext) -> Page:
    """GET /api/v5/finance/flexible-loan/interest-accrued: an `interest` event (negative), id = refId."""
    rows, raws = _interest_codec.rows(body, ctx)
    events: list[LoanEvent] = []
    append = events.append
    account, feed = ctx.account, ctx.feed
    done, interest = EventStatus.DONE, EventKind.INTEREST
    for row, raw in zip(rows, _NO_RAW if raws is None else raws):
        ref = row.refId
        if not ref:
            raise _bad(ctx, body, "refId is empty")
        ccy = row.ccy
        if not ccy:
            raise _bad(ctx, body, "ccy is empty")
        amt = row.interest
        if not (amt.is_finite() and -MAX_ADJUSTED <= amt.adjusted() <= MAX_ADJUSTED):
            raise _bad(ctx, body, f"interest is not a finite number of sane magnitude: {amt}")
        mag = amt.copy_abs()
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=ref, kind=interest, status=done, ts=row.ts,
            currency=ccy.upper(), amount=mag.copy_negate() if mag else mag,
            ref_id=ref, venue_type=INTEREST_TYPE, raw=raw,
        ))
    return _page(events, rows, [r.ts for r in rows], rows[-1].refId if rows else None)


def one_click_repay_id(ts: int, debt_ccy: str) -> str:
    """The id of a one-click repay record: the fields that do not change while it settles."""
    return f"{ts}:{debt_ccy.upper()}"


def decode_one_click_repay(body: bytes, ctx: DecodeContext) -> Page:
    """GET /api/v5/trade/one-click-repay-history-v2.

    Per record: a `repay` event for the debt (id ``<ts>:<debtCcy>``), directly
    followed by one `convert` event per order of `ordIdInfo` that filled
    anything (id = ordId, parent_id = the repay event).
    """
    rows, raws = _repay_codec.rows(body, ctx)
    events: list[LoanEvent] = []
    append = events.append
    account, feed = ctx.account, ctx.feed
    repay, done = EventKind.REPAY, EventStatus.DONE
    statuses = ONE_CLICK_REPAY_STATUS
    for row, raw in zip(rows, _NO_RAW if raws is None else raws):
        status = statuses.get(row.status)
        if status is None:
            raise _bad(ctx, body, f"unknown one-click repay status {row.status!r}")
        debt = row.debtCcy
        if not debt:
            raise _bad(ctx, body, "debtCcy is empty")
        debt = debt.upper()
        ts = row.ts
        parent = f"{ts}:{debt}"
        # running / failed records may carry "" before anything filled
        mag = _amount(row.fillDebtSz, "fillDebtSz", ctx, body, empty=status is not done).copy_abs()
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=parent, kind=repay, status=status, ts=ts,
            currency=debt, amount=mag.copy_negate() if mag else mag, venue_type=ONE_CLICK_REPAY_TYPE, raw=raw,
        ))
        if raws is None:
            for leg in row.ordIdInfo:
                if leg.fillSz and leg.fillSz != "0":
                    leg_event = _repay_leg(leg, None, parent, ctx, body)
                    if leg_event is not None:
                        append(leg_event)
        else:
            for leg_raw in row.ordIdInfo:
                try:
                    typed = _leg_decoder.decode(leg_raw)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise _bad(ctx, body, f"ordIdInfo: {exc}") from None
                leg_event = _repay_leg(typed, msgspec.Raw(bytes(leg_raw)), parent, ctx, body)
                if leg_event is not None:
                    append(leg_event)
    return _page(events, rows, [r.ts for r in rows])


def _repay_leg(
    leg: _RepayLeg, raw: msgspec.Raw | None, parent: str, ctx: DecodeContext, body: bytes
) -> LoanEvent | None:
    """One order of a one-click repay as a `convert` event; None if it filled nothing."""
    size = _amount(leg.fillSz, "ordIdInfo.fillSz", ctx, body, empty=True)
    if not size:
        return None  # canceled without a fill: nothing moved
    price = _amount(leg.fillPx, "ordIdInfo.fillPx", ctx, body)
    base, sep, quote = leg.instId.partition("-")
    if not sep or not base or not quote or "-" in quote:
        raise _bad(ctx, body, f"ordIdInfo.instId is not a spot pair: {leg.instId!r}")
    base_amt = size.copy_abs()
    quote_amt = _product(base_amt, price.copy_abs(), ctx, body)
    if leg.side == "buy":  # received base, paid quote
        got, got_amt, paid, paid_amt = base, base_amt, quote, quote_amt
    elif leg.side == "sell":  # received quote, paid base
        got, got_amt, paid, paid_amt = quote, quote_amt, base, base_amt
    else:
        raise _bad(ctx, body, f"ordIdInfo.side {leg.side!r} is neither buy nor sell")
    ord_id = leg.ordId
    if not ord_id:
        raise _bad(ctx, body, "ordIdInfo.ordId is empty")
    return LoanEvent(
        venue=VENUE, account=ctx.account, feed=ctx.feed, id=ord_id, kind=_CONVERT,
        status=_DONE if leg.state in _LEG_FINAL else _PENDING,
        ts=leg.cTime, currency=got.upper(), amount=got_amt,
        counter_currency=paid.upper(), counter_amount=paid_amt.copy_negate() if paid_amt else paid_amt,
        ref_id=ord_id, parent_id=parent, venue_type=leg.side, raw=raw,
    )


def decode_convert_history(body: bytes, ctx: DecodeContext) -> Page:
    """GET /api/v5/asset/convert/history: a `convert` event per trade, id = tradeId.

    `side` is relative to baseCcy: buy = received base, paid quote; sell =
    received quote, paid base. A rejected trade is `failed` (its sizes as sent).
    """
    rows, raws = _convert_codec.rows(body, ctx)
    events: list[LoanEvent] = []
    append = events.append
    account, feed = ctx.account, ctx.feed
    convert, failed_status = EventKind.CONVERT, EventStatus.FAILED
    states = CONVERT_STATE
    for row, raw in zip(rows, _NO_RAW if raws is None else raws):
        status = states.get(row.state)
        if status is None:
            raise _bad(ctx, body, f"unknown convert state {row.state!r} (tradeId {row.tradeId!r})")
        failed = status is failed_status
        base, quote = row.baseCcy, row.quoteCcy
        if not base:
            raise _bad(ctx, body, "baseCcy is empty")
        if not quote:
            raise _bad(ctx, body, "quoteCcy is empty")
        base_amt = _amount(row.fillBaseSz, "fillBaseSz", ctx, body, empty=failed).copy_abs()
        quote_amt = _amount(row.fillQuoteSz, "fillQuoteSz", ctx, body, empty=failed).copy_abs()
        side = row.side
        if side == "buy":
            got, got_amt, paid, paid_amt = base, base_amt, quote, quote_amt
        elif side == "sell":
            got, got_amt, paid, paid_amt = quote, quote_amt, base, base_amt
        else:
            raise _bad(ctx, body, f"side {side!r} is neither buy nor sell (tradeId {row.tradeId!r})")
        trade = row.tradeId
        if not trade:
            raise _bad(ctx, body, "tradeId is empty")
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=trade, kind=convert, status=status, ts=row.ts,
            currency=got.upper(), amount=got_amt, counter_currency=paid.upper(),
            counter_amount=paid_amt.copy_negate() if paid_amt else paid_amt,
            ref_id=row.clTReqId or None, venue_type=side, raw=raw,
        ))
    return _page(events, rows, [r.ts for r in rows], rows[-1].tradeId if rows else None)


# --- feeds: specs --------------------------------------------------------------------------------------

FEEDS: tuple[FeedSpec, ...] = (
    FeedSpec(
        id="okx.flexible_loan_history",
        venue=VENUE,
        path=LOAN_HISTORY_PATH,
        limit=LOAN_HISTORY_LIMIT,
        cursor=ExclusiveIdCursor(param="after", limit=PAGE_LIMIT),
        decode=decode_loan_history,
        description="Flexible-loan actions: borrow, repay, collateral, forced repayment, liquidation legs",
        filters={"type": "type", "order_id": "ordId"},
        kinds=tuple(sorted({k.value for k in LOAN_HISTORY_TYPES.values()})),
    ),
    FeedSpec(
        id="okx.one_click_repay_history",
        venue=VENUE,
        path=ONE_CLICK_REPAY_PATH,
        limit=ONE_CLICK_REPAY_LIMIT,
        cursor=TsCursor(inclusive=True, param="after", limit=PAGE_LIMIT),
        decode=decode_one_click_repay,
        description="One-click repay (v2, SPOT mode): the repaid debt and the orders that bought it",
        retention_ms=ONE_CLICK_RETENTION_MS,
        kinds=(EventKind.CONVERT.value, EventKind.REPAY.value),
    ),
    FeedSpec(
        id="okx.convert_history",
        venue=VENUE,
        path=CONVERT_PATH,
        limit=CONVERT_LIMIT,
        cursor=TsCursor(inclusive=False, param="after", limit=PAGE_LIMIT),
        decode=decode_convert_history,
        description="Convert (flash swap) trades",
        kinds=(EventKind.CONVERT.value,),
    ),
    FeedSpec(
        id="okx.flexible_loan_interest",
        venue=VENUE,
        path=INTEREST_PATH,
        limit=INTEREST_LIMIT,
        cursor=ExclusiveIdCursor(param="after", limit=PAGE_LIMIT),
        decode=decode_interest_accrued,
        description="Flexible-loan interest accrued (the venue keeps 30 days)",
        filters={"currency": "ccy"},
        retention_ms=INTEREST_RETENTION_MS,
        kinds=(EventKind.INTEREST.value,),
    ),
)


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

    # --- feeds ---------------------------------------------------------------------------

    def flexible_loan_history(
        self,
        *,
        since: TimeArg = None,
        until: TimeArg = None,
        type: str | None = None,
        order_id: str | None = None,
        resume: str | None = None,
        strict: bool = False,
        keep_raw: bool = False,
        max_pages: int = 100_000,
    ) -> Feed:
        """Flexible-loan history (``okx.flexible_loan_history``), newest first.

        `type` is one of the venue's 12 action types (see `LOAN_HISTORY_TYPES`);
        `order_id` restricts to one loan order (``ordId``). Paged by refId
        (``after``, exclusive); `since`/`until` filter by the record's ts.
        """
        if type is not None:
            if not isinstance(type, str):
                raise TypeError(f"type: expected str, got {builtins.type(type).__name__}")
            if type not in LOAN_HISTORY_TYPES:
                raise InvalidArgument("type", f"{type!r} is not one of {', '.join(LOAN_HISTORY_TYPES)}")
        if order_id is not None:
            _check_order_id(order_id)
        return self.events(
            "okx.flexible_loan_history", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, max_pages=max_pages, type=type, order_id=order_id,
        )

    def one_click_repay_history(
        self,
        *,
        since: TimeArg = None,
        until: TimeArg = None,
        resume: str | None = None,
        strict: bool = False,
        keep_raw: bool = False,
        max_pages: int = 100_000,
    ) -> Feed:
        """One-click repay history v2 (``okx.one_click_repay_history``, SPOT mode, past 7 days).

        Each record yields a `repay` event directly followed by its `convert`
        legs (``parent_id`` = the repay's id). A record still ``running`` is
        `pending`; resuming from a checkpoint fetches it again until it settles.
        """
        return self.events(
            "okx.one_click_repay_history", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, max_pages=max_pages,
        )

    def convert_history(
        self,
        *,
        since: TimeArg = None,
        until: TimeArg = None,
        resume: str | None = None,
        strict: bool = False,
        keep_raw: bool = False,
        max_pages: int = 100_000,
    ) -> Feed:
        """Convert trades (``okx.convert_history``): currency = received, counter = paid."""
        return self.events(
            "okx.convert_history", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, max_pages=max_pages,
        )

    def flexible_loan_interest(
        self,
        *,
        since: TimeArg = None,
        until: TimeArg = None,
        currency: str | None = None,
        resume: str | None = None,
        strict: bool = False,
        keep_raw: bool = False,
        max_pages: int = 100_000,
    ) -> Feed:
        """Flexible-loan interest accrued (``okx.flexible_loan_interest``, past 30 days)."""
        if currency is not None:
            check_currency("currency", currency)
        return self.events(
            "okx.flexible_loan_interest", since=since, until=until, resume=resume, strict=strict,
            keep_raw=keep_raw, max_pages=max_pages, currency=currency,
        )


def _check_order_id(value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"order_id: expected str, got {type(value).__name__}")
    if not (value.isascii() and value.isdigit()):
        raise InvalidArgument("order_id", f"{value!r} is not an OKX order id (digits)")
