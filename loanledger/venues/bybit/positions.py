"""Bybit loan positions: what the venue says the account owes and has pledged now.

Typed calls (msgspec Structs, Decimal money) with sans-IO decoders, paced like the feeds:

- GET /v5/crypto-loan-common/position: the new crypto loan per coin (fixed + flexible debt) and
  the one collateral pool flexible and fixed loans share;
- GET /v5/crypto-loan-flexible/ongoing-coin: flexible debt split into principal and interest;
- GET /v5/crypto-loan-fixed/borrow-contract-info, kept to status 1 (unrepaid) and 3 (overdue):
  the open fixed contracts (the endpoint has no status filter: every page is read);
- GET /v5/crypto-loan/ongoing-orders: open legacy loans;
- GET /v5/ins-loan/ltv-convert: institutional loans' unpaid principal per coin.

`positions_of()` turns them into `loanledger.reconcile.Position` rows of the client's `SCOPES`.
Sources: https://bybit-exchange.github.io/docs/v5/new-crypto-loan/crypto-loan-position,
.../new-crypto-loan/flexible/unpaid-loan-order, .../new-crypto-loan/fixed/borrow-contract,
https://bybit-exchange.github.io/docs/v5/crypto-loan/unpaid-loan-order,
https://bybit-exchange.github.io/docs/v5/otc/ltv-convert.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import msgspec

from ..._money import exact_sum, plausible
from ...errors import DecodeError, PaginationError
from ...feeds import BadRecord
from ...ratelimit import Limit
from ...reconcile import Book, Position, Residual, Scope
from ...transport import Request, Transport
from ._dialect import (
    HISTORY_LIMIT,
    LEGACY_LIMIT,
    P_LEGACY_ONGOING,
    PAGE_LIMIT,
    VENUE,
    Id,
    _ccy,
    _CursorResult,
    _Envelope,
    decode_envelope,
)
from .feeds import (
    ADJUSTMENTS,
    FIXED_CONTRACTS,
    FIXED_ORDERS,
    FIXED_REPAY,
    FLEX_BORROW,
    FLEX_REPAY,
    INS_LOAN_ORDERS,
    INS_REPAYMENTS,
    LEGACY_ADJUSTMENTS,
    LEGACY_BORROW,
    LEGACY_REPAY,
    FixedContractRow,
)

__all__ = [
    "CRYPTO_LOAN",
    "INSTITUTIONAL",
    "LEGACY",
    "SCOPES",
    "CryptoLoanCollateral",
    "CryptoLoanDebt",
    "CryptoLoanPosition",
    "FixedContract",
    "FlexibleLoan",
    "InsDebt",
    "InsRiskUnit",
    "LegacyOpenLoan",
    "decode_crypto_loan_position",
    "decode_fixed_contracts",
    "decode_flexible_loans",
    "decode_ins_ltv",
    "decode_legacy_open_loans",
    "positions_of",
]

P_POSITION = "/v5/crypto-loan-common/position"
P_FLEX_ONGOING = "/v5/crypto-loan-flexible/ongoing-coin"
P_CONTRACTS = FIXED_CONTRACTS.path
P_INS_LTV = "/v5/ins-loan/ltv-convert"
#: GET /v5/ins-loan/ltv-convert: 20 req / s (the INS read limit)
INS_LTV_LIMIT = Limit(20, 1.0)
#: the most pages a position walk reads before it calls the venue's cursor broken
MAX_PAGES = 10_000
#: open fixed contract statuses: 1 unrepaid, 3 overdue (2 = fully repaid)
OPEN_CONTRACT = frozenset({1, 3})

# --- scopes: the venue products whose position endpoints cover the feeds' events ------------------

CRYPTO_LOAN = "bybit.crypto_loan"
LEGACY = "bybit.legacy"
INSTITUTIONAL = "bybit.institutional"

SCOPES: dict[str, Scope] = {
    CRYPTO_LOAN: Scope(
        CRYPTO_LOAN,
        (FLEX_BORROW.id, FLEX_REPAY.id, FIXED_ORDERS.id, FIXED_CONTRACTS.id, FIXED_REPAY.id, ADJUSTMENTS.id),
        residuals={
            Book.DEBT: Residual(
                "implied accrued interest",
                "flexible-loan interest accrues hourly onto the debt and no feed records it", +1),
            Book.COLLATERAL: Residual(
                "unrecorded collateral movements",
                "collateral consumed by liquidations and collateral repayments (repayType 2, 5, 6, 7) is in "
                "no feed, nor a borrow-time pledge the adjustment history does not list", 0),
        },
        description="new crypto loan: flexible and fixed loans, one shared collateral pool "
                    "(GET /v5/crypto-loan-common/position)",
    ),
    LEGACY: Scope(
        LEGACY,
        (LEGACY_BORROW.id, LEGACY_REPAY.id, LEGACY_ADJUSTMENTS.id),
        residuals={
            Book.DEBT: Residual(
                "legacy loan still open",
                "a legacy loan's borrow and interest are listed only once it is fully repaid", +1),
            Book.COLLATERAL: Residual(
                "legacy loan open or liquidated",
                "an open legacy loan's initial pledge is listed only once it completes; collateral a "
                "liquidation sold is in no feed", 0),
        },
        description="legacy crypto loan (GET /v5/crypto-loan/ongoing-orders)",
    ),
    INSTITUTIONAL: Scope(
        INSTITUTIONAL,
        (INS_LOAN_ORDERS.id, INS_REPAYMENTS.id),
        books=(Book.DEBT,),
        description="institutional (INS / OTC) loans: principal only, nothing pledged (GET /v5/ins-loan/ltv-convert)",
    ),
}


# --- typed results ----------------------------------------------------------------------------------


class CryptoLoanDebt(msgspec.Struct, frozen=True, kw_only=True):
    """One coin of the new crypto loan's `borrowList`: fixed and flexible debt, in the coin."""

    currency: str
    fixed_total_debt: Decimal
    flexible_total_debt: Decimal
    flexible_hourly_interest_rate: Decimal | None


