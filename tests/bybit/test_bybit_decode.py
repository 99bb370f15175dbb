"""Bybit decoders: the docs' examples field by field, every normalization row, type drift,
error envelopes -> typed errors, malformed bodies -> DecodeError. Pure: no network."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest
from bybit_examples import (
    ADJUST_HISTORY,
    FIXED_CONTRACTS,
    FIXED_ORDERS,
    FIXED_REPAY_HISTORY,
    FLEX_BORROW_HISTORY,
    FLEX_REPAY_HISTORY,
    INS_LOANS,
    INS_REPAID,
    LEGACY_ADJUST_HISTORY,
    LEGACY_BORROW_HISTORY,
    LEGACY_LOANABLE,
    LEGACY_REPAY_HISTORY,
    LOANABLE,
)

from loanledger import (
    FEEDS,
    AuthError,
    BadRequest,
    ClockSkewError,
    DecodeError,
    EventKind,
    EventStatus,
    RateLimited,
    VenueUnavailable,
    decode,
)
from loanledger.paginate import DecodeContext
from loanledger.venues import bybit
from loanledger.venues.bybit import decode_legacy_loanable, decode_loanable, fixed_leg_ids

K, S = EventKind, EventStatus
BYBIT_FEEDS = [f for f in FEEDS if f.startswith("bybit.")]
D = Decimal


def page(feed: str, body: bytes, keep_raw: bool = False):  # type: ignore[no-untyped-def]
    return FEEDS[feed].decode(body, DecodeContext(feed=feed, account="acc", keep_raw=keep_raw))


def envelope(rows: list[dict[str, object]], list_name: str = "list", cursor: str | None = "") -> bytes:
    result: dict[str, object] = {list_name: rows}
    if cursor is not None:
        result["nextPageCursor"] = cursor
    return json.dumps({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1}).encode()


def books(e):  # type: ignore[no-untyped-def]
    """An event's (kind, wallet, debt, collateral)."""
    return (e.kind, e.amount, e.debt, e.collateral)


def test_all_eleven_feeds_are_registered() -> None:
    assert sorted(BYBIT_FEEDS) == sorted([
        "bybit.flexible_borrow_history", "bybit.flexible_repayment_history", "bybit.fixed_borrow_orders",
        "bybit.fixed_borrow_contracts", "bybit.fixed_repayment_history", "bybit.collateral_adjustment_history",
        "bybit.legacy_borrow_history", "bybit.legacy_repayment_history", "bybit.legacy_adjustment_history",
        "bybit.institutional_loan_orders", "bybit.institutional_repayment_history",
    ])
    assert FEEDS["bybit.institutional_loan_orders"].cursor.name == "time_windows"
    assert FEEDS["bybit.flexible_borrow_history"].cursor.name == "opaque"


# --- the docs' examples, field by field ------------------------------------------------------------


def test_flexible_borrow_history_example() -> None:
    p = page("bybit.flexible_borrow_history", FLEX_BORROW_HISTORY)
    assert (p.count, p.next_cursor, p.min_ts, p.max_ts) == (2, "1363", 1752569209643, 1752569950643)
    a, b = p.events
    assert (a.venue, a.account, a.feed, a.id, a.kind, a.status, a.ts, a.currency, a.amount, a.ref_id,
            a.venue_type) == ("bybit", "acc", "bybit.flexible_borrow_history", "1364", K.BORROW, S.DONE,
                              1752569950643, "BTC", Decimal("0.006"), "1364", "")
    assert books(a) == (K.BORROW, D("0.006"), D("0.006"), 0)  # borrow: +x / +x / 0
    assert (b.id, b.amount, b.debt, b.ts) == ("1363", Decimal("0.1"), Decimal("0.1"), 1752569209643)


def test_flexible_repayment_history_example() -> None:
    p = page("bybit.flexible_repayment_history", FLEX_REPAY_HISTORY)
    assert p.next_cursor == "1769" and p.count == 3
    assert [(e.id, e.amount, e.debt, e.ts, e.kind, e.status, e.venue_type, e.currency) for e in p.events] == [
        ("1773", D("-0.007"), D("-0.007"), 1752570731274, K.REPAY, S.DONE, "1", "BTC"),
        ("1772", D("-0.006"), D("-0.006"), 1752570726038, K.REPAY, S.DONE, "1", "BTC"),
        ("1771", D("-0.005"), D("-0.005"), 1752569614528, K.REPAY, S.DONE, "1", "BTC"),
    ]


