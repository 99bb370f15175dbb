"""OKX: flexible-loan history, one-click repay history v2, convert history, interest accrued,
in three books (wallet, debt, collateral), and the positions they are reconciled with.

Reads top to bottom: hosts, the error table, the dialect (signing and error
mapping), the envelope, the normalization tables, then one block per feed (its
wire Struct, normalizer and `feed()` declaration), the positions (loan-info, the
one-click repay currency list, the scopes), the client.
Sources: the OKX API v5 docs, https://www.okx.com/docs-v5/en/ (sections
"Financial Product > Flexible loan", "Trade > Get one-click repay history (New)",
"Trade > Get one-click repay currency list (New)", "Funding Account > Get convert
history", "REST Authentication", "Error Code"); docs/venues/okx.md has every record's books.
"""

from __future__ import annotations

import decimal
import enum
import itertools
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from .._money import EXACT, MAX_ADJUSTED
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
from ..events import EventKind, EventStatus, LoanEvent
from ..feeds import BadRecord, Envelope, FeedOptions, Filter, Held, choice, currency, digits, feed
from ..paginate import DecodeContext, ExclusiveIdCursor, Feed, TsCursor
from ..reconcile import Book, Position, Residual, Scope
from ..ratelimit import Bucket, Limit, RateLimits
from ..signing import OkxSigner, key_fingerprint
from ..transport import Prepared, Request, RetryPolicy, Sender, encode_query

if TYPE_CHECKING:
    import aiohttp
    from typing_extensions import Unpack

