"""Bybit reference data: the coins the new and the legacy crypto loan lend, with their rates.

Unauthenticated GETs paced by the public IP limit. Sources: the Bybit v5 docs,
"Crypto Loan (New) > Get Borrowable Coins" and "Crypto Loan (legacy) > Get Collateral / Borrowable Coins".
"""

from __future__ import annotations

import re
from decimal import Decimal

import msgspec

from ..._args import check_currency
from ...errors import DecodeError, InvalidArgument
from ...feeds import BadRecord
from ...transport import Request, Transport
from ._dialect import P_LEGACY_LOANABLE, P_LOANABLE, PUBLIC_LIMIT, VENUE, _ccy, _CursorResult, _Envelope, _money, decode_envelope

__all__ = ["LegacyLoanableCoin", "LoanableCoin", "decode_legacy_loanable", "decode_loanable", "legacy_loanable_coins",
           "loanable_coins"]

_VIP = re.compile(r"(VIP|PRO)[0-9]{1,2}")



_NO_RATE = msgspec.Raw(b'""')


def _rate(raw: msgspec.Raw) -> Decimal | None:
    """A rate or limit the venue sends as a string ("" = not offered) or a number."""
    text = bytes(raw).decode()
    if text.startswith('"'):
        text = msgspec.json.decode(raw, type=str)
    if text in ("", "null"):
        return None
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise BadRecord(f"{text!r} is not a decimal") from None
    return _money(value, "rate")


class LoanableCoin(msgspec.Struct, frozen=True, kw_only=True):
    """One coin of GET /v5/crypto-loan-common/loanable-data (new crypto loan).

    Rates are annualized (``0.08`` = 8 %); None where the venue sends "" (term not offered
    or no lender in the market). Limits are in the coin; accuracies are decimal places.
    """

    currency: str
    vip_level: str
    fixed_borrowable: bool
    fixed_borrowing_accuracy: int
    flexible_borrowable: bool
    flexible_borrowing_accuracy: int
    max_borrowing_amount: Decimal | None
    min_fixed_borrowing_amount: Decimal | None
    min_flexible_borrowing_amount: Decimal | None
    flexible_annualized_interest_rate: Decimal | None
    annualized_interest_rate_7d: Decimal | None
    annualized_interest_rate_14d: Decimal | None
    annualized_interest_rate_30d: Decimal | None
    annualized_interest_rate_60d: Decimal | None
    annualized_interest_rate_90d: Decimal | None
    annualized_interest_rate_180d: Decimal | None


class LegacyLoanableCoin(msgspec.Struct, frozen=True, kw_only=True):
    """One coin of GET /v5/crypto-loan/loanable-data (legacy crypto loan), per VIP level.

    Rates are hourly; None where the venue sends "" (the term is not supported).
    """

    currency: str
    vip_level: str
    borrowing_accuracy: int
    max_borrowing_amount: Decimal | None
    min_borrowing_amount: Decimal | None
    flexible_hourly_interest_rate: Decimal | None
    hourly_interest_rate_7d: Decimal | None
    hourly_interest_rate_14d: Decimal | None
    hourly_interest_rate_30d: Decimal | None
    hourly_interest_rate_90d: Decimal | None
    hourly_interest_rate_180d: Decimal | None


class _LoanableRow(msgspec.Struct):
    currency: str
    vipLevel: str = ""
    fixedBorrowable: bool = False
    fixedBorrowingAccuracy: int = 0
    flexibleBorrowable: bool = False
    flexibleBorrowingAccuracy: int = 0
    maxBorrowingAmount: msgspec.Raw = _NO_RATE
    minFixedBorrowingAmount: msgspec.Raw = _NO_RATE
    minFlexibleBorrowingAmount: msgspec.Raw = _NO_RATE
    flexibleAnnualizedInterestRate: msgspec.Raw = _NO_RATE
    annualizedInterestRate7D: msgspec.Raw = _NO_RATE
    annualizedInterestRate14D: msgspec.Raw = _NO_RATE
    annualizedInterestRate30D: msgspec.Raw = _NO_RATE
    annualizedInterestRate60D: msgspec.Raw = _NO_RATE
    annualizedInterestRate90D: msgspec.Raw = _NO_RATE
    annualizedInterestRate180D: msgspec.Raw = _NO_RATE


class _LegacyLoanableRow(msgspec.Struct):
    currency: str
    borrowingAccuracy: int = 0
    maxBorrowingAmount: msgspec.Raw = _NO_RATE
    minBorrowingAmount: msgspec.Raw = _NO_RATE
    flexibleHourlyInterestRate: msgspec.Raw = _NO_RATE
    hourlyInterestRate7D: msgspec.Raw = _NO_RATE
    hourlyInterestRate14D: msgspec.Raw = _NO_RATE
    hourlyInterestRate30D: msgspec.Raw = _NO_RATE
    hourlyInterestRate90D: msgspec.Raw = _NO_RATE
    hourlyInterestRate180D: msgspec.Raw = _NO_RATE


class _LegacyVipList(msgspec.Struct):
    vipLevel: str
    rows: list[_LegacyLoanableRow] = msgspec.field(default_factory=list, name="list")