def test_fixed_contracts_example_is_the_prepaid_interest() -> None:
    """1.4 x 0.022 x 30 / 365 = 0.002531506849315069 (rounded): the whole term's interest, paid
    at match from the loan, on a contract still unrepaid. The principal is the order's (its filledQty)."""
    p = page("bybit.fixed_borrow_contracts", FIXED_CONTRACTS)
    assert p.next_cursor == "568"
    assert [(e.id, e.ref_id, *books(e), e.ts, e.currency, e.venue_type, e.status) for e in p.events] == [
        ("571", "13007", K.INTEREST, D("-0.002531506849315069"), 0, 0, 1752633756068, "ETH", "1", S.DONE),
        ("570", "13007", K.INTEREST, D("-0.00018082191780822"), 0, 0, 1752633696068, "ETH", "1", S.DONE),
    ]


def test_fixed_orders_example_pending_while_matching() -> None:
    p = page("bybit.fixed_borrow_orders", FIXED_ORDERS)
    (e,) = p.events
    assert (e.id, e.ref_id, *books(e), e.ts, e.currency, e.status, e.venue_type) == (
        "13010", "13010", K.BORROW, D(0), D(0), 0, 1752654035179, "MANA", S.PENDING, "1")


@pytest.mark.parametrize(("state", "filled", "status"), [
    (1, "700", S.PENDING), (2, "700", S.DONE), (3, "2000", S.DONE), (4, "0", S.FAILED), (5, "0", S.FAILED),
    (4, "700", S.DONE), ("9", "1", S.PENDING)])
def test_fixed_order_states(state: object, filled: str, status: EventStatus) -> None:
    """The principal a fixed order borrowed is its filledQty: +q / +q / 0, pending while matching;
    cancelled or failed with nothing filled is failed; an undocumented state stays pending."""
    row = {"annualRate": "0.01", "filledQty": filled, "orderCurrency": "MANA", "orderId": 13010, "orderQty": "2000",
           "orderTime": "1752654035179", "repayType": "2", "state": state, "term": 30}
    (e,) = decode("bybit.fixed_borrow_orders", envelope([row]))
    assert (*books(e), e.status, e.venue_type) == (K.BORROW, D(filled), D(filled), 0, status, str(state))


def test_fixed_repayment_example_one_event_per_leg() -> None:
    p = page("bybit.fixed_repayment_history", FIXED_REPAY_HISTORY)
    assert p.count == 1 and p.next_cursor == "1674"
    first, second = p.events
    assert (first.id, first.ref_id, first.parent_id, first.amount, first.debt) == (
        "1782", "568", None, D("-0.1"), D("-0.1"))
    assert (second.id, second.ref_id, second.parent_id, second.amount, second.debt) == (
        "1782:571", "571", "1782", D("-1.4"), D("-1.4"))
    assert sum(e.amount for e in p.events) == Decimal("-1.5")  # the legs add up to repayAmount
    assert all(e.ts == 1752717174353 and e.kind is K.REPAY and e.venue_type == "1" for e in p.events)


def test_fixed_leg_ids_do_not_depend_on_detail_order() -> None:
    assert fixed_leg_ids("9", ["571", "568", "1000"]) == ["9", "9:571", "9:1000"]
    body = FIXED_REPAY_HISTORY.replace(b'"568"', b'"TMP"').replace(b'"571"', b'"568"').replace(b'"TMP"', b'"571"')
    ids = {(e.id, e.ref_id) for e in page("bybit.fixed_repayment_history", body).events}
    assert ids == {("1782", "568"), ("1782:571", "571")}


def test_collateral_adjustment_example_numeric_id() -> None:
    (e,) = page("bybit.collateral_adjustment_history", ADJUST_HISTORY).events
    assert (e.id, *books(e), e.currency, e.ts, e.venue_type) == (
        "27511", K.COLLATERAL_REMOVE, D("0.08"), 0, D("-0.08"), "BTC", 1752627997907, "1")