class CryptoLoanCollateral(msgspec.Struct, frozen=True, kw_only=True):
    """One coin of the shared collateral pool (`collateralList`), in the coin."""

    currency: str
    amount: Decimal


class CryptoLoanPosition(msgspec.Struct, frozen=True, kw_only=True):
    """GET /v5/crypto-loan-common/position; `ts` is the answer's venue time (ms)."""

    borrows: list[CryptoLoanDebt]
    collateral: list[CryptoLoanCollateral]
    ltv: Decimal | None
    ts: int


class FlexibleLoan(msgspec.Struct, frozen=True, kw_only=True):
    """One coin of GET /v5/crypto-loan-flexible/ongoing-coin: `total_debt` = unpaid principal and
    interest; the split (`unpaid_principal`, `unpaid_interest`) is None where the venue omits it."""

    currency: str
    total_debt: Decimal
    unpaid_principal: Decimal | None
    unpaid_interest: Decimal | None
    hourly_interest_rate: Decimal | None


class FixedContract(msgspec.Struct, frozen=True, kw_only=True):
    """One fixed-term contract (GET /v5/crypto-loan-fixed/borrow-contract-info)."""

    loan_id: str
    order_id: str
    currency: str
    status: int  # 1 unrepaid, 2 fully repaid, 3 overdue
    residual_principal: Decimal
    residual_penalty_interest: Decimal
    interest_paid: Decimal
    borrow_time: int
    due_time: int


class LegacyOpenLoan(msgspec.Struct, frozen=True, kw_only=True):
    """One open legacy loan (GET /v5/crypto-loan/ongoing-orders): `principal` is `totalDebt`
    ("Unpaid principal"), `interest` / `penalty_interest` the unpaid interest."""

    order_id: str
    currency: str
    collateral_currency: str
    collateral_amount: Decimal
    principal: Decimal
    interest: Decimal
    penalty_interest: Decimal
    hourly_interest_rate: Decimal | None

    @property
    def debt(self) -> Decimal:
        """Unpaid principal and interest (UNVERIFIED U15: `totalDebt` is principal only, as documented)."""
        return exact_sum((self.principal, self.interest, self.penalty_interest))


class InsDebt(msgspec.Struct, frozen=True, kw_only=True):
    """One coin an INS risk unit owes: unpaid principal (its interest is charged at repayment)."""

    currency: str
    principal: Decimal


class InsRiskUnit(msgspec.Struct, frozen=True, kw_only=True):
    """One risk unit of GET /v5/ins-loan/ltv-convert. While `liq_status` is not 0 (1 under
    liquidation, 2 manual repayment in progress, 3 transfer in progress) the venue empties `unpaid`."""

    parent_uid: str
    liq_status: int
    ltv: Decimal | None
    unpaid: list[InsDebt]