class _LegacyLoanableResult(msgspec.Struct):
    vipCoinList: list[_LegacyVipList] = []


_loanable_decoder = msgspec.json.Decoder(_Envelope[_CursorResult[_LoanableRow]], strict=False)
_legacy_loanable_decoder = msgspec.json.Decoder(_Envelope[_LegacyLoanableResult], strict=False)


def decode_loanable(body: bytes) -> list[LoanableCoin]:
    """Body of GET /v5/crypto-loan-common/loanable-data -> LoanableCoin list (pure)."""
    feed = "loanable-data"
    env = decode_envelope(_loanable_decoder, body, feed, P_LOANABLE)
    if env.result is None:
        raise DecodeError(VENUE, feed, "success envelope without result", body)
    try:
        return [
            LoanableCoin(
                currency=_ccy(r.currency), vip_level=r.vipLevel,
                fixed_borrowable=r.fixedBorrowable, fixed_borrowing_accuracy=r.fixedBorrowingAccuracy,
                flexible_borrowable=r.flexibleBorrowable, flexible_borrowing_accuracy=r.flexibleBorrowingAccuracy,
                max_borrowing_amount=_rate(r.maxBorrowingAmount),
                min_fixed_borrowing_amount=_rate(r.minFixedBorrowingAmount),
                min_flexible_borrowing_amount=_rate(r.minFlexibleBorrowingAmount),
                flexible_annualized_interest_rate=_rate(r.flexibleAnnualizedInterestRate),
                annualized_interest_rate_7d=_rate(r.annualizedInterestRate7D),
                annualized_interest_rate_14d=_rate(r.annualizedInterestRate14D),
                annualized_interest_rate_30d=_rate(r.annualizedInterestRate30D),
                annualized_interest_rate_60d=_rate(r.annualizedInterestRate60D),
                annualized_interest_rate_90d=_rate(r.annualizedInterestRate90D),
                annualized_interest_rate_180d=_rate(r.annualizedInterestRate180D),
            )
            for r in env.result.rows
        ]
    except (BadRecord, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DecodeError(VENUE, feed, str(exc), body) from None


def decode_legacy_loanable(body: bytes) -> list[LegacyLoanableCoin]:
    """Body of GET /v5/crypto-loan/loanable-data -> LegacyLoanableCoin list, flattened over VIP levels."""
    feed = "legacy loanable-data"
    env = decode_envelope(_legacy_loanable_decoder, body, feed, P_LEGACY_LOANABLE)
    if env.result is None:
        raise DecodeError(VENUE, feed, "success envelope without result", body)
    try:
        return [
            LegacyLoanableCoin(
                currency=_ccy(r.currency), vip_level=vip.vipLevel, borrowing_accuracy=r.borrowingAccuracy,
                max_borrowing_amount=_rate(r.maxBorrowingAmount),
                min_borrowing_amount=_rate(r.minBorrowingAmount),
                flexible_hourly_interest_rate=_rate(r.flexibleHourlyInterestRate),
                hourly_interest_rate_7d=_rate(r.hourlyInterestRate7D),
                hourly_interest_rate_14d=_rate(r.hourlyInterestRate14D),
                hourly_interest_rate_30d=_rate(r.hourlyInterestRate30D),
                hourly_interest_rate_90d=_rate(r.hourlyInterestRate90D),
                hourly_interest_rate_180d=_rate(r.hourlyInterestRate180D),
            )
            for vip in env.result.vipCoinList
            for r in vip.rows
        ]
    except (BadRecord, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DecodeError(VENUE, feed, str(exc), body) from None


def _params(currency: str | None, vip_level: str | None) -> tuple[tuple[str, str], ...]:
    params: list[tuple[str, str]] = []
    if currency is not None:
        params.append(("currency", check_currency("currency", currency)))
    if vip_level is not None:
        if not isinstance(vip_level, str):
            raise TypeError(f"vip_level: expected str, got {type(vip_level).__name__}")
        if not _VIP.fullmatch(vip_level):
            raise InvalidArgument("vip_level", f"{vip_level!r} is not a level like VIP0..VIP5, VIP99, PRO1..PRO6")
        params.append(("vipLevel", vip_level))
    return tuple(params)


async def loanable_coins(transport: Transport, currency: str | None, vip_level: str | None) -> list[LoanableCoin]:
    """GET /v5/crypto-loan-common/loanable-data (unauthenticated)."""
    req = Request("GET", P_LOANABLE, PUBLIC_LIMIT, params=_params(currency, vip_level), signed=False, group="public")
    return await transport.request(req, decode_loanable)


async def legacy_loanable_coins(
    transport: Transport, currency: str | None, vip_level: str | None
) -> list[LegacyLoanableCoin]:
    """GET /v5/crypto-loan/loanable-data (unauthenticated), flattened over VIP levels."""
    req = Request("GET", P_LEGACY_LOANABLE, PUBLIC_LIMIT, params=_params(currency, vip_level), signed=False,
                  group="public")
    return await transport.request(req, decode_legacy_loanable)