def test_legacy_adjustment_example() -> None:
    (e,) = page("bybit.legacy_adjustment_history", LEGACY_ADJUST_HISTORY).events
    assert (e.id, *books(e), e.currency, e.ts, e.status, e.ref_id, e.venue_type) == (
        "1794318409405331968", K.COLLATERAL_REMOVE, D("0.001"), 0, D("-0.001"), "BTC", 1728635422814, S.DONE,
        "1794267532472646144", "1")


def test_legacy_examples_string_times_and_types() -> None:
    b, pledge, interest = page("bybit.legacy_borrow_history", LEGACY_BORROW_HISTORY).events
    assert (b.id, *books(b), b.currency, b.ts, b.status, b.venue_type) == (
        "1793569729874260992", K.BORROW, D("1"), D("1"), 0, "ETH", 1728546174028, S.DONE, "1")
    # the pledge made at borrow time (deducted from the Funding wallet), listed with the completed loan
    assert (pledge.id, *books(pledge), pledge.currency, pledge.parent_id, pledge.ts) == (
        "1793569729874260992:collateral", K.COLLATERAL_ADD, D("-0.0494727"), 0, D("0.0494727"), "BTC",
        "1793569729874260992", 1728546174028)
    # the interest accrued onto the debt (the repayments paid it, interest first); no penalty: no event
    assert (interest.id, *books(interest), interest.currency, interest.parent_id) == (
        "1793569729874260992:interest", K.INTEREST, 0, D("0.00000515"), 0, "ETH", "1793569729874260992")
    p = page("bybit.legacy_repayment_history", LEGACY_REPAY_HISTORY)
    assert p.next_cursor == ""
    (r,) = p.events  # collateralReturn "0": no collateral event
    assert (r.id, r.ref_id, *books(r), r.currency, r.ts, r.venue_type) == (
        "1794271131730737664", "1794267532472646144", K.REPAY, D("-100"), D("-100"), 0, "USDT", 1728629786875, "1")


def test_ins_examples() -> None:
    (loan,) = page("bybit.institutional_loan_orders", INS_LOANS).events
    assert (loan.id, *books(loan), loan.currency, loan.ts, loan.venue_type) == (
        "1468005106166530304", K.BORROW, D("204"), D("204"), 0, "USDT", 1689735916000, "1")
    p = page("bybit.institutional_repayment_history", INS_REPAID)
    assert p.next_cursor is None
    (rep,) = p.events
    assert (rep.id, *books(rep), rep.currency, rep.ts, rep.status) == (
        "8189", K.REPAY, D("-30000"), D("-30000"), 0, "USDT", 1663126393000, S.DONE)


def test_loanable_examples() -> None:
    (c,) = decode_loanable(LOANABLE)
    assert (c.currency, c.vip_level, c.fixed_borrowable, c.fixed_borrowing_accuracy, c.flexible_borrowable,
            c.flexible_borrowing_accuracy) == ("ETH", "VIP5", True, 6, True, 4)
    assert (c.max_borrowing_amount, c.min_fixed_borrowing_amount, c.min_flexible_borrowing_amount) == (
        Decimal("1100"), Decimal("0.1"), Decimal("0.001"))
    assert c.flexible_annualized_interest_rate == Decimal("0.001429799316")
    assert c.annualized_interest_rate_14d == Decimal("0.08")
    assert (c.annualized_interest_rate_7d, c.annualized_interest_rate_30d, c.annualized_interest_rate_60d,
            c.annualized_interest_rate_90d, c.annualized_interest_rate_180d) == (None,) * 5
    (old,) = decode_legacy_loanable(LEGACY_LOANABLE)
    assert (old.currency, old.vip_level, old.borrowing_accuracy, old.max_borrowing_amount,
            old.min_borrowing_amount) == ("USDT", "VIP0", 4, Decimal("8000000"), Decimal("20"))
    assert (old.flexible_hourly_interest_rate, old.hourly_interest_rate_7d, old.hourly_interest_rate_14d,
            old.hourly_interest_rate_30d, old.hourly_interest_rate_90d, old.hourly_interest_rate_180d) == (
        Decimal("0.0000090346"), Decimal("0.0000180692"), Decimal("0.0000207796"), Decimal("0.00002349"),
        None, None)


