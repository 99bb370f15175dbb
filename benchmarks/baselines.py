"""The decoders loanledger is measured against (benchmarks only; never imported by the package).

For every feed, the same bytes go through:

- `dict_normalizers[feed]`: a hand-written normalizer over the parsed JSON dicts,
  building `Decimal` from each amount string: what a typical SDK does after
  ``json.loads`` (baseline A) or ``orjson.loads`` (baseline B);
- `pydantic_decoders[feed]`: pydantic v2 ``model_validate_json`` into typed models
  (``Decimal`` amounts, int timestamps), then the same normalization (baseline C);
- `ceiling_decoders[feed]`: msgspec into Structs holding the used fields as they are
  on the wire (str / int), no Decimal, no normalization: the limit a normalizing
  decoder can approach.

The baselines produce the very `LoanEvent`s loanledger produces (same ids, kinds,
signs, statuses, counter legs), which benchmarks/decode.py checks page by page, so
every row does the same work. Building a LoanEvent (a msgspec Struct) is cheaper than
the dicts or dataclasses SDKs usually build, which favours the baselines.

They take the venue tables (type -> kind, status maps) from loanledger: the point is
the decoding technique, not the tables. Error handling is what such code usually has
(a KeyError or InvalidOperation on a malformed row); the benchmark feeds valid pages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pydantic

from loanledger._money import EXACT
from loanledger.events import EventKind, EventStatus, LoanEvent
from loanledger.venues.bybit import feeds as by
from loanledger.venues import okx

__all__ = ["ceiling_decoders", "dict_normalizers", "json_loads", "limit_decoders", "orjson_loads", "pydantic_decoders"]

K = EventKind
DONE, PENDING = EventStatus.DONE, EventStatus.PENDING
ZERO = Decimal(0)
Events = list[LoanEvent]


def json_loads(body: bytes) -> Any:
    """stdlib json with exact decimals for JSON numbers (what a careful SDK does)."""
    return json.loads(body, parse_float=Decimal)


def orjson_loads(body: bytes) -> Any:
    """orjson: JSON numbers become floats (it has no parse_float), amounts as strings are exact."""
    return orjson.loads(body)


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _signed(value: Decimal, negative: bool) -> Decimal:
    mag = value.copy_abs()
    return mag.copy_negate() if negative else mag


def _okx_signed(value: Decimal, negative: bool) -> Decimal:
    mag = value.copy_abs()
    return mag.copy_negate() if negative and mag else mag


def _plain(amount: Decimal) -> str:
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- A / B: dicts -----------------------------------------------------------------------------------


def _okx_data(doc: Any) -> list[Any]:
    if doc.get("code") != "0":
        raise ValueError(f"OKX error {doc.get('code')}")
    return doc["data"]  # type: ignore[no-any-return]


_OKX_LINK_FAMILY = ("forced_liquidation", "partial_liquidation")


def _okx_loan_events(rows: list[tuple[str, str, str, Decimal, int]], account: str, feed: str) -> Events:
    """Loan-history rows (refId, type, ccy, amt, ts), newest first, in three books: the user
    actions by table, the liquidation-path legs by episode (what a user must write to get the
    same books and links; docs/venues/okx.md)."""
    out: list[LoanEvent | None] = []
    legs: list[tuple[int, str, str, str, Decimal, int]] = []
    for i, (ref, vtype, ccy, amt, ts) in enumerate(rows):
        mag = amt.copy_abs()
        if vtype in okx.LIQUIDATION_LEGS:
            legs.append((i, ref, vtype, ccy.upper(), mag, ts))
            out.append(None)
            continue
        w, d, c = okx.LOAN_HISTORY_BOOKS[vtype]
        out.append(LoanEvent(venue="okx", account=account, feed=feed, id=ref, kind=okx.LOAN_HISTORY_TYPES[vtype],
                             status=DONE, ts=ts, currency=ccy.upper(), amount=_okx_signed(mag, w < 0) if w else ZERO,
                             debt=_okx_signed(mag, d < 0) if d else ZERO,
                             collateral=_okx_signed(mag, c < 0) if c else ZERO, ref_id=ref, venue_type=vtype))
    legs.sort(key=lambda leg: (len(leg[1]), leg[1]))
    prev: int | None = None
    parent: str | None = None
    debt_side: set[str] = set()
    coll_side: list[str] = []
    carried: dict[str, bool] = {}
    paired = 0
    for i, ref, vtype, ccy, mag, ts in legs:
        if prev is None or abs(ts - prev) > okx.EPISODE_GAP_MS:
            parent, debt_side, coll_side, carried, paired = None, set(), [], {}, 0
        prev = ts
        role = okx.LIQUIDATION_LEGS[vtype].value
        if role == "either":
            role = ("debt" if ccy in debt_side else "collateral" if ccy in coll_side
                    else "debt" if coll_side else "collateral")
        debt = collateral = ZERO
        counter = None
        if role == "collateral":
            collateral = _okx_signed(mag, True)
            coll_side.append(ccy)
        elif role == "debt":
            family = vtype in _OKX_LINK_FAMILY
            if carried.setdefault(ccy, family) == family:
                debt = _okx_signed(mag, True)
                counter = coll_side[paired] if paired < len(coll_side) else None
                paired += 1
            debt_side.add(ccy)
        else:
            collateral = _okx_signed(mag, role == "transition_out")
        out[i] = LoanEvent(venue="okx", account=account, feed=feed, id=ref, kind=okx.LOAN_HISTORY_TYPES[vtype],
                           status=DONE, ts=ts, currency=ccy, amount=ZERO, debt=debt, collateral=collateral,
                           counter_currency=counter, ref_id=ref, parent_id=parent, venue_type=vtype)
        if role == "collateral" and parent is None:
            parent = ref
    return [ev for ev in out if ev is not None]


def _okx_loan(doc: Any, account: str, feed: str) -> Events:
    return _okx_loan_events([(r["refId"], r["type"], r["ccy"], Decimal(r["amt"]), int(r["ts"]))
                             for r in _okx_data(doc)], account, feed)


def _okx_interest(doc: Any, account: str, feed: str) -> Events:
    return [LoanEvent(venue="okx", account=account, feed=feed, id=r["refId"], kind=K.INTEREST, status=DONE,
                      ts=int(r["ts"]), currency=r["ccy"].upper(), amount=ZERO, debt=Decimal(r["interest"]).copy_abs(),
                      ref_id=r["refId"], venue_type="interest_accrued")
            for r in _okx_data(doc)]


def _okx_amount(text: str) -> Decimal:
    return Decimal(text) if text else ZERO


def _okx_leg_event(leg: Any, parent: str, account: str, feed: str) -> LoanEvent | None:
    size = _okx_amount(leg["fillSz"])
    if not size:
        return None
    price = Decimal(leg["fillPx"])
    base, _, quote = leg["instId"].partition("-")
    base_amt = size.copy_abs()
    quote_amt = EXACT.multiply(base_amt, price.copy_abs())
    if leg["side"] == "buy":
        got, got_amt, paid, paid_amt = base, base_amt, quote, quote_amt
    else:
        got, got_amt, paid, paid_amt = quote, quote_amt, base, base_amt
    return LoanEvent(venue="okx", account=account, feed=feed, id=leg["ordId"], kind=K.CONVERT,
                     status=DONE if leg["state"] in ("filled", "canceled") else PENDING, ts=int(leg["cTime"]),
                     currency=got.upper(), amount=got_amt, counter_currency=paid.upper(),
                     counter_amount=_okx_signed(paid_amt, True), ref_id=leg["ordId"], parent_id=parent,
                     venue_type=leg["side"])


def _okx_one_click(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _okx_data(doc):
        status = okx.ONE_CLICK_REPAY_STATUS[r["status"]]
        debt = r["debtCcy"].upper()
        ts = int(r["ts"])
        parent = f"{ts}:{debt}"
        paid = _okx_signed(_okx_amount(r["fillDebtSz"]), True)
        out.append(LoanEvent(venue="okx", account=account, feed=feed, id=parent, kind=K.REPAY, status=status,
                             ts=ts, currency=debt, amount=paid, debt=paid, venue_type="one_click_repay"))
        for leg in r.get("ordIdInfo") or ():
            ev = _okx_leg_event(leg, parent, account, feed)
            if ev is not None:
                out.append(ev)
    return out


def _okx_convert(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _okx_data(doc):
        status = okx.CONVERT_STATE[r["state"]]
        base, quote = r["baseCcy"].upper(), r["quoteCcy"].upper()
        base_amt = _okx_amount(r["fillBaseSz"]).copy_abs()
        quote_amt = _okx_amount(r["fillQuoteSz"]).copy_abs()
        if r["side"] == "buy":
            got, got_amt, paid, paid_amt = base, base_amt, quote, quote_amt
        else:
            got, got_amt, paid, paid_amt = quote, quote_amt, base, base_amt
        out.append(LoanEvent(venue="okx", account=account, feed=feed, id=r["tradeId"], kind=K.CONVERT,
                             status=status, ts=int(r["ts"]), currency=got, amount=got_amt, counter_currency=paid,
                             counter_amount=_okx_signed(paid_amt, True), ref_id=r.get("clTReqId") or None,
                             venue_type=r["side"]))
    return out


def _bn_rows(rows: list[Any], account: str, feed: str, amount_key: str, kind: EventKind, vt: str) -> Events:
    out = []
    seen: dict[str, int] = {}
    for r in rows:
        amount = _dec(r[amount_key])
        asset = r["asset"].upper()
        ts = r.get("repayTime") or r.get("interestAccruedTime") or r.get("interestAccuredTime")
        key = f"{ts}:{asset}:{_plain(amount)}"
        n = seen.get(key, 0)
        seen[key] = n + 1
        paid = _signed(amount, True)  # a repayment reduces the debt too; interest is charged to the wallet only
        out.append(LoanEvent(venue="binance", account=account, feed=feed, id=f"{key}#{n}", kind=kind, status=DONE,
                             ts=int(ts), currency=asset, amount=paid, debt=paid if kind is K.REPAY else ZERO,
                             venue_type=vt))
    return out


def _bn_pmloan(doc: Any, account: str, feed: str) -> Events:
    return _bn_rows(doc["rows"], account, feed, "amount", K.REPAY, "pmloan-history")


def _bn_interest(doc: Any, account: str, feed: str) -> Events:
    return _bn_rows(doc, account, feed, "interest", K.INTEREST, "interest-history")


def _by_rows(doc: Any, name: str = "list") -> list[Any]:
    if doc.get("retCode") != 0:
        raise ValueError(f"Bybit error {doc.get('retCode')}")
    return doc["result"][name]  # type: ignore[no-any-return]


def _by_ev(account: str, feed: str, **kw: Any) -> LoanEvent:
    return LoanEvent(venue="bybit", account=account, feed=feed, **kw)


def _by_status(table: Any, value: Any) -> EventStatus:
    return table.get(str(value), PENDING)  # type: ignore[no-any-return]


def _by_books(entry: Any, mag: Decimal) -> dict[str, Decimal]:
    """A table entry (kind, wallet, debt, collateral signs) applied to a magnitude."""
    _, w, d, c = entry
    return {name: mag if sign > 0 else mag.copy_negate() if sign < 0 else ZERO
            for name, sign in (("amount", w), ("debt", d), ("collateral", c))}


def _by_flex_borrow(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc):
        mag = _dec(r["initialLoanAmount"]).copy_abs()
        out.append(_by_ev(account, feed, id=str(r["orderId"]), kind=K.BORROW,
                          status=_by_status(by.NEW_STATUS, r["status"]), ts=int(r["borrowTime"]),
                          currency=r["loanCurrency"].strip().upper(), amount=mag, debt=mag, venue_type="",
                          ref_id=str(r["orderId"])))
    return out


def _by_flex_repay(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc):
        vt = str(r["repayType"])
        entry = by.FLEX_REPAY_TYPES.get(vt, by.UNKNOWN_REPAY)
        out.append(_by_ev(account, feed, id=str(r["repayId"]), kind=entry[0],
                          status=_by_status(by.NEW_STATUS, r["repayStatus"]), ts=int(r["repayTime"]),
                          currency=r["loanCurrency"].strip().upper(), venue_type=vt,
                          **_by_books(entry, _dec(r["repayAmount"]).copy_abs())))
    return out


def _order_status(state: str, mag: Decimal) -> EventStatus:
    status = by.ORDER_STATES.get(state, PENDING)
    return EventStatus.FAILED if status is DONE and not mag and state in ("4", "5") else status


def _by_fixed_order(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc):
        mag, vt, oid = _dec(r["filledQty"]).copy_abs(), str(r["state"]), str(r["orderId"])
        out.append(_by_ev(account, feed, id=oid, kind=K.BORROW, status=_order_status(vt, mag), ts=int(r["orderTime"]),
                          currency=r["orderCurrency"].strip().upper(), amount=mag, debt=mag, ref_id=oid,
                          venue_type=vt))
    return out


def _contract_events(account: str, feed: str, lid: str, oid: str, vt: str, ts: int, due: int, ccy: str,
                     paid: Decimal, penalty: Decimal) -> Events:
    out = [_by_ev(account, feed, id=lid, kind=K.INTEREST, status=DONE, ts=ts, currency=ccy,
                  amount=paid.copy_abs().copy_negate(), ref_id=oid, venue_type=vt)]
    if vt in ("2", "3"):
        out.append(_by_ev(account, feed, id=f"{lid}:penalty", kind=K.INTEREST, status=DONE, ts=due, currency=ccy,
                          amount=ZERO, debt=penalty.copy_abs(), ref_id=oid, parent_id=lid, venue_type=vt))
    return out


def _by_fixed_contract(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc):
        out += _contract_events(account, feed, str(r["loanId"]), str(r["orderId"]), str(r["status"]),
                                int(r["borrowTime"]), int(r["repaymentTime"]), r["borrowCurrency"].strip().upper(),
                                _dec(r["interestPaid"]), _dec(r["residualPenaltyInterest"]))
    return out


def _leg_order(loan_id: str) -> tuple[int, int, str]:
    return (0, int(loan_id), "") if loan_id.isdigit() else (1, 0, loan_id)


def _fixed_repay_events(account: str, feed: str, rid: str, vt: str, status: EventStatus, ts: int, ccy: str,
                        total: Decimal, legs: list[tuple[str, str, Decimal]]) -> Events:
    entry = by.FIXED_REPAY_TYPES.get(vt, by.UNKNOWN_REPAY)
    merged: dict[str, tuple[str, Decimal]] = {}
    for lid, lccy, amount in legs:
        prev = merged.get(lid)
        merged[lid] = (lccy or ccy, amount if prev is None else EXACT.add(prev[1], amount))
    if not legs:
        merged[""] = (ccy, total)
    out = []
    for i, lid in enumerate(sorted(merged, key=_leg_order)):
        lccy, amount = merged[lid]
        eid = rid if i == 0 else f"{rid}:{lid}"
        mag = amount.copy_abs()
        out.append(_by_ev(account, feed, id=eid, kind=entry[0], status=status, ts=ts, currency=lccy.upper(),
                          venue_type=vt, ref_id=lid or None, parent_id=None if i == 0 else rid,
                          **_by_books(entry, mag)))
        if vt == by.TO_FLEXIBLE:
            out.append(_by_ev(account, feed, id=f"{eid}:flexible", kind=K.BORROW, status=status, ts=ts,
                              currency=lccy.upper(), amount=ZERO, debt=mag, ref_id=lid or None, parent_id=eid,
                              venue_type=vt))
    return out


def _by_fixed_repay(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc):
        legs = [(str(d["loanId"]), d.get("loanCurrency", ""), _dec(d["repayAmount"])) for d in r.get("details") or ()]
        out += _fixed_repay_events(account, feed, str(r["repayId"]), str(r["repayType"]),
                                   _by_status(by.NEW_STATUS, r["repayStatus"]), int(r["repayTime"]),
                                   r["loanCurrency"].strip().upper(), _dec(r["repayAmount"]), legs)
    return out


def _by_adjust(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc):
        vt = str(r["direction"])
        entry = by.ADJUST_DIRECTIONS[vt]
        out.append(_by_ev(account, feed, id=str(r["adjustId"]), kind=entry[0],
                          status=_by_status(by.NEW_STATUS, r.get("status", 1)), ts=int(r["adjustTime"]),
                          currency=r["collateralCurrency"].strip().upper(), venue_type=vt,
                          **_by_books(entry, _dec(r["amount"]).copy_abs())))
    return out


def _legacy_loan_events(account: str, feed: str, oid: str, vt: str, ts: int, ccy: str, cccy: str, loan: Decimal,
                        pledge: Decimal, interest: Decimal, penalty: Decimal) -> Events:
    loan, pledge = loan.copy_abs(), pledge.copy_abs()
    out = [_by_ev(account, feed, id=oid, kind=K.BORROW, status=DONE, ts=ts, currency=ccy, amount=loan, debt=loan,
                  venue_type=vt, ref_id=oid)]
    if pledge:
        out.append(_by_ev(account, feed, id=f"{oid}:collateral", kind=K.COLLATERAL_ADD, status=DONE, ts=ts,
                          currency=cccy, amount=pledge.copy_negate(), collateral=pledge, venue_type=vt, ref_id=oid,
                          parent_id=oid))
    for suffix, value in (("interest", interest), ("penalty", penalty)):
        if value:
            out.append(_by_ev(account, feed, id=f"{oid}:{suffix}", kind=K.INTEREST, status=DONE, ts=ts, currency=ccy,
                              amount=ZERO, debt=value.copy_abs(), venue_type=vt, ref_id=oid, parent_id=oid))
    return out


def _by_legacy_borrow(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc):
        out += _legacy_loan_events(account, feed, str(r["orderId"]), str(r["status"]), int(r["borrowTime"]),
                                   r["loanCurrency"].strip().upper(), r["collateralCurrency"].strip().upper(),
                                   _dec(r["initialLoanAmount"]), _dec(r["initialCollateralAmount"]),
                                   _dec(r["repaidInterest"]), _dec(r["repaidPenaltyInterest"]))
    return out


def _by_legacy_repay(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc):
        rid, oid, vt = str(r["repayId"]), str(r["orderId"]), str(r["repayType"])
        entry = by.LEGACY_REPAY_TYPES.get(vt, by.UNKNOWN_REPAY)
        status = _by_status(by.LEGACY_REPAY_STATUS, r["repayStatus"])
        ts = int(r["repayTime"])
        out.append(_by_ev(account, feed, id=rid, kind=entry[0], status=status, ts=ts,
                          currency=r["loanCurrency"].strip().upper(), venue_type=vt, ref_id=oid,
                          **_by_books(entry, _dec(r["repayAmount"]).copy_abs())))
        back = r.get("collateralReturn")
        if back is not None and _dec(back) != 0:
            mag = _dec(back).copy_abs()
            out.append(_by_ev(account, feed, id=f"{rid}:collateral", kind=K.COLLATERAL_REMOVE, status=status, ts=ts,
                              currency=r["collateralCurrency"].strip().upper(), amount=mag,
                              collateral=mag.copy_negate(), venue_type=vt, ref_id=oid, parent_id=rid))
    return out


def _by_legacy_adjust(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc):
        vt = str(r["direction"])
        entry = by.ADJUST_DIRECTIONS[vt]
        out.append(_by_ev(account, feed, id=str(r["adjustId"]), kind=entry[0], status=DONE, ts=int(r["adjustTime"]),
                          currency=r["collateralCurrency"].strip().upper(), ref_id=str(r["orderId"]), venue_type=vt,
                          **_by_books(entry, _dec(r["amount"]).copy_abs())))
    return out


def _by_ins_loan(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc, "loanInfo"):
        mag = _dec(r["loanAmount"]).copy_abs()
        out.append(_by_ev(account, feed, id=str(r["orderId"]), kind=K.BORROW, status=DONE, ts=int(r["loanTime"]),
                          currency=r["loanCoin"].strip().upper(), amount=mag, debt=mag,
                          venue_type=str(r.get("status", "1")), ref_id=str(r["orderId"])))
    return out


def _by_ins_repaid(doc: Any, account: str, feed: str) -> Events:
    out = []
    for r in _by_rows(doc, "repayInfo"):
        rid, vt = str(r["repayOrderId"]), str(r.get("businessType", "1"))
        entry = by.INS_REPAY_TYPES.get(vt, by.UNKNOWN_REPAY)
        status = _by_status(by.INS_REPAY_STATUS, r.get("status", "1"))
        ts, ccy = int(r["repaidTime"]), r["token"].strip().upper()
        out.append(_by_ev(account, feed, id=rid, kind=entry[0], status=status, ts=ts, currency=ccy, venue_type=vt,
                          **_by_books(entry, _dec(r["quantity"]).copy_abs())))
        interest = r.get("interest")
        if interest is not None and _dec(interest) != 0:
            out.append(_by_ev(account, feed, id=f"{rid}:interest", kind=K.INTEREST, status=status, ts=ts,
                              currency=ccy, amount=_signed(_dec(interest), True), venue_type=vt, parent_id=rid))
    return out


DictNorm = Callable[[Any, str, str], Events]

dict_normalizers: dict[str, DictNorm] = {
    "okx.flexible_loan_history": _okx_loan,
    "okx.flexible_loan_interest": _okx_interest,
    "okx.one_click_repay_history": _okx_one_click,
    "okx.convert_history": _okx_convert,
    "binance.pmloan_history": _bn_pmloan,
    "binance.pm_interest_history": _bn_interest,
    "bybit.flexible_borrow_history": _by_flex_borrow,
    "bybit.flexible_repayment_history": _by_flex_repay,
    "bybit.fixed_borrow_contracts": _by_fixed_contract,
    "bybit.fixed_repayment_history": _by_fixed_repay,
    "bybit.collateral_adjustment_history": _by_adjust,
    "bybit.legacy_borrow_history": _by_legacy_borrow,
    "bybit.legacy_repayment_history": _by_legacy_repay,
    "bybit.institutional_loan_orders": _by_ins_loan,
    "bybit.institutional_repayment_history": _by_ins_repaid,
    "bybit.fixed_borrow_orders": _by_fixed_order,
    "bybit.legacy_adjustment_history": _by_legacy_adjust,
}


# --- C: pydantic v2 ------------------------------------------------------------------------------------

BM = pydantic.BaseModel
Id = str | int


class POkxLoan(BM):
    refId: str
    type: str
    ccy: str
    amt: Decimal
    ts: int


class POkxInterest(BM):
    refId: str
    ccy: str
    interest: Decimal
    ts: int


class POkxLeg(BM):
    ordId: str
    instId: str
    side: str
    cTime: int
    fillPx: str = ""
    fillSz: str = ""
    state: str = ""


class POkxOneClick(BM):
    debtCcy: str
    fillDebtSz: str
    status: str
    ts: int
    ordIdInfo: list[POkxLeg] = []


class POkxConvert(BM):
    tradeId: str
    side: str
    baseCcy: str
    quoteCcy: str
    fillBaseSz: str
    fillQuoteSz: str
    state: str
    ts: int
    clTReqId: str = ""


class POkxEnv(BM):
    code: str
    msg: str = ""


class POkxLoanEnv(POkxEnv):
    data: list[POkxLoan]


class POkxInterestEnv(POkxEnv):
    data: list[POkxInterest]


class POkxOneClickEnv(POkxEnv):
    data: list[POkxOneClick]


class POkxConvertEnv(POkxEnv):
    data: list[POkxConvert]


class PBnPmloan(BM):
    asset: str
    amount: Decimal
    repayTime: int


class PBnPmloanEnv(BM):
    total: int
    rows: list[PBnPmloan] = []


class PBnInterest(BM):
    asset: str
    interest: Decimal
    interestAccruedTime: int | None = None
    interestAccuredTime: int | None = None


PBnInterestList = pydantic.TypeAdapter(list[PBnInterest])


class PByFlexBorrow(BM):
    borrowTime: int
    initialLoanAmount: Decimal
    loanCurrency: str
    orderId: Id
    status: Id


class PByFlexRepay(BM):
    loanCurrency: str
    repayAmount: Decimal
    repayId: Id
    repayStatus: Id
    repayTime: int
    repayType: Id


class PByFixedOrder(BM):
    orderId: Id
    orderTime: int
    orderCurrency: str
    filledQty: Decimal
    state: Id


class PByFixedContract(BM):
    borrowCurrency: str
    borrowTime: int
    interestPaid: Decimal
    loanId: Id
    orderId: Id
    repaymentTime: int
    residualPenaltyInterest: Decimal
    residualPrincipal: Decimal
    status: Id


class PByFixedLeg(BM):
    loanId: Id
    repayAmount: Decimal
    loanCurrency: str = ""


class PByFixedRepay(BM):
    loanCurrency: str
    repayAmount: Decimal
    repayId: Id
    repayStatus: Id
    repayTime: int
    repayType: Id
    details: list[PByFixedLeg] = []


class PByAdjust(BM):
    adjustId: Id
    adjustTime: int
    amount: Decimal
    collateralCurrency: str
    direction: Id
    status: Id = 1


class PByLegacyBorrow(BM):
    borrowTime: int
    collateralCurrency: str
    initialCollateralAmount: Decimal
    initialLoanAmount: Decimal
    loanCurrency: str
    orderId: Id
    repaidInterest: Decimal
    repaidPenaltyInterest: Decimal
    status: Id


class PByLegacyAdjust(BM):
    adjustId: Id
    adjustTime: int
    amount: Decimal
    collateralCurrency: str
    direction: Id
    orderId: Id


class PByLegacyRepay(BM):
    loanCurrency: str
    orderId: Id
    repayAmount: Decimal
    repayId: Id
    repayStatus: Id
    repayTime: int
    repayType: Id
    collateralCurrency: str = ""
    collateralReturn: Decimal | None = None


class PByInsLoan(BM):
    orderId: Id
    loanTime: int
    loanCoin: str
    loanAmount: Decimal
    status: Id = "1"


class PByInsRepaid(BM):
    repayOrderId: Id
    repaidTime: int
    token: str
    quantity: Decimal
    interest: Decimal | None = None
    businessType: Id = "1"
    status: Id = "1"


def _penv(row: type[BM], name: str = "list") -> type[BM]:
    result = pydantic.create_model(f"R{row.__name__}", **{name: (list[row], ...)})  # type: ignore[call-overload,valid-type]
    return pydantic.create_model(f"E{row.__name__}", retCode=(int, ...), retMsg=(str, ""),  # type: ignore[call-overload,no-any-return]
                                 result=(result, ...))


def _p_okx(env: type[BM], norm: Callable[[Any, str, str], Events]) -> Callable[[bytes, str, str], Events]:
    def decode(body: bytes, account: str, feed: str) -> Events:
        doc: Any = env.model_validate_json(body)
        if doc.code != "0":
            raise ValueError(f"OKX error {doc.code}")
        return norm(doc.data, account, feed)
    return decode


def _pn_okx_loan(rows: Any, account: str, feed: str) -> Events:
    return _okx_loan_events([(r.refId, r.type, r.ccy, r.amt, r.ts) for r in rows], account, feed)


def _pn_okx_interest(rows: Any, account: str, feed: str) -> Events:
    return [LoanEvent(venue="okx", account=account, feed=feed, id=r.refId, kind=K.INTEREST, status=DONE, ts=r.ts,
                      currency=r.ccy.upper(), amount=ZERO, debt=r.interest.copy_abs(), ref_id=r.refId,
                      venue_type="interest_accrued") for r in rows]


def _pn_okx_one_click(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        status = okx.ONE_CLICK_REPAY_STATUS[r.status]
        debt = r.debtCcy.upper()
        parent = f"{r.ts}:{debt}"
        paid = _okx_signed(_okx_amount(r.fillDebtSz), True)
        out.append(LoanEvent(venue="okx", account=account, feed=feed, id=parent, kind=K.REPAY, status=status,
                             ts=r.ts, currency=debt, amount=paid, debt=paid, venue_type="one_click_repay"))
        for leg in r.ordIdInfo:
            ev = _okx_leg_event({"fillSz": leg.fillSz, "fillPx": leg.fillPx, "instId": leg.instId,
                                 "side": leg.side, "ordId": leg.ordId, "state": leg.state, "cTime": leg.cTime},
                                parent, account, feed)
            if ev is not None:
                out.append(ev)
    return out


def _pn_okx_convert(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        status = okx.CONVERT_STATE[r.state]
        base, quote = r.baseCcy.upper(), r.quoteCcy.upper()
        base_amt = _okx_amount(r.fillBaseSz).copy_abs()
        quote_amt = _okx_amount(r.fillQuoteSz).copy_abs()
        if r.side == "buy":
            got, got_amt, paid, paid_amt = base, base_amt, quote, quote_amt
        else:
            got, got_amt, paid, paid_amt = quote, quote_amt, base, base_amt
        out.append(LoanEvent(venue="okx", account=account, feed=feed, id=r.tradeId, kind=K.CONVERT, status=status,
                             ts=r.ts, currency=got, amount=got_amt, counter_currency=paid,
                             counter_amount=_okx_signed(paid_amt, True), ref_id=r.clTReqId or None,
                             venue_type=r.side))
    return out


def _p_bn_rows(rows: Any, account: str, feed: str, kind: EventKind, vt: str, amount: Callable[[Any], Decimal],
               ts_of: Callable[[Any], int]) -> Events:
    out = []
    seen: dict[str, int] = {}
    for r in rows:
        a = amount(r)
        asset = r.asset.upper()
        ts = ts_of(r)
        key = f"{ts}:{asset}:{_plain(a)}"
        n = seen.get(key, 0)
        seen[key] = n + 1
        paid = _signed(a, True)
        out.append(LoanEvent(venue="binance", account=account, feed=feed, id=f"{key}#{n}", kind=kind, status=DONE,
                             ts=ts, currency=asset, amount=paid, debt=paid if kind is K.REPAY else ZERO,
                             venue_type=vt))
    return out


def _p_bn_pmloan(body: bytes, account: str, feed: str) -> Events:
    doc = PBnPmloanEnv.model_validate_json(body)
    return _p_bn_rows(doc.rows, account, feed, K.REPAY, "pmloan-history", lambda r: r.amount, lambda r: r.repayTime)


def _p_bn_interest(body: bytes, account: str, feed: str) -> Events:
    rows = PBnInterestList.validate_json(body)
    return _p_bn_rows(rows, account, feed, K.INTEREST, "interest-history", lambda r: r.interest,
                      lambda r: r.interestAccruedTime if r.interestAccruedTime is not None else r.interestAccuredTime)


def _p_by(env: type[BM], norm: Callable[[Any, str, str], Events], name: str = "list") -> Callable[[bytes, str, str], Events]:
    def decode(body: bytes, account: str, feed: str) -> Events:
        doc: Any = env.model_validate_json(body)
        if doc.retCode != 0:
            raise ValueError(f"Bybit error {doc.retCode}")
        return norm(getattr(doc.result, name), account, feed)
    return decode


def _pn_by_flex_borrow(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        mag = r.initialLoanAmount.copy_abs()
        out.append(_by_ev(account, feed, id=str(r.orderId), kind=K.BORROW, status=_by_status(by.NEW_STATUS, r.status),
                          ts=r.borrowTime, currency=r.loanCurrency.strip().upper(), amount=mag, debt=mag,
                          venue_type="", ref_id=str(r.orderId)))
    return out


def _pn_by_flex_repay(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        vt = str(r.repayType)
        entry = by.FLEX_REPAY_TYPES.get(vt, by.UNKNOWN_REPAY)
        out.append(_by_ev(account, feed, id=str(r.repayId), kind=entry[0],
                          status=_by_status(by.NEW_STATUS, r.repayStatus), ts=r.repayTime,
                          currency=r.loanCurrency.strip().upper(), venue_type=vt,
                          **_by_books(entry, r.repayAmount.copy_abs())))
    return out


def _pn_by_fixed_order(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        mag, vt, oid = r.filledQty.copy_abs(), str(r.state), str(r.orderId)
        out.append(_by_ev(account, feed, id=oid, kind=K.BORROW, status=_order_status(vt, mag), ts=r.orderTime,
                          currency=r.orderCurrency.strip().upper(), amount=mag, debt=mag, ref_id=oid, venue_type=vt))
    return out


def _pn_by_fixed_contract(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        out += _contract_events(account, feed, str(r.loanId), str(r.orderId), str(r.status), r.borrowTime,
                                r.repaymentTime, r.borrowCurrency.strip().upper(), r.interestPaid,
                                r.residualPenaltyInterest)
    return out


def _pn_by_fixed_repay(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        legs = [(str(d.loanId), d.loanCurrency, d.repayAmount) for d in r.details]
        out += _fixed_repay_events(account, feed, str(r.repayId), str(r.repayType),
                                   _by_status(by.NEW_STATUS, r.repayStatus), r.repayTime,
                                   r.loanCurrency.strip().upper(), r.repayAmount, legs)
    return out


def _pn_by_adjust(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        vt = str(r.direction)
        entry = by.ADJUST_DIRECTIONS[vt]
        out.append(_by_ev(account, feed, id=str(r.adjustId), kind=entry[0],
                          status=_by_status(by.NEW_STATUS, r.status), ts=r.adjustTime,
                          currency=r.collateralCurrency.strip().upper(), venue_type=vt,
                          **_by_books(entry, r.amount.copy_abs())))
    return out


def _pn_by_legacy_borrow(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        out += _legacy_loan_events(account, feed, str(r.orderId), str(r.status), r.borrowTime,
                                   r.loanCurrency.strip().upper(), r.collateralCurrency.strip().upper(),
                                   r.initialLoanAmount, r.initialCollateralAmount, r.repaidInterest,
                                   r.repaidPenaltyInterest)
    return out


def _pn_by_legacy_repay(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        rid, oid, vt = str(r.repayId), str(r.orderId), str(r.repayType)
        entry = by.LEGACY_REPAY_TYPES.get(vt, by.UNKNOWN_REPAY)
        status = _by_status(by.LEGACY_REPAY_STATUS, r.repayStatus)
        out.append(_by_ev(account, feed, id=rid, kind=entry[0], status=status, ts=r.repayTime,
                          currency=r.loanCurrency.strip().upper(), venue_type=vt, ref_id=oid,
                          **_by_books(entry, r.repayAmount.copy_abs())))
        if r.collateralReturn is not None and r.collateralReturn != 0:
            mag = r.collateralReturn.copy_abs()
            out.append(_by_ev(account, feed, id=f"{rid}:collateral", kind=K.COLLATERAL_REMOVE, status=status,
                              ts=r.repayTime, currency=r.collateralCurrency.strip().upper(), amount=mag,
                              collateral=mag.copy_negate(), venue_type=vt, ref_id=oid, parent_id=rid))
    return out


def _pn_by_legacy_adjust(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        vt = str(r.direction)
        entry = by.ADJUST_DIRECTIONS[vt]
        out.append(_by_ev(account, feed, id=str(r.adjustId), kind=entry[0], status=DONE, ts=r.adjustTime,
                          currency=r.collateralCurrency.strip().upper(), ref_id=str(r.orderId), venue_type=vt,
                          **_by_books(entry, r.amount.copy_abs())))
    return out


def _pn_by_ins_loan(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        mag = r.loanAmount.copy_abs()
        out.append(_by_ev(account, feed, id=str(r.orderId), kind=K.BORROW, status=DONE, ts=r.loanTime,
                          currency=r.loanCoin.strip().upper(), amount=mag, debt=mag, venue_type=str(r.status),
                          ref_id=str(r.orderId)))
    return out


def _pn_by_ins_repaid(rows: Any, account: str, feed: str) -> Events:
    out = []
    for r in rows:
        rid, vt = str(r.repayOrderId), str(r.businessType)
        entry = by.INS_REPAY_TYPES.get(vt, by.UNKNOWN_REPAY)
        status = _by_status(by.INS_REPAY_STATUS, r.status)
        ccy = r.token.strip().upper()
        out.append(_by_ev(account, feed, id=rid, kind=entry[0], status=status, ts=r.repaidTime, currency=ccy,
                          venue_type=vt, **_by_books(entry, r.quantity.copy_abs())))
        if r.interest is not None and r.interest != 0:
            out.append(_by_ev(account, feed, id=f"{rid}:interest", kind=K.INTEREST, status=status, ts=r.repaidTime,
                              currency=ccy, amount=_signed(r.interest, True), venue_type=vt, parent_id=rid))
    return out


PydanticDecode = Callable[[bytes, str, str], Events]

pydantic_decoders: dict[str, PydanticDecode] = {
    "okx.flexible_loan_history": _p_okx(POkxLoanEnv, _pn_okx_loan),
    "okx.flexible_loan_interest": _p_okx(POkxInterestEnv, _pn_okx_interest),
    "okx.one_click_repay_history": _p_okx(POkxOneClickEnv, _pn_okx_one_click),
    "okx.convert_history": _p_okx(POkxConvertEnv, _pn_okx_convert),
    "binance.pmloan_history": _p_bn_pmloan,
    "binance.pm_interest_history": _p_bn_interest,
    "bybit.flexible_borrow_history": _p_by(_penv(PByFlexBorrow), _pn_by_flex_borrow),
    "bybit.flexible_repayment_history": _p_by(_penv(PByFlexRepay), _pn_by_flex_repay),
    "bybit.fixed_borrow_contracts": _p_by(_penv(PByFixedContract), _pn_by_fixed_contract),
    "bybit.fixed_repayment_history": _p_by(_penv(PByFixedRepay), _pn_by_fixed_repay),
    "bybit.collateral_adjustment_history": _p_by(_penv(PByAdjust), _pn_by_adjust),
    "bybit.legacy_borrow_history": _p_by(_penv(PByLegacyBorrow), _pn_by_legacy_borrow),
    "bybit.legacy_repayment_history": _p_by(_penv(PByLegacyRepay), _pn_by_legacy_repay),
    "bybit.institutional_loan_orders": _p_by(_penv(PByInsLoan, "loanInfo"), _pn_by_ins_loan, "loanInfo"),
    "bybit.institutional_repayment_history": _p_by(_penv(PByInsRepaid, "repayInfo"), _pn_by_ins_repaid, "repayInfo"),
    "bybit.fixed_borrow_orders": _p_by(_penv(PByFixedOrder), _pn_by_fixed_order),
    "bybit.legacy_adjustment_history": _p_by(_penv(PByLegacyAdjust), _pn_by_legacy_adjust),
}


# --- ceiling: msgspec, wire types, no normalization -------------------------------------------------------

S = msgspec.Struct


class COkxLoan(S):
    refId: str
    type: str
    ccy: str
    amt: str
    ts: str


class COkxInterest(S):
    refId: str
    ccy: str
    interest: str
    ts: str


class COkxLeg(S):
    ordId: str
    instId: str
    side: str
    cTime: str
    fillPx: str
    fillSz: str
    state: str


class COkxOneClick(S):
    debtCcy: str
    fillDebtSz: str
    status: str
    ts: str
    ordIdInfo: list[COkxLeg]


class COkxConvert(S):
    tradeId: str
    side: str
    baseCcy: str
    quoteCcy: str
    fillBaseSz: str
    fillQuoteSz: str
    state: str
    ts: str
    clTReqId: str


class CBnPmloan(S):
    asset: str
    amount: str
    repayTime: int


class CBnPmloanEnv(S):
    total: int
    rows: list[CBnPmloan]


class CBnInterest(S):
    asset: str
    interest: str
    interestAccruedTime: int


class CByFlexBorrow(S):
    borrowTime: int
    initialLoanAmount: str
    loanCurrency: str
    orderId: str
    status: int


class CByFlexRepay(S):
    loanCurrency: str
    repayAmount: str
    repayId: str
    repayStatus: int
    repayTime: int
    repayType: int


class CByFixedOrder(S):
    orderId: int
    orderTime: str
    orderCurrency: str
    filledQty: str
    state: int


class CByFixedContract(S):
    borrowCurrency: str
    borrowTime: str
    interestPaid: str
    loanId: str
    orderId: str
    repaymentTime: str
    residualPenaltyInterest: str
    residualPrincipal: str
    status: int


class CByFixedLeg(S):
    loanId: str
    repayAmount: str
    loanCurrency: str


class CByAdjust(S):
    adjustId: int
    adjustTime: int
    amount: str
    collateralCurrency: str
    direction: int
    status: int


class CByLegacyBorrow(S):
    borrowTime: str
    collateralCurrency: str
    initialCollateralAmount: str
    initialLoanAmount: str
    loanCurrency: str
    orderId: str
    repaidInterest: str
    repaidPenaltyInterest: str
    status: int


class CByLegacyAdjust(S):
    adjustId: str
    adjustTime: str
    amount: str
    collateralCurrency: str
    direction: int
    orderId: str


class CByLegacyRepay(S):
    loanCurrency: str
    orderId: str
    repayAmount: str
    repayId: str
    repayStatus: int
    repayTime: str
    repayType: str
    collateralCurrency: str
    collateralReturn: str


class CByInsLoan(S):
    orderId: str
    loanTime: str
    loanCoin: str
    loanAmount: str
    status: str


class CByInsRepaid(S):
    repayOrderId: str
    repaidTime: str
    token: str
    quantity: str
    interest: str
    businessType: str
    status: str


def _cenv_okx(row: type[S]) -> Any:
    return msgspec.defstruct(f"E{row.__name__}", [("code", str), ("data", list[row]), ("msg", str)])  # type: ignore[valid-type]


def _cenv_by(row: type[S], name: str = "list", cursor: bool = True) -> Any:
    fields: list[Any] = [(name, list[row])]  # type: ignore[valid-type]
    if cursor:
        fields.append(("nextPageCursor", str))
    result = msgspec.defstruct(f"R{row.__name__}", fields)
    return msgspec.defstruct(f"E{row.__name__}", [("retCode", int), ("retMsg", str), ("result", result),
                                                   ("time", int)])


class CByFixedRepay(S):
    """repayAmount is sometimes a JSON number: kept as its raw bytes (str | Raw is not a type)."""

    loanCurrency: str
    repayAmount: msgspec.Raw
    repayId: str
    repayStatus: int
    repayTime: int
    repayType: int
    details: list[CByFixedLeg]


ceiling_decoders: dict[str, msgspec.json.Decoder[Any]] = {
    "okx.flexible_loan_history": msgspec.json.Decoder(_cenv_okx(COkxLoan)),
    "okx.flexible_loan_interest": msgspec.json.Decoder(_cenv_okx(COkxInterest)),
    "okx.one_click_repay_history": msgspec.json.Decoder(_cenv_okx(COkxOneClick)),
    "okx.convert_history": msgspec.json.Decoder(_cenv_okx(COkxConvert)),
    "binance.pmloan_history": msgspec.json.Decoder(CBnPmloanEnv),
    "binance.pm_interest_history": msgspec.json.Decoder(list[CBnInterest]),
    "bybit.flexible_borrow_history": msgspec.json.Decoder(_cenv_by(CByFlexBorrow)),
    "bybit.flexible_repayment_history": msgspec.json.Decoder(_cenv_by(CByFlexRepay)),
    "bybit.fixed_borrow_contracts": msgspec.json.Decoder(_cenv_by(CByFixedContract)),
    "bybit.fixed_repayment_history": msgspec.json.Decoder(_cenv_by(CByFixedRepay)),
    "bybit.collateral_adjustment_history": msgspec.json.Decoder(_cenv_by(CByAdjust)),
    "bybit.legacy_borrow_history": msgspec.json.Decoder(_cenv_by(CByLegacyBorrow)),
    "bybit.legacy_repayment_history": msgspec.json.Decoder(_cenv_by(CByLegacyRepay)),
    "bybit.institutional_loan_orders": msgspec.json.Decoder(_cenv_by(CByInsLoan, "loanInfo", False)),
    "bybit.institutional_repayment_history": msgspec.json.Decoder(_cenv_by(CByInsRepaid, "repayInfo", False)),
    "bybit.fixed_borrow_orders": msgspec.json.Decoder(_cenv_by(CByFixedOrder)),
    "bybit.legacy_adjustment_history": msgspec.json.Decoder(_cenv_by(CByLegacyAdjust)),
}


# --- the exact-decimal limit: msgspec, the ceiling's Structs with Decimal money fields, no normalization --------
#
# The least any decoder that keeps amounts exact must do: scan the JSON into Structs (as the ceiling)
# and parse every used amount into a Decimal (msgspec's C path). Nothing else: no events, no checks.
# OKX one-click repay and convert may send "" for an amount not (yet) filled, which no Decimal field
# can take: there the Structs hold the wire str and the row parses each non-empty amount with
# Decimal() after the scan (the cheapest exact way; `_then_decimals`).


def _with_decimals(row: type[S], *money: str, nested: dict[str, Any] | None = None) -> Any:
    """`row` with the fields `money` typed Decimal (and `nested` fields replaced by the given types)."""
    fields: list[Any] = []
    for f in msgspec.structs.fields(row):
        if f.name in money:
            fields.append((f.name, Decimal))
        elif nested and f.name in nested:
            fields.append((f.name, nested[f.name]))
        else:
            fields.append((f.name, f.type))
    return msgspec.defstruct(f"L{row.__name__}", fields)


def _then_decimals(decoder: msgspec.json.Decoder[Any], rows_of: Callable[[Any], list[Any]],
                   parse: Callable[[Any], Any]) -> Callable[[bytes], Any]:
    """Scan with `decoder`, then parse the amounts of each row (`parse`): for amounts sent as "" too."""

    def decode(body: bytes) -> Any:
        doc = decoder.decode(body)
        return doc, [parse(r) for r in rows_of(doc)]

    return decode


def _dec_or_none(text: str) -> Decimal | None:
    return Decimal(text) if text else None


def _okx_one_click_amounts(r: Any) -> Any:
    return (_dec_or_none(r.fillDebtSz),
            [(_dec_or_none(leg.fillPx), _dec_or_none(leg.fillSz)) for leg in r.ordIdInfo])


def _okx_convert_amounts(r: Any) -> Any:
    return _dec_or_none(r.fillBaseSz), _dec_or_none(r.fillQuoteSz)


def _okx_rows(doc: Any) -> list[Any]:
    return doc.data  # type: ignore[no-any-return]


LByFixedLeg = _with_decimals(CByFixedLeg, "repayAmount")

#: feed -> bytes -> decoded rows with exact amounts (see above)
limit_decoders: dict[str, Callable[[bytes], Any]] = {
    "okx.flexible_loan_history": msgspec.json.Decoder(_cenv_okx(_with_decimals(COkxLoan, "amt"))).decode,
    "okx.flexible_loan_interest": msgspec.json.Decoder(_cenv_okx(_with_decimals(COkxInterest, "interest"))).decode,
    "okx.one_click_repay_history": _then_decimals(ceiling_decoders["okx.one_click_repay_history"], _okx_rows,
                                                  _okx_one_click_amounts),
    "okx.convert_history": _then_decimals(ceiling_decoders["okx.convert_history"], _okx_rows, _okx_convert_amounts),
    "binance.pmloan_history": msgspec.json.Decoder(msgspec.defstruct(
        "LBnPmloanEnv", [("total", int), ("rows", list[_with_decimals(CBnPmloan, "amount")])])).decode,  # type: ignore[misc]
    "binance.pm_interest_history": msgspec.json.Decoder(list[_with_decimals(CBnInterest, "interest")]).decode,  # type: ignore[misc]
    "bybit.flexible_borrow_history": msgspec.json.Decoder(
        _cenv_by(_with_decimals(CByFlexBorrow, "initialLoanAmount"))).decode,
    "bybit.flexible_repayment_history": msgspec.json.Decoder(
        _cenv_by(_with_decimals(CByFlexRepay, "repayAmount"))).decode,
    "bybit.fixed_borrow_orders": msgspec.json.Decoder(_cenv_by(_with_decimals(CByFixedOrder, "filledQty"))).decode,
    "bybit.fixed_borrow_contracts": msgspec.json.Decoder(_cenv_by(_with_decimals(
        CByFixedContract, "interestPaid", "residualPenaltyInterest", "residualPrincipal"))).decode,
    "bybit.fixed_repayment_history": msgspec.json.Decoder(_cenv_by(_with_decimals(
        CByFixedRepay, "repayAmount", nested={"details": list[LByFixedLeg]}))).decode,  # type: ignore[valid-type]
    "bybit.collateral_adjustment_history": msgspec.json.Decoder(_cenv_by(_with_decimals(CByAdjust, "amount"))).decode,
    "bybit.legacy_borrow_history": msgspec.json.Decoder(_cenv_by(_with_decimals(
        CByLegacyBorrow, "initialCollateralAmount", "initialLoanAmount", "repaidInterest",
        "repaidPenaltyInterest"))).decode,
    "bybit.legacy_adjustment_history": msgspec.json.Decoder(_cenv_by(_with_decimals(CByLegacyAdjust, "amount"))).decode,
    "bybit.legacy_repayment_history": msgspec.json.Decoder(
        _cenv_by(_with_decimals(CByLegacyRepay, "repayAmount", "collateralReturn"))).decode,
    "bybit.institutional_loan_orders": msgspec.json.Decoder(
        _cenv_by(_with_decimals(CByInsLoan, "loanAmount"), "loanInfo", False)).decode,
    "bybit.institutional_repayment_history": msgspec.json.Decoder(
        _cenv_by(_with_decimals(CByInsRepaid, "quantity", "interest"), "repayInfo", False)).decode,
}
