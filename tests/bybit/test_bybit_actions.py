"""Bybit borrow / repay actions: the docs' request and response examples round-trip (signed
request shape, answer -> event), validation before any request, and against the simulator:
at most one execution per action under faults, AmbiguousOutcome + reconcile, retries of
POSTs only on answers proving non-execution (10006, 10002, 10004)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from aioresponses import aioresponses
from bybit_examples import (
    FIXED_CONTRACTS,
    FIXED_REPAY,
    FIXED_REPAY_REQUEST,
    FLEX_BORROW,
    FLEX_BORROW_REQUEST,
    FLEX_REPAY,
    FLEX_REPAY_REQUEST,
    INS_REPAY,
    INS_REPAY_REQUEST,
    LEGACY_REPAY,
    LEGACY_REPAY_REQUEST,
)
from bybit_support import SCALE
from cryptography.hazmat.primitives import serialization

from loanledger import (
    AmbiguousOutcome,
    BadRequest,
    Bybit,
    EventKind,
    EventStatus,
    InvalidArgument,
    LoanEvent,
    RateLimits,
    RetryPolicy,
)
from loanledger.testing import Simulator
from loanledger.testing.bybit import BybitAccount

HOST = "https://api-testnet.bybit.com"
API_KEY, API_SECRET = "XXXXXXXXXX", "YYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY"  # exchange-api-notes 2.3 test key


def doc_client() -> Bybit:
    return Bybit(API_KEY, API_SECRET, testnet=True, limits=RateLimits(scale=1000))


def sent(m: aioresponses, method: str = "POST") -> list[Any]:
    return [call for (meth, _url), calls in m.requests.items() if meth == method for call in calls]


def check_signed_post(call: Any, doc_body: bytes) -> dict[str, Any]:
    """The request carries the doc's body (same keys, values and order) and a valid signature."""
    headers, body = call.kwargs["headers"], call.kwargs["data"]
    assert json.loads(body) == json.loads(doc_body)
    assert list(json.loads(body)) == list(json.loads(doc_body))
    assert headers["Content-Type"] == "application/json"
    assert headers["X-BAPI-API-KEY"] == API_KEY and headers["X-BAPI-RECV-WINDOW"] == "5000"
    ts = headers["X-BAPI-TIMESTAMP"]
    expected = hmac.new(API_SECRET.encode(), f"{ts}{API_KEY}5000".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-BAPI-SIGN"] == expected
    return dict(json.loads(body))


# --- the docs' examples ----------------------------------------------------------------------------------


async def test_borrow_flexible_doc_example() -> None:
    with aioresponses() as m:
        m.post(f"{HOST}/v5/crypto-loan-flexible/borrow", body=FLEX_BORROW)
        async with doc_client() as c:
            ev = await c.borrow_flexible("BTC", Decimal("0.1"), collateral=[("USDT", "1000"), ("ETH", 1)])
        check_signed_post(sent(m)[0], FLEX_BORROW_REQUEST)
    assert ev == LoanEvent(venue="bybit", account="default", feed="bybit.flexible_borrow_history", id="1363",
                           kind=EventKind.BORROW, status=EventStatus.PENDING, ts=1752569209682, currency="BTC",
                           amount=Decimal("0.1"), debt=Decimal("0.1"), ref_id="1363", venue_type="")


async def test_repay_flexible_doc_example_sends_amount_not_loan_amount() -> None:
    with aioresponses() as m:
        m.post(f"{HOST}/v5/crypto-loan-flexible/repay", body=FLEX_REPAY)
        async with doc_client() as c:
            ev = await c.repay_flexible("BTC", "0.005")
        body = check_signed_post(sent(m)[0], FLEX_REPAY_REQUEST)
    assert "loanAmount" not in body
    assert (ev.feed, ev.id, ev.kind, ev.status, ev.amount, ev.debt, ev.currency, ev.ts, ev.venue_type) == (
        "bybit.flexible_repayment_history", "1771", EventKind.REPAY, EventStatus.PENDING, Decimal("-0.005"),
        Decimal("-0.005"), "BTC", 1752569614549, "1")


async def test_repay_fixed_doc_example() -> None:
    with aioresponses() as m:
        m.get(re.compile(r".*/v5/crypto-loan-fixed/borrow-contract-info\?.*loanId=570.*"),
              body=FIXED_CONTRACTS.replace(b'"nextPageCursor":"568"', b'"nextPageCursor":""'))
        m.post(f"{HOST}/v5/crypto-loan-fixed/fully-repay", body=FIXED_REPAY)
        async with doc_client() as c:
            ev = await c.repay_fixed(loan_id="570")
        check_signed_post(sent(m)[0], FIXED_REPAY_REQUEST)
    # amount: minus the open principal of contract 570 (its residualPrincipal, read by the position
    # call); id: the repayId its first leg will carry
    assert (ev.feed, ev.id, ev.kind, ev.status, ev.amount, ev.debt, ev.currency, ev.ref_id, ev.ts) == (
        "bybit.fixed_repayment_history", "1771", EventKind.REPAY, EventStatus.PENDING, Decimal("-0.1"),
        Decimal("-0.1"), "ETH", "570", 1752569614549)


async def test_repay_legacy_doc_example() -> None:
    ongoing = (b'{"retCode":0,"retMsg":"request.success","result":{"list":[{"collateralAmount":"0.0495",'
               b'"collateralCurrency":"BTC","currentLTV":"0.4161","expirationTime":"","hourlyInterestRate":'
               b'"0.0000010633","loanCurrency":"USDT","loanTerm":"","orderId":"1794267532472646144",'
               b'"residualInterest":"0.04016","residualPenaltyInterest":"0","totalDebt":"1000.1"}],'
               b'"nextPageCursor":""},"retExtInfo":{},"time":1728629785000}')
    with aioresponses() as m:
        m.get(re.compile(r".*/v5/crypto-loan/ongoing-orders\?orderId=1794267532472646144$"), body=ongoing)
        m.post(f"{HOST}/v5/crypto-loan/repay", body=LEGACY_REPAY)
        async with doc_client() as c:
            ev = await c.repay_legacy("1794267532472646144", Decimal("100"))
        check_signed_post(sent(m)[0], LEGACY_REPAY_REQUEST)
    assert (ev.feed, ev.id, ev.ref_id, ev.amount, ev.currency, ev.ts, ev.status) == (
        "bybit.legacy_repayment_history", "1794271131730737664", "1794267532472646144", Decimal("-100"), "USDT",
        1728629786884, EventStatus.PENDING)


async def test_repay_institutional_doc_example() -> None:
    with aioresponses() as m:
        m.post(f"{HOST}/v5/ins-loan/repay-loan", body=INS_REPAY)
        async with doc_client() as c:
            ev = await c.repay_institutional("USDT", "500000")
        check_signed_post(sent(m)[0], INS_REPAY_REQUEST)
    assert (ev.feed, ev.id, ev.kind, ev.status, ev.amount, ev.venue_type, ev.ts) == (
        "bybit.institutional_repayment_history", "repay-loan:1767580441965:USDT:500000", EventKind.REPAY,
        EventStatus.PENDING, Decimal("-500000"), "P", 1767580441965)


async def test_loanable_request_is_unsigned_with_doc_query() -> None:
    with aioresponses() as m:
        m.get(f"{HOST}/v5/crypto-loan-common/loanable-data?currency=ETH&vipLevel=VIP5",
              body=b'{"retCode":0,"retMsg":"ok","result":{"list":[]},"retExtInfo":{},"time":1}')
        async with doc_client() as c:
            assert await c.loanable_coins(currency="ETH", vip_level="VIP5") == []
        (call,) = sent(m, "GET")
        assert not any(h.startswith("X-BAPI") for h in call.kwargs["headers"])


async def test_signature_rejection_on_a_post_is_resigned_once() -> None:
    rejected = b'{"retCode":10004,"retMsg":"error sign!","result":{},"retExtInfo":{},"time":1}'
    with aioresponses() as m:
        m.post(f"{HOST}/v5/crypto-loan-flexible/repay", body=rejected)
        m.post(f"{HOST}/v5/crypto-loan-flexible/repay", body=FLEX_REPAY)
        async with Bybit(API_KEY, API_SECRET, testnet=True, limits=RateLimits(scale=1000),
                         retry=RetryPolicy(base_delay=0.01)) as c:
            ev = await c.repay_flexible("BTC", "0.005")
        calls = sent(m)
    assert ev.id == "1771" and len(calls) == 2
    for call in calls:
        check_signed_post(call, FLEX_REPAY_REQUEST)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_on_a_post_is_ambiguous_and_not_resent(status: int) -> None:
    with aioresponses() as m:
        m.post(f"{HOST}/v5/crypto-loan-flexible/repay", status=status, body=b"oops")
        async with doc_client() as c:
            with pytest.raises(AmbiguousOutcome) as info:
                await c.repay_flexible("BTC", "0.005")
        assert len(sent(m)) == 1
    exc = info.value
    assert exc.can_reconcile and exc.body == {"loanCurrency": "BTC", "amount": "0.005"}
    assert API_SECRET not in str(exc) and API_SECRET not in repr(exc.body)


# --- validation before any request ------------------------------------------------------------------------

BAD_CALLS: list[tuple[str, Callable[[Bybit], Any], type[Exception], str]] = [
    ("float amount", lambda c: c.borrow_flexible("BTC", 0.1), TypeError, "amount"),
    ("float repay", lambda c: c.repay_flexible("BTC", 1.5), TypeError, "amount"),
    ("zero amount", lambda c: c.borrow_flexible("BTC", "0"), InvalidArgument, "amount"),
    ("negative", lambda c: c.repay_legacy("123", Decimal("-1")), InvalidArgument, "amount"),
    ("nan", lambda c: c.repay_flexible("BTC", Decimal("NaN")), InvalidArgument, "amount"),
    ("lower-case ccy", lambda c: c.borrow_flexible("btc", "1"), InvalidArgument, "currency"),
    ("ccy type", lambda c: c.repay_flexible(1, "1"), TypeError, "currency"),
    ("bad collateral ccy", lambda c: c.borrow_flexible("BTC", "1", collateral={"us-dt": "1"}), InvalidArgument,
     r"collateral\[0\].currency"),
    ("float collateral", lambda c: c.borrow_flexible("BTC", "1", collateral={"USDT": 1.0}), TypeError,
     r"collateral\[0\].amount"),
    ("collateral shape", lambda c: c.borrow_flexible("BTC", "1", collateral=[("USDT",)]), TypeError,
     r"collateral\[0\]"),
    ("collateral str", lambda c: c.borrow_flexible("BTC", "1", collateral="USDT"), TypeError, "collateral: expected"),
    ("collateral int", lambda c: c.borrow_flexible("BTC", "1", collateral=5), TypeError, "collateral: expected"),
    ("empty collateral", lambda c: c.borrow_flexible("BTC", "1", collateral={}), InvalidArgument, "collateral"),
    ("duplicate collateral", lambda c: c.borrow_flexible("BTC", "1", collateral=[("ETH", 1), ("ETH", 2)]),
     InvalidArgument, "collateral"),
    ("101 collateral", lambda c: c.borrow_flexible("BTC", "1", collateral={f"C{i}": 1 for i in range(101)}),
     InvalidArgument, "collateral"),
    ("fixed neither", lambda c: c.repay_fixed(), InvalidArgument, "loan_id"),
    ("fixed both", lambda c: c.repay_fixed(loan_id="1", currency="ETH"), InvalidArgument, "loan_id"),
    ("fixed bad id", lambda c: c.repay_fixed(loan_id="1; drop"), InvalidArgument, "loan_id"),
    ("legacy id", lambda c: c.repay_legacy("", "1"), InvalidArgument, "order_id"),
    ("ins float", lambda c: c.repay_institutional("USDT", 5e5), TypeError, "quantity"),
    ("ins token", lambda c: c.repay_institutional("usdt", "1"), InvalidArgument, "token"),
    ("vip", lambda c: c.loanable_coins(vip_level="gold"), InvalidArgument, "vip_level"),
    ("loanable ccy", lambda c: c.legacy_loanable_coins(currency="eth"), InvalidArgument, "currency"),
]


@pytest.mark.parametrize(("name", "call", "exc", "arg"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
async def test_bad_input_fails_before_any_request(
    bsim: Simulator, client: Bybit, name: str, call: Callable[[Bybit], Any], exc: type[Exception], arg: str
) -> None:
    with pytest.raises(exc, match=arg):
        await call(client)
    assert bsim.log == []
    assert bsim.bybit.mutations == []


# --- against the simulator ---------------------------------------------------------------------------------


async def collect_ids(c: Bybit, feed: str) -> list[str]:
    return [e.id for e in await c.events(feed).collect()]


async def test_borrow_then_repay_then_history_shows_the_same_ids(bsim: Simulator, client: Bybit) -> None:
    borrow = await client.borrow_flexible("SOL", "12.345678901234567891",
                                          collateral=(p for p in [("USDT", "2500"), ("ETH", 1)]))
    repay = await client.repay_flexible("SOL", Decimal("2.5"))
    borrows = {e.id: e for e in await client.flexible_borrow_history(currency="SOL").collect()}
    repays = {e.id: e for e in await client.flexible_repayment_history(currency="SOL").collect()}
    got_b, got_r = borrows[borrow.id], repays[repay.id]
    assert got_b.key == borrow.key and got_r.key == repay.key  # a ledger upsert merges them
    assert (got_b.amount, got_b.currency, got_b.kind) == (borrow.amount, borrow.currency, borrow.kind)
    assert (got_r.amount, got_r.currency, got_r.kind, got_r.venue_type) == (
        repay.amount, repay.currency, repay.kind, repay.venue_type)
    assert got_b.status is EventStatus.DONE  # settled; the action's event was pending
    assert [m.id for m in bsim.bybit.mutations] == [borrow.id, repay.id]
    assert bsim.bybit.mutations[0].body["collateralList"] == [{"currency": "USDT", "amount": "2500"},
                                                             {"currency": "ETH", "amount": "1"}]
    assert await client.reconcile(borrow) == got_b and await client.reconcile(repay) == got_r


async def test_fixed_repay_event_merges_with_its_first_leg(bsim: Simulator, acct: BybitAccount,
                                                          client: Bybit) -> None:
    open_eth = [r for r in acct.book.feeds["bybit.fixed_borrow_contracts"]
                if r.wire["status"] in (1, 3) and r.wire["borrowCurrency"] == "ETH"]
    ccy = "ETH" if open_eth else next(r.wire["borrowCurrency"] for r in acct.book.feeds["bybit.fixed_borrow_contracts"]
                                      if r.wire["status"] in (1, 3))
    ev = await client.repay_fixed(currency=ccy)
    legs = [e for e in await client.fixed_repayment_history(repay_id=ev.id).collect()]
    assert legs[0].key == ev.key
    assert sum(e.amount for e in legs) == ev.amount  # principal due = the legs (no penalty interest here)
    assert {e.parent_id for e in legs[1:]} <= {ev.id}
    with pytest.raises(InvalidArgument, match="no open fixed loan contract"):
        await client.repay_fixed(currency=ccy)  # all repaid now: refused before sending
    assert len(bsim.bybit.mutations) == 1


async def test_legacy_repay_final_returns_collateral(bsim: Simulator, acct: BybitAccount, client: Bybit) -> None:
    oid, order = next(iter(acct.book.legacy_open.items()))
    part = await client.repay_legacy(oid, "1")
    final = await client.repay_legacy(oid, order["totalDebt"])
    events = {e.id: e for e in await client.legacy_repayment_history(order_id=oid).collect()}
    assert events[part.id].amount == Decimal("-1") and events[final.id].ref_id == oid
    back = events[f"{final.id}:collateral"]
    assert back.kind is EventKind.COLLATERAL_REMOVE and back.amount == Decimal(order["collateralAmount"])
    with pytest.raises(InvalidArgument, match="no open legacy loan order"):
        await client.repay_legacy(oid, "1")
    assert [m.id for m in bsim.bybit.mutations] == [part.id, final.id]


async def test_ins_repay_appears_after_the_delay(bsim: Simulator, client: Bybit) -> None:
    bsim.bybit.ins_repay_delay_ms = 400
    ev = await client.repay_institutional("USDC", "1234.5")
    assert await client.reconcile(ev) is None  # not listed yet (the venue takes 2-3 minutes)
    with pytest.raises(BadRequest) as info:
        await client.repay_institutional("USDC", "1")  # a repayment is already processing
    assert info.value.code == "3777043"
    await asyncio.sleep(0.5)
    found = await client.reconcile(ev)
    assert found is not None and found.amount == Decimal("-1234.5") and found.currency == "USDC"
    assert found.status is EventStatus.DONE and found.ts >= ev.ts
    assert await client.reconcile(ev) == found  # stable: the claim is remembered
    assert len(bsim.bybit.mutations) == 1


FAULTS = ["5xx_after", "reset_after", "slow_after", "truncate", "non_json"]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("action", ["borrow", "flex_repay", "fixed_repay", "legacy_repay", "ins_repay"])
async def test_fault_after_execution_raises_ambiguous_and_reconciles(
    bsim: Simulator, acct: BybitAccount, make_client: Callable[..., Bybit], fault: str, action: str
) -> None:
    bsim.faults.slow_seconds = 1.5
    bsim.bybit.ins_repay_delay_ms = 0
    oid, order = next(iter(acct.book.legacy_open.items()))
    fixed_ccy = next(r.wire["borrowCurrency"] for r in acct.book.feeds["bybit.fixed_borrow_contracts"]
                     if r.wire["status"] in (1, 3))
    calls: dict[str, tuple[str, Callable[[Bybit], Any]]] = {
        "borrow": ("/v5/crypto-loan-flexible/borrow", lambda c: c.borrow_flexible("ETH", "3.25")),
        "flex_repay": ("/v5/crypto-loan-flexible/repay", lambda c: c.repay_flexible("BTC", "0.75")),
        "fixed_repay": ("/v5/crypto-loan-fixed/fully-repay", lambda c: c.repay_fixed(currency=fixed_ccy)),
        "legacy_repay": ("/v5/crypto-loan/repay", lambda c: c.repay_legacy(oid, "7.5")),
        "ins_repay": ("/v5/ins-loan/repay-loan", lambda c: c.repay_institutional("USDT", "1000")),
    }
    path, call = calls[action]
    bsim.faults.force(fault, path=path)  # type: ignore[arg-type]
    async with make_client(timeout=0.75) as c:
        with pytest.raises(AmbiguousOutcome) as info:
            await call(c)
        exc = info.value
        assert exc.path == path and exc.method == "POST" and exc.can_reconcile
        await asyncio.sleep(0.05)
        found = await exc.reconcile()
    executed = [m for m in bsim.bybit.mutations if m.path == path]
    assert len(executed) == 1, "the action was executed more than once"
    assert len(bsim.requests(path=path)) == 1, "the POST was re-sent"
    assert found is not None and found.id.split(":")[0] == executed[0].id


async def test_reconcile_finds_nothing_when_the_action_did_not_execute(
    bsim: Simulator, make_client: Callable[..., Bybit]
) -> None:
    async with make_client(recv_window=500) as c:  # reconcile says None once the venue would refuse it
        bsim.faults.force("reset", path="/v5/crypto-loan-flexible/borrow")  # dropped before the handler ran
        with pytest.raises(AmbiguousOutcome) as info:
            await c.borrow_flexible("ETH", "3.25")
        assert await info.value.reconcile() is None
    assert bsim.bybit.mutations == []


async def test_reconcile_skips_an_identical_earlier_action(bsim: Simulator, make_client: Callable[..., Bybit]) -> None:
    async with make_client() as c:
        first = await c.borrow_flexible("ETH", "3.25")
        bsim.faults.force("5xx_after", path="/v5/crypto-loan-flexible/borrow")
        with pytest.raises(AmbiguousOutcome) as info:
            await c.borrow_flexible("ETH", "3.25")
        found = await info.value.reconcile()
    assert found is not None and found.id != first.id and found.id == bsim.bybit.mutations[1].id


@pytest.mark.parametrize("answer", ["rate", "skew"])
async def test_rate_and_skew_answers_to_a_post_are_retried_once(
    bsim: Simulator, make_client: Callable[..., Bybit], answer: str
) -> None:
    path = "/v5/crypto-loan-flexible/borrow"
    async with make_client(retry=RetryPolicy(base_delay=0.01)) as c:
        if answer == "rate":
            bsim.faults.force("rate", path=path)
        else:
            bsim.skew_ms = 30_000  # the client's timestamps are now 30 s behind the venue
        ev = await c.borrow_flexible("BTC", "0.5")
    codes = [r.code for r in bsim.requests(path=path)]
    assert codes == (["10006", None] if answer == "rate" else ["10002", None])
    assert [m.id for m in bsim.bybit.mutations] == [ev.id]


async def test_business_error_is_raised_not_retried(bsim: Simulator, client: Bybit) -> None:
    with pytest.raises(BadRequest) as info:
        await client.repay_flexible("XRP", "1")  # no XRP debt
    assert info.value.code == "148032"
    assert len(bsim.requests(path="/v5/crypto-loan-flexible/repay")) == 1


async def test_rsa_key_signs_actions(bsim: Simulator, rsa_private_pem: str) -> None:
    pub = serialization.load_pem_private_key(rsa_private_pem.encode(), None).public_key()
    acct = bsim.bybit.add_account("RSAKEY01", public_key=pub, label="rsa")  # type: ignore[arg-type]
    bsim.bybit.populate(acct, seed=9, scale=0.2)
    async with Bybit("RSAKEY01", private_key=rsa_private_pem, base_url=bsim.base_url, account="rsa",
                     limits=RateLimits(scale=SCALE)) as c:
        ev = await c.borrow_flexible("BTC", "1")
        assert ev.id in {e.id for e in await c.flexible_borrow_history().collect()}
    assert [(m.account, m.id) for m in bsim.bybit.mutations] == [("rsa", ev.id)]


async def test_actions_respect_one_request_per_second(bsim: Simulator, client: Bybit) -> None:
    path = "/v5/crypto-loan-flexible/borrow"
    for i in range(2 * SCALE):
        await client.borrow_flexible("BTC", f"0.{i + 1}")
    assert Simulator.max_in_window(bsim.requests(path=path), 1.0) <= 1 * SCALE
    assert all(r.code is None for r in bsim.requests(path=path))
    assert len(Counter(m.id for m in bsim.bybit.mutations)) == 2 * SCALE


async def test_loanable_coins_from_the_simulator(client: Bybit) -> None:
    coins = await client.loanable_coins(currency="ETH", vip_level="VIP5")
    assert [(c.currency, c.vip_level, c.annualized_interest_rate_14d) for c in coins] == [
        ("ETH", "VIP5", Decimal("0.08"))]
    usdt = await client.loanable_coins(currency="USDT")
    assert {c.flexible_annualized_interest_rate for c in usdt} == {Decimal("0.061234500012345678")}
    legacy = await client.legacy_loanable_coins(vip_level="VIP0")
    assert {(c.currency, c.flexible_hourly_interest_rate) for c in legacy} == {
        ("USDT", Decimal("0.0000090346")), ("ETH", None)}
