"""Bybit v5 crypto-loan history feeds: one block per endpoint (wire Struct, normalizer, declaration).

Every record becomes events in three books (`amount` the free wallet, `debt`, `collateral`,
in the event's currency). The tables below and docs/venues/bybit.md give every type's
books, their evidence and what stays UNVERIFIED; the id rules are in the same page.
Sources: the Bybit v5 API docs, https://bybit-exchange.github.io/docs/v5/new-crypto-loan/...,
.../crypto-loan/... and .../otc/... (each block names its page).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from decimal import Decimal

import msgspec

from ..._money import MAX_ADJUSTED, exact_sum
from ...events import EventKind, EventStatus, LoanEvent
from ...feeds import BadRecord, Filter, choice, currency, feed, venue_id
from ...paginate import DecodeContext, OpaqueCursor, TimeWindows
from ._dialect import (
    HISTORY_LIMIT,
    INS_HISTORY_LIMIT,
    INS_LOANS,
    INS_REPAID,
    INS_RETENTION_MS,
    INS_WINDOW_MS,
    LEGACY_LIMIT,
    LEGACY_RETENTION_MS,
    LIST,
    PAGE_LIMIT,
    VENUE,
    Id,
    _ccy,
)

__all__ = [
    "ADJUST_DIRECTIONS",
    "FEEDS",
    "FIXED_CONTRACT_FINAL",
    "FIXED_REPAY_TYPES",
    "FLEX_REPAY_TYPES",
    "INS_LOAN_FINAL",
    "INS_REPAY_STATUS",
    "INS_REPAY_TYPES",
    "LEGACY_REPAY_STATUS",
    "LEGACY_REPAY_TYPES",
    "NEW_STATUS",
    "ORDER_STATES",
    "TERMS",
    "TO_FLEXIBLE",
    "UNKNOWN_REPAY",
    "Books",
    "fixed_leg_ids",
]

# --- normalization tables (docs/venues/bybit.md lists every row; tests cover each) ------------------

K = EventKind
#: a venue code's kind and the sign (-1, 0 or +1) of each of its books: (kind, wallet, debt, collateral)
Books = tuple[EventKind, int, int, int]

#: new crypto loan status / repayStatus / adjustment status: 1 success, 2 processing, 3 fail
NEW_STATUS: Mapping[str, EventStatus] = {"1": EventStatus.DONE, "2": EventStatus.PENDING, "3": EventStatus.FAILED}
#: legacy repayStatus: 1 success, 2 processing
LEGACY_REPAY_STATUS: Mapping[str, EventStatus] = {"1": EventStatus.DONE, "2": EventStatus.PENDING}
#: fixed borrow order `state`: 1 matching (pending: filledQty still grows), 2 partially filled and
#: cancelled, 3 fully filled, 4 cancelled, 5 fail. 4 and 5 are `failed` when nothing was filled.
ORDER_STATES: Mapping[str, EventStatus] = {
    "1": EventStatus.PENDING, "2": EventStatus.DONE, "3": EventStatus.DONE, "4": EventStatus.DONE,
    "5": EventStatus.DONE,
}
#: legacy completed loans (1 repaid manually, 2 repaid by liquidation), fixed contracts' prepaid
#: interest (1 unrepaid, 2 fully repaid, 3 overdue) and INS loans (1 outstanding, 2 paid off):
#: the borrow (the interest payment) happened in every case
BORROW_DONE = EventStatus.DONE
#: ins-loan repaid-history status: 1 success, 2 fail
INS_REPAY_STATUS: Mapping[str, EventStatus] = {"1": EventStatus.DONE, "2": EventStatus.FAILED}
#: the contract / loan statuses after which the venue no longer changes the record: fixed contracts
#: 2 fully repaid (1 unrepaid and 3 overdue still change: residualPrincipal, status), INS loans
#: 2 paid off (1 outstanding). The event keeps the status in `venue_type`; an unknown status is not
#: final (read again until it is)
FIXED_CONTRACT_FINAL = frozenset({"2"})
INS_LOAN_FINAL = frozenset({"2"})


def _contract_final(ev: LoanEvent) -> bool:
    return ev.venue_type in FIXED_CONTRACT_FINAL


def _ins_loan_final(ev: LoanEvent) -> bool:
    return ev.venue_type in INS_LOAN_FINAL

# Repayments paid from the Funding wallet are -x / -x / 0; repayments funded by pledged collateral
# (liquidation 2 / 6, repay with collateral 7, delisting 5: U10) clear the debt without touching the
# wallet, 0 / -x / 0: the collateral they consume is in no feed (the scope's collateral residual).
#: flexible repayType -> books
FLEX_REPAY_TYPES: Mapping[str, Books] = {
    "1": (K.REPAY, -1, -1, 0),  # by user: from the Funding wallet, interest first
    "2": (K.LIQUIDATION, 0, -1, 0),  # by liquidation
    "5": (K.REPAY, 0, -1, 0),  # by delisting (UNVERIFIED U10: collateral converted)
    "6": (K.LIQUIDATION, 0, -1, 0),  # by delay liquidation
    "7": (K.REPAY, 0, -1, 0),  # by currency: repaid with collateral
}
#: fixed repayType -> books of the fixed contract's leg (principal: the interest was prepaid)
FIXED_REPAY_TYPES: Mapping[str, Books] = {
    "1": (K.REPAY, -1, -1, 0),  # by user
    "2": (K.LIQUIDATION, 0, -1, 0),  # by liquidation
    "3": (K.REPAY, -1, -1, 0),  # auto repay from the Funding wallet
    "4": (K.REPAY, -1, -1, 0),  # overdue repay (UNVERIFIED U11: from the Funding wallet)
    "5": (K.REPAY, 0, -1, 0),  # by delisting (UNVERIFIED U10)
    "6": (K.LIQUIDATION, 0, -1, 0),  # by delay liquidation
    "7": (K.REPAY, 0, -1, 0),  # by currency: repaid with collateral
    "8": (K.REPAY, 0, -1, 0),  # transfer to flexible loan: + the flexible leg below
}
#: fixed repayType 8 moves the debt to a flexible loan: each leg gets a linked flexible leg
#: 0 / +x / 0 (id ``<leg id>:flexible``, parent = the leg): UNVERIFIED U13
TO_FLEXIBLE = "8"
#: legacy repayType -> books
LEGACY_REPAY_TYPES: Mapping[str, Books] = {
    "1": (K.REPAY, -1, -1, 0),  # by user: from the Funding wallet, interest first
    "2": (K.LIQUIDATION, 0, -1, 0),  # by liquidation: collateral sold
}
#: ins-loan businessType -> books (INS loans pledge nothing: the risk unit's assets are margin,
#: a liquidation sells them into the wallet, which then repays)
INS_REPAY_TYPES: Mapping[str, Books] = {
    "1": (K.REPAY, -1, -1, 0),  # normal
    "2": (K.LIQUIDATION, -1, -1, 0),  # by liquidation
}
#: an unknown repay type is still a repayment of debt from the wallet (the venue added 7 and 8 in 2025)
UNKNOWN_REPAY: Books = (K.REPAY, -1, -1, 0)
#: collateral adjustment direction -> books: 0 add (leaves the wallet), 1 reduce (returns)
ADJUST_DIRECTIONS: Mapping[str, Books] = {
    "0": (K.COLLATERAL_ADD, -1, 0, +1),
    "1": (K.COLLATERAL_REMOVE, +1, 0, -1),
}


# --- normalizers: one page of wire rows -> its events ---------------------------------------------------
#
# The hot path: one loop per page with the checks inlined, tables resolved once to
# (kind, wallet, debt, collateral, venue_type) for both the int and the str spelling of a
# code, currency codes validated once per distinct value per page, `raw` paired only when asked.
# Per record, a Python call or a `dict.get` costs ~50-100 ns, so the loops (issue 16):
# - bind globals (LoanEvent, VENUE, ZERO, the tables, the magnitude bounds) to locals first;
# - look codes up by subscript in `try` (free in 3.11 unless it raises): an unknown code is the
#   rare `except KeyError` path, with the same outcome as before (pending, a wallet repayment);
# - keep a book as an index into ``(0, +x, -x)`` (0, 1, 2: a non-negative index takes the tuple's
#   fast path), and copy an amount once: ``-x`` from ``+x`` or ``+x`` from ``-x`` by `is_signed`
#   (what `copy_abs` then `copy_negate` gave, without the second copy).

Raws = list[msgspec.Raw] | None
_NO_RAW = itertools.repeat(None)
TypeEntry = tuple[EventKind, int, int, int, str]
ZERO = Decimal(0)
#: the magnitude bounds of `_money.plausible`, as constants to bind to locals (`-MAX_ADJUSTED` is an operation)
_LOW, _HIGH = -MAX_ADJUSTED, MAX_ADJUSTED


def _type_table(table: Mapping[str, Books]) -> dict[int | str, TypeEntry]:
    """code -> (kind, wallet, debt, collateral, venue_type) under both spellings ("1" and 1), each
    book the index of its sign in ``(0, +x, -x)``: 0, 1 or 2 (-1 % 3)."""
    out: dict[int | str, TypeEntry] = {}
    for code, (kind, w, d, c) in table.items():
        out[code] = out[int(code)] = (kind, w % 3, d % 3, c % 3, code)
    return out


def _status_table(table: Mapping[str, EventStatus]) -> dict[int | str, EventStatus]:
    """code -> status under both spellings; look-ups default to pending: an undocumented
    status can still change, and pending keeps the record in the next syncs."""
    out: dict[int | str, EventStatus] = {}
    for code, status in table.items():
        out[code] = out[int(code)] = status
    return out


_UNKNOWN_KIND, _UNKNOWN_W, _UNKNOWN_D, _UNKNOWN_C = UNKNOWN_REPAY


def _type_of(fast: dict[int | str, TypeEntry], value: Id) -> TypeEntry:
    """The entry of a code; codes not in the table are repayments from the wallet."""
    entry = fast.get(value)
    if entry is None:
        vt = str(value)
        entry = fast.get(vt) or (_UNKNOWN_KIND, _UNKNOWN_W % 3, _UNKNOWN_D % 3, _UNKNOWN_C % 3, vt)
    return entry


_FLEX_REPAY = _type_table(FLEX_REPAY_TYPES)
_FIXED_REPAY = _type_table(FIXED_REPAY_TYPES)
_LEGACY_REPAY = _type_table(LEGACY_REPAY_TYPES)
_INS_REPAY = _type_table(INS_REPAY_TYPES)
_ADJUST = _type_table(ADJUST_DIRECTIONS)
_NEW_STATUS = _status_table(NEW_STATUS)
_LEGACY_STATUS = _status_table(LEGACY_REPAY_STATUS)
_INS_STATUS = _status_table(INS_REPAY_STATUS)
_ORDER_STATES = _status_table(ORDER_STATES)
#: fixed order state -> (status, venue_type) under both spellings: one look-up, no str() per record
_ORDER_ENTRIES = {code: (status, str(code)) for code, status in _ORDER_STATES.items()}
#: a status code's text for `venue_type` under both spellings (str() of an int allocates per record)
_CODE_TEXT: dict[int | str, str] = {c: str(i) for i in range(10) for c in (i, str(i))}
# enum members as module constants: `EventKind.BORROW` is a metaclass look-up (~90 ns), a global ~20 ns
_PENDING = EventStatus.PENDING
_DONE = EventStatus.DONE
_FAILED = EventStatus.FAILED
_BORROW = EventKind.BORROW
_INTEREST = EventKind.INTEREST
_PLEDGE = EventKind.COLLATERAL_ADD
_RELEASE = EventKind.COLLATERAL_REMOVE


def _cur(cache: dict[str, str], value: str) -> str:
    """A currency code through the page's cache (validated once per distinct value)."""
    code = cache.get(value)
    if code is None:
        code = cache[value] = _ccy(value)
    return code