# --- wire Structs ---------------------------------------------------------------------------------------


class _BorrowRow(msgspec.Struct):
    loanCurrency: str
    fixedTotalDebt: Decimal
    flexibleTotalDebt: Decimal
    flexibleHourlyInterestRate: str = ""


class _CollateralRow(msgspec.Struct):
    currency: str
    amount: Decimal


class _PositionResult(msgspec.Struct):
    borrowList: list[_BorrowRow] = []
    collateralList: list[_CollateralRow] = []
    ltv: str = ""


class _OngoingCoinRow(msgspec.Struct):
    loanCurrency: str
    totalDebt: Decimal
    unpaidAmount: Decimal | None = None
    unpaidInterest: Decimal | None = None
    hourlyInterestRate: str = ""


class _ContractRow(FixedContractRow):
    """The fixed_borrow_contracts feed's record (the same endpoint), its status read as an int (the
    position keeps statuses 1 and 3; a "1" on the wire is 1 here)."""

    status: int


class _LegacyOngoingRow(msgspec.Struct):
    orderId: Id
    loanCurrency: str
    collateralCurrency: str
    collateralAmount: Decimal
    totalDebt: Decimal
    residualInterest: Decimal
    residualPenaltyInterest: Decimal
    hourlyInterestRate: str = ""


class _InsUnpaid(msgspec.Struct):
    token: str
    unpaidQty: Decimal


class _InsLtvRow(msgspec.Struct):
    parentUid: str = ""
    ltv: str = ""
    liqStatus: int = 0
    unpaidInfo: list[_InsUnpaid] = []


class _InsLtvResult(msgspec.Struct):
    ltvInfo: list[_InsLtvRow] = []


_position_decoder = msgspec.json.Decoder(_Envelope[_PositionResult], strict=False)
_ongoing_coin_decoder = msgspec.json.Decoder(_Envelope[_CursorResult[_OngoingCoinRow]], strict=False)
_contracts_decoder = msgspec.json.Decoder(_Envelope[_CursorResult[_ContractRow]], strict=False)
_legacy_decoder = msgspec.json.Decoder(_Envelope[_CursorResult[_LegacyOngoingRow]], strict=False)
_ins_decoder = msgspec.json.Decoder(_Envelope[_InsLtvResult], strict=False)

T = TypeVar("T")


def _amount(value: Decimal, name: str) -> Decimal:
    if not plausible(value):
        raise BadRecord(f"{name} is not finite or of sane magnitude: {value}")
    return value


def _rate(text: str, name: str) -> Decimal | None:
    """A rate the venue sends as a string ("" = none)."""
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadRecord(f"{name} {text!r} is not a decimal") from None
    return _amount(value, name)


def _decoded(decoder: msgspec.json.Decoder[Any], body: bytes, path: str, build: Callable[[Any], T]) -> T:
    """Decode a success envelope and build the typed result; a record off the documented shape
    is a DecodeError naming the endpoint and carrying the body."""
    env = decode_envelope(decoder, body, path, path)
    if env.result is None:
        raise DecodeError(VENUE, path, "success envelope without result", body)
    try:
        return build(env)
    except BadRecord as exc:
        raise DecodeError(VENUE, path, str(exc), body) from None


def decode_crypto_loan_position(body: bytes) -> CryptoLoanPosition:
    """Body of GET /v5/crypto-loan-common/position -> CryptoLoanPosition (pure)."""

    def build(env: Any) -> CryptoLoanPosition:
        r = env.result
        return CryptoLoanPosition(
            borrows=[CryptoLoanDebt(
                currency=_ccy(b.loanCurrency), fixed_total_debt=_amount(b.fixedTotalDebt, "fixedTotalDebt"),
                flexible_total_debt=_amount(b.flexibleTotalDebt, "flexibleTotalDebt"),
                flexible_hourly_interest_rate=_rate(b.flexibleHourlyInterestRate, "flexibleHourlyInterestRate"),
            ) for b in r.borrowList],
            collateral=[CryptoLoanCollateral(currency=_ccy(c.currency), amount=_amount(c.amount, "amount"))
                        for c in r.collateralList],
            ltv=_rate(r.ltv, "ltv"), ts=env.time if isinstance(env.time, int) else 0,
        )

    return _decoded(_position_decoder, body, P_POSITION, build)


