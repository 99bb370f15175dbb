"""Reconciliation verdicts: matched to the last decimal, explained only by the scope's named residual
(with its sign), differs otherwise; books the venue does not report are unchecked, never matched."""

from __future__ import annotations

from decimal import Decimal as D

from loanledger import Book, Position, Residual, Scope, Verdict
from loanledger.reconcile import ReconcileReport, compare

FLEX = Scope(
    "bybit.crypto_loan", ("bybit.flexible_borrow_history", "bybit.flexible_repayment_history"),
    residuals={Book.DEBT: Residual("implied accrued interest", "no feed records flexible-loan interest", +1)},
)
BANKRUPTCY = Scope("binance.pm_bankruptcy_loan", ("binance.pmloan_history",), books=(Book.DEBT,),
                   residuals={Book.DEBT: Residual("bankruptcy loan opened", "no feed records it", +1)})


def pos(ccy: str, debt: str | None = None, collateral: str | None = None, scope: str = FLEX.id) -> Position:
    return Position(venue="bybit", account="a", scope=scope, currency=ccy,
                    debt=None if debt is None else D(debt), collateral=None if collateral is None else D(collateral))


def test_equal_to_the_last_decimal_is_matched_and_one_unit_off_is_not() -> None:
    computed = {"ETH": {Book.DEBT: D("0.100000000000000001"), Book.COLLATERAL: D("1.5")}}
    [debt, coll] = compare("bybit", "a", FLEX, [pos("ETH", "0.100000000000000001", "1.5")], computed)
    assert (debt.verdict, coll.verdict) == (Verdict.MATCHED, Verdict.MATCHED) and debt.difference == 0
    [_, coll2] = compare("bybit", "a", FLEX, [pos("ETH", "0.100000000000000001", "1.500000000000000001")], computed)
    assert coll2.verdict is Verdict.DIFFERS and coll2.difference == D("1E-18")


def test_a_named_residual_explains_only_its_sign() -> None:
    computed = {"ETH": {Book.DEBT: D("0.1")}}
    [more] = compare("bybit", "a", FLEX, [pos("ETH", "0.10000019")], computed)
    assert more.verdict is Verdict.EXPLAINED and more.difference == D("0.00000019")
    assert "implied accrued interest" in more.explanation
    [less] = compare("bybit", "a", FLEX, [pos("ETH", "0.09")], computed)
    assert less.verdict is Verdict.DIFFERS and less.difference == D("-0.01")


def test_a_currency_missing_on_one_side_counts_as_zero_there() -> None:
    # the venue lists only open positions; the ledger still owes 2 USDT: a difference
    [c] = compare("bybit", "a", FLEX, [], {"USDT": {Book.DEBT: D("2")}})
    assert (c.position, c.computed, c.verdict) == (D(0), D(2), Verdict.DIFFERS)
    # the venue says 5 BTC pledged, the ledger knows none
    [c] = compare("bybit", "a", FLEX, [pos("BTC", collateral="5")], {})
    assert (c.book, c.difference, c.verdict) == (Book.COLLATERAL, D(5), Verdict.DIFFERS)


def test_rows_of_one_currency_add_up_and_other_scopes_are_ignored() -> None:
    rows = [pos("USDT", "1.25"), pos("USDT", "2.75"), pos("USDT", "100", scope="bybit.legacy")]
    [c] = compare("bybit", "a", FLEX, rows, {"USDT": {Book.DEBT: D("4")}})
    assert (c.position, c.verdict) == (D("4.00"), Verdict.MATCHED)


def test_a_book_the_venue_does_not_report_is_unchecked_not_matched() -> None:
    computed = {"USDT": {Book.DEBT: D("-404.80294503"), Book.COLLATERAL: D("3")}}
    checks = compare("binance", "a", BANKRUPTCY, [pos("USDT", "579.45", scope=BANKRUPTCY.id)], computed)
    debt, coll = checks
    assert debt.verdict is Verdict.EXPLAINED and debt.difference == D("984.25294503")
    assert coll.verdict is Verdict.UNCHECKED and coll.position is None
    report = ReconcileReport(checks)
    assert report.ok and "unchecked" in report.table() and "984.25294503" in report.table()
    assert not ReconcileReport(checks + compare("bybit", "a", FLEX, [], {"X": {Book.DEBT: D(1)}})).ok


def test_pending_is_shown_beside_and_never_summed() -> None:
    [c] = compare("bybit", "a", FLEX, [pos("ETH", "1")], {"ETH": {Book.DEBT: D("1")}}, {"ETH": {Book.DEBT: D("-0.4")}})
    assert (c.verdict, c.pending) == (Verdict.MATCHED, D("-0.4"))


def test_a_row_without_the_books_figure_is_unchecked_not_zero() -> None:
    # the venue lists ETH with a debt but no collateral figure: the ledger's 1.5 pledged is not "differs by -1.5"
    [debt, coll] = compare("bybit", "a", FLEX, [pos("ETH", "0.1")], {"ETH": {Book.DEBT: D("0.1"), Book.COLLATERAL: D("1.5")}})
    assert debt.verdict is Verdict.MATCHED
    assert (coll.verdict, coll.position, coll.difference) == (Verdict.UNCHECKED, None, D(0))
    assert "gives no figure" in coll.explanation
    # not listed at all: nothing open there, counted as zero
    [c] = compare("bybit", "a", FLEX, [pos("BTC", "1")], {"ETH": {Book.COLLATERAL: D("1.5")}})[1:]
    assert (c.currency, c.position, c.verdict) == ("ETH", D(0), Verdict.DIFFERS)


def test_the_report_counts_verdicts_and_lists_what_was_skipped() -> None:
    checks = compare("binance", "a", BANKRUPTCY, [pos("USDT", "579.45", scope=BANKRUPTCY.id)], {})
    report = ReconcileReport(checks, skipped={"okx:o": "loanledger reads no position of this venue"})
    assert report.ok and report.count(Verdict.EXPLAINED) == 1 and report.explained == checks
    assert "skipped: loanledger reads no position of this venue" in report.table()
