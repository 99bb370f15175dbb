"""The id text of an amount: the fast ``str()`` path must equal plain ``format(x, "f")`` notation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loanledger.venues.binance import _amount_key


def _reference(amount: Decimal) -> str:
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@pytest.mark.parametrize(
    ("wire", "key"),
    [("1E+2", "100"), ("0E-8", "0"), ("1E-7", "0.0000001"), ("-0.00", "-0"), ("1.500", "1.5"),
     ("12345678901.1234567890", "12345678901.123456789"), ("100", "100"), ("0.00000001", "0.00000001")],
)
def test_amount_key_examples(wire: str, key: str) -> None:
    assert _amount_key(Decimal(wire)) == key == _reference(Decimal(wire))


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_amount_key_is_plain_notation(amount: Decimal) -> None:
    assert _amount_key(amount) == _reference(amount)