_CURSOR = OpaqueCursor(limit=PAGE_LIMIT)
#: INS windows: no documented maximum; 30 days, split when full; lower bound: the 2 years the
#: venue keeps, counted back from the venue's clock when each walk starts
_INS_WINDOWS = TimeWindows(span_ms=INS_WINDOW_MS, size=PAGE_LIMIT, size_param="limit")
#: fixed-term loan terms in days
TERMS = ("7", "14", "30", "60", "90", "180")


# --- feed: flexible borrow history -----------------------------------------------------------------
# GET /v5/crypto-loan-flexible/borrow-history ("Get Borrowing History"): cursor pages, limit 1-100; 5 req/s per UID.
# A borrow is +x / +x / 0; the pledge of its `collateralList` is not on this row (UNVERIFIED U9:
# the collateral adjustment history may list it as an add).


class FlexBorrowRow(msgspec.Struct, gc=False):
    borrowTime: int
    initialLoanAmount: Decimal
    loanCurrency: str
    orderId: Id
    status: int | str


def norm_flex_borrow(rows: list[FlexBorrowRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append, statuses = ctx.account, ctx.feed, dict[str, str](), out.append, _NEW_STATUS
    venue, event, borrow, zero, pending, low, high = VENUE, LoanEvent, _BORROW, ZERO, _PENDING, _LOW, _HIGH
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        oid = str(r.orderId)
        if not oid:
            raise BadRecord("empty id")
        amount = r.initialLoanAmount
        if not (amount.is_finite() and low <= amount.adjusted() <= high):
            raise BadRecord(f"initialLoanAmount is not finite or of sane magnitude: {amount}")
        mag = amount.copy_abs() if amount.is_signed() else amount
        try:
            status = statuses[r.status]
        except KeyError:
            status = pending
        # positional, in LoanEvent's field order (see events.FIELDS): venue, account, feed, id, kind,
        # status, ts, currency, amount, debt, collateral, counter_currency, counter_amount, ref_id,
        # parent_id, venue_type, raw
        append(event(
            venue, account, feed, oid, borrow, status, r.borrowTime,
            ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency), mag, mag, zero, None, None, oid, None, "", raw,
        ))


FLEX_BORROW = feed(
    "bybit.flexible_borrow_history", LIST, path="/v5/crypto-loan-flexible/borrow-history", limit=HISTORY_LIMIT,
    cursor=_CURSOR, row=FlexBorrowRow, ts="borrowTime", normalize=norm_flex_borrow,
    filters={"order_id": Filter("orderId", venue_id), "currency": Filter("loanCurrency", currency)},
    kinds=[K.BORROW], description="new crypto loan, flexible: borrow orders",
)


# --- feed: flexible repayment history --------------------------------------------------------------
# GET /v5/crypto-loan-flexible/repayment-history ("Get Repayment History"): cursor pages; 5 req/s per UID.
# `repayAmount` pays interest first, then principal: it reduces the debt (principal and the interest
# that accrued onto it, which no feed records: the scope's "implied accrued interest").


class FlexRepayRow(msgspec.Struct, gc=False):
    loanCurrency: str
    repayAmount: Decimal
    repayId: Id
    repayStatus: int | str
    repayTime: int
    repayType: int | str


def norm_flex_repay(rows: list[FlexRepayRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    statuses, types = _NEW_STATUS, _FLEX_REPAY
    venue, event, zero, pending, low, high = VENUE, LoanEvent, ZERO, _PENDING, _LOW, _HIGH
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        try:
            kind, w, d, c, vt = types[r.repayType]
        except KeyError:
            kind, w, d, c, vt = _type_of(types, r.repayType)
        rid = str(r.repayId)
        if not rid:
            raise BadRecord("empty id")
        value = r.repayAmount
        if not (value.is_finite() and low <= value.adjusted() <= high):
            raise BadRecord(f"repayAmount is not finite or of sane magnitude: {value}")
        # indexed by a table book: 0, +x, -x
        books = (zero, value.copy_negate(), value) if value.is_signed() else (zero, value, value.copy_negate())
        try:
            status = statuses[r.repayStatus]
        except KeyError:
            status = pending
        append(event(
            venue, account, feed, rid, kind, status, r.repayTime,
            ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency), books[w], books[d], books[c],
            None, None, None, None, vt, raw,
        ))


FLEX_REPAY = feed(
    "bybit.flexible_repayment_history", LIST, path="/v5/crypto-loan-flexible/repayment-history",
    limit=HISTORY_LIMIT, cursor=_CURSOR, row=FlexRepayRow, ts="repayTime", normalize=norm_flex_repay,
    filters={"repay_id": Filter("repayId", venue_id), "currency": Filter("loanCurrency", currency)},
    kinds=[K.REPAY, K.LIQUIDATION], description="new crypto loan, flexible: repayments",
)


# --- feed: fixed-term borrow orders ----------------------------------------------------------------
# GET /v5/crypto-loan-fixed/borrow-order-info ("Get Borrow Order Info"): cursor pages; 5 req/s per UID.
# The principal a fixed order borrowed is its `filledQty` (the sum of its contracts'): one BORROW
# +filledQty / +filledQty / 0 per order. Pending while `state` 1 (matching: filledQty still grows).


class FixedOrderRow(msgspec.Struct, gc=False):
    orderId: Id
    orderTime: int
    orderCurrency: str
    filledQty: Decimal
    state: int | str


def norm_fixed_order(rows: list[FixedOrderRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append, states = ctx.account, ctx.feed, dict[str, str](), out.append, _ORDER_ENTRIES
    venue, event, borrow, zero, pending, done, low, high = VENUE, LoanEvent, _BORROW, ZERO, _PENDING, _DONE, _LOW, _HIGH
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        oid = str(r.orderId)
        if not oid:
            raise BadRecord("empty id")
        value = r.filledQty
        if not (value.is_finite() and low <= value.adjusted() <= high):
            raise BadRecord(f"filledQty is not finite or of sane magnitude: {value}")
        mag = value.copy_abs() if value.is_signed() else value
        try:
            status, vt = states[r.state]
        except KeyError:
            status, vt = pending, str(r.state)
        if status is done and not mag and vt in ("4", "5"):
            status = _FAILED  # cancelled or failed with nothing filled: no borrow happened
        append(event(
            venue, account, feed, oid, borrow, status, r.orderTime,
            ccys.get(r.orderCurrency) or _cur(ccys, r.orderCurrency), mag, mag, zero, None, None, oid, None, vt, raw,
        ))


FIXED_ORDERS = feed(
    "bybit.fixed_borrow_orders", LIST, path="/v5/crypto-loan-fixed/borrow-order-info", limit=HISTORY_LIMIT,
    cursor=_CURSOR, row=FixedOrderRow, ts="orderTime", normalize=norm_fixed_order,
    filters={"order_id": Filter("orderId", venue_id), "currency": Filter("orderCurrency", currency),
             "state": Filter("state", choice(("1", "2", "3", "4"))), "term": Filter("term", choice(TERMS))},
    kinds=[K.BORROW], description="new crypto loan, fixed term: borrow orders (the principal: filledQty)",
)


# --- feed: fixed-term borrow contracts -------------------------------------------------------------
# GET /v5/crypto-loan-fixed/borrow-contract-info ("Get Borrow Contract Info"): one row per loanId; 5 req/s.
# The interest of a fixed loan is prepaid at match, from the loan ("the borrowed assets, minus the
# interest, will be credited"): -interestPaid / 0 / 0 at borrowTime. The principal is the order's
# (fixed_borrow_orders). An overdue contract owes penalty interest: 0 / +residualPenaltyInterest / 0
# (UNVERIFIED U12: the penalty, once paid, is assumed to move into `interestPaid`).


class FixedContractRow(msgspec.Struct, gc=False):
    borrowCurrency: str
    borrowTime: int
    interestPaid: Decimal
    loanId: Id
    orderId: Id
    repaymentTime: int
    residualPenaltyInterest: Decimal
    residualPrincipal: Decimal
    status: int | str


#: contract statuses whose penalty event is listed: 3 overdue (owed now), 2 fully repaid (settled: 0)
_PENALTY_STATUS = frozenset({2, 3, "2", "3"})


def norm_fixed_contract(rows: list[FixedContractRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append, penalty_status = ctx.account, ctx.feed, dict[str, str](), out.append, _PENALTY_STATUS
    venue, event, interest, done, zero, low, high = VENUE, LoanEvent, _INTEREST, BORROW_DONE, ZERO, _LOW, _HIGH
    texts = _CODE_TEXT
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        lid = str(r.loanId)
        oid = str(r.orderId)
        if not lid or not oid:
            raise BadRecord("empty id")
        paid, penalty, principal = r.interestPaid, r.residualPenaltyInterest, r.residualPrincipal
        if not (paid.is_finite() and low <= paid.adjusted() <= high):
            raise BadRecord(f"interestPaid is not finite or of sane magnitude: {paid}")
        if not (penalty.is_finite() and low <= penalty.adjusted() <= high):
            raise BadRecord(f"residualPenaltyInterest is not finite or of sane magnitude: {penalty}")
        if not (principal.is_finite() and low <= principal.adjusted() <= high):
            raise BadRecord(f"residualPrincipal is not finite or of sane magnitude: {principal}")
        ccy = ccys.get(r.borrowCurrency) or _cur(ccys, r.borrowCurrency)
        status = r.status
        try:
            vt = texts[status]
        except KeyError:
            vt = str(status)
        append(event(  # -|paid|: a signed amount is that already
            venue, account, feed, lid, interest, done, r.borrowTime, ccy,
            paid if paid.is_signed() else paid.copy_negate(), zero, zero, None, None, oid, None, vt, raw,
        ))
        if status in penalty_status:
            append(event(
                venue, account, feed, f"{lid}:penalty", interest, done, r.repaymentTime, ccy, zero,
                penalty.copy_abs() if penalty.is_signed() else penalty, zero, None, None, oid, lid, vt, raw,
            ))


FIXED_CONTRACTS = feed(
    "bybit.fixed_borrow_contracts", LIST, path="/v5/crypto-loan-fixed/borrow-contract-info", limit=HISTORY_LIMIT,
    cursor=_CURSOR, row=FixedContractRow, ts="borrowTime", normalize=norm_fixed_contract,
    filters={"order_id": Filter("orderId", venue_id), "loan_id": Filter("loanId", venue_id),
             "currency": Filter("orderCurrency", currency), "term": Filter("term", choice(TERMS))},
    kinds=[K.INTEREST],
    description="new crypto loan, fixed term: contracts (prepaid interest, overdue penalty; one per loanId)",
    final=_contract_final,
)


# --- feed: fixed-term repayment history ------------------------------------------------------------
# GET /v5/crypto-loan-fixed/repayment-history: one repayment can span several contracts (details[]); 5 req/s.


class FixedRepayLeg(msgspec.Struct, gc=False):
    loanId: Id
    repayAmount: Decimal
    loanCurrency: str = ""


# gc=False: a row decoded from JSON cannot be part of a reference cycle (its `details` list holds
# legs, which hold scalars); untracked, a page's rows cost the cyclic collector nothing while they live
class FixedRepayRow(msgspec.Struct, gc=False):
    loanCurrency: str
    repayAmount: Decimal
    repayId: Id
    repayStatus: int | str
    repayTime: int
    repayType: int | str
    details: list[FixedRepayLeg] = []


def _leg_order(loan_id: str) -> tuple[int, int, str]:
    """Numeric loanIds by value (without int(): any length), then the others by text."""
    if loan_id.isascii() and loan_id.isdigit():
        digits = loan_id.lstrip("0")
        return (0, len(digits), digits)
    return (1, 0, loan_id)


def fixed_leg_ids(repay_id: str, loan_ids: Iterable[str]) -> list[str]:
    """Event ids of a fixed repayment's legs, in the order of `sorted(loan_ids)` by loanId:
    the first leg carries the repayId itself (so the event `repay_fixed` returned merges
    with it), the others ``repayId:loanId``. A leg of a transfer to a flexible loan
    (repayType 8) has a linked flexible leg ``<leg id>:flexible``."""
    ordered = sorted(set(loan_ids), key=_leg_order)
    return [repay_id if i == 0 else f"{repay_id}:{lid}" for i, lid in enumerate(ordered)]


def norm_fixed_repay(rows: list[FixedRepayRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    statuses, types = _NEW_STATUS, _FIXED_REPAY
    venue, event, zero, pending, low, high, borrow = VENUE, LoanEvent, ZERO, _PENDING, _LOW, _HIGH, _BORROW
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        rid = str(r.repayId)  # positional LoanEvents below: field order as in events.FIELDS
        if not rid:
            raise BadRecord("empty id")
        try:
            kind, w, d, c, vt = types[r.repayType]
        except KeyError:
            kind, w, d, c, vt = _type_of(types, r.repayType)
        try:
            status = statuses[r.repayStatus]
        except KeyError:
            status = pending
        wire_ccy = r.loanCurrency
        ccy = ccys.get(wire_ccy) or _cur(ccys, wire_ccy)
        # loanId -> (currency, its books (0, +x, -x)); without details the repayment is one leg ""
        legs: dict[str, tuple[str, tuple[Decimal, Decimal, Decimal]]] = {}
        details = r.details
        if not details:
            value = r.repayAmount
            if not (value.is_finite() and low <= value.adjusted() <= high):
                raise BadRecord(f"repayAmount is not finite or of sane magnitude: {value}")
            legs[""] = (ccy, (zero, value.copy_negate(), value) if value.is_signed()
                        else (zero, value, value.copy_negate()))
        for leg in details:
            lid = str(leg.loanId)
            if not lid:
                raise BadRecord("empty id")
            value = leg.repayAmount
            if not (value.is_finite() and low <= value.adjusted() <= high):
                raise BadRecord(f"details.repayAmount is not finite or of sane magnitude: {value}")
            books = (zero, value.copy_negate(), value) if value.is_signed() else (zero, value, value.copy_negate())
            lc = leg.loanCurrency  # mostly the repayment's own: no look-up then
            lccy = ccy if lc == wire_ccy or not lc else ccys.get(lc) or _cur(ccys, lc)
            if lid in legs:  # a repeated loanId is one leg
                total = exact_sum((legs[lid][1][1], books[1]))
                books = (zero, total, total.copy_negate())
            legs[lid] = (lccy, books)
        ordered: Iterable[str] = legs  # one leg: the dict itself
        if len(legs) > 1:
            # the order of _leg_order without a Python call per leg: for digit ids without a leading
            # zero, numeric order is by length, then text (the text sort, then a stable sort by length)
            ordered = lids = sorted(legs)
            joined = "".join(lids)
            if joined.isdigit() and joined.isascii() and lids[0][0] != "0":
                lids.sort(key=len)
            else:
                lids.sort(key=_leg_order)
        ts = r.repayTime
        parent: str | None = None  # the first leg carries the repayId; the others `repayId:loanId`, parent repayId
        for lid in ordered:
            lccy, books = legs[lid]
            eid = rid if parent is None else f"{rid}:{lid}"
            append(event(
                venue, account, feed, eid, kind, status, ts, lccy, books[w], books[d], books[c], None, None,
                lid or None, parent, vt, raw,
            ))
            if vt == TO_FLEXIBLE:  # the debt moves to a flexible loan of the same coin: no wallet flow
                append(event(
                    venue, account, feed, f"{eid}:flexible", borrow, status, ts, lccy, zero, books[1], zero, None,
                    None, lid or None, eid, vt, raw,
                ))
            parent = rid


FIXED_REPAY = feed(
    "bybit.fixed_repayment_history", LIST, path="/v5/crypto-loan-fixed/repayment-history", limit=HISTORY_LIMIT,
    cursor=_CURSOR, row=FixedRepayRow, ts="repayTime", normalize=norm_fixed_repay,
    filters={"repay_id": Filter("repayId", venue_id), "currency": Filter("loanCurrency", currency)},
    kinds=[K.REPAY, K.LIQUIDATION, K.BORROW],
    description="new crypto loan, fixed term: repayments, one event per loan contract leg",
)


# --- feed: collateral adjustment history -----------------------------------------------------------
# GET /v5/crypto-loan-common/adjustment-history ("Get Collateral Adjustment History"); 5 req/s per UID.
# "The adjusted collateral amount will be returned to or deducted from the Funding wallet."


class AdjustRow(msgspec.Struct, gc=False):
    adjustId: Id
    adjustTime: int
    amount: Decimal
    collateralCurrency: str
    direction: int | str
    status: int | str = 1


def norm_adjust(rows: list[AdjustRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    statuses, directions = _NEW_STATUS, _ADJUST
    venue, event, zero, pending, low, high = VENUE, LoanEvent, ZERO, _PENDING, _LOW, _HIGH
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        try:
            kind, w, _, c, vt = directions[r.direction]
        except KeyError:
            raise BadRecord(f"unknown collateral direction {str(r.direction)!r}") from None
        aid = str(r.adjustId)
        if not aid:
            raise BadRecord("empty id")
        value = r.amount
        if not (value.is_finite() and low <= value.adjusted() <= high):
            raise BadRecord(f"amount is not finite or of sane magnitude: {value}")
        # indexed by a table book: 0, +x, -x
        books = (zero, value.copy_negate(), value) if value.is_signed() else (zero, value, value.copy_negate())
        try:
            status = statuses[r.status]
        except KeyError:
            status = pending
        append(event(
            venue, account, feed, aid, kind, status, r.adjustTime,
            ccys.get(r.collateralCurrency) or _cur(ccys, r.collateralCurrency), books[w], zero, books[c],
            None, None, None, None, vt, raw,
        ))


ADJUSTMENTS = feed(
    "bybit.collateral_adjustment_history", LIST, path="/v5/crypto-loan-common/adjustment-history",
    limit=HISTORY_LIMIT, cursor=_CURSOR, row=AdjustRow, ts="adjustTime", normalize=norm_adjust,
    filters={"adjust_id": Filter("adjustId", venue_id), "currency": Filter("collateralCurrency", currency)},
    kinds=[K.COLLATERAL_ADD, K.COLLATERAL_REMOVE], description="new crypto loan: collateral adjustments",
)


# --- feed: legacy borrow history -------------------------------------------------------------------
# GET /v5/crypto-loan/borrow-history ("Get Completed Loan History"): fully repaid loans, last 6 months.
# A completed loan carries its whole life but the repayments: the borrow, the initial pledge
# ("deducted from the Funding wallet"), the interest and penalty interest that accrued onto the
# debt (the repayments paid them: "If interest is due, that is paid off first").


class LegacyBorrowRow(msgspec.Struct, gc=False):
    borrowTime: int
    collateralCurrency: str
    initialCollateralAmount: Decimal
    initialLoanAmount: Decimal
    loanCurrency: str
    orderId: Id
    repaidInterest: Decimal
    repaidPenaltyInterest: Decimal
    status: int | str


def norm_legacy_borrow(rows: list[LegacyBorrowRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    venue, event, interest_kind, done, zero, low, high = VENUE, LoanEvent, _INTEREST, BORROW_DONE, ZERO, _LOW, _HIGH
    borrow, pledge_kind, texts = _BORROW, _PLEDGE, _CODE_TEXT
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        oid = str(r.orderId)
        if not oid:
            raise BadRecord("empty id")
        loan, pledge = r.initialLoanAmount, r.initialCollateralAmount
        interest, penalty = r.repaidInterest, r.repaidPenaltyInterest
        if not (loan.is_finite() and low <= loan.adjusted() <= high):
            raise BadRecord(f"initialLoanAmount is not finite or of sane magnitude: {loan}")
        if not (pledge.is_finite() and low <= pledge.adjusted() <= high):
            raise BadRecord(f"initialCollateralAmount is not finite or of sane magnitude: {pledge}")
        if not (interest.is_finite() and low <= interest.adjusted() <= high):
            raise BadRecord(f"repaidInterest is not finite or of sane magnitude: {interest}")
        if not (penalty.is_finite() and low <= penalty.adjusted() <= high):
            raise BadRecord(f"repaidPenaltyInterest is not finite or of sane magnitude: {penalty}")
        if loan.is_signed():
            loan = loan.copy_abs()
        ccy = ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency)
        ts = r.borrowTime
        try:
            vt = texts[r.status]
        except KeyError:
            vt = str(r.status)
        append(event(venue, account, feed, oid, borrow, done, ts, ccy, loan, loan, zero, None, None, oid, None, vt,
                     raw))
        if pledge:
            # wallet -|pledge|, collateral +|pledge|: one copy either way
            out_, in_ = (pledge, pledge.copy_negate()) if pledge.is_signed() else (pledge.copy_negate(), pledge)
            append(event(
                venue, account, feed, f"{oid}:collateral", pledge_kind, done, ts,
                ccys.get(r.collateralCurrency) or _cur(ccys, r.collateralCurrency), out_, zero, in_, None, None, oid,
                oid, vt, raw,
            ))
        if interest:
            append(event(venue, account, feed, f"{oid}:interest", interest_kind, done, ts, ccy, zero,
                         interest.copy_abs() if interest.is_signed() else interest, zero, None, None, oid, oid, vt,
                         raw))
        if penalty:
            append(event(venue, account, feed, f"{oid}:penalty", interest_kind, done, ts, ccy, zero,
                         penalty.copy_abs() if penalty.is_signed() else penalty, zero, None, None, oid, oid, vt,
                         raw))


LEGACY_BORROW = feed(
    "bybit.legacy_borrow_history", LIST, path="/v5/crypto-loan/borrow-history", limit=LEGACY_LIMIT,
    cursor=_CURSOR, row=LegacyBorrowRow, ts="borrowTime", normalize=norm_legacy_borrow,
    filters={"order_id": Filter("orderId", venue_id), "currency": Filter("loanCurrency", currency),
             "collateral_currency": Filter("collateralCurrency", currency)},
    retention_ms=LEGACY_RETENTION_MS, kinds=[K.BORROW, K.COLLATERAL_ADD, K.INTEREST],
    description="legacy crypto loan: completed (fully repaid) loans with their pledge and interest, last 6 months",
    rewalk=True,  # a loan is listed at its borrow time once it completes: every walk reads the 6 months
)


# --- feed: legacy repayment history ----------------------------------------------------------------
# GET /v5/crypto-loan/repayment-history ("Get Loan Repayment History"): last 6 months, successful only.


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


def norm_legacy_repay(rows: list[LegacyRepayRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    statuses, types = _LEGACY_STATUS, _LEGACY_REPAY
    venue, event, zero, pending, low, high, release = VENUE, LoanEvent, ZERO, _PENDING, _LOW, _HIGH, _RELEASE
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        rid = str(r.repayId)
        oid = str(r.orderId)
        if not rid or not oid:
            raise BadRecord("empty id")
        try:
            kind, w, d, c, vt = types[r.repayType]
        except KeyError:
            kind, w, d, c, vt = _type_of(types, r.repayType)
        try:
            status = statuses[r.repayStatus]
        except KeyError:
            status = pending
        value = r.repayAmount
        if not (value.is_finite() and low <= value.adjusted() <= high):
            raise BadRecord(f"repayAmount is not finite or of sane magnitude: {value}")
        # indexed by a table book: 0, +x, -x
        books = (zero, value.copy_negate(), value) if value.is_signed() else (zero, value, value.copy_negate())
        ts = r.repayTime
        append(event(
            venue, account, feed, rid, kind, status, ts, ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency),
            books[w], books[d], books[c], None, None, oid, None, vt, raw,
        ))
        back = r.collateralReturn
        if back is not None:
            if not (back.is_finite() and low <= back.adjusted() <= high):
                raise BadRecord(f"collateralReturn is not finite or of sane magnitude: {back}")
            if back:
                # wallet +|back|, collateral -|back|: one copy either way
                in_, out_ = (back.copy_negate(), back) if back.is_signed() else (back, back.copy_negate())
                append(event(
                    venue, account, feed, f"{rid}:collateral", release, status, ts,
                    _cur(ccys, r.collateralCurrency), in_, zero, out_, None, None, oid, rid, vt, raw,
                ))


LEGACY_REPAY = feed(
    "bybit.legacy_repayment_history", LIST, path="/v5/crypto-loan/repayment-history", limit=LEGACY_LIMIT,
    cursor=_CURSOR, row=LegacyRepayRow, ts="repayTime", normalize=norm_legacy_repay,
    filters={"order_id": Filter("orderId", venue_id), "repay_id": Filter("repayId", venue_id),
             "currency": Filter("loanCurrency", currency)},
    retention_ms=LEGACY_RETENTION_MS, kinds=[K.REPAY, K.LIQUIDATION, K.COLLATERAL_REMOVE],
    description="legacy crypto loan: repayments (+ collateral returned by a final repayment), last 6 months",
)


# --- feed: legacy collateral adjustment history ----------------------------------------------------
# GET /v5/crypto-loan/adjustment-history ("Get Loan LTV Adjustment History"): last 6 months, "only the
# ltv adjustment transactions launched by the user". No status field: the listed rows happened.


class LegacyAdjustRow(msgspec.Struct, gc=False):
    adjustId: Id
    adjustTime: int
    amount: Decimal
    collateralCurrency: str
    direction: int | str
    orderId: Id


def norm_legacy_adjust(rows: list[LegacyAdjustRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append, directions = ctx.account, ctx.feed, dict[str, str](), out.append, _ADJUST
    venue, event, zero, done, low, high = VENUE, LoanEvent, ZERO, _DONE, _LOW, _HIGH
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        try:
            kind, w, _, c, vt = directions[r.direction]
        except KeyError:
            raise BadRecord(f"unknown collateral direction {str(r.direction)!r}") from None
        aid = str(r.adjustId)
        oid = str(r.orderId)
        if not aid or not oid:
            raise BadRecord("empty id")
        value = r.amount
        if not (value.is_finite() and low <= value.adjusted() <= high):
            raise BadRecord(f"amount is not finite or of sane magnitude: {value}")
        # indexed by a table book: 0, +x, -x
        books = (zero, value.copy_negate(), value) if value.is_signed() else (zero, value, value.copy_negate())
        append(event(
            venue, account, feed, aid, kind, done, r.adjustTime,
            ccys.get(r.collateralCurrency) or _cur(ccys, r.collateralCurrency), books[w], zero, books[c],
            None, None, oid, None, vt, raw,
        ))


LEGACY_ADJUSTMENTS = feed(
    "bybit.legacy_adjustment_history", LIST, path="/v5/crypto-loan/adjustment-history", limit=LEGACY_LIMIT,
    cursor=_CURSOR, row=LegacyAdjustRow, ts="adjustTime", normalize=norm_legacy_adjust,
    filters={"order_id": Filter("orderId", venue_id), "adjust_id": Filter("adjustId", venue_id),
             "currency": Filter("collateralCurrency", currency)},
    retention_ms=LEGACY_RETENTION_MS, kinds=[K.COLLATERAL_ADD, K.COLLATERAL_REMOVE],
    description="legacy crypto loan: collateral added / reduced by the user, last 6 months",
)


# --- feed: institutional loan orders ---------------------------------------------------------------
# GET /v5/ins-loan/loan-order ("Get Loan Orders"): no cursor, startTime/endTime windows; 20 req/s per UID.
# INS loans pledge nothing (the risk unit's UTA assets are margin): collateral is always 0.


class InsLoanRow(msgspec.Struct, gc=False):
    orderId: Id
    loanTime: int
    loanCoin: str
    loanAmount: Decimal
    status: int | str = "1"


def norm_ins_loan(rows: list[InsLoanRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    venue, event, borrow, done, zero, low, high = VENUE, LoanEvent, _BORROW, BORROW_DONE, ZERO, _LOW, _HIGH
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        oid = str(r.orderId)
        if not oid:
            raise BadRecord("empty id")
        value = r.loanAmount
        if not (value.is_finite() and low <= value.adjusted() <= high):
            raise BadRecord(f"loanAmount is not finite or of sane magnitude: {value}")
        mag = value.copy_abs() if value.is_signed() else value
        append(event(
            venue, account, feed, oid, borrow, done, r.loanTime, ccys.get(r.loanCoin) or _cur(ccys, r.loanCoin),
            mag, mag, zero, None, None, oid, None, str(r.status), raw,  # text in the docs: str() returns it
        ))


INS_LOAN_ORDERS = feed(
    "bybit.institutional_loan_orders", INS_LOANS, path="/v5/ins-loan/loan-order", limit=INS_HISTORY_LIMIT,
    cursor=_INS_WINDOWS, row=InsLoanRow, ts="loanTime", normalize=norm_ins_loan,
    filters={"order_id": Filter("orderId", venue_id)},
    retention_ms=INS_RETENTION_MS, lookback_ms=INS_RETENTION_MS,
    kinds=[K.BORROW], description="institutional (INS/OTC) loans, up to 2 years, time windows",
    final=_ins_loan_final,
)


# --- feed: institutional repayment history ---------------------------------------------------------
# GET /v5/ins-loan/repaid-history ("Get Repayment Orders"): default and max the past 2 years; 20 req/s.
# `quantity` is principal ("Repaid principle"); `interest` is charged beside it, to the wallet only
# (the position, ltv-convert, reports principal alone): -interest / 0 / 0 (UNVERIFIED U16).


class InsRepaidRow(msgspec.Struct, gc=False):
    repayOrderId: Id
    repaidTime: int
    token: str
    quantity: Decimal
    interest: Decimal | None = None
    businessType: int | str = "1"
    status: int | str = "1"


def norm_ins_repaid(rows: list[InsRepaidRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    statuses, types = _INS_STATUS, _INS_REPAY
    venue, event, zero, pending, low, high, interest_kind = VENUE, LoanEvent, ZERO, _PENDING, _LOW, _HIGH, _INTEREST
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        rid = str(r.repayOrderId)
        if not rid:
            raise BadRecord("empty id")
        try:
            kind, w, d, c, vt = types[r.businessType]
        except KeyError:
            kind, w, d, c, vt = _type_of(types, r.businessType)
        try:
            status = statuses[r.status]
        except KeyError:
            status = pending
        ccy = ccys.get(r.token) or _cur(ccys, r.token)
        value = r.quantity
        if not (value.is_finite() and low <= value.adjusted() <= high):
            raise BadRecord(f"quantity is not finite or of sane magnitude: {value}")
        # indexed by a table book: 0, +x, -x
        books = (zero, value.copy_negate(), value) if value.is_signed() else (zero, value, value.copy_negate())
        ts = r.repaidTime
        append(event(
            venue, account, feed, rid, kind, status, ts, ccy, books[w], books[d], books[c],
            None, None, None, None, vt, raw,
        ))
        interest = r.interest
        if interest is not None:
            if not (interest.is_finite() and low <= interest.adjusted() <= high):
                raise BadRecord(f"interest is not finite or of sane magnitude: {interest}")
            if interest:
                append(event(  # -|interest|: a signed amount is that already
                    venue, account, feed, f"{rid}:interest", interest_kind, status, ts, ccy,
                    interest if interest.is_signed() else interest.copy_negate(), zero, zero, None, None, None, rid,
                    vt, raw,
                ))


INS_REPAYMENTS = feed(
    "bybit.institutional_repayment_history", INS_REPAID, path="/v5/ins-loan/repaid-history",
    limit=INS_HISTORY_LIMIT, cursor=_INS_WINDOWS, row=InsRepaidRow, ts="repaidTime", normalize=norm_ins_repaid,
    retention_ms=INS_RETENTION_MS, lookback_ms=INS_RETENTION_MS,
    kinds=[K.REPAY, K.LIQUIDATION, K.INTEREST],
    description="institutional (INS/OTC) loan repayments, up to 2 years, time windows",
)


#: every feed (the two added with the three books last, so the older feeds keep their places)
FEEDS = (FLEX_BORROW, FLEX_REPAY, FIXED_CONTRACTS, FIXED_REPAY, ADJUSTMENTS, LEGACY_BORROW, LEGACY_REPAY,
         INS_LOAN_ORDERS, INS_REPAYMENTS, FIXED_ORDERS, LEGACY_ADJUSTMENTS)
