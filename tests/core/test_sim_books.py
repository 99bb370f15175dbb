"""The simulator's account books: exact moves per scope, what no feed records kept apart."""

from __future__ import annotations

from decimal import Decimal as D

from loanledger.testing.books import AccountBooks


def test_moves_sum_exactly_and_unrecorded_moves_are_kept_apart() -> None:
    b = AccountBooks()
    b.move("bybit.crypto_loan", "ETH", wallet=D("1.5"), debt=D("1.5"))
    b.move("bybit.crypto_loan", "ETH", debt=D("0.000000000000000001"), unrecorded="implied accrued interest")
    b.move("bybit.crypto_loan", "BTC", wallet=D("-0.05"), collateral=D("0.05"))
    b.move("bybit.crypto_loan", "ETH", wallet=D("-1.5"), debt=D("-1.5"))
    assert b.owed("bybit.crypto_loan", "ETH") == D("1E-18") and b.free("ETH") == 0
    assert b.recorded("debt") == {} and b.recorded("collateral") == {("bybit.crypto_loan", "BTC"): D("0.05")}
    assert b.unrecorded == {("bybit.crypto_loan", "debt", "ETH", "implied accrued interest"): D("1E-18")}
    assert b.currencies("bybit.crypto_loan") == {"ETH", "BTC"}
    assert b.recorded("wallet") == {("BTC",): D("-0.05")}  # zero totals disappear