def test_loanable_rate_sent_as_json_number_is_exact() -> None:
    body = LOANABLE.replace(b'"flexibleAnnualizedInterestRate":"0.001429799316"',
                            b'"flexibleAnnualizedInterestRate":0.001429799316123456789')
    (c,) = decode_loanable(body)
    assert c.flexible_annualized_interest_rate == Decimal("0.001429799316123456789")
    with pytest.raises(DecodeError):
        decode_loanable(LOANABLE.replace(b'"maxBorrowingAmount":"1100"', b'"maxBorrowingAmount":"lots"'))
    with pytest.raises(DecodeError):
        decode_loanable(LOANABLE.replace(b'"maxBorrowingAmount":"1100"', b'"maxBorrowingAmount":"NaN"'))


# --- every normalization row: (kind, wallet, debt, collateral) ------------------------------------------


def flex_repay_row(rtype: object, status: object = 1) -> dict[str, object]:
    return {"loanCurrency": "usdt", "repayAmount": "12.5", "repayId": "1", "repayStatus": status,
            "repayTime": 1752570731274, "repayType": rtype}


X = D("12.5")


@pytest.mark.parametrize(("rtype", "expected"), [
    (1, (K.REPAY, -X, -X, 0)),  # by user: from the Funding wallet
    (2, (K.LIQUIDATION, 0, -X, 0)),  # by liquidation: collateral sold (in no feed)
    (5, (K.REPAY, 0, -X, 0)),  # by delisting (U10)
    (6, (K.LIQUIDATION, 0, -X, 0)),  # by delay liquidation
    (7, (K.REPAY, 0, -X, 0)),  # repaid with collateral
    ("1", (K.REPAY, -X, -X, 0)),
    (99, (K.REPAY, -X, -X, 0)),  # undocumented: a repayment from the wallet
])
def test_flexible_repay_types(rtype: object, expected: tuple[object, ...]) -> None:
    (e,) = decode("bybit.flexible_repayment_history", envelope([flex_repay_row(rtype)]))
    assert books(e) == expected and (e.venue_type, e.currency) == (str(rtype), "USDT")
    kind, *signs = bybit.feeds.FLEX_REPAY_TYPES.get(str(rtype), bybit.feeds.UNKNOWN_REPAY)
    assert (kind, *(s * X for s in signs)) == expected


L = D("1.5")


@pytest.mark.parametrize(("rtype", "expected"), [
    (1, (K.REPAY, -L, -L, 0)), (2, (K.LIQUIDATION, 0, -L, 0)), (3, (K.REPAY, -L, -L, 0)), (4, (K.REPAY, -L, -L, 0)),
    (5, (K.REPAY, 0, -L, 0)), (6, (K.LIQUIDATION, 0, -L, 0)), (7, (K.REPAY, 0, -L, 0)), (8, (K.REPAY, 0, -L, 0)),
    (11, (K.REPAY, -L, -L, 0))])
def test_fixed_repay_types(rtype: int, expected: tuple[object, ...]) -> None:
    row = {"details": [], "loanCurrency": "ETH", "repayAmount": 1.5, "repayId": 77, "repayStatus": "2",
           "repayTime": "1752717174353", "repayType": str(rtype)}
    first, *rest = decode("bybit.fixed_repayment_history", envelope([row]))
    # no details: the record is one event; repayAmount as a JSON number, ids and times as drift
    assert (first.id, *books(first), first.status, first.ts, first.ref_id) == (
        "77", *expected, S.PENDING, 1752717174353, None)
    if rtype == 8:  # transfer to a flexible loan: the debt moves, the wallet does not
        (flexible,) = rest
        assert (flexible.id, *books(flexible), flexible.parent_id, flexible.status) == (
            "77:flexible", K.BORROW, 0, L, 0, "77", S.PENDING)
    else:
        assert rest == []


def test_fixed_transfer_to_flexible_links_a_flexible_leg_per_contract_leg() -> None:
    body = FIXED_REPAY_HISTORY.replace(b'"repayType":1', b'"repayType":8')
    events = decode("bybit.fixed_repayment_history", body)
    assert [(e.id, *books(e), e.ref_id, e.parent_id) for e in events] == [
        ("1782", K.REPAY, 0, D("-0.1"), 0, "568", None),
        ("1782:flexible", K.BORROW, 0, D("0.1"), 0, "568", "1782"),
        ("1782:571", K.REPAY, 0, D("-1.4"), 0, "571", "1782"),
        ("1782:571:flexible", K.BORROW, 0, D("1.4"), 0, "571", "1782:571"),
    ]
    assert sum(e.debt for e in events) == 0 and sum(e.amount for e in events) == 0


