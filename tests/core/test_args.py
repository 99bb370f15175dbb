"""Argument checks: every one names the argument and fails before any request."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from loanledger import InvalidArgument
from loanledger._args import (
    check_amount,
    check_currency,
    check_label,
    check_positive_number,
    check_window,
    to_ms,
)


def test_to_ms_accepts_int_and_aware_datetime_exactly() -> None:
    assert to_ms("since", 1731659485000) == 1731659485000
    aware = dt.datetime(2024, 11, 15, 8, 31, 25, 999_999, tzinfo=dt.UTC)
    assert to_ms("since", aware) == 1731659485999
    plus8 = dt.datetime(2024, 11, 15, 16, 31, 25, 1000, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert to_ms("until", plus8) == 1731659485001
    assert to_ms("since", None) is None


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        (dt.datetime(2024, 1, 1), InvalidArgument, "since: naive datetime"),
        (True, TypeError, "since: expected int"),
        (1731659485.5, TypeError, "since: expected int"),
        ("1731659485000", TypeError, "since: expected int"),
        (1731659485, InvalidArgument, "since: .* between 2000 and 2100"),
        (1731659485000000, InvalidArgument, "since: .* between 2000 and 2100"),
    ],
)
def test_to_ms_rejects(value: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        to_ms("since", value)  # type: ignore[arg-type]


def test_window_order_and_future() -> None:
    with pytest.raises(InvalidArgument, match="since: since .* is after until"):
        check_window(1731659485001, 1731659485000)
    with pytest.raises(InvalidArgument, match="since: .* in the future"):
        check_window(4_000_000_000_000, None, allow_future=False)
    assert check_window(None, 1731659485000) == (None, 1731659485000)


@pytest.mark.parametrize("bad", ["usdt", "", "US DT", "USDT-", "Ü", "A" * 21])
def test_currency_rejects(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="currency"):
        check_currency("currency", bad)


def test_currency_type() -> None:
    with pytest.raises(TypeError, match="currency: expected str"):
        check_currency("currency", 1)
    assert check_currency("currency", "1INCH") == "1INCH"


def test_amount_is_decimal_and_refuses_floats() -> None:
    assert check_amount("amount", Decimal("0.005")) == Decimal("0.005")
    assert check_amount("amount", "12345678901234567890.123456789") == Decimal("12345678901234567890.123456789")
    assert check_amount("amount", 3) == Decimal(3)
    with pytest.raises(TypeError, match="amount: floats are not accepted"):
        check_amount("amount", 0.1)
    for bad in (Decimal(0), Decimal("-1"), "0", "-0.5", Decimal("NaN"), "Infinity", "1e", "abc"):
        with pytest.raises(InvalidArgument, match="amount"):
            check_amount("amount", bad)
    with pytest.raises(TypeError, match="amount"):
        check_amount("amount", None)
    with pytest.raises(TypeError, match="amount"):
        check_amount("amount", True)


@pytest.mark.parametrize("huge", ["1E+999999999", Decimal("1E+401"), "1E-999999999", "0.5E-400"])
def test_amount_of_absurd_magnitude_is_refused(huge: object) -> None:
    """Finite, but written in plain notation for the venue it is up to a gigabyte of zeros
    (a borrow of 1E+999999999 hung building its request body)."""
    with pytest.raises(InvalidArgument, match="amount: .* beyond any amount"):
        check_amount("amount", huge)
    assert check_amount("amount", "1E+400") == Decimal("1E+400")


def test_label_and_numbers() -> None:
    assert check_label("account", "main-1") == "main-1"
    for bad in ("", " x", "a\nb"):
        with pytest.raises(InvalidArgument, match="account"):
            check_label("account", bad)
    with pytest.raises(InvalidArgument, match="interval"):
        check_positive_number("interval", 0)
    with pytest.raises(InvalidArgument, match="interval"):
        check_positive_number("interval", float("nan"))
    with pytest.raises(TypeError, match="interval"):
        check_positive_number("interval", "5")