def decode_flexible_loans(body: bytes) -> list[FlexibleLoan]:
    """Body of GET /v5/crypto-loan-flexible/ongoing-coin -> FlexibleLoan list (pure)."""

    def build(env: Any) -> list[FlexibleLoan]:
        return [FlexibleLoan(
            currency=_ccy(r.loanCurrency), total_debt=_amount(r.totalDebt, "totalDebt"),
            unpaid_principal=None if r.unpaidAmount is None else _amount(r.unpaidAmount, "unpaidAmount"),
            unpaid_interest=None if r.unpaidInterest is None else _amount(r.unpaidInterest, "unpaidInterest"),
            hourly_interest_rate=_rate(r.hourlyInterestRate, "hourlyInterestRate"),
        ) for r in env.result.rows]

    return _decoded(_ongoing_coin_decoder, body, P_FLEX_ONGOING, build)


def decode_fixed_contracts(body: bytes) -> tuple[list[FixedContract], str]:
    """One page of GET /v5/crypto-loan-fixed/borrow-contract-info -> (every contract, nextPageCursor)."""

    def build(env: Any) -> tuple[list[FixedContract], str]:
        return [FixedContract(
            loan_id=_id(r.loanId), order_id=_id(r.orderId), currency=_ccy(r.borrowCurrency), status=r.status,
            residual_principal=_amount(r.residualPrincipal, "residualPrincipal"),
            residual_penalty_interest=_amount(r.residualPenaltyInterest, "residualPenaltyInterest"),
            interest_paid=_amount(r.interestPaid, "interestPaid"), borrow_time=r.borrowTime,
            due_time=r.repaymentTime,
        ) for r in env.result.rows], env.result.nextPageCursor

    return _decoded(_contracts_decoder, body, P_CONTRACTS, build)


def decode_legacy_open_loans(body: bytes) -> tuple[list[LegacyOpenLoan], str]:
    """One page of GET /v5/crypto-loan/ongoing-orders -> (open legacy loans, nextPageCursor)."""

    def build(env: Any) -> tuple[list[LegacyOpenLoan], str]:
        return [LegacyOpenLoan(
            order_id=_id(r.orderId), currency=_ccy(r.loanCurrency), collateral_currency=_ccy(r.collateralCurrency),
            collateral_amount=_amount(r.collateralAmount, "collateralAmount"),
            principal=_amount(r.totalDebt, "totalDebt"), interest=_amount(r.residualInterest, "residualInterest"),
            penalty_interest=_amount(r.residualPenaltyInterest, "residualPenaltyInterest"),
            hourly_interest_rate=_rate(r.hourlyInterestRate, "hourlyInterestRate"),
        ) for r in env.result.rows], env.result.nextPageCursor

    return _decoded(_legacy_decoder, body, P_LEGACY_ONGOING, build)


def decode_ins_ltv(body: bytes) -> list[InsRiskUnit]:
    """Body of GET /v5/ins-loan/ltv-convert -> one InsRiskUnit per `ltvInfo` entry (pure)."""

    def build(env: Any) -> list[InsRiskUnit]:
        return [InsRiskUnit(
            parent_uid=r.parentUid, liq_status=r.liqStatus, ltv=_rate(r.ltv, "ltv"),
            unpaid=[InsDebt(currency=_ccy(u.token), principal=_amount(u.unpaidQty, "unpaidQty"))
                    for u in r.unpaidInfo],
        ) for r in env.result.ltvInfo]

    return _decoded(_ins_decoder, body, P_INS_LTV, build)


def _id(value: Id) -> str:
    text = str(value)
    if not text:
        raise BadRecord("empty id")
    return text


# --- calls ------------------------------------------------------------------------------------------


async def crypto_loan_position(transport: Transport) -> CryptoLoanPosition:
    """GET /v5/crypto-loan-common/position (no parameters)."""
    return await transport.request(Request("GET", P_POSITION, HISTORY_LIMIT), decode_crypto_loan_position)