@pytest.mark.parametrize(("rtype", "kind", "wallet"), [("1", K.REPAY, D("-100")), ("2", K.LIQUIDATION, D(0)),
                                                        (2, K.LIQUIDATION, D(0)), ("3", K.REPAY, D("-100"))])
def test_legacy_repay_types(rtype: object, kind: EventKind, wallet: Decimal) -> None:
    row = {"collateralCurrency": "BTC", "collateralReturn": "0.0494727", "loanCurrency": "USDT",
           "orderId": 1794267532472646144, "repayAmount": "100", "repayId": "5", "repayStatus": 2,
           "repayTime": "1728629786875", "repayType": rtype}
    main, back = decode("bybit.legacy_repayment_history", envelope([row]))
    assert (*books(main), main.status, main.ref_id) == (kind, wallet, D("-100"), 0, S.PENDING,
                                                        "1794267532472646144")
    # the final repayment returns the collateral: released +c / 0 / -c, a child of the repayment
    assert (back.id, *books(back), back.currency, back.parent_id, back.ts) == (
        "5:collateral", K.COLLATERAL_REMOVE, D("0.0494727"), 0, D("-0.0494727"), "BTC", "5", main.ts)


@pytest.mark.parametrize(("direction", "kind", "sign"), [(0, K.COLLATERAL_ADD, -1), ("1", K.COLLATERAL_REMOVE, 1)])
def test_collateral_directions(direction: object, kind: EventKind, sign: int) -> None:
    row = {"adjustId": 1, "adjustTime": 1752627997907, "amount": "0.08", "collateralCurrency": "BTC",
           "direction": direction, "status": 3}
    (e,) = decode("bybit.collateral_adjustment_history", envelope([row]))
    assert (*books(e), e.status) == (kind, sign * D("0.08"), 0, -sign * D("0.08"), S.FAILED)
    legacy = {"adjustId": "9", "adjustTime": "1728635422814", "amount": "0.08", "collateralCurrency": "BTC",
              "direction": direction, "orderId": "1794267532472646144"}
    (old,) = decode("bybit.legacy_adjustment_history", envelope([legacy]))
    assert (*books(old), old.status, old.ref_id) == (kind, sign * D("0.08"), 0, -sign * D("0.08"), S.DONE,
                                                     "1794267532472646144")


@pytest.mark.parametrize("feed", ["bybit.collateral_adjustment_history", "bybit.legacy_adjustment_history"])
def test_unknown_collateral_direction_is_a_decode_error(feed: str) -> None:
    row = {"adjustId": 1, "adjustTime": 1752627997907, "amount": "0.08", "collateralCurrency": "BTC", "direction": 2,
           "orderId": "7"}
    with pytest.raises(DecodeError, match="direction"):
        decode(feed, envelope([row]))


@pytest.mark.parametrize(("btype", "status", "kind", "st"), [
    ("1", "1", K.REPAY, S.DONE), ("2", "1", K.LIQUIDATION, S.DONE), ("1", "2", K.REPAY, S.FAILED)])
def test_ins_repay_types_and_interest_child(btype: str, status: str, kind: EventKind, st: EventStatus) -> None:
    row = {"repayOrderId": "8189", "repaidTime": "1663126393000", "token": "USDT", "quantity": "30000",
           "interest": "12.000000000000000001", "businessType": btype, "status": status}
    main, interest = decode("bybit.institutional_repayment_history", envelope([row], "repayInfo", None))
    # principal from the wallet (a liquidation sells the risk unit's assets into it first): -q / -q / 0
    assert (*books(main), main.status) == (kind, D("-30000"), D("-30000"), 0, st)
    # interest is charged to the wallet only (the position reports principal alone)
    assert (interest.id, *books(interest), interest.parent_id, interest.status) == (
        "8189:interest", K.INTEREST, D("-12.000000000000000001"), 0, 0, "8189", st)


