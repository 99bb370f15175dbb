"""Bybit positions: the docs' examples decoded field by field, the requests the typed calls send,
the walk over pages, the INS special cases, bad input before any request, and against the
simulator: every position equals the account's books."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from aioresponses import aioresponses
from bybit_examples import CRYPTO_LOAN_POSITION, FIXED_CONTRACTS, FLEXIBLE_ONGOING, INS_LTV, LEGACY_ONGOING

from loanledger import (
    BadRequest,
    Book,
    Bybit,
    DecodeError,
    InvalidArgument,
    PaginationError,
    Position,
    RateLimits,
    VenueUnavailable,
)
from loanledger.testing import Simulator
from loanledger.testing import bybit_data as sim_data
from loanledger.testing.bybit import BybitAccount
from loanledger.venues.bybit import positions as pos

HOST = "https://api-testnet.bybit.com"


def doc_client() -> Bybit:
    return Bybit("XXXXXXXXXX", "YYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY", testnet=True, limits=RateLimits(scale=1000))


def gets(m: aioresponses) -> list[str]:
    return [str(url) for (meth, url), calls in m.requests.items() if meth == "GET" for _ in calls]


# --- the docs' examples ----------------------------------------------------------------------------------


def test_crypto_loan_position_example() -> None:
    p = pos.decode_crypto_loan_position(CRYPTO_LOAN_POSITION)
    assert [(b.currency, b.fixed_total_debt, b.flexible_total_debt, b.flexible_hourly_interest_rate)
            for b in p.borrows] == [("BTC", D(0), D("0.08800022"), D("0.0000001361462")),
                                    ("ETH", D("0.1"), D(0), D("0.00000188498892"))]
    assert [(c.currency, c.amount) for c in p.collateral] == [
        ("BTC", D("0.12")), ("ETH", D("2")), ("USDT", D("4002.12")), ("USDC", D("1000"))]
    assert (p.ltv, p.ts) == (D("0.524344"), 1752627962000)


def test_flexible_loans_example() -> None:
    (f,) = pos.decode_flexible_loans(FLEXIBLE_ONGOING)
    assert (f.currency, f.total_debt, f.unpaid_principal, f.unpaid_interest, f.hourly_interest_rate) == (
        "ETH", D("0.10000019"), D("0.1"), D("0.00000019"), D("0.0000018847396"))
    # answers from before the split (2025-10-16) have totalDebt only
    old = FLEXIBLE_ONGOING.replace(b',"unpaidAmount":"0.1","unpaidInterest":"0.00000019"', b"")
    (f,) = pos.decode_flexible_loans(old)
    assert (f.total_debt, f.unpaid_principal, f.unpaid_interest) == (D("0.10000019"), None, None)


def test_fixed_contracts_example() -> None:
    rows, cursor = pos.decode_fixed_contracts(FIXED_CONTRACTS)
    assert cursor == "568"
    assert [(c.loan_id, c.order_id, c.currency, c.status, c.residual_principal, c.residual_penalty_interest,
             c.interest_paid, c.borrow_time, c.due_time) for c in rows] == [
        ("571", "13007", "ETH", 1, D("1.4"), D(0), D("0.002531506849315069"), 1752633756068, 1755225756068),
        ("570", "13007", "ETH", 1, D("0.1"), D(0), D("0.00018082191780822"), 1752633696068, 1755225696068),
    ]


def test_legacy_open_loans_example() -> None:
    (loan,), cursor = pos.decode_legacy_open_loans(LEGACY_ONGOING)
    assert cursor == ""
    assert (loan.order_id, loan.currency, loan.collateral_currency, loan.collateral_amount, loan.principal,
            loan.interest, loan.penalty_interest) == (
        "1793683005081680384", "USDT", "BTC", D("0.0964687"), D("1888.005198"), D("0.04016"), D(0))
    assert loan.debt == D("1888.045358")  # totalDebt is "Unpaid principal" (U15): interest added


def test_ins_ltv_example() -> None:
    (unit,) = pos.decode_ins_ltv(INS_LTV)
    assert (unit.parent_uid, unit.liq_status, unit.ltv, [(d.currency, d.principal) for d in unit.unpaid]) == (
        "xxxxx", 0, D("0.75"), [("USDT", D("30"))])
    busy = INS_LTV.replace(b'"unpaidAmount":"30"', b'"liqStatus":2,"unpaidAmount":""').replace(
        b'[{"token":"USDT","unpaidQty":"30","unpaidInterest":"0"}]', b"[]").replace(b'"ltv":"0.75"', b'"ltv":""')
    (unit,) = pos.decode_ins_ltv(busy)
    assert (unit.liq_status, unit.ltv, unit.unpaid) == (2, None, [])


def test_positions_of_the_examples() -> None:
    rows = pos.positions_of(
        "a", 7, pos.decode_crypto_loan_position(CRYPTO_LOAN_POSITION),
        pos.decode_legacy_open_loans(LEGACY_ONGOING)[0], pos.decode_ins_ltv(INS_LTV))
    got = {(p.scope, p.currency, p.debt, p.collateral) for p in rows}
    z = D(0)  # the crypto-loan and legacy endpoints list every borrow and pledge: a row's other book is 0
    assert got == {
        ("bybit.crypto_loan", "BTC", D("0.08800022"), z), ("bybit.crypto_loan", "ETH", D("0.1"), z),
        ("bybit.crypto_loan", "BTC", z, D("0.12")), ("bybit.crypto_loan", "ETH", z, D("2")),
        ("bybit.crypto_loan", "USDT", z, D("4002.12")), ("bybit.crypto_loan", "USDC", z, D("1000")),
        ("bybit.legacy", "USDT", D("1888.045358"), z), ("bybit.legacy", "BTC", z, D("0.0964687")),
        ("bybit.institutional", "USDT", D("30"), None),
    }
    assert all(isinstance(p, Position) and p.venue == "bybit" and p.account == "a" for p in rows)


@pytest.mark.parametrize(("decode", "body"), [
    (pos.decode_crypto_loan_position, CRYPTO_LOAN_POSITION.replace(b'"amount":"0.12"', b'"amount":"NaN"')),
    (pos.decode_crypto_loan_position, CRYPTO_LOAN_POSITION.replace(b'"loanCurrency":"BTC"', b'"loanCurrency":""')),
    (pos.decode_flexible_loans, FLEXIBLE_ONGOING.replace(b'"totalDebt":"0.10000019"', b'"totalDebt":"1e999999999"')),
    (pos.decode_fixed_contracts, FIXED_CONTRACTS.replace(b'"residualPrincipal":"1.4"', b'"residualPrincipal":"x"')),
    (pos.decode_legacy_open_loans, LEGACY_ONGOING.replace(b'"residualInterest":"0.04016",', b"")),
    (pos.decode_ins_ltv, INS_LTV.replace(b'"unpaidQty":"30"', b'"unpaidQty":"-Infinity"')),
    (pos.decode_ins_ltv, b'{"retCode":0,"retMsg":"","time":1}'),
    (pos.decode_crypto_loan_position, b"<html>502</html>"),
])
def test_malformed_position_bodies_are_decode_errors(decode: Callable[[bytes], Any], body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(body)


def test_a_position_error_envelope_is_its_typed_error() -> None:
    with pytest.raises(BadRequest) as info:
        pos.decode_crypto_loan_position(b'{"retCode":148031,"retMsg":"not allowed","result":{},"time":1}')
    assert info.value.code == "148031"


# --- the requests -----------------------------------------------------------------------------------------


async def test_positions_reads_every_endpoint_once_and_maps_the_rows() -> None:
    with aioresponses() as m:
        m.get(f"{HOST}/v5/crypto-loan-common/position", body=CRYPTO_LOAN_POSITION)
        m.get(f"{HOST}/v5/crypto-loan/ongoing-orders?limit=100", body=LEGACY_ONGOING)
        m.get(f"{HOST}/v5/ins-loan/ltv-convert", body=INS_LTV)
        async with doc_client() as c:
            rows = await c.positions()
        urls = gets(m)
    assert len(urls) == 3  # no parameters where the venue takes none; every page of ongoing-orders
    assert {(p.scope, p.currency, p.debt) for p in rows if p.debt} == {
        ("bybit.crypto_loan", "BTC", D("0.08800022")), ("bybit.crypto_loan", "ETH", D("0.1")),
        ("bybit.legacy", "USDT", D("1888.045358")), ("bybit.institutional", "USDT", D("30"))}
    assert set(Bybit.scopes) == {"bybit.crypto_loan", "bybit.legacy", "bybit.institutional"}
    assert Bybit.scopes["bybit.institutional"].books == (Book.DEBT,)


async def test_an_account_without_ins_loans_has_no_ins_rows() -> None:
    """What the venue answers an account without an INS loan is UNVERIFIED: a business error or an
    empty list both mean no INS position; an auth or availability error is raised."""
    refused = b'{"retCode":3777002,"retMsg":"not an INS user","result":{},"retExtInfo":{},"time":1}'
    with aioresponses() as m:
        m.get(f"{HOST}/v5/crypto-loan-common/position", body=CRYPTO_LOAN_POSITION)
        m.get(f"{HOST}/v5/crypto-loan/ongoing-orders?limit=100", body=LEGACY_ONGOING)
        m.get(f"{HOST}/v5/ins-loan/ltv-convert", body=refused)
        async with doc_client() as c:
            rows = await c.positions()
    assert rows and not any(p.scope == "bybit.institutional" for p in rows)


async def test_an_ins_unit_under_liquidation_makes_positions_unavailable() -> None:
    busy = INS_LTV.replace(b'"unpaidAmount":"30"', b'"liqStatus":1,"unpaidAmount":""')
    with aioresponses() as m:
        m.get(f"{HOST}/v5/crypto-loan-common/position", body=CRYPTO_LOAN_POSITION)
        m.get(f"{HOST}/v5/crypto-loan/ongoing-orders?limit=100", body=LEGACY_ONGOING)
        m.get(f"{HOST}/v5/ins-loan/ltv-convert", body=busy)
        async with doc_client() as c:
            with pytest.raises(VenueUnavailable, match="liqStatus is 1"):
                await c.positions()


async def test_open_fixed_contracts_walks_every_page_and_keeps_status_1_and_3() -> None:
    second = (b'{"retCode":0,"retMsg":"ok","result":{"list":[{"annualRate":"0.022","autoRepay":"true",'
              b'"borrowCurrency":"ETH","borrowTime":"1752633656068","interestPaid":"0.0001","loanId":"568",'
              b'"orderId":"13006","repayType":"1","repaymentTime":"1755225656068","residualPenaltyInterest":"0",'
              b'"residualPrincipal":"0","status":2,"term":"30"},{"annualRate":"0.022","autoRepay":"true",'
              b'"borrowCurrency":"ETH","borrowTime":"1752633556068","interestPaid":"0.0001","loanId":"567",'
              b'"orderId":"13005","repayType":"1","repaymentTime":"1755225556068","residualPenaltyInterest":'
              b'"0.0000012","residualPrincipal":"0.3","status":3,"term":"30"}],"nextPageCursor":""},'
              b'"retExtInfo":{},"time":1752652692603}')
    with aioresponses() as m:
        m.get(f"{HOST}/v5/crypto-loan-fixed/borrow-contract-info?orderCurrency=ETH&limit=100", body=FIXED_CONTRACTS)
        m.get(f"{HOST}/v5/crypto-loan-fixed/borrow-contract-info?orderCurrency=ETH&limit=100&cursor=568", body=second)
        async with doc_client() as c:
            open_ = await c.open_fixed_contracts(currency="ETH")
    assert [(x.loan_id, x.status, x.residual_principal, x.residual_penalty_interest) for x in open_] == [
        ("571", 1, D("1.4"), D(0)), ("570", 1, D("0.1"), D(0)), ("567", 3, D("0.3"), D("0.0000012"))]


async def test_a_repeated_position_cursor_raises() -> None:
    with aioresponses() as m:
        m.get(re.compile(r".*/v5/crypto-loan/ongoing-orders.*"), body=LEGACY_ONGOING.replace(
            b'"nextPageCursor":""', b'"nextPageCursor":"same"'), repeat=True)
        async with doc_client() as c:
            with pytest.raises(PaginationError, match="repeated cursor"):
                await c.legacy_open_loans()
        assert len(gets(m)) == 2


BAD_CALLS: list[tuple[Callable[[Bybit], Any], type[Exception], str]] = [
    (lambda c: c.flexible_loans(currency="eth"), InvalidArgument, "currency"),
    (lambda c: c.open_fixed_contracts(loan_id="1 2"), InvalidArgument, "loan_id"),
    (lambda c: c.open_fixed_contracts(currency=5), TypeError, "currency"),
    (lambda c: c.legacy_open_loans(order_id=""), InvalidArgument, "order_id"),
    (lambda c: c.legacy_open_loans(collateral_currency="b-tc"), InvalidArgument, "collateral_currency"),
]


@pytest.mark.parametrize(("call", "exc", "arg"), BAD_CALLS)
async def test_bad_position_input_fails_before_any_request(bsim: Simulator, client: Bybit,
                                                           call: Callable[[Bybit], Any], exc: type[Exception],
                                                           arg: str) -> None:
    with pytest.raises(exc, match=arg):
        await call(client)
    assert bsim.log == []


# --- against the simulator: the positions are the books ---------------------------------------------------


async def test_positions_equal_the_simulated_books(bsim: Simulator, acct: BybitAccount, client: Bybit) -> None:
    rows = await client.positions()
    books, book = acct.book.books, acct.book
    by: dict[tuple[str, str], dict[str, D]] = {}
    for p in rows:
        slot = by.setdefault((p.scope, p.currency), {"debt": D(0), "collateral": D(0)})
        if p.debt is not None:
            slot["debt"] += p.debt
        if p.collateral is not None:
            slot["collateral"] += p.collateral
    want = {(s, c): {"debt": books.owed(s, c), "collateral": books.pledged(s, c)}
            for s in ("bybit.crypto_loan", "bybit.legacy", "bybit.institutional") for c in books.currencies(s)}
    assert by == want
    flexible = await client.flexible_loans()
    assert {(f.currency, f.total_debt, f.unpaid_interest) for f in flexible} == {
        (c, v, book.flex_interest.get(c, D(0))) for c, v in book.flex_debt.items() if v}
    assert all(f.unpaid_principal == f.total_debt - f.unpaid_interest for f in flexible)  # type: ignore[operator]
    open_ = await client.open_fixed_contracts()
    assert {c.loan_id for c in open_} == {r.key for r in book.open_contracts()}
    assert any(c.status == 3 and c.residual_penalty_interest > 0 for c in open_)  # an overdue contract
    legacy = await client.legacy_open_loans()
    assert {x.order_id for x in legacy} == set(book.legacy_open)
    for path in ("/v5/crypto-loan-common/position", "/v5/crypto-loan/ongoing-orders", "/v5/ins-loan/ltv-convert"):
        assert all(r.code is None for r in bsim.requests(path=path))


async def test_ins_positions_are_unavailable_while_a_repayment_is_processing(bsim: Simulator, client: Bybit) -> None:
    bsim.bybit.ins_repay_delay_ms = 60_000
    await client.repay_institutional("USDT", "10")
    with pytest.raises(VenueUnavailable, match="liqStatus is 2"):
        await client.positions()


def test_the_scopes_residual_names_are_the_simulators() -> None:
    """The simulator names what no feed records with the client's residual names (written twice on
    purpose: the simulator does not import the client)."""
    s = Bybit.scopes
    assert (sim_data.CRYPTO_LOAN, sim_data.LEGACY, sim_data.INSTITUTIONAL) == tuple(s)
    assert s[sim_data.CRYPTO_LOAN].residuals[Book.DEBT].name == sim_data.IMPLIED_INTEREST
    assert s[sim_data.CRYPTO_LOAN].residuals[Book.COLLATERAL].name == sim_data.NEW_COLLATERAL
    assert s[sim_data.LEGACY].residuals[Book.DEBT].name == sim_data.LEGACY_OPEN
    assert s[sim_data.LEGACY].residuals[Book.COLLATERAL].name == sim_data.LEGACY_COLLATERAL
    assert s[sim_data.INSTITUTIONAL].residuals == {}
    assert set(Bybit.feed_specs) == {f for scope in s.values() for f in scope.feeds}
