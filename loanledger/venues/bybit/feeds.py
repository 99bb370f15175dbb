"""Bybit v5 crypto-loan history feeds: one block per endpoint (wire Struct, normalizer, declaration).

The type -> (kind, sign) tables and the id rules are documented in docs/venues/bybit.md.
Sources: the Bybit v5 API docs, https://bybit-exchange.github.io/docs/v5/new-crypto-loan/...,
.../crypto-loan/... and .../otc/... (each block names its page).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from ..._money import MAX_ADJUSTED, exact_sum, signed
from ...events import EventKind, EventStatus, LoanEvent
from ...feeds import BadRecord, Filter, choice, currency, feed, venue_id
from ...paginate import DecodeContext, OpaqueCursor, TimeWindows
from ._dialect import (
    DAY_MS,
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
    _money,
    _sid,
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
    "TERMS",
    "UNKNOWN_REPAY",
    "fixed_leg_ids",
]

# --- normalization tables (docs/venues/bybit.md lists every row; tests cover each) ------------------

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


_CURSOR = OpaqueCursor(limit=PAGE_LIMIT)
#: INS windows: no documented maximum; 30 days, split when full; lower bound: the 2 years the
#: venue keeps, counted back from the venue's clock when each walk starts
_INS_WINDOWS = TimeWindows(span_ms=INS_WINDOW_MS, size=PAGE_LIMIT, size_param="limit")
#: fixed-term loan terms in days
TERMS = ("7", "14", "30", "60", "90", "180")


# --- feed: flexible borrow history -----------------------------------------------------------------
# GET /v5/crypto-loan-flexible/borrow-history ("Get Borrowing History"): cursor pages, limit 1-100; 5 req/s per UID.


class FlexBorrowRow(msgspec.Struct, gc=False):
    borrowTime: int
    initialLoanAmount: Decimal
    loanCurrency: str
    orderId: Id
    status: int | str


def norm_flex_borrow(rows: list[FlexBorrowRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        oid = str(r.orderId)
        if not oid:
            raise BadRecord("empty id")
        amount = r.initialLoanAmount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise BadRecord(f"initialLoanAmount is not finite or of sane magnitude: {amount}")
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=oid, kind=_BORROW,
            status=_NEW_STATUS.get(r.status, _PENDING), ts=r.borrowTime,
            currency=ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency), amount=amount.copy_abs(),
            ref_id=oid, venue_type="", raw=raw,
        ))


FLEX_BORROW = feed(
    "bybit.flexible_borrow_history", LIST, path="/v5/crypto-loan-flexible/borrow-history", limit=HISTORY_LIMIT,
    cursor=_CURSOR, row=FlexBorrowRow, ts="borrowTime", normalize=norm_flex_borrow,
    filters={"order_id": Filter("orderId", venue_id), "currency": Filter("loanCurrency", currency)},
    kinds=[K.BORROW], description="new crypto loan, flexible: borrow orders",
)


# --- feed: flexible repayment history --------------------------------------------------------------
# GET /v5/crypto-loan-flexible/repayment-history ("Get Repayment History"): cursor pages; 5 req/s per UID.


class FlexRepayRow(msgspec.Struct, gc=False):
    loanCurrency: str
    repayAmount: Decimal
    repayId: Id
    repayStatus: int | str
    repayTime: int
    repayType: int | str


def norm_flex_repay(rows: list[FlexRepayRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        kind, negative, vt = _FLEX_REPAY.get(r.repayType) or _type_of(_FLEX_REPAY, FLEX_REPAY_TYPES, r.repayType)
        rid = str(r.repayId)
        if not rid:
            raise BadRecord("empty id")
        amount = r.repayAmount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise BadRecord(f"repayAmount is not finite or of sane magnitude: {amount}")
        mag = amount.copy_abs()
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=rid, kind=kind,
            status=_NEW_STATUS.get(r.repayStatus, _PENDING), ts=r.repayTime,
            currency=ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency),
            amount=mag.copy_negate() if negative else mag, venue_type=vt, raw=raw,
        ))


FLEX_REPAY = feed(
    "bybit.flexible_repayment_history", LIST, path="/v5/crypto-loan-flexible/repayment-history",
    limit=HISTORY_LIMIT, cursor=_CURSOR, row=FlexRepayRow, ts="repayTime", normalize=norm_flex_repay,
    filters={"repay_id": Filter("repayId", venue_id), "currency": Filter("loanCurrency", currency)},
    kinds=[K.REPAY, K.LIQUIDATION], description="new crypto loan, flexible: repayments",
)


# --- feed: fixed-term borrow contracts -------------------------------------------------------------
# GET /v5/crypto-loan-fixed/borrow-contract-info ("Get Borrow Contract Info"): one row per loanId; 5 req/s per UID.


class FixedContractRow(msgspec.Struct, gc=False):
    borrowCurrency: str
    borrowTime: int
    loanId: Id
    orderId: Id
    residualPrincipal: Decimal
    status: int | str
    residualPenaltyInterest: Decimal | None = None


def norm_fixed_contract(rows: list[FixedContractRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        lid = str(r.loanId)
        oid = str(r.orderId)
        if not lid or not oid:
            raise BadRecord("empty id")
        amount = r.residualPrincipal
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise BadRecord(f"residualPrincipal is not finite or of sane magnitude: {amount}")
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=lid, kind=_BORROW, status=BORROW_DONE, ts=r.borrowTime,
            currency=ccys.get(r.borrowCurrency) or _cur(ccys, r.borrowCurrency), amount=amount.copy_abs(),
            ref_id=oid, venue_type=str(r.status), raw=raw,
        ))


FIXED_CONTRACTS = feed(
    "bybit.fixed_borrow_contracts", LIST, path="/v5/crypto-loan-fixed/borrow-contract-info", limit=HISTORY_LIMIT,
    cursor=_CURSOR, row=FixedContractRow, ts="borrowTime", normalize=norm_fixed_contract,
    filters={"order_id": Filter("orderId", venue_id), "loan_id": Filter("loanId", venue_id),
             "currency": Filter("orderCurrency", currency), "term": Filter("term", choice(TERMS))},
    kinds=[K.BORROW], description="new crypto loan, fixed term: loan contracts (one per loanId)",
    final=_contract_final,
)


# --- feed: fixed-term repayment history ------------------------------------------------------------
# GET /v5/crypto-loan-fixed/repayment-history: one repayment can span several contracts (details[]); 5 req/s.


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


FIXED_REPAY = feed(
    "bybit.fixed_repayment_history", LIST, path="/v5/crypto-loan-fixed/repayment-history", limit=HISTORY_LIMIT,
    cursor=_CURSOR, row=FixedRepayRow, ts="repayTime", normalize=norm_fixed_repay,
    filters={"repay_id": Filter("repayId", venue_id), "currency": Filter("loanCurrency", currency)},
    kinds=[K.REPAY, K.LIQUIDATION], description="new crypto loan, fixed term: repayments, one event per loan contract leg",
)


# --- feed: collateral adjustment history -----------------------------------------------------------
# GET /v5/crypto-loan-common/adjustment-history ("Get Collateral Adjustment History"); 5 req/s per UID.


class AdjustRow(msgspec.Struct, gc=False):
    adjustId: Id
    adjustTime: int
    amount: Decimal
    collateralCurrency: str
    direction: int | str
    status: int | str = 1


def norm_adjust(rows: list[AdjustRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        entry = _ADJUST.get(r.direction)
        if entry is None:
            raise BadRecord(f"unknown collateral direction {str(r.direction)!r}")
        kind, negative, vt = entry
        aid = str(r.adjustId)
        if not aid:
            raise BadRecord("empty id")
        amount = r.amount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise BadRecord(f"amount is not finite or of sane magnitude: {amount}")
        mag = amount.copy_abs()
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=aid, kind=kind, status=_NEW_STATUS.get(r.status, _PENDING),
            ts=r.adjustTime, currency=ccys.get(r.collateralCurrency) or _cur(ccys, r.collateralCurrency),
            amount=mag.copy_negate() if negative else mag, venue_type=vt, raw=raw,
        ))


ADJUSTMENTS = feed(
    "bybit.collateral_adjustment_history", LIST, path="/v5/crypto-loan-common/adjustment-history",
    limit=HISTORY_LIMIT, cursor=_CURSOR, row=AdjustRow, ts="adjustTime", normalize=norm_adjust,
    filters={"adjust_id": Filter("adjustId", venue_id), "currency": Filter("collateralCurrency", currency)},
    kinds=[K.COLLATERAL_ADD, K.COLLATERAL_REMOVE], description="new crypto loan: collateral adjustments",
)


# --- feed: legacy borrow history -------------------------------------------------------------------
# GET /v5/crypto-loan/borrow-history ("Get Completed Loan History"): fully repaid loans, last 6 months.


class LegacyBorrowRow(msgspec.Struct, gc=False):
    borrowTime: int
    initialLoanAmount: Decimal
    loanCurrency: str
    orderId: Id
    status: int | str


def norm_legacy_borrow(rows: list[LegacyBorrowRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        oid = str(r.orderId)
        if not oid:
            raise BadRecord("empty id")
        amount = r.initialLoanAmount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise BadRecord(f"initialLoanAmount is not finite or of sane magnitude: {amount}")
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=oid, kind=_BORROW, status=BORROW_DONE, ts=r.borrowTime,
            currency=ccys.get(r.loanCurrency) or _cur(ccys, r.loanCurrency), amount=amount.copy_abs(),
            venue_type=str(r.status), ref_id=oid, raw=raw,
        ))


LEGACY_BORROW = feed(
    "bybit.legacy_borrow_history", LIST, path="/v5/crypto-loan/borrow-history", limit=LEGACY_LIMIT,
    cursor=_CURSOR, row=LegacyBorrowRow, ts="borrowTime", normalize=norm_legacy_borrow,
    filters={"order_id": Filter("orderId", venue_id), "currency": Filter("loanCurrency", currency),
             "collateral_currency": Filter("collateralCurrency", currency)},
    retention_ms=LEGACY_RETENTION_MS,
    kinds=[K.BORROW], description="legacy crypto loan: completed (fully repaid) loans, last 6 months",
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
    suffix, ckind, csign = LEGACY_COLLATERAL_RETURN
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        rid = str(r.repayId)
        oid = str(r.orderId)
        if not rid or not oid:
            raise BadRecord("empty id")
        kind, negative, vt = _LEGACY_REPAY.get(r.repayType) or _type_of(_LEGACY_REPAY, LEGACY_REPAY_TYPES, r.repayType)
        status = _LEGACY_STATUS.get(r.repayStatus, _PENDING)
        amount = r.repayAmount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise BadRecord(f"repayAmount is not finite or of sane magnitude: {amount}")
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


LEGACY_REPAY = feed(
    "bybit.legacy_repayment_history", LIST, path="/v5/crypto-loan/repayment-history", limit=LEGACY_LIMIT,
    cursor=_CURSOR, row=LegacyRepayRow, ts="repayTime", normalize=norm_legacy_repay,
    filters={"order_id": Filter("orderId", venue_id), "repay_id": Filter("repayId", venue_id),
             "currency": Filter("loanCurrency", currency)},
    retention_ms=LEGACY_RETENTION_MS, kinds=[K.REPAY, K.LIQUIDATION, K.COLLATERAL_REMOVE],
    description="legacy crypto loan: repayments (+ collateral returned by a final repayment), last 6 months",
)


# --- feed: institutional loan orders ---------------------------------------------------------------
# GET /v5/ins-loan/loan-order ("Get Loan Orders"): no cursor, startTime/endTime windows; 20 req/s per UID.


class InsLoanRow(msgspec.Struct, gc=False):
    orderId: Id
    loanTime: int
    loanCoin: str
    loanAmount: Decimal
    status: int | str = "1"


def norm_ins_loan(rows: list[InsLoanRow], raws: Raws, ctx: DecodeContext, out: list[LoanEvent]) -> None:
    account, feed, ccys, append = ctx.account, ctx.feed, dict[str, str](), out.append
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        oid = str(r.orderId)
        if not oid:
            raise BadRecord("empty id")
        amount = r.loanAmount
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise BadRecord(f"loanAmount is not finite or of sane magnitude: {amount}")
        append(LoanEvent(
            venue=VENUE, account=account, feed=feed, id=oid, kind=_BORROW, status=BORROW_DONE, ts=r.loanTime,
            currency=ccys.get(r.loanCoin) or _cur(ccys, r.loanCoin), amount=amount.copy_abs(),
            venue_type=str(r.status), ref_id=oid, raw=raw,
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
    suffix, ikind, isign = INS_INTEREST
    for r, raw in zip(rows, _NO_RAW if raws is None else raws):
        rid = str(r.repayOrderId)
        if not rid:
            raise BadRecord("empty id")
        kind, negative, vt = _INS_REPAY.get(r.businessType) or _type_of(_INS_REPAY, INS_REPAY_TYPES, r.businessType)
        status = _INS_STATUS.get(r.status, _PENDING)
        ccy = ccys.get(r.token) or _cur(ccys, r.token)
        amount = r.quantity
        if not (amount.is_finite() and -MAX_ADJUSTED <= amount.adjusted() <= MAX_ADJUSTED):
            raise BadRecord(f"quantity is not finite or of sane magnitude: {amount}")
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


INS_REPAYMENTS = feed(
    "bybit.institutional_repayment_history", INS_REPAID, path="/v5/ins-loan/repaid-history",
    limit=INS_HISTORY_LIMIT, cursor=_INS_WINDOWS, row=InsRepaidRow, ts="repaidTime", normalize=norm_ins_repaid,
    retention_ms=INS_RETENTION_MS, lookback_ms=INS_RETENTION_MS,
    kinds=[K.REPAY, K.LIQUIDATION, K.INTEREST],
    description="institutional (INS/OTC) loan repayments, up to 2 years, time windows",
)


FEEDS = (FLEX_BORROW, FLEX_REPAY, FIXED_CONTRACTS, FIXED_REPAY, ADJUSTMENTS, LEGACY_BORROW, LEGACY_REPAY,
         INS_LOAN_ORDERS, INS_REPAYMENTS)