@pytest.mark.parametrize(("status", "expected"), [(1, S.DONE), (2, S.PENDING), (3, S.FAILED), (9, S.PENDING)])
def test_new_api_status_rows(status: int, expected: EventStatus) -> None:
    row = {"borrowTime": 1, "initialLoanAmount": "1", "loanCurrency": "BTC", "orderId": 5, "status": status}
    (e,) = page("bybit.flexible_borrow_history", envelope([row])).events
    assert e.status is expected


CONTRACT = {"annualRate": "0.022", "borrowCurrency": "ETH", "borrowTime": "1752633756068",
            "interestPaid": "0.002531506849315069", "loanId": 571, "orderId": 13007, "repayType": "1",
            "repaymentTime": "1755225756068", "residualPenaltyInterest": "0.000460273972602739",
            "residualPrincipal": "1.4", "term": "30"}


@pytest.mark.parametrize("status", [1, 2, 3])
def test_fixed_contract_statuses(status: int) -> None:
    """Every contract paid its interest (done). An overdue contract (3) owes penalty interest onto the
    debt, stamped at the due time; a repaid one (2) lists the penalty settled at 0 (U12: paid, it
    moves into interestPaid), so a penalty seen while overdue never stays in the books."""
    row = dict(CONTRACT, status=status, residualPenaltyInterest="0" if status == 2 else CONTRACT[
        "residualPenaltyInterest"])
    interest, *penalty = decode("bybit.fixed_borrow_contracts", envelope([row]))
    assert (*books(interest), interest.status, interest.venue_type, interest.id, interest.ref_id) == (
        K.INTEREST, D("-0.002531506849315069"), 0, 0, S.DONE, str(status), "571", "13007")
    if status == 1:
        assert penalty == []
    else:
        (p,) = penalty
        owed = D("0.000460273972602739") if status == 3 else D(0)
        assert (p.id, *books(p), p.ts, p.parent_id, p.status) == (
            "571:penalty", K.INTEREST, 0, owed, 0, 1755225756068, "571", S.DONE)


@pytest.mark.parametrize("status", [1, 2])
def test_legacy_completed_loan_children(status: int) -> None:
    """A completed loan: borrow, the initial pledge, the interest and the penalty interest that accrued
    onto the debt (children of the order). Status 2 (liquidated) is the same: the collateral the
    liquidation sold is in no feed (the legacy scope's collateral residual)."""
    row = {"borrowTime": "1728546174028", "collateralCurrency": "BTC", "initialCollateralAmount": "0.0494727",
           "initialLoanAmount": "1", "loanCurrency": "ETH", "orderId": "7", "repaidInterest": "0.00000515",
           "repaidPenaltyInterest": "0.0000012", "status": status}
    events = decode("bybit.legacy_borrow_history", envelope([row]))
    assert [(e.id, *books(e), e.currency, e.parent_id, e.status, e.venue_type) for e in events] == [
        ("7", K.BORROW, D("1"), D("1"), 0, "ETH", None, S.DONE, str(status)),
        ("7:collateral", K.COLLATERAL_ADD, D("-0.0494727"), 0, D("0.0494727"), "BTC", "7", S.DONE, str(status)),
        ("7:interest", K.INTEREST, 0, D("0.00000515"), 0, "ETH", "7", S.DONE, str(status)),
        ("7:penalty", K.INTEREST, 0, D("0.0000012"), 0, "ETH", "7", S.DONE, str(status)),
    ]


@pytest.mark.parametrize("status", [1, 2])
def test_ins_loan_rows(status: int) -> None:
    ins = {"orderId": "8", "loanTime": "1689735916000", "loanCoin": "USDT", "loanAmount": "204", "status": str(status)}
    (i,) = decode("bybit.institutional_loan_orders", envelope([ins], "loanInfo", None))
    assert (*books(i), i.status, i.venue_type) == (K.BORROW, D("204"), D("204"), 0, S.DONE, str(status))


def test_twenty_digit_amounts_are_exact() -> None:
    row = flex_repay_row(1)
    row["repayAmount"] = "12345678.123456789012"
    (e,) = decode("bybit.flexible_repayment_history", envelope([row]))
    assert e.amount == Decimal("-12345678.123456789012") and str(e.amount) == "-12345678.123456789012"