async def flexible_loans(transport: Transport, currency: str | None) -> list[FlexibleLoan]:
    """GET /v5/crypto-loan-flexible/ongoing-coin (one page: the endpoint does not page)."""
    params = (("loanCurrency", currency),) if currency is not None else ()
    return await transport.request(Request("GET", P_FLEX_ONGOING, HISTORY_LIMIT, params=params), decode_flexible_loans)


async def _walk(
    transport: Transport, path: str, limit: Limit, params: tuple[tuple[str, str], ...],
    decode: Callable[[bytes], tuple[list[T], str]],
) -> list[T]:
    """Every row of a cursor endpoint: `limit=100` pages until the cursor is "" or a page is empty;
    a cursor seen before raises PaginationError (the walk would never end)."""
    out: list[T] = []
    cursor = ""
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        query = params + (("limit", str(PAGE_LIMIT)),) + ((("cursor", cursor),) if cursor else ())
        rows, cursor = await transport.request(Request("GET", path, limit, params=query), decode)
        out.extend(rows)
        if not cursor or not rows:
            return out
        if cursor in seen:
            raise PaginationError(f"{VENUE} {path}: repeated cursor {cursor!r}")
        seen.add(cursor)
    raise PaginationError(f"{VENUE} {path}: more than {MAX_PAGES} pages")


async def open_fixed_contracts(
    transport: Transport, loan_id: str | None, currency: str | None
) -> list[FixedContract]:
    """The open fixed contracts (status 1 or 3) of GET /v5/crypto-loan-fixed/borrow-contract-info."""
    params: tuple[tuple[str, str], ...] = ()
    if loan_id is not None:
        params += (("loanId", loan_id),)
    if currency is not None:
        params += (("orderCurrency", currency),)
    rows = await _walk(transport, P_CONTRACTS, HISTORY_LIMIT, params, decode_fixed_contracts)
    return [c for c in rows if c.status in OPEN_CONTRACT and (loan_id is None or c.loan_id == loan_id)]


async def legacy_open_loans(
    transport: Transport, order_id: str | None, currency: str | None, collateral_currency: str | None
) -> list[LegacyOpenLoan]:
    """GET /v5/crypto-loan/ongoing-orders, every page."""
    params: tuple[tuple[str, str], ...] = ()
    for wire, value in (("orderId", order_id), ("loanCurrency", currency), ("collateralCurrency", collateral_currency)):
        if value is not None:
            params += ((wire, value),)
    return await _walk(transport, P_LEGACY_ONGOING, LEGACY_LIMIT, params, decode_legacy_open_loans)


async def institutional_ltv(transport: Transport) -> list[InsRiskUnit]:
    """GET /v5/ins-loan/ltv-convert (no parameters)."""
    return await transport.request(Request("GET", P_INS_LTV, INS_LTV_LIMIT), decode_ins_ltv)


# --- positions -------------------------------------------------------------------------------------


def positions_of(
    account: str, ts: int, crypto: CryptoLoanPosition, legacy: list[LegacyOpenLoan], ins: list[InsRiskUnit]
) -> list[Position]:
    """The reconcile rows of the three scopes (a coin listed twice in a scope adds up in `compare`).

    The crypto-loan and legacy endpoints list every open borrow and every pledge, so a row gives
    both books: the one it is not about is 0 (its currency owes or pledges nothing there), never
    "no figure"."""
    zero = Decimal(0)
    out: list[Position] = []
    for b in crypto.borrows:
        out.append(Position(venue=VENUE, account=account, scope=CRYPTO_LOAN, currency=b.currency,
                            debt=exact_sum((b.fixed_total_debt, b.flexible_total_debt)), collateral=zero,
                            ts=crypto.ts or ts))
    for c in crypto.collateral:
        out.append(Position(venue=VENUE, account=account, scope=CRYPTO_LOAN, currency=c.currency,
                            debt=zero, collateral=c.amount, ts=crypto.ts or ts))
    for loan in legacy:
        out.append(Position(venue=VENUE, account=account, scope=LEGACY, currency=loan.currency, debt=loan.debt,
                            collateral=zero, ts=ts))
        out.append(Position(venue=VENUE, account=account, scope=LEGACY, currency=loan.collateral_currency,
                            debt=zero, collateral=loan.collateral_amount, ts=ts))
    for unit in ins:
        for d in unit.unpaid:
            out.append(Position(venue=VENUE, account=account, scope=INSTITUTIONAL, currency=d.currency,
                                debt=d.principal, ts=ts))
    return out