__all__ = [
    "CONVERT",
    "CONVERT_STATE",
    "EPISODE_GAP_MS",
    "FEEDS",
    "FLEXIBLE_LOAN_SCOPE",
    "HOSTS",
    "INTEREST",
    "LIQUIDATION_LEGS",
    "LOAN_HISTORY",
    "LOAN_HISTORY_BOOKS",
    "LOAN_HISTORY_TYPES",
    "LOAN_INFO_LIMIT",
    "LOAN_INFO_PATH",
    "OKX",
    "ONE_CLICK_REPAY",
    "ONE_CLICK_REPAY_STATUS",
    "REPAY_CURRENCIES_LIMIT",
    "REPAY_CURRENCIES_PATH",
    "SCOPES",
    "SPOT_DEBT_SCOPE",
    "CcyAmount",
    "DebtAmount",
    "FlexibleLoanInfo",
    "Leg",
    "OkxDialect",
    "OneClickRepayCurrencies",
    "RepayAmount",
    "decode_loan_info",
    "decode_one_click_repay_currencies",
    "one_click_repay_id",
    "positions_of",
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

DAY_MS = 86_400_000
PAGE_LIMIT = 100  # every feed here: max 100, default 100

# --- errors (https://www.okx.com/docs-v5/en/#error-code) -------------------------------------------------

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
    #: OKX sends no rate-limit count: blind headroom (ratelimit.py)
    reports_usage = False

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

    def observe(self, bucket: Bucket, status: int, headers: Mapping[str, str], sent_ms: int | None = None) -> None:
        """OKX documents no rate-limit headers (https://www.okx.com/docs-v5/en/#overview-rate-limits):
        its buckets keep blind headroom (ratelimit.py)."""


# --- the envelope: {"code": "0", "msg": "", "data": [...]} ----------------------------------------


class _TimeRow(msgspec.Struct):
    ts: int


class _TimeEnvelope(msgspec.Struct):
    code: str
    msg: str = ""
    data: list[_TimeRow] = []


_time_decoder = msgspec.json.Decoder(_TimeEnvelope, strict=False)


def _decode_envelope(decoder: msgspec.json.Decoder[Any], body: bytes, feed_id: str, path: str) -> Any:
    """Decode a success envelope; error envelopes raise their typed error."""
    try:
        env = decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _reject(body, feed_id, path, str(exc)) from None
    _accept(env, body, feed_id, path)
    return env


R = TypeVar("R")


class _Data(msgspec.Struct, Generic[R]):
    code: str
    data: list[R]
    msg: str = ""


def _reject(body: bytes, feed_id: str, path: str, detail: str) -> Exception:
    err = response_error(200, body, path, feed_id)
    return DecodeError(VENUE, feed_id, detail, body) if isinstance(err, DecodeError) else err


def _accept(env: Any, body: bytes, feed_id: str, path: str) -> None:
    if env.code != "0":
        raise envelope_error(200, env.code, env.msg, path)


#: every OKX feed answers ``{"code": "0", "msg": "", "data": [rows]}``
DATA = Envelope(
    VENUE,
    wrap=lambda row: _Data[row],  # type: ignore[valid-type]
    unpack=lambda env: (env.data, None, None),
    reject=_reject,
    accept=_accept,
)


# --- normalization tables -------------------------------------------------------------------------------
#
# Every record changes three books in its currency (LoanEvent.amount = the free wallet, .debt,
# .collateral). The wire `amt` of loan history may come signed or not (UNVERIFIED), so only its
# magnitude is taken and each book's sign comes from the type. The venue's value stays in `raw`.

#: flexible-loan history `type` -> kind
LOAN_HISTORY_TYPES: Mapping[str, EventKind] = {
    "borrowed": EventKind.BORROW,
    "repaid": EventKind.REPAY,
    "collateral_locked": EventKind.COLLATERAL_ADD,
    "collateral_released": EventKind.COLLATERAL_REMOVE,
    # forced repayment: pledged collateral is sold and the borrowed coin bought to repay the debt
    "forced_repayment_buy": EventKind.LIQUIDATION,
    "forced_repayment_sell": EventKind.LIQUIDATION,
    "forced_liquidation": EventKind.LIQUIDATION,
    "partial_liquidation": EventKind.LIQUIDATION,
    # the legs of selling collateral into the borrowed coin through a transition coin
    "sell_collateral": EventKind.LIQUIDATION,
    "buy_transition_coin": EventKind.CONVERT,
    "sell_transition_coin": EventKind.CONVERT,
    "buy_borrowed_coin": EventKind.LIQUIDATION,
}


class Leg(enum.StrEnum):
    """The part a liquidation-path record plays in its episode (docs/venues/okx.md)."""

    COLLATERAL = "collateral"  # pledged collateral sold or seized: 0 / 0 / -a
    DEBT = "debt"  # the borrowed coin bought, or the debt closed: 0 / -a / 0
    TRANSITION_IN = "transition_in"  # the transition coin bought, still inside the pledge: 0 / 0 / +a
    TRANSITION_OUT = "transition_out"  # the transition coin sold again: 0 / 0 / -a
    EITHER = "either"  # collateral or debt side, decided by currency within the episode


#: loan-history `type` -> (wallet, debt, collateral): the sign each book takes of |amt|
#: (forced_liquidation / partial_liquidation are decided per episode, see LIQUIDATION_LEGS)
LOAN_HISTORY_BOOKS: Mapping[str, tuple[int, int, int]] = {
    "borrowed": (1, 1, 0),
    "repaid": (-1, -1, 0),
    "collateral_locked": (-1, 0, 1),
    "collateral_released": (1, 0, -1),
    "forced_repayment_sell": (0, 0, -1),
    "sell_collateral": (0, 0, -1),
    "forced_repayment_buy": (0, -1, 0),
    "buy_borrowed_coin": (0, -1, 0),
    "buy_transition_coin": (0, 0, 1),
    "sell_transition_coin": (0, 0, -1),
}

#: the liquidation-path types (every type but the four user actions) and the leg each plays
LIQUIDATION_LEGS: Mapping[str, Leg] = {
    "forced_repayment_sell": Leg.COLLATERAL,
    "sell_collateral": Leg.COLLATERAL,
    "forced_repayment_buy": Leg.DEBT,
    "buy_borrowed_coin": Leg.DEBT,
    "buy_transition_coin": Leg.TRANSITION_IN,
    "sell_transition_coin": Leg.TRANSITION_OUT,
    "forced_liquidation": Leg.EITHER,
    "partial_liquidation": Leg.EITHER,
}

#: consecutive liquidation-path records (in refId order) at most this far apart in ts are one episode
EPISODE_GAP_MS = 60_000

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
_NO_RAW = itertools.repeat(None)
ONE_CLICK_REPAY_TYPE = "one_click_repay"
INTEREST_TYPE = "interest_accrued"
_ZERO = Decimal(0)
#: the fast amount paths' "not parsed" marker (not finite: sends them to `_amount`)
_NAN = Decimal("NaN")
#: the fast amount paths' parser: `create_decimal` takes neither whitespace nor "_" (Decimal() takes
#: both), and with every signal trapped it raises rather than round, clamp or overflow; so a value it
#: returns is Decimal(text) exactly, and any other text goes to `_amount` (the exact error, or "" as 0)
_PARSE = decimal.Context(prec=1000, traps=list(decimal.Context().traps)).create_decimal


def _amount(text: str, what: str, *, empty: bool = False) -> Decimal:
    """A wire decimal string (`empty=True`: "" stands for zero, e.g. an unfilled leg)."""
    if not text:
        if empty:
            return _ZERO
        raise BadRecord(f"{what} is empty")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadRecord(f"{what} is not a decimal string: {text!r}") from None
    # Decimal() also takes surrounding whitespace and "1_000": the wire never has them
    if "_" in text or text != text.strip():
        raise BadRecord(f"{what} is not a decimal string: {text!r}")
    if not (value.is_finite() and -MAX_ADJUSTED <= value.adjusted() <= MAX_ADJUSTED):
        raise BadRecord(f"{what} is not a finite number of sane magnitude: {value}")
    return value


# --- feed: flexible-loan history -------------------------------------------------------------------------
# GET /api/v5/finance/flexible-loan/loan-history (Financial Product > Flexible loan > Get loan history):
# newest first, `after`/`before` refId (exclusive), limit max 100; filters `type`, `ordId`.


class _LoanRow(msgspec.Struct, gc=False):
    # in the documented wire order (msgspec looks for each key from the previous key's field on)
    amt: Decimal
    ccy: str
    refId: str
    ts: int
    type: str


def _slot(sign: int) -> int:
    """The index of a book's value in (0, +a, -a)."""
    return 2 if sign < 0 else sign


#: loan-history `type` -> (kind, the index into (0, +a, -a) of the wallet, debt and collateral
#: change, the Leg of a liquidation-path type or None): one look-up a record. The books of a
#: liquidation-path type are decided per episode (its three indexes are unused).
_LOAN_TYPES: Mapping[str, tuple[EventKind, int, int, int, Leg | None]] = {
    t: (kind, _slot(w), _slot(d), _slot(c), LIQUIDATION_LEGS.get(t))
    for t, kind in LOAN_HISTORY_TYPES.items()
    for w, d, c in (LOAN_HISTORY_BOOKS.get(t, (0, 0, 0)),)
}
#: the debt-side records of the liquidation-record family (the other family: the buy legs)
_LINK_FAMILY = frozenset({"forced_liquidation", "partial_liquidation"})


#: one liquidation-path record while its episode is worked out: (len(refId), refId, index in the
#: page, ts, type, currency, |amt|, raw, kind, leg) - sorts in refId order
_LegRow = tuple[int, str, int, int, str, str, Decimal, "msgspec.Raw | None", EventKind, Leg]
_COLL, _DEBT, _TIN, _EITHER = Leg.COLLATERAL, Leg.DEBT, Leg.TRANSITION_IN, Leg.EITHER


def _loan_history(rows: list[_LoanRow], raws: list[msgspec.Raw] | None, ctx: DecodeContext,
                  out: list[LoanEvent]) -> Held | None:
    """One event per record, id = refId, books per LOAN_HISTORY_BOOKS; the liquidation-path records
    go through `_episodes` (links, debt or collateral side). The user actions are the hot path."""
    account, feed_id, done, types, zero, lo, hi = (
        ctx.account, ctx.feed, _DONE, _LOAN_TYPES, _ZERO, -MAX_ADJUSTED, MAX_ADJUSTED)
    events: list[LoanEvent | None] = []
    append = events.append
    legs: list[_LegRow] | None = None
    for index, (row, raw) in enumerate(zip(rows, _NO_RAW if raws is None else raws)):
        vtype = row.type
        ref = row.refId
        entry = types.get(vtype)
        if entry is None:
            raise BadRecord(f"unknown loan-history type {vtype!r} (refId {ref!r})")
        if not ref:
            raise BadRecord("refId is empty")
        ccy = row.ccy
        if not ccy:
            raise BadRecord("ccy is empty")
        amt = row.amt
        if not (amt.is_finite() and lo <= amt.adjusted() <= hi):
            raise BadRecord(f"amt is not a finite number of sane magnitude: {amt}")
        mag = amt.copy_abs()
        kind, w, d, c, role = entry
        if role is not None:
            if legs is None:
                legs = []
            legs.append((len(ref), ref, index, row.ts, vtype, ccy.upper(), mag, raw, kind, role))
            append(None)
            continue
        books = (zero, mag, mag.copy_negate() if mag else mag)
        # positional, in LoanEvent's field order (events.FIELDS): venue, account, feed, id, kind, status,
        # ts, currency, amount, debt, collateral, counter_currency, counter_amount, ref_id, parent_id,
        # venue_type, raw
        append(LoanEvent(VENUE, account, feed_id, ref, kind, done, row.ts, ccy.upper(), books[w], books[d], books[c],
                         None, None, ref, None, vtype, raw))
    if legs is None:
        out.extend(events)  # type: ignore[arg-type]  # no placeholder left
        return None
    held = _episodes(legs, events, rows, ctx)
    out.extend(events)  # type: ignore[arg-type]  # every placeholder filled
    return held


def _episodes(legs: list[_LegRow], events: list[LoanEvent | None], rows: list[_LoanRow],
              ctx: DecodeContext) -> Held | None:
    """Fill in the liquidation-path events of one page, episode by episode.

    An episode is a run of liquidation-path records in refId order whose neighbours are at most
    EPISODE_GAP_MS apart in ts. Everything about a leg follows from the leg and the OLDER legs of
    its episode only (records never change, so a leg's event is the same whenever it is read):
    its side (a forced_liquidation / partial_liquidation in a currency an older leg sold or bought
    takes that side; else the debt side once the episode has seized collateral, the collateral
    side before), its parent (the episode's first collateral-side leg), its counter currency (a
    debt-side leg names the currency of the collateral-side leg it is paired with, in refId
    order; counter_amount stays None: no wallet moved) and the double-count guard (once one family
    of debt-side records, buy legs or liquidation records, has cleared debt in a currency, the
    other family's records there are links: 0 / 0 / 0).

    The oldest episode of the page may go on in the next page: if its oldest leg is within
    EPISODE_GAP_MS of the page's last record, the page's records from its newest leg on are
    `Held` (a walk asks for them again with the rest of the episode), unless that is the page.
    """
    legs.sort()  # refId order (digit strings: by length, then text); a repeated refId by page position
    account, feed_id, done, zero, gap, link_family = ctx.account, ctx.feed, _DONE, _ZERO, EPISODE_GAP_MS, _LINK_FAMILY
    n_legs = first_episode_end = len(legs)
    prev_ts = legs[0][3]
    parent: str | None = None
    debt_side: set[str] = set()
    coll_side: list[str] = []
    carried: dict[str, bool] = {}  # currency -> debt cleared by liquidation records (True) or buy legs
    paired = 0
    for n, (_, ref, index, ts, vtype, ccy, mag, raw, kind, role) in enumerate(legs):
        if not -gap <= ts - prev_ts <= gap:  # a new episode (the first leg opens one with nothing to reset)
            if first_episode_end == n_legs:
                first_episode_end = n
            parent, paired = None, 0
            if debt_side:  # emptied in place: most episodes are one leg, and these are local
                debt_side.clear()
            if coll_side:
                coll_side.clear()
            if carried:
                carried.clear()
        prev_ts = ts
        if role is _EITHER:
            if ccy in debt_side:
                role = _DEBT
            elif ccy in coll_side:
                role = _COLL
            else:
                role = _DEBT if coll_side else _COLL
        neg = mag.copy_negate() if mag else mag
        debt = collateral = zero
        counter: str | None = None
        parent_id = parent
        if role is _COLL:
            collateral = neg
            coll_side.append(ccy)
            if parent is None:
                parent = ref
        elif role is _DEBT:
            family = vtype in link_family
            if carried.setdefault(ccy, family) == family:
                debt = neg
                if paired < len(coll_side):
                    counter = coll_side[paired]
                paired += 1
            debt_side.add(ccy)
        else:
            collateral = mag if role is _TIN else neg
        events[index] = LoanEvent(VENUE, account, feed_id, ref, kind, done, ts, ccy, zero, debt, collateral,
                                  counter, None, ref, parent_id, vtype, raw)
    # the oldest episode (legs[:first_episode_end]) may continue in the next page
    oldest = legs[0][3]
    newest_index = min(leg[2] for leg in legs[:first_episode_end])
    last = rows[-1].ts
    if newest_index > 0 and -gap <= oldest - last <= gap:
        rows_held = len(rows) - newest_index
        return Held(rows_held, rows_held)  # one event per record
    return None


LOAN_HISTORY = feed(
    "okx.flexible_loan_history", DATA,
    path="/api/v5/finance/flexible-loan/loan-history",
    limit=Limit(5, 2.0),  # 5 requests / 2 s per User ID
    cursor=ExclusiveIdCursor(param="after", limit=PAGE_LIMIT),
    row=_LoanRow, ts="ts", key="refId", normalize=_loan_history,
    filters={"type": Filter("type", choice(LOAN_HISTORY_TYPES)), "order_id": Filter("ordId", digits("an OKX order id"))},
    kinds=[k.value for k in LOAN_HISTORY_TYPES.values()],
    description="Flexible-loan actions: borrow, repay, collateral, forced repayment, liquidation legs",
)


# --- feed: flexible-loan interest accrued -------------------------------------------------------------------
# GET /api/v5/finance/flexible-loan/interest-accrued: "the past 30 days", refId paging as above; filter `ccy`.


class _InterestRow(msgspec.Struct, gc=False):
    # in the documented wire order, as _LoanRow
    ccy: str
    interest: Decimal
    refId: str
    ts: int


def _interest(rows: list[_InterestRow], raws: list[msgspec.Raw] | None, ctx: DecodeContext,
              out: list[LoanEvent]) -> None:
    """An `interest` event per record, id = refId: the interest is added to the debt (0 / +i / 0);
    the wallet pays it later, inside a `repaid`."""
    append, account, feed_id, done, interest, zero, lo, hi = (
        out.append, ctx.account, ctx.feed, _DONE, EventKind.INTEREST, _ZERO, -MAX_ADJUSTED, MAX_ADJUSTED)
    for row, raw in zip(rows, _NO_RAW if raws is None else raws):
        ref = row.refId
        if not ref:
            raise BadRecord("refId is empty")
        ccy = row.ccy
        if not ccy:
            raise BadRecord("ccy is empty")
        amt = row.interest
        if not (amt.is_finite() and lo <= amt.adjusted() <= hi):
            raise BadRecord(f"interest is not a finite number of sane magnitude: {amt}")
        append(LoanEvent(VENUE, account, feed_id, ref, interest, done, row.ts, ccy.upper(), zero, amt.copy_abs(), zero,
                         None, None, ref, None, INTEREST_TYPE, raw))  # positional: events.FIELDS order


INTEREST = feed(
    "okx.flexible_loan_interest", DATA,
    path="/api/v5/finance/flexible-loan/interest-accrued",
    limit=Limit(5, 2.0),  # 5 requests / 2 s per User ID
    cursor=ExclusiveIdCursor(param="after", limit=PAGE_LIMIT),
    row=_InterestRow, ts="ts", key="refId", normalize=_interest,
    filters={"currency": Filter("ccy", currency)},
    retention_ms=30 * DAY_MS,  # "the past 30 days"
    kinds=[EventKind.INTEREST.value],
    description="Flexible-loan interest accrued (the venue keeps 30 days)",
)


# --- feed: one-click repay history v2 ------------------------------------------------------------------------
# GET /api/v5/trade/one-click-repay-history-v2 (SPOT mode): the past 7 days, `after`/`before` ts
# "(included)", limit max 100; 1 request / 2 s per User ID.


# the wire Structs' fields in the documented wire order (msgspec looks for each key from the previous
# key's field on)
class _RepayLeg(msgspec.Struct, kw_only=True, gc=False):
    cTime: int
    fillPx: str = ""
    fillSz: str = ""
    instId: str
    ordId: str
    side: str
    state: str = ""


class _RepayRow(msgspec.Struct, kw_only=True):
    debtCcy: str
    fillDebtSz: str
    ordIdInfo: list[_RepayLeg] = []
    status: str
    ts: int


class _RepayRowRaw(msgspec.Struct, kw_only=True):
    """`_RepayRow` for `keep_raw`: each leg stays raw bytes, typed apart and kept as its `raw`."""

    debtCcy: str
    fillDebtSz: str
    ordIdInfo: list[msgspec.Raw] = []
    status: str
    ts: int


_leg_decoder = msgspec.json.Decoder(_RepayLeg, strict=False)
#: keep_raw: every leg of a page typed in one scan (the legs' bytes joined into one JSON array)
_legs_decoder = msgspec.json.Decoder(list[_RepayLeg], strict=False)


def one_click_repay_id(ts: int, debt_ccy: str, n: int = 0) -> str:
    """The id of a one-click repay record: the fields that do not change while it settles (its ts
    and debt currency), and for the n-th record sharing both (in the venue's order, from 0) an
    occurrence suffix ``#n`` (the first keeps the bare ``<ts>:<debtCcy>``)."""
    key = f"{ts}:{debt_ccy.upper()}"
    return key if n == 0 else f"{key}#{n}"


def _typed_legs(rows: list[_RepayRowRaw]) -> list[_RepayLeg] | None:
    """keep_raw: the legs of the whole page, typed in one decode; None if any leg does not decode
    (the page loop then decodes leg by leg, so the error names the leg's own path, as it always did)."""
    flat = [leg for row in rows for leg in row.ordIdInfo]
    if not flat:
        return []
    try:
        legs: list[_RepayLeg] = _legs_decoder.decode(b"[" + b",".join(flat) + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return legs if len(legs) == len(flat) else None


def _one_click(rows: list[Any], raws: list[msgspec.Raw] | None, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    """Per record: a `repay` event for the debt (id ``<ts>:<debtCcy>``, ``#n`` for the n-th record
    sharing both on the page), directly followed by one `convert` event per order of `ordIdInfo`
    that filled anything (id = ordId, parent_id = the repay event). A leg `side` is relative to the
    `instId` pair's base: buy = received base, paid quote (fillSz x fillPx, exact); sell = received
    quote, paid base. A leg `state` not yet final (filled / canceled) is `pending`.

    Occurrences are counted within the page: ``after=T`` is inclusive, so every page holds the
    records of each of its ms from the first of them in the venue's order, and the same record
    gets the same number on every page that holds it (the venue's order within a ms must be
    stable, UNVERIFIED; the engine re-reads the newest ms whole: `positional_ids`).

    Fast path (one function for records and legs: a call per leg costs more than its checks):
    amounts are parsed inline (`_PARSE`) and fall back to `_amount` only for a value that is not a clean
    decimal (it raises the exact error, or reads "" as 0); a leg's upper-cased pair is looked up
    per page by `instId`; with keep_raw every leg of the page is typed in one decode."""
    append, account, feed_id = out.append, ctx.account, ctx.feed
    repay, convert, done, pending, statuses, zero, nan, lo, hi, final, parse = (
        EventKind.REPAY, _CONVERT, _DONE, _PENDING, ONE_CLICK_REPAY_STATUS, _ZERO, _NAN, -MAX_ADJUSTED, MAX_ADJUSTED,
        _LEG_FINAL, _PARSE)
    seen: dict[str, int] = {}  # `<ts>:<debtCcy>` -> records of it on this page so far
    pairs: dict[str, tuple[str, str]] = {}  # instId -> (BASE, QUOTE), checked once per page
    typed = None if raws is None else _typed_legs(rows)
    k = 0  # keep_raw: the page-wide index of the record's first leg in `typed`
    with decimal.localcontext(EXACT):  # `size * price` below is exact: EXACT raises rather than round
        for row, raw in zip(rows, _NO_RAW if raws is None else raws):
            status = statuses.get(row.status)
            if status is None:
                raise BadRecord(f"unknown one-click repay status {row.status!r}")
            debt = row.debtCcy
            if not debt:
                raise BadRecord("debtCcy is empty")
            debt = debt.upper()
            ts = row.ts
            parent = f"{ts}:{debt}"
            n = seen.get(parent, 0)
            seen[parent] = n + 1
            if n:
                parent = f"{parent}#{n}"
            # running / failed records may carry "" before anything filled
            text = row.fillDebtSz
            try:
                mag = parse(text) if text else nan
            except decimal.DecimalException:
                mag = nan
            if not (mag.is_finite() and lo <= mag.adjusted() <= hi):
                mag = _amount(text, "fillDebtSz", empty=status is not done)  # the exact error, or "" as 0
            mag = mag.copy_abs()
            paid = mag.copy_negate() if mag else mag  # repays the spot-mode debt from the wallet: -x / -x / 0
            append(LoanEvent(VENUE, account, feed_id, parent, repay, status, ts, debt, paid, paid, zero, None, None,
                             None, None, ONE_CLICK_REPAY_TYPE, raw))  # positional: events.FIELDS order
            legs = row.ordIdInfo
            if not legs:
                continue
            leg_raws: list[msgspec.Raw] | None = None
            if raws is not None:
                leg_raws, n = legs, len(legs)
                if typed is not None:
                    legs = typed[k:k + n]
                    k += n
                else:
                    legs = []
                    for leg_raw in leg_raws:
                        try:
                            legs.append(_leg_decoder.decode(leg_raw))
                        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                            raise BadRecord(f"ordIdInfo: {exc}") from None
            for i, leg in enumerate(legs):
                text = leg.fillSz
                if not text or text == "0":
                    continue  # canceled without a fill: nothing moved
                try:
                    size = parse(text)
                except decimal.DecimalException:
                    size = nan
                if not (size.is_finite() and lo <= size.adjusted() <= hi):
                    size = _amount(text, "ordIdInfo.fillSz")  # the exact error
                if not size:
                    continue
                text = leg.fillPx
                try:
                    price = parse(text) if text else nan
                except decimal.DecimalException:
                    price = nan
                if not (price.is_finite() and lo <= price.adjusted() <= hi):
                    price = _amount(text, "ordIdInfo.fillPx")  # raises the exact error
                pair = pairs.get(leg.instId)
                if pair is None:
                    base, sep, quote = leg.instId.partition("-")
                    if not sep or not base or not quote or "-" in quote:
                        raise BadRecord(f"ordIdInfo.instId is not a spot pair: {leg.instId!r}")
                    pair = pairs[leg.instId] = (base.upper(), quote.upper())
                base_amt = size.copy_abs()
                try:  # in EXACT (`_one_click`): raises rather than round
                    quote_amt = base_amt * price.copy_abs()
                except decimal.DecimalException:
                    raise BadRecord(
                        f"fillSz x fillPx cannot be computed exactly ({base_amt} x {price.copy_abs()})") from None
                side = leg.side
                if side == "buy":  # received base, paid quote
                    got, got_amt, paid_ccy, paid_amt = pair[0], base_amt, pair[1], quote_amt
                elif side == "sell":  # received quote, paid base
                    got, got_amt, paid_ccy, paid_amt = pair[1], quote_amt, pair[0], base_amt
                else:
                    raise BadRecord(f"ordIdInfo.side {side!r} is neither buy nor sell")
                ord_id = leg.ordId
                if not ord_id:
                    raise BadRecord("ordIdInfo.ordId is empty")
                append(LoanEvent(  # positional: events.FIELDS order
                    VENUE, account, feed_id, ord_id, convert, done if leg.state in final else pending, leg.cTime,
                    got, got_amt, zero, zero, paid_ccy, paid_amt.copy_negate() if paid_amt else paid_amt,
                    ord_id, parent, side, None if leg_raws is None else leg_raws[i].copy(),  # never pins the body
                ))


ONE_CLICK_REPAY = feed(
    "okx.one_click_repay_history", DATA,
    path="/api/v5/trade/one-click-repay-history-v2",
    limit=Limit(1, 2.0),  # 1 request / 2 s per User ID
    cursor=TsCursor(inclusive=True, param="after", limit=PAGE_LIMIT),
    row=_RepayRow, raw_row=_RepayRowRaw, ts="ts", normalize=_one_click,
    retention_ms=7 * DAY_MS,  # "the past 7 days"
    positional_ids=True,  # twins (one ms, one debt currency) are told apart by their place
    kinds=[EventKind.CONVERT.value, EventKind.REPAY.value],
    description="One-click repay (v2, SPOT mode): the repaid debt and the orders that bought it",
)


# --- feed: convert history -------------------------------------------------------------------------------------
# GET /api/v5/asset/convert/history: `after`/`before` ts (exclusive), limit max 100; 6 requests / s per User ID.


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


def _convert(rows: list[_ConvertRow], raws: list[msgspec.Raw] | None, ctx: DecodeContext,
             out: list[LoanEvent]) -> None:
    """A `convert` event per trade, id = tradeId. `side` is relative to baseCcy: buy = received
    base, paid quote; sell = received quote, paid base. A rejected trade is `failed`.

    Amounts take the fast path (`_PARSE`, checked inline) and fall back to `_amount`, which raises
    the exact error (or reads "" as 0 on a rejected trade)."""
    append, account, feed_id = out.append, ctx.account, ctx.feed
    convert, failed, states, zero, nan, lo, hi, parse = (
        _CONVERT, EventStatus.FAILED, CONVERT_STATE, _ZERO, _NAN, -MAX_ADJUSTED, MAX_ADJUSTED, _PARSE)
    for row, raw in zip(rows, _NO_RAW if raws is None else raws):
        status = states.get(row.state)
        if status is None:
            raise BadRecord(f"unknown convert state {row.state!r} (tradeId {row.tradeId!r})")
        base, quote = row.baseCcy, row.quoteCcy
        if not base:
            raise BadRecord("baseCcy is empty")
        if not quote:
            raise BadRecord("quoteCcy is empty")
        text = row.fillBaseSz
        try:
            base_amt = parse(text) if text else nan
        except decimal.DecimalException:
            base_amt = nan
        if not (base_amt.is_finite() and lo <= base_amt.adjusted() <= hi):
            base_amt = _amount(text, "fillBaseSz", empty=status is failed)
        text = row.fillQuoteSz
        try:
            quote_amt = parse(text) if text else nan
        except decimal.DecimalException:
            quote_amt = nan
        if not (quote_amt.is_finite() and lo <= quote_amt.adjusted() <= hi):
            quote_amt = _amount(text, "fillQuoteSz", empty=status is failed)
        side = row.side
        if side == "buy":
            got, got_amt, paid, paid_amt = base, base_amt.copy_abs(), quote, quote_amt.copy_abs()
        elif side == "sell":
            got, got_amt, paid, paid_amt = quote, quote_amt.copy_abs(), base, base_amt.copy_abs()
        else:
            raise BadRecord(f"side {side!r} is neither buy nor sell (tradeId {row.tradeId!r})")
        trade = row.tradeId
        if not trade:
            raise BadRecord("tradeId is empty")
        append(LoanEvent(  # positional: events.FIELDS order
            VENUE, account, feed_id, trade, convert, status, row.ts, got.upper(), got_amt, zero, zero, paid.upper(),
            paid_amt.copy_negate() if paid_amt else paid_amt, row.clTReqId or None, None, side, raw,
        ))


CONVERT = feed(
    "okx.convert_history", DATA,
    path="/api/v5/asset/convert/history",
    limit=Limit(6, 1.0),  # 6 requests / s per User ID
    cursor=TsCursor(inclusive=False, param="after", limit=PAGE_LIMIT),
    row=_ConvertRow, ts="ts", key="tradeId", normalize=_convert,
    kinds=[EventKind.CONVERT.value],
    description="Convert (flash swap) trades",
)

FEEDS = (LOAN_HISTORY, ONE_CLICK_REPAY, CONVERT, INTEREST)


# --- positions: what the venue says is owed and pledged now -----------------------------------------------
# GET /api/v5/finance/flexible-loan/loan-info (Financial Product > Flexible loan > Get loan info):
# "5 requests per 2 seconds", User ID; `ordId` optional ("If `ordId` is not passed, system will
# return data of all existing orders"). Per order: `loanData` [{ccy, amt "Loan amount"}] and
# `collateralData` [{ccy, amt "Collateral amount"}].
# GET /api/v5/trade/one-click-repay-currency-list-v2 (Trade > Get one-click repay currency list
# (New)): "1 request per 2 seconds", User ID, no parameters; `debtData` [{debtCcy, debtAmt "Debt
# currency amount Including principal and interest"}]: the SPOT-mode debt one-click repay pays.

LOAN_INFO_PATH = "/api/v5/finance/flexible-loan/loan-info"
LOAN_INFO_LIMIT = Limit(5, 2.0)  # 5 requests / 2 s per User ID
REPAY_CURRENCIES_PATH = "/api/v5/trade/one-click-repay-currency-list-v2"
REPAY_CURRENCIES_LIMIT = Limit(1, 2.0)  # 1 request / 2 s per User ID


class CcyAmount(msgspec.Struct, frozen=True):
    """One currency of a loan-info order (`loanData` / `collateralData`)."""

    ccy: str
    amt: Decimal


class FlexibleLoanInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One flexible-loan order as GET /api/v5/finance/flexible-loan/loan-info reports it now.
    The USD notionals and LTVs are the venue's text ("" when it sends none)."""

    ordId: str = ""
    loanData: list[CcyAmount] = []
    collateralData: list[CcyAmount] = []
    loanNotionalUsd: str = ""
    collateralNotionalUsd: str = ""
    curLTV: str = ""
    marginCallLTV: str = ""
    liqLTV: str = ""


class DebtAmount(msgspec.Struct, frozen=True):
    """A SPOT-mode debt: `debtAmt` includes principal and interest."""

    debtCcy: str
    debtAmt: Decimal


class RepayAmount(msgspec.Struct, frozen=True):
    """A currency one-click repay can pay with: `repayAmt` is its available balance."""

    repayCcy: str
    repayAmt: Decimal


class OneClickRepayCurrencies(msgspec.Struct, frozen=True, kw_only=True):
    """GET /api/v5/trade/one-click-repay-currency-list-v2: what is owed in SPOT mode, what can pay it."""

    debtData: list[DebtAmount] = []
    repayData: list[RepayAmount] = []


_loan_info_decoder = msgspec.json.Decoder(_Data[FlexibleLoanInfo], strict=False)
_repay_currencies_decoder = msgspec.json.Decoder(_Data[OneClickRepayCurrencies], strict=False)


def _position_amount(value: Decimal, what: str, where: str, body: bytes) -> Decimal:
    if not (value.is_finite() and -MAX_ADJUSTED <= value.adjusted() <= MAX_ADJUSTED) or value < 0:
        raise DecodeError(VENUE, where, f"{what} is not a non-negative finite amount: {value}", body)
    return value


def decode_loan_info(body: bytes) -> list[FlexibleLoanInfo]:
    """The orders of a loan-info answer (sans-IO). An error envelope raises its typed error; a body
    that is not the documented shape, an empty currency or a negative or non-finite amount is a
    DecodeError."""
    env = _decode_envelope(_loan_info_decoder, body, "loan-info", LOAN_INFO_PATH)
    orders: list[FlexibleLoanInfo] = env.data
    for order in orders:
        for part, rows in (("loanData", order.loanData), ("collateralData", order.collateralData)):
            for row in rows:
                if not row.ccy:
                    raise DecodeError(VENUE, "loan-info", f"{part}.ccy is empty", body)
                _position_amount(row.amt, f"{part}.amt", "loan-info", body)
    return orders


def decode_one_click_repay_currencies(body: bytes) -> list[OneClickRepayCurrencies]:
    """The rows of a one-click-repay-currency-list-v2 answer (sans-IO), checked as `decode_loan_info`."""
    env = _decode_envelope(_repay_currencies_decoder, body, "one-click-repay-currency-list-v2",
                           REPAY_CURRENCIES_PATH)
    rows: list[OneClickRepayCurrencies] = env.data
    where = "one-click-repay-currency-list-v2"
    for row in rows:
        for debt in row.debtData:
            if not debt.debtCcy:
                raise DecodeError(VENUE, where, "debtData.debtCcy is empty", body)
            _position_amount(debt.debtAmt, "debtData.debtAmt", where, body)
        for pay in row.repayData:
            if not pay.repayCcy:
                raise DecodeError(VENUE, where, "repayData.repayCcy is empty", body)
            _position_amount(pay.repayAmt, "repayData.repayAmt", where, body)
    return rows


#: the flexible loan: loan history and interest accrued against loan-info
FLEXIBLE_LOAN_SCOPE = Scope(
    id="okx.flexible_loan",
    feeds=(LOAN_HISTORY.id, INTEREST.id),
    books=(Book.DEBT, Book.COLLATERAL),
    residuals={Book.DEBT: Residual(
        "interest accrued before the interest feed's 30-day window",
        "OKX serves flexible-loan interest for the past 30 days only; interest added to the debt "
        "before the ledger first read that window is in no record it holds",
        sign=1,
    )},
    description="Flexible loan: debt per loanData currency, collateral per collateralData currency "
                "(GET /api/v5/finance/flexible-loan/loan-info)",
)

#: SPOT-mode borrowing, which one-click repay pays back, against one-click-repay-currency-list-v2
SPOT_DEBT_SCOPE = Scope(
    id="okx.spot_debt",
    feeds=(ONE_CLICK_REPAY.id,),
    books=(Book.DEBT,),
    residuals={Book.DEBT: Residual(
        "spot-mode borrowing no feed records",
        "the SPOT-mode borrowing (auto or manual borrow, and its interest) that one-click repay pays "
        "back is recorded in no feed loanledger reads; one-click repays older than the venue's 7 days "
        "count here too",
        sign=1,
    )},
    description="SPOT-mode debt (GET /api/v5/trade/one-click-repay-currency-list-v2 debtAmt)",
)

SCOPES: Mapping[str, Scope] = {s.id: s for s in (FLEXIBLE_LOAN_SCOPE, SPOT_DEBT_SCOPE)}


def positions_of(account: str, loans: list[FlexibleLoanInfo], spot: list[OneClickRepayCurrencies],
                 ts: int) -> list[Position]:
    """The `Position`s of a loan-info and a currency-list answer (sans-IO): one per order and
    currency (reconcile adds an account's orders up per currency)."""
    out: list[Position] = []
    flexible, spot_scope = FLEXIBLE_LOAN_SCOPE.id, SPOT_DEBT_SCOPE.id
    for order in loans:
        out += [Position(venue=VENUE, account=account, scope=flexible, currency=d.ccy.upper(), debt=d.amt,
                         collateral=_ZERO, ts=ts) for d in order.loanData]
        out += [Position(venue=VENUE, account=account, scope=flexible, currency=c.ccy.upper(), debt=_ZERO,
                         collateral=c.amt, ts=ts) for c in order.collateralData]
    for row in spot:
        out += [Position(venue=VENUE, account=account, scope=spot_scope, currency=d.debtCcy.upper(),
                         debt=d.debtAmt, ts=ts) for d in row.debtData]
    return out


# --- client -------------------------------------------------------------------------------------


class OKX(VenueClient):
    """OKX client. ``async with OKX(key, secret, passphrase) as okx: ...``

    `base_url` defaults to https://www.okx.com; see `HOSTS` for openapi / us / eea.
    `demo=True` adds ``x-simulated-trading: 1`` (demo keys only). Every feed method
    takes the feed's filters and the options of `VenueClient.events` (``since``,
    ``until``, ``resume``, ``strict``, ``keep_raw``, ``max_pages``).
    """

    venue = VENUE
    default_base_url = HOSTS["www"]
    feed_specs = {spec.id: spec for spec in FEEDS}
    scopes = SCOPES

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
        sender: Sender | None = None,
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
            sender=sender,
            timeout=timeout,
            limits=limits,
            retry=retry,
        )

    def __repr__(self) -> str:
        return f"OKX(account={self.account!r}, base_url={self.base_url!r}, demo={self.demo})"

    # --- feeds: one thin method per feed block --------------------------------------------------

    def flexible_loan_history(
        self, *, type: str | None = None, order_id: str | None = None, **options: Unpack[FeedOptions]
    ) -> Feed:
        """Flexible-loan history (``okx.flexible_loan_history``), newest first.

        `type` is one of the venue's 12 action types (see `LOAN_HISTORY_TYPES`);
        `order_id` restricts to one loan order (``ordId``). Paged by refId
        (``after``, exclusive); `since`/`until` filter by the record's ts.
        """
        return self.events(LOAN_HISTORY.id, type=type, order_id=order_id, **options)

    def one_click_repay_history(self, **options: Unpack[FeedOptions]) -> Feed:
        """One-click repay history v2 (``okx.one_click_repay_history``, SPOT mode, past 7 days).

        Each record yields a `repay` event directly followed by its `convert`
        legs (``parent_id`` = the repay's id). A record still ``running`` is
        `pending`; resuming from a checkpoint fetches it again until it settles.
        """
        return self.events(ONE_CLICK_REPAY.id, **options)

    def convert_history(self, **options: Unpack[FeedOptions]) -> Feed:
        """Convert trades (``okx.convert_history``): currency = received, counter = paid."""
        return self.events(CONVERT.id, **options)

    def flexible_loan_interest(self, *, currency: str | None = None, **options: Unpack[FeedOptions]) -> Feed:
        """Flexible-loan interest accrued (``okx.flexible_loan_interest``, past 30 days)."""
        return self.events(INTEREST.id, currency=currency, **options)

    # --- positions ------------------------------------------------------------------------------

    async def flexible_loan_info(self, *, order_id: str | None = None) -> list[FlexibleLoanInfo]:
        """The open flexible-loan orders now (GET /api/v5/finance/flexible-loan/loan-info): per
        order, the debt per `loanData` currency and the collateral per `collateralData` currency.
        `order_id` asks for one order (``ordId``)."""
        params: tuple[tuple[str, str], ...] = ()
        if order_id is not None:
            params = (("ordId", digits("an OKX order id")("order_id", order_id)),)
        return await self.transport.request(Request("GET", LOAN_INFO_PATH, LOAN_INFO_LIMIT, params=params),
                                            decode_loan_info)

    async def one_click_repay_currencies(self) -> list[OneClickRepayCurrencies]:
        """The SPOT-mode debt one-click repay can pay, and what can pay it, now
        (GET /api/v5/trade/one-click-repay-currency-list-v2; `debtAmt` includes interest)."""
        return await self.transport.request(Request("GET", REPAY_CURRENCIES_PATH, REPAY_CURRENCIES_LIMIT),
                                            decode_one_click_repay_currencies)

    async def positions(self) -> list[Position]:
        """The flexible loan's debt and collateral (scope ``okx.flexible_loan``) and the SPOT-mode
        debt (scope ``okx.spot_debt``), as the venue reports them now."""
        loans = await self.flexible_loan_info()
        spot = await self.one_click_repay_currencies()
        return positions_of(self.account, loans, spot, self.transport.clock.now_ms())