def test_keep_raw_keeps_each_record() -> None:
    p = page("bybit.fixed_repayment_history", FIXED_REPAY_HISTORY, keep_raw=True)
    assert all(e.raw is not None for e in p.events)
    rec = msgspec.json.decode(bytes(p.events[0].raw))  # type: ignore[arg-type]
    assert rec["repayId"] == "1782" and len(rec["details"]) == 2
    assert page("bybit.fixed_repayment_history", FIXED_REPAY_HISTORY).events[0].raw is None
    raw_events = page("bybit.flexible_borrow_history", FLEX_BORROW_HISTORY, keep_raw=True).events
    assert [e.id for e in raw_events] == ["1364", "1363"]


def test_unknown_fields_are_ignored() -> None:
    body = FLEX_BORROW_HISTORY.replace(b'"status":1}', b'"status":1,"newField":{"a":[1,2]}}')
    assert [e.id for e in decode("bybit.flexible_borrow_history", body)] == ["1364", "1363"]


def test_empty_list_page() -> None:
    p = page("bybit.flexible_borrow_history", envelope([], cursor=""))
    assert (p.count, p.events, p.next_cursor, p.min_ts) == (0, [], "", None)


# --- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "cls"), [
    (10001, BadRequest), (10002, ClockSkewError), (10003, AuthError), (10004, AuthError), (10006, RateLimited),
    (10016, VenueUnavailable), (148019, VenueUnavailable), (148032, BadRequest), (177018, BadRequest),
    (3777043, BadRequest), (12345, type(None))])
@pytest.mark.parametrize("feed", BYBIT_FEEDS)
def test_error_envelopes_raise_typed_errors(feed: str, code: int, cls: type) -> None:
    body = json.dumps({"retCode": code, "retMsg": "nope", "result": {}, "retExtInfo": {}, "time": 1}).encode()
    with pytest.raises(Exception) as info:
        decode(feed, body)
    err = info.value
    if cls is type(None):
        assert type(err).__name__ == "VenueError"
    else:
        assert isinstance(err, cls)
    assert getattr(err, "code", None) == str(code)
    if code == 10004:
        assert err.signature is True  # type: ignore[attr-defined]


@pytest.mark.parametrize("body", [
    b"", b"<html>502</html>", b'{"retCode":0,"retMsg":"OK","result":{"list":[{"borrowTime":1}]', b"[]",
    b'{"retCode":0,"result":{"list":[{"borrowTime":1,"initialLoanAmount":"x","loanCurrency":"BTC","orderId":"1",'
    b'"status":1}]}}',
    b'{"retCode":0,"result":{"list":[{"borrowTime":1.5,"initialLoanAmount":"1","loanCurrency":"BTC","orderId":"1",'
    b'"status":1}]}}',
    b'{"retCode":0,"result":{"list":[{"borrowTime":1,"initialLoanAmount":"Infinity","loanCurrency":"BTC",'
    b'"orderId":"1","status":1}]}}',
    b'{"retCode":0,"result":{"list":[{"borrowTime":1,"initialLoanAmount":"1","loanCurrency":"","orderId":"1",'
    b'"status":1}]}}',
    b'{"retCode":0,"result":{"list":[{"borrowTime":1,"initialLoanAmount":"1","loanCurrency":"BTC","orderId":"",'
    b'"status":1}]}}',
    b'{"retCode":0,"result":{"list":{}}}',
    b'{"retCode":0,"retMsg":"OK"}',
])
@pytest.mark.parametrize("keep_raw", [False, True])
def test_malformed_bodies_raise_decode_error(body: bytes, keep_raw: bool) -> None:
    with pytest.raises(DecodeError):
        page("bybit.flexible_borrow_history", body, keep_raw=keep_raw)


def test_malformed_leg_and_ins_rows() -> None:
    bad_leg = FIXED_REPAY_HISTORY.replace(b'"repayAmount":"0.1"', b'"repayAmount":"NaN"')
    with pytest.raises(DecodeError, match="not finite"):
        decode("bybit.fixed_repayment_history", bad_leg)
    with pytest.raises(DecodeError):
        decode("bybit.institutional_repayment_history", INS_REPAID.replace(b'"repaidTime":"1663126393000"',
                                                                          b'"repaidTime":"soon"'))


