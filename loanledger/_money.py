"""Exact Decimal arithmetic for money.

Python's default decimal context keeps 28 significant digits, and even unary
minus, abs() and sum() round to it: an 18-decimal amount with 20 integer digits
silently loses its last ten digits. Normalizers therefore change signs with
`copy_negate`/`copy_abs` (never `-x` or `abs(x)`), and sums run in `EXACT`,
which raises instead of rounding.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from decimal import Decimal

__all__ = ["EXACT", "MAX_ADJUSTED", "exact_sum", "plausible", "signed"]

#: a context wide enough for any amount a venue sends, that refuses to round
EXACT = decimal.Context(prec=1000, traps=[decimal.InvalidOperation, decimal.Inexact, decimal.DivisionByZero,
                                           decimal.Overflow])


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """Sum without rounding (raises decimal.Inexact rather than lose a digit)."""
    with decimal.localcontext(EXACT):
        total = Decimal(0)
        for v in values:
            total += v
        return total


def signed(value: Decimal, negative: bool) -> Decimal:
    """`value` with its sign forced (exact: no context rounding)."""
    magnitude = value.copy_abs()
    return magnitude.copy_negate() if negative else magnitude


#: the largest power of ten (either way) a wire amount may reach: a venue amount has a few
#: dozen digits; 1E+999999999 is a corrupt body, and in plain notation (ids, CSV) a gigabyte
MAX_ADJUSTED = 400


def plausible(value: Decimal) -> bool:
    """A finite amount within 10**-MAX_ADJUSTED .. 10**MAX_ADJUSTED (zero of any sane exponent)."""
    return value.is_finite() and -MAX_ADJUSTED <= value.adjusted() <= MAX_ADJUSTED
