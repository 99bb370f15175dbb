"""Item 4, first half: invalid arguments to every public method raise a clear error naming
the argument (TypeError for a wrong type, InvalidArgument, a ValueError, for a bad value)
before any request: the simulator's log stays empty."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rel_support import (
    BNB_KEY,
    BNB_PEM,
    BYB_KEY,
    BYB_SECRET,
    DATA,
    OKX_KEY,
    OKX_PASS,
    OKX_SECRET,
    Figures,
    World,
    world,
)

from loanledger import (
    OKX,
    Binance,
    Bybit,
    EventKind,
    EventStatus,
    FeedKey,
    InvalidArgument,
    Ledger,
    LoanEvent,
    RateLimits,
    RetryPolicy,
    SQLiteStore,
    decode,
)
from loanledger.ratelimit import Limit

NAIVE = dt.datetime(2025, 1, 1)
AWARE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
T = 1_735_689_600_000
HUGE = Decimal("1E+999999999")


@dataclass
class Ctx:
    w: World
    okx: OKX
    binance: Binance
    bybit: Bybit
    tmp: Path
    token: str  # a real checkpoint of okx.convert_history
    interest_token: str  # a real checkpoint of okx.flexible_loan_interest without filters

    def kw(self) -> dict[str, Any]:
        return {"base_url": self.w.sim.base_url, "limits": RateLimits(scale=self.w.rate_scale)}


def _pem(name: str) -> str:
    return (DATA / name).read_text()


def _ev(**kw: Any) -> LoanEvent:
    base: dict[str, Any] = dict(venue="bybit", account="bybit-0", feed="bybit.flexible_borrow_history", id="1",
                                kind=EventKind.BORROW, status=EventStatus.PENDING, ts=T, currency="BTC",
                                amount=Decimal(1))
    base.update(kw)
    return LoanEvent(**base)


Call = Callable[[Ctx], Any]
# (case id, the call, the exception type, the argument its message must name)
CASES: list[tuple[str, Call, type[Exception], str]] = [
    # --- constructors: credentials, both/neither key kinds, malformed PEM ---------------------
    ("okx key type", lambda c: OKX(5, OKX_SECRET, OKX_PASS, **c.kw()), TypeError, "api_key"),
    ("okx key empty", lambda c: OKX("", OKX_SECRET, OKX_PASS, **c.kw()), InvalidArgument, "api_key"),
    ("okx secret spaces", lambda c: OKX(OKX_KEY, "a b", OKX_PASS, **c.kw()), InvalidArgument, "secret"),
    ("okx passphrase empty", lambda c: OKX(OKX_KEY, OKX_SECRET, "", **c.kw()), InvalidArgument, "passphrase"),
    ("okx passphrase type", lambda c: OKX(OKX_KEY, OKX_SECRET, None, **c.kw()), TypeError, "passphrase"),
    ("okx demo type", lambda c: OKX(OKX_KEY, OKX_SECRET, OKX_PASS, demo="yes", **c.kw()), TypeError, "demo"),
    ("account empty", lambda c: OKX(OKX_KEY, OKX_SECRET, OKX_PASS, account="", **c.kw()), InvalidArgument,
     "account"),
    ("account type", lambda c: Bybit(BYB_KEY, BYB_SECRET, account=7, **c.kw()), TypeError, "account"),
    ("account spaces", lambda c: Bybit(BYB_KEY, BYB_SECRET, account=" a", **c.kw()), InvalidArgument, "account"),
    ("base_url scheme", lambda c: OKX(OKX_KEY, OKX_SECRET, OKX_PASS, base_url="ftp://x"), InvalidArgument,
     "base_url"),
    ("base_url path query", lambda c: Bybit(BYB_KEY, BYB_SECRET, base_url="https://h/?a=1"), InvalidArgument,
     "base_url"),
    ("base_url type", lambda c: Binance(BNB_KEY, "s", base_url=b"https://h"), TypeError, "base_url"),
    ("timeout zero", lambda c: OKX(OKX_KEY, OKX_SECRET, OKX_PASS, timeout=0, **c.kw()), InvalidArgument,
     "timeout"),
    ("timeout negative", lambda c: Bybit(BYB_KEY, BYB_SECRET, timeout=-1.0, **c.kw()), InvalidArgument, "timeout"),
    ("timeout nan", lambda c: Binance(BNB_KEY, "s", timeout=float("nan"), **c.kw()), InvalidArgument, "timeout"),
    ("timeout inf", lambda c: Binance(BNB_KEY, "s", timeout=float("inf"), **c.kw()), InvalidArgument, "timeout"),
    ("timeout str", lambda c: Bybit(BYB_KEY, BYB_SECRET, timeout="5", **c.kw()), TypeError, "timeout"),
    ("session type", lambda c: OKX(OKX_KEY, OKX_SECRET, OKX_PASS, session=object()), TypeError, "session"),
    ("limits type", lambda c: Bybit(BYB_KEY, BYB_SECRET, limits={"scale": 2}), TypeError, "limits"),
    ("retry type", lambda c: Bybit(BYB_KEY, BYB_SECRET, retry=3, **c.kw()), TypeError, "retry"),
    ("binance both kinds", lambda c: Binance(BNB_KEY, "s", private_key=BNB_PEM, **c.kw()), InvalidArgument,
     "secret"),
    ("binance neither kind", lambda c: Binance(BNB_KEY, **c.kw()), InvalidArgument, "secret"),
    ("binance malformed PEM", lambda c: Binance(BNB_KEY, private_key="-----BEGIN PRIVATE KEY-----\nnope\n",
                                                **c.kw()), InvalidArgument, "private_key"),
    ("binance truncated PEM", lambda c: Binance(BNB_KEY, private_key=BNB_PEM[: len(BNB_PEM) // 2], **c.kw()),
     InvalidArgument, "private_key"),
    ("binance public key as PEM", lambda c: Binance(BNB_KEY, private_key=_public_pem(), **c.kw()),
     InvalidArgument, "private_key"),
    ("binance PEM type", lambda c: Binance(BNB_KEY, private_key=123, **c.kw()), TypeError, "private_key"),
    ("binance PEM password type", lambda c: Binance(BNB_KEY, private_key=BNB_PEM, private_key_password=5,
                                                    **c.kw()), TypeError, "private_key_password"),
    ("binance recv_window 0", lambda c: Binance(BNB_KEY, "s", recv_window=0, **c.kw()), InvalidArgument,
     "recv_window"),
    ("binance recv_window big", lambda c: Binance(BNB_KEY, "s", recv_window=60_001, **c.kw()), InvalidArgument,
     "recv_window"),
    ("binance recv_window bool", lambda c: Binance(BNB_KEY, "s", recv_window=True, **c.kw()), TypeError,
     "recv_window"),
    ("bybit both kinds", lambda c: Bybit(BYB_KEY, BYB_SECRET, private_key=_pem("rsa_test_key.pem"), **c.kw()),
     InvalidArgument, "secret"),
    ("bybit neither kind", lambda c: Bybit(BYB_KEY, **c.kw()), InvalidArgument, "secret"),
    ("bybit Ed25519 PEM", lambda c: Bybit(BYB_KEY, private_key=BNB_PEM, **c.kw()), InvalidArgument, "private_key"),
    ("bybit malformed PEM", lambda c: Bybit(BYB_KEY, private_key="not a pem", **c.kw()), InvalidArgument,
     "private_key"),
    ("bybit testnet type", lambda c: Bybit(BYB_KEY, BYB_SECRET, testnet=1, **c.kw()), TypeError, "testnet"),
    ("bybit recv_window str", lambda c: Bybit(BYB_KEY, BYB_SECRET, recv_window="5000", **c.kw()), TypeError,
     "recv_window"),
    # --- settings objects --------------------------------------------------------------------
    ("retry attempts 0", lambda c: RetryPolicy(max_attempts=0), InvalidArgument, "max_attempts"),
    ("retry attempts float", lambda c: RetryPolicy(max_attempts=2.5), TypeError, "max_attempts"),
    ("retry base_delay 0", lambda c: RetryPolicy(base_delay=0), InvalidArgument, "base_delay"),
    ("retry max_delay -1", lambda c: RetryPolicy(max_delay=-1), InvalidArgument, "max_delay"),
    ("limits headroom 0", lambda c: RateLimits(headroom=0), InvalidArgument, "headroom"),
    ("limits scale nan", lambda c: RateLimits(scale=float("nan")), InvalidArgument, "scale"),
    ("limits scale str", lambda c: RateLimits(scale="2"), TypeError, "scale"),
    ("limit budget 0", lambda c: Limit(0, 1.0), InvalidArgument, "limit"),
    ("store path type", lambda c: SQLiteStore(5), TypeError, "path"),
    ("store path empty", lambda c: SQLiteStore(""), InvalidArgument, "path"),
    # --- feeds: times, windows, tokens, page caps, flags ----------------------------------------
    ("since > until", lambda c: c.okx.convert_history(since=T + 1, until=T), InvalidArgument, "since"),
    ("naive since", lambda c: c.okx.flexible_loan_history(since=NAIVE), InvalidArgument, "since"),
    ("naive until", lambda c: c.bybit.flexible_borrow_history(until=NAIVE), InvalidArgument, "until"),
    ("since seconds", lambda c: c.binance.pmloan_history(since=1_735_689_600), InvalidArgument, "since"),
    ("since microseconds", lambda c: c.okx.convert_history(since=T * 1000), InvalidArgument, "since"),
    ("since float", lambda c: c.okx.convert_history(since=float(T)), TypeError, "since"),
    ("since str", lambda c: c.bybit.fixed_borrow_contracts(since="2025-01-01"), TypeError, "since"),
    ("since bool", lambda c: c.binance.pm_interest_history(since=True), TypeError, "since"),
    ("until date", lambda c: c.okx.one_click_repay_history(until=dt.date(2025, 1, 1)), TypeError, "until"),
    ("binance since future", lambda c: c.binance.pmloan_history(since=4_000_000_000_000), InvalidArgument,
     "since"),
    ("binance until before default since", lambda c: c.binance.pm_interest_history(until=T - 10**12),
     InvalidArgument, "until"),
    ("resume garbage", lambda c: c.okx.convert_history(resume="not-a-token"), InvalidArgument, "resume"),
    ("resume type", lambda c: c.okx.convert_history(resume=5), TypeError, "resume"),
    ("resume other feed", lambda c: c.okx.flexible_loan_history(resume=c.token), InvalidArgument, "resume"),
    ("resume other filters", lambda c: c.okx.flexible_loan_interest(currency="BTC", resume=c.interest_token),
     InvalidArgument, "resume"),
    ("max_pages 0", lambda c: c.okx.flexible_loan_history(max_pages=0), InvalidArgument, "max_pages"),
    ("max_pages str", lambda c: c.okx.events("okx.convert_history", max_pages="9"), InvalidArgument, "max_pages"),
    ("strict type", lambda c: c.okx.convert_history(strict="yes"), TypeError, "strict"),
    ("keep_raw type", lambda c: c.bybit.flexible_borrow_history(keep_raw=1), TypeError, "keep_raw"),
    ("unknown feed", lambda c: c.okx.events("okx.nope"), InvalidArgument, "feed_id"),
    ("other venue's feed", lambda c: c.okx.events("bybit.flexible_borrow_history"), InvalidArgument, "feed_id"),
    ("feed id type", lambda c: c.bybit.events(5), InvalidArgument, "feed_id"),
    ("unknown filter", lambda c: c.okx.events("okx.convert_history", bogus="x"), InvalidArgument, "bogus"),
    ("filter type", lambda c: c.okx.events("okx.flexible_loan_interest", currency=5), TypeError, "currency"),
    ("filter empty", lambda c: c.okx.events("okx.flexible_loan_interest", currency=""), InvalidArgument,
     "currency"),
    # --- feed filters: currencies, ids, enums -----------------------------------------------------
    ("okx type unknown", lambda c: c.okx.flexible_loan_history(type="borrow"), InvalidArgument, "type"),
    ("okx type type", lambda c: c.okx.flexible_loan_history(type=1), TypeError, "type"),
    ("okx order_id letters", lambda c: c.okx.flexible_loan_history(order_id="abc"), InvalidArgument, "order_id"),
    ("okx order_id int", lambda c: c.okx.flexible_loan_history(order_id=123), TypeError, "order_id"),
    ("okx currency lower", lambda c: c.okx.flexible_loan_interest(currency="usdt"), InvalidArgument, "currency"),
    ("okx currency empty", lambda c: c.okx.flexible_loan_interest(currency=""), InvalidArgument, "currency"),
    ("okx currency symbol", lambda c: c.okx.flexible_loan_interest(currency="US-DT"), InvalidArgument,
     "currency"),
    ("binance asset lower", lambda c: c.binance.pm_interest_history(asset="usdt"), InvalidArgument, "asset"),
    ("binance asset type", lambda c: c.binance.pm_interest_history(asset=b"USDT"), TypeError, "asset"),
    ("bybit currency lower", lambda c: c.bybit.flexible_repayment_history(currency="btc"), InvalidArgument,
     "currency"),
    ("bybit order_id empty", lambda c: c.bybit.flexible_borrow_history(order_id=""), InvalidArgument, "order_id"),
    ("bybit order_id spaces", lambda c: c.bybit.legacy_borrow_history(order_id="1 2"), InvalidArgument,
     "order_id"),
    ("bybit repay_id type", lambda c: c.bybit.fixed_repayment_history(repay_id=1.5), TypeError, "repay_id"),
    ("bybit term", lambda c: c.bybit.fixed_borrow_contracts(term=8), InvalidArgument, "term"),
    ("bybit term bool", lambda c: c.bybit.fixed_borrow_contracts(term=True), TypeError, "term"),
    ("bybit loan_id", lambda c: c.bybit.fixed_borrow_contracts(loan_id="a;b"), InvalidArgument, "loan_id"),
    ("bybit vip_level", lambda c: c.bybit.loanable_coins(vip_level="gold"), InvalidArgument, "vip_level"),
    ("bybit vip_level type", lambda c: c.bybit.legacy_loanable_coins(vip_level=5), TypeError, "vip_level"),
    ("bybit loanable currency", lambda c: c.bybit.loanable_coins(currency="eth"), InvalidArgument, "currency"),
    # --- actions: amounts (floats, zero, negative, huge), currencies, ids ---------------------------
    ("borrow float", lambda c: c.bybit.borrow_flexible("BTC", 0.5), TypeError, "amount"),
    ("borrow zero", lambda c: c.bybit.borrow_flexible("BTC", "0"), InvalidArgument, "amount"),
    ("borrow negative zero", lambda c: c.bybit.borrow_flexible("BTC", Decimal("-0")), InvalidArgument, "amount"),
    ("borrow negative", lambda c: c.bybit.borrow_flexible("BTC", -1), InvalidArgument, "amount"),
    ("borrow nan", lambda c: c.bybit.borrow_flexible("BTC", "NaN"), InvalidArgument, "amount"),
    ("borrow infinity", lambda c: c.bybit.borrow_flexible("BTC", Decimal("Infinity")), InvalidArgument, "amount"),
    ("borrow absurd magnitude", lambda c: c.bybit.borrow_flexible("BTC", HUGE), InvalidArgument, "amount"),
    ("borrow absurd precision", lambda c: c.bybit.borrow_flexible("BTC", "1E-999999999"), InvalidArgument,
     "amount"),
    ("borrow amount text", lambda c: c.bybit.borrow_flexible("BTC", "ten"), InvalidArgument, "amount"),
    ("borrow amount bool", lambda c: c.bybit.borrow_flexible("BTC", True), TypeError, "amount"),
    ("borrow amount list", lambda c: c.bybit.borrow_flexible("BTC", [1]), TypeError, "amount"),
    ("borrow currency lower", lambda c: c.bybit.borrow_flexible("btc", "1"), InvalidArgument, "currency"),
    ("borrow currency empty", lambda c: c.bybit.borrow_flexible("", "1"), InvalidArgument, "currency"),
    ("borrow currency type", lambda c: c.bybit.borrow_flexible(None, "1"), TypeError, "currency"),
    ("borrow collateral float", lambda c: c.bybit.borrow_flexible("BTC", "1", collateral={"USDT": 2.5}),
     TypeError, "collateral[0].amount"),
    ("borrow collateral huge", lambda c: c.bybit.borrow_flexible("BTC", "1", collateral={"USDT": HUGE}),
     InvalidArgument, "collateral[0].amount"),
    ("repay float", lambda c: c.bybit.repay_flexible("BTC", 1.25), TypeError, "amount"),
    ("repay zero", lambda c: c.bybit.repay_flexible("BTC", 0), InvalidArgument, "amount"),
    ("repay currency lower", lambda c: c.bybit.repay_flexible("eth", "1"), InvalidArgument, "currency"),
    ("repay_fixed neither", lambda c: c.bybit.repay_fixed(), InvalidArgument, "loan_id"),
    ("repay_fixed both", lambda c: c.bybit.repay_fixed(loan_id="1", currency="ETH"), InvalidArgument, "loan_id"),
    ("repay_fixed currency lower", lambda c: c.bybit.repay_fixed(currency="eth"), InvalidArgument, "currency"),
    ("repay_legacy order empty", lambda c: c.bybit.repay_legacy("", "1"), InvalidArgument, "order_id"),
    ("repay_legacy negative", lambda c: c.bybit.repay_legacy("1", "-2"), InvalidArgument, "amount"),
    ("repay_institutional float", lambda c: c.bybit.repay_institutional("USDT", 1e6), TypeError, "quantity"),
    ("repay_institutional token", lambda c: c.bybit.repay_institutional("usdt", "1"), InvalidArgument, "token"),
    ("reconcile type", lambda c: c.bybit.reconcile("1"), TypeError, "event"),
    ("reconcile other venue", lambda c: c.bybit.reconcile(_ev(venue="okx", feed="okx.convert_history")),
     InvalidArgument, "event"),
    # --- ledger, store, decode -----------------------------------------------------------------
    ("ledger no clients", lambda c: Ledger([]), InvalidArgument, "clients"),
    ("ledger client type", lambda c: Ledger(["okx"]), TypeError, "clients"),
    ("ledger same account twice", lambda c: Ledger([c.okx, c.okx]), InvalidArgument, "clients"),
    ("ledger store type", lambda c: Ledger([c.okx], store="ledger.db"), TypeError, "store"),
    ("ledger keep_raw type", lambda c: Ledger([c.okx], keep_raw="no"), TypeError, "keep_raw"),
    ("sync unknown feed", lambda c: Ledger([c.okx]).sync(feeds=["okx.nope"]), InvalidArgument, "feeds"),
    ("sync naive since", lambda c: Ledger([c.okx]).sync(since=NAIVE), InvalidArgument, "since"),
    ("merged unknown venue", lambda c: Ledger([c.okx]).merged(feeds=["kraken"]), InvalidArgument, "feeds"),
    ("follow interval 0", lambda c: Ledger([c.okx]).follow(interval=0), InvalidArgument, "interval"),
    ("follow interval negative", lambda c: Ledger([c.okx]).follow(interval=-5), InvalidArgument, "interval"),
    ("follow interval str", lambda c: Ledger([c.okx]).follow(interval="30"), TypeError, "interval"),
    ("follow interval nan", lambda c: Ledger([c.okx]).follow(interval=float("nan")), InvalidArgument, "interval"),
    ("store commit foreign event", lambda c: _commit_foreign(c), InvalidArgument, "events"),
    ("decode unknown feed", lambda c: decode("okx.nope", b"{}"), InvalidArgument, "feed"),
    ("decode body type", lambda c: decode("okx.convert_history", '{"code":"0"}'), TypeError, "body"),
]


def _public_pem() -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(BNB_PEM.encode(), None).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


async def _commit_foreign(c: Ctx) -> None:
    async with SQLiteStore(c.tmp / "bad-input.db") as store:
        await store.commit_page(FeedKey("okx", "okx-0", "okx.convert_history"),
                                [_ev()], "t", expected=None)


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[Ctx]:
    async with world(seed=4, scale=0.05, grow=False) as w:
        okx, binance, bybit = w.clients()
        feed = okx.convert_history()
        async for _ in feed.pages():
            break
        await feed.aclose()
        assert feed.checkpoint is not None
        interest = okx.flexible_loan_interest()
        async for _ in interest.pages():
            break
        await interest.aclose()
        assert interest.checkpoint is not None
        c = Ctx(w, okx, binance, bybit, tmp_path, feed.checkpoint, interest.checkpoint)  # type: ignore[arg-type]
        w.sim.log.clear()
        yield c
        for client in (okx, binance, bybit):
            await client.close()


@pytest.mark.parametrize(("name", "call", "exc", "arg"), CASES, ids=[c[0] for c in CASES])
async def test_bad_argument_fails_before_any_request(
    ctx: Ctx, name: str, call: Call, exc: type[Exception], arg: str, figures: Figures
) -> None:
    with pytest.raises(exc) as info:
        result = call(ctx)
        if inspect.isawaitable(result):
            await result
        elif hasattr(result, "__anext__"):
            await result.__anext__()  # a generator validates on first use at the latest
    message = str(info.value)
    assert message.startswith(f"{arg}:") or f" {arg}:" in message or f"{arg} " in message, message
    if isinstance(info.value, InvalidArgument):
        assert info.value.argument == arg
    assert ctx.w.sim.log == [], "a request was sent"
    assert ctx.w.sim.bybit.mutations == []
    figures.add(**{"bad input: invalid arguments tried": 1})