def test_amounts_beyond_28_digits_are_not_rounded_by_sign_changes() -> None:
    """A repay's sign comes from its type; flipping it must not go through the 28-digit context."""
    from decimal import Decimal

    from loanledger import decode

    big = "12345678901234567890.123456789012345678"
    body = (
        '{"retCode":0,"retMsg":"ok","result":{"list":[{"loanCurrency":"BTC","repayAmount":"%s",'
        '"repayId":"1773","repayStatus":1,"repayTime":1752570731274,"repayType":1}],"nextPageCursor":""},'
        '"retExtInfo":{},"time":1752570745493}' % big
    ).encode()
    (ev,) = decode("bybit.flexible_repayment_history", body)
    assert ev.amount == Decimal("-" + big)
    assert str(ev.amount) == "-" + big


@pytest.mark.parametrize("loan_ids", [
    ["1000", "571", "99", "10000", "568"],  # digits: by value (the by-length fast path)
    ["0568", "571", "99"],  # a leading zero: the general order (value, then text)
    ["A7", "571", "99", "B"],  # ids that are not digits: after the numeric ones, by text
])
def test_fixed_repayment_legs_follow_the_loan_id_order_whatever_the_detail_order(loan_ids: list[str]) -> None:
    legs = [{"loanCurrency": "ETH", "loanId": lid, "repayAmount": f"0.{i + 1}"} for i, lid in enumerate(loan_ids)]
    row = {"details": legs, "loanCurrency": "ETH", "repayAmount": "1", "repayId": "9", "repayStatus": 1,
           "repayTime": 1752717174353, "repayType": 1}
    expected = fixed_leg_ids("9", loan_ids)
    for details in (legs, legs[::-1]):
        events = decode("bybit.fixed_repayment_history", envelope([{**row, "details": details}]))
        assert [e.id for e in events] == expected
        by_loan = {e.ref_id: e.amount for e in events}
        assert by_loan == {lid: -D(f"0.{i + 1}") for i, lid in enumerate(loan_ids)}


@pytest.mark.parametrize(("feed", "field", "extra"), [
    ("bybit.flexible_repayment_history", "repayAmount",
     {"loanCurrency": "BTC", "repayId": "1", "repayStatus": 1, "repayTime": 1, "repayType": 1}),
    ("bybit.collateral_adjustment_history", "amount",
     {"adjustId": 1, "adjustTime": 1, "collateralCurrency": "BTC", "direction": 0}),
    ("bybit.legacy_repayment_history", "collateralReturn",
     {"collateralCurrency": "BTC", "loanCurrency": "USDT", "orderId": 3, "repayAmount": "100", "repayId": "5",
      "repayStatus": 1, "repayTime": 1, "repayType": 1}),
    ("bybit.institutional_repayment_history", "interest",
     {"repayOrderId": "8", "repaidTime": 1, "token": "USDT", "quantity": "2"}),
    ("bybit.fixed_borrow_contracts", "interestPaid",
     {"borrowCurrency": "ETH", "borrowTime": 1, "loanId": 5, "orderId": 6, "repaymentTime": 2,
      "residualPenaltyInterest": "0", "residualPrincipal": "1", "status": 1}),
    ("bybit.legacy_borrow_history", "initialCollateralAmount",
     {"borrowTime": 1, "collateralCurrency": "BTC", "initialLoanAmount": "-7.5", "loanCurrency": "USDT",
      "orderId": 4, "repaidInterest": "-0.25", "repaidPenaltyInterest": "0", "status": 1}),
])
@pytest.mark.parametrize("amount", ["0.123456789012345678901234567890", "0", "0E-3"])
def test_a_signed_wire_amount_gives_the_books_of_its_magnitude(
        feed: str, field: str, extra: dict[str, object], amount: str) -> None:
    """The books come from |amount| (one copy per sign): a negative wire amount, and a negative zero, give
    the same events, byte for byte, as the magnitude (JSON keeps a zero's sign and exponent)."""
    list_name = "repayInfo" if feed.startswith("bybit.institutional") else "list"
    plain = decode(feed, envelope([{**extra, field: amount}], list_name))
    negative = decode(feed, envelope([{**extra, field: "-" + amount}], list_name))
    assert msgspec.json.encode(negative) == msgspec.json.encode(plain)
