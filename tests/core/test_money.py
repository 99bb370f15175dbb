"""The exact-money helpers: signs and sums never round."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest

from loanledger._money import exact_sum, signed


def test_money_helpers_never_round() -> None:
    big = Decimal("12345678901234567890.123456789012345678")
    assert signed(big, True) == Decimal("-12345678901234567890.123456789012345678")
    assert signed(-big, False) != big  # -big already rounded: the reason `signed` exists
    assert signed(big.copy_negate(), False) == big
    with pytest.raises(decimal.Inexact):
        exact_sum([Decimal("1E+2000"), Decimal("1E-2000")])
