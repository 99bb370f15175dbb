"""OKX in three books, decoder side (pure: no network): what each record does to the wallet,
the debt and the collateral, the liquidation episodes (links, sides, the double-count guard,
episodes that straddle a page), and the position calls' decoders."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger import DecodeError, EventKind, LoanEvent, RateLimited, decode
from loanledger._money import exact_sum
from loanledger.paginate import DecodeContext, Page
from loanledger.reconcile import Book
from loanledger.venues import okx as okx_mod

LOAN = "okx.flexible_loan_history"
INTEREST = "okx.flexible_loan_interest"
REPAY = "okx.one_click_repay_history"
T = 1_731_659_485_000  # the docs' loan-history example ms


def _row(ref: int, kind: str, ccy: str, amt: str, ts: int) -> dict[str, str]:
    return {"amt": amt, "ccy": ccy, "refId": str(ref), "ts": str(ts), "type": kind}


def _body(rows: list[dict[str, str]]) -> bytes:
    """A loan-history page: newest first, as the venue sends it."""
    ordered = sorted(rows, key=lambda r: int(r["refId"]), reverse=True)
    return msgspec.json.encode({"code": "0", "msg": "", "data": ordered})


def _page(rows: list[dict[str, str]]) -> Page:
    return okx_mod.LOAN_HISTORY.decode(_body(rows), DecodeContext(feed=LOAN, account="a"))


def _by_id(rows: list[dict[str, str]]) -> dict[str, LoanEvent]:
    return {e.id: e for e in decode(LOAN, _body(rows), account="a")}


def _books(ev: LoanEvent) -> tuple[Decimal, Decimal, Decimal]:
    return (ev.amount, ev.debt, ev.collateral)


def _ref(ts: int, k: int = 0) -> int:
    return ts * 10_000 + k


# --- the known wrongs ---------------------------------------------------------------------------------


def test_interest_is_not_counted_twice() -> None:
    """Known wrong (fails on the old mapping, interest -i on the wallet): a loan of 100 USDT,
    one interest row of 0.5 (added to the debt), then `repaid` 100.5 (principal and the interest)
    must leave a debt of 0 and a wallet that paid the interest once (-0.5), not twice (-1)."""
    loan = _body([_row(_ref(T), "borrowed", "USDT", "100", T),
                  _row(_ref(T + 7_200_000), "repaid", "USDT", "-100.5", T + 7_200_000)])
    interest = msgspec.json.encode({"code": "0", "msg": "", "data": [
        {"ccy": "USDT", "interest": "0.5", "interestRate": "0.0438", "loan": "100", "refId": str(_ref(T + 3_600_000)),
         "ts": str(T + 3_600_000)}]})
    events = decode(LOAN, loan) + decode(INTEREST, interest)
    assert exact_sum(e.debt for e in events) == 0
    assert exact_sum(e.amount for e in events) == Decimal("-0.5")
    # what interest cost (Balance.interest: debt - amount over interest events)
    assert exact_sum(e.debt - e.amount for e in events if e.kind is EventKind.INTEREST) == Decimal("0.5")


def test_forced_repayment_legs_are_paired() -> None:
    """Known wrong (fails on the old mapping: two one-sided events, -c and +d on the wallet, no
    parent, no counter leg): the sold collateral is the parent, the debt leg links to it and
    names the currency it was paid with; neither touches the wallet."""
    evs = _by_id([_row(_ref(T), "forced_repayment_sell", "BTC", "-0.01", T),
                  _row(_ref(T + 40), "forced_repayment_buy", "USDT", "650.5", T + 40)])
    sell, buy = evs[str(_ref(T))], evs[str(_ref(T + 40))]
    assert _books(sell) == (0, 0, Decimal("-0.01")) and sell.parent_id is None
    assert _books(buy) == (0, Decimal("-650.5"), 0)
    assert buy.parent_id == sell.id
    assert (buy.counter_currency, buy.counter_amount) == ("BTC", None)  # no wallet amount: none moved
    assert sell.counter_currency is None and sell.counter_amount is None
    assert {sell.kind, buy.kind} == {EventKind.LIQUIDATION}


def test_liquidation_legs_add_nothing_to_any_wallet_in_the_store_sense() -> None:
    """counter_amount is a wallet amount (the stores add it to the counter currency's wallet):
    a liquidation leg never carries one."""
    evs = decode(LOAN, _body([
        _row(_ref(T), "sell_collateral", "ETH", "2", T), _row(_ref(T + 1), "buy_transition_coin", "USDT", "6800", T + 1),
        _row(_ref(T + 2), "sell_transition_coin", "USDT", "6800", T + 2),
        _row(_ref(T + 3), "buy_borrowed_coin", "USDC", "6790", T + 3),
    ]))
    assert all(e.amount == 0 and e.counter_amount is None for e in evs)


# --- episodes ------------------------------------------------------------------------------------------


def test_collateral_sale_through_a_transition_coin() -> None:
    evs = _by_id([
        _row(_ref(T), "sell_collateral", "ETH", "-2", T),
        _row(_ref(T + 900), "buy_transition_coin", "USDT", "6800.12", T + 900),
        _row(_ref(T + 1800), "sell_transition_coin", "USDT", "-6800.12", T + 1800),
        _row(_ref(T + 2500), "buy_borrowed_coin", "USDC", "6795.3", T + 2500),
    ])
    sell, tin, tout, buy = (evs[str(_ref(t))] for t in (T, T + 900, T + 1800, T + 2500))
    assert _books(sell) == (0, 0, Decimal("-2")) and sell.parent_id is None
    assert _books(tin) == (0, 0, Decimal("6800.12")) and tin.kind is EventKind.CONVERT
    assert _books(tout) == (0, 0, Decimal("-6800.12")) and tout.kind is EventKind.CONVERT
    assert _books(buy) == (0, Decimal("-6795.3"), 0) and buy.counter_currency == "ETH"
    assert {tin.parent_id, tout.parent_id, buy.parent_id} == {sell.id}
    # the transition coin nets to nothing in the collateral book
    assert tin.collateral + tout.collateral == 0


def test_full_liquidation_records_are_split_by_currency_within_the_episode() -> None:
    """U4: forced_liquidation in the collateral currency seizes it; the record after it in another
    currency closes the debt (the episode already seized collateral)."""
    evs = _by_id([_row(_ref(T), "forced_liquidation", "DOT", "-0.78", T),
                  _row(_ref(T, 1), "forced_liquidation", "USDC", "-0.86590608", T)])
    seized, closed = evs[str(_ref(T))], evs[str(_ref(T, 1))]
    assert _books(seized) == (0, 0, Decimal("-0.78"))
    assert _books(closed) == (0, Decimal("-0.86590608"), 0)
    assert closed.parent_id == seized.id and closed.counter_currency == "DOT"


def test_partial_liquidation_keeps_the_side_of_a_currency_seen_earlier_in_the_episode() -> None:
    evs = _by_id([
        _row(_ref(T), "partial_liquidation", "BTC", "0.1", T),
        _row(_ref(T + 5), "partial_liquidation", "USDT", "3000", T + 5),
        _row(_ref(T + 9), "partial_liquidation", "BTC", "0.05", T + 9),  # BTC again: collateral
        _row(_ref(T + 12), "partial_liquidation", "USDT", "1500", T + 12),  # USDT again: debt
    ])
    assert [_books(evs[str(_ref(t))]) for t in (T, T + 5, T + 9, T + 12)] == [
        (0, 0, Decimal("-0.1")), (0, Decimal("-3000"), 0), (0, 0, Decimal("-0.05")), (0, Decimal("-1500"), 0)]
    # every later leg hangs off the first seized collateral; debt legs pair with sells in order
    first = str(_ref(T))
    assert [evs[str(_ref(t))].parent_id for t in (T, T + 5, T + 9, T + 12)] == [None, first, first, first]
    assert [evs[str(_ref(t))].counter_currency for t in (T + 5, T + 12)] == ["BTC", "BTC"]


def test_double_count_guard_liquidation_record_after_buy_legs() -> None:
    """U2/U4: a buy leg and a debt-side liquidation record of the same debt in one episode clear
    it once: the family that recorded it first carries it, the other becomes a link (0 / 0 / 0)."""
    evs = _by_id([
        _row(_ref(T), "sell_collateral", "BTC", "0.2", T),
        _row(_ref(T + 1), "buy_borrowed_coin", "USDT", "13000", T + 1),
        _row(_ref(T + 2), "forced_liquidation", "USDT", "13000", T + 2),
    ])
    buy, record = evs[str(_ref(T + 1))], evs[str(_ref(T + 2))]
    assert _books(buy) == (0, Decimal("-13000"), 0)
    assert _books(record) == (0, 0, 0) and record.parent_id == str(_ref(T)) and record.counter_currency is None
    assert exact_sum(e.debt for e in evs.values()) == Decimal("-13000")


def test_double_count_guard_buy_legs_after_a_liquidation_record() -> None:
    evs = _by_id([
        _row(_ref(T), "forced_liquidation", "BTC", "0.2", T),
        _row(_ref(T + 1), "forced_liquidation", "USDT", "13000", T + 1),
        _row(_ref(T + 2), "forced_repayment_buy", "USDT", "6000", T + 2),
        _row(_ref(T + 3), "forced_repayment_buy", "USDT", "7000", T + 3),
    ])
    assert _books(evs[str(_ref(T + 1))]) == (0, Decimal("-13000"), 0)
    assert _books(evs[str(_ref(T + 2))]) == _books(evs[str(_ref(T + 3))]) == (0, 0, 0)


def test_several_buy_legs_of_one_family_all_clear_debt() -> None:
    evs = _by_id([
        _row(_ref(T), "forced_repayment_sell", "ETH", "1", T),
        _row(_ref(T + 1), "forced_repayment_sell", "SOL", "20", T + 1),
        _row(_ref(T + 2), "forced_repayment_buy", "USDT", "3000", T + 2),
        _row(_ref(T + 3), "forced_repayment_buy", "USDT", "3100", T + 3),
        _row(_ref(T + 4), "forced_repayment_buy", "USDT", "1", T + 4),  # a third fill: no sell left to pair
    ])
    buys = [evs[str(_ref(T + k))] for k in (2, 3, 4)]
    assert [b.debt for b in buys] == [Decimal("-3000"), Decimal("-3100"), Decimal("-1")]
    assert [b.counter_currency for b in buys] == ["ETH", "SOL", None]
    assert {b.parent_id for b in buys} == {str(_ref(T))}
    assert evs[str(_ref(T + 1))].parent_id == str(_ref(T))  # the second sale belongs to the episode too


@pytest.mark.parametrize(("gap", "linked"), [(okx_mod.EPISODE_GAP_MS, True), (okx_mod.EPISODE_GAP_MS + 1, False)])
def test_episode_gap_bound(gap: int, linked: bool) -> None:
    """U17: consecutive liquidation-path records at most 60 s apart are one episode."""
    evs = _by_id([_row(_ref(T), "forced_repayment_sell", "BTC", "0.1", T),
                  _row(_ref(T + gap), "forced_repayment_buy", "USDT", "6500", T + gap)])
    buy = evs[str(_ref(T + gap))]
    assert (buy.parent_id == str(_ref(T))) is linked
    assert buy.debt == Decimal("-6500")  # the books do not depend on the link


def test_user_actions_between_legs_do_not_break_an_episode() -> None:
    evs = _by_id([_row(_ref(T), "forced_repayment_sell", "BTC", "0.1", T),
                  _row(_ref(T + 10), "collateral_locked", "ETH", "3", T + 10),
                  _row(_ref(T + 20), "forced_repayment_buy", "USDT", "6500", T + 20)])
    assert evs[str(_ref(T + 20))].parent_id == str(_ref(T))
    assert evs[str(_ref(T + 10))].parent_id is None


def test_debt_leg_before_any_collateral_leg_has_no_parent() -> None:
    """A leg links only to OLDER legs (a record never changes once written, and neither does its event)."""
    evs = _by_id([_row(_ref(T), "forced_repayment_buy", "USDT", "10", T),
                  _row(_ref(T + 1), "forced_repayment_sell", "BTC", "0.001", T + 1)])
    assert evs[str(_ref(T))].parent_id is None and evs[str(_ref(T))].counter_currency is None
    assert evs[str(_ref(T + 1))].parent_id is None


def test_episodes_follow_ref_id_order_not_wire_order() -> None:
    rows = [_row(_ref(T), "forced_repayment_sell", "BTC", "0.1", T),
            _row(_ref(T + 3), "forced_repayment_buy", "USDT", "6500", T + 3)]
    shuffled = msgspec.json.encode({"code": "0", "msg": "", "data": rows})  # oldest first on the wire
    evs = {e.id: e for e in decode(LOAN, shuffled)}
    assert evs[str(_ref(T + 3))].parent_id == str(_ref(T))


# --- an episode across a page boundary --------------------------------------------------------------------


def _filler(ts: int, n: int) -> list[dict[str, str]]:
    """`n` user actions, one a minute, newest at `ts`."""
    return [_row(_ref(ts - i * 60_000), "collateral_locked", "DOT", f"{i + 1}.5", ts - i * 60_000) for i in range(n)]


def test_a_full_page_holds_back_an_episode_that_may_go_on() -> None:
    # newest first: 97 user actions, then the two newer legs of an episode whose oldest leg is
    # on the next page; the page's last record is 20 s after it
    base = T
    rows = _filler(base + 200 * 60_000, 97) + [
        _row(_ref(base + 40_000), "buy_borrowed_coin", "USDC", "5", base + 40_000),
        _row(_ref(base + 30_000), "sell_transition_coin", "USDT", "5.1", base + 30_000),
        _row(_ref(base + 20_000), "buy_transition_coin", "USDT", "5.1", base + 20_000),
    ]
    page = _page(rows)
    assert page.count == 100 and page.held == 3
    assert page.last_key == rows[96]["refId"]  # the walk goes on right above the held legs
    assert page.min_ts == int(rows[96]["ts"])
    # a one-off decode keeps them (links made from what the page shows)
    assert len(decode(LOAN, _body(rows))) == 100


def test_no_hold_back_when_the_episode_ends_over_60_s_above_the_last_record_or_is_the_page() -> None:
    rows = _filler(T + 500 * 60_000, 97) + [
        _row(_ref(T + 62_000), "forced_repayment_buy", "USDT", "1", T + 62_000),
        _row(_ref(T + 61_000), "forced_repayment_sell", "BTC", "1", T + 61_000),
        _row(_ref(T), "repaid", "USDT", "1", T),  # 61 s below the oldest leg: nothing older can join it
    ]
    assert _page(rows).held == 0
    rows[-1] = _row(_ref(T + 1_000), "repaid", "USDT", "1", T + 1_000)  # 60 s: something older might
    assert _page(rows).held == 3
    whole = [_row(_ref(T + i), "forced_repayment_sell" if i % 2 else "forced_repayment_buy", "BTC", "1", T + i)
             for i in range(100)]
    assert _page(whole).held == 0  # an episode longer than a page: nothing left to hold


def _walk(rows: list[dict[str, str]], size: int) -> list[LoanEvent]:
    """What a walk with pages of `size` records keeps: the id cursor's rule (after= last_key, a
    continuing page drops its held events)."""
    ordered = sorted(rows, key=lambda r: int(r["refId"]), reverse=True)
    out: list[LoanEvent] = []
    start = 0
    while True:
        chunk = ordered[start:start + size]
        page = okx_mod.LOAN_HISTORY.decode(msgspec.json.encode({"code": "0", "msg": "", "data": chunk}),
                                           DecodeContext(feed=LOAN, account="a"))
        if len(chunk) < size:
            return out + page.events
        out += page.events[: len(page.events) - page.held]
        assert page.last_key is not None
        start = next(i for i, r in enumerate(ordered) if r["refId"] == page.last_key) + 1


_LEGS = ("forced_repayment_sell", "forced_repayment_buy", "sell_collateral", "buy_transition_coin",
         "sell_transition_coin", "buy_borrowed_coin", "forced_liquidation", "partial_liquidation")


def _history(rng: random.Random, n: int) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    ts = T
    while len(rows) < n:
        if rng.random() < 0.4:  # an episode: 2-4 legs, 0-20 s apart
            for _ in range(rng.randint(2, 4)):
                ts += rng.randint(0, 20_000)
                rows.append(_row(_ref(ts, len(rows) % 10), rng.choice(_LEGS), rng.choice(("BTC", "USDT", "ETH")),
                                 f"{rng.randint(1, 10**6)}.{rng.randint(0, 99):02d}", ts))
        else:
            rows.append(_row(_ref(ts, len(rows) % 10), rng.choice(("borrowed", "repaid", "collateral_locked")),
                             "USDT", str(rng.randint(1, 999)), ts))
        ts += rng.choice((1_000, 30_000, 61_000, 300_000))
    return rows


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.sampled_from((13, 23, 37, 100)), offset=st.integers(0, 40))
def test_links_do_not_depend_on_where_pages_begin(seed: int, size: int, offset: int) -> None:
    """Episodes straddling every page boundary: a walk with any page size and any number of newer
    records on top gives each record the same event as one decode of the whole history (as long
    as no episode is longer than a page)."""
    rng = random.Random(seed)
    rows = _history(rng, 150 + offset)
    truth = {e.id: e for e in decode(LOAN, _body(rows), account="a")}
    episodes = _episode_sizes(rows)
    if max(episodes, default=0) >= size:
        return  # longer than a page: documented as made from the page it is in
    walked = _walk(rows, size)
    assert len(walked) == len(truth) == len({e.id for e in walked})
    assert {e.id: e for e in walked} == truth


def _episode_sizes(rows: list[dict[str, str]]) -> list[int]:
    """Records from an episode's newest leg down to the record before the next one (what must fit a page)."""
    ordered = sorted(rows, key=lambda r: int(r["refId"]))
    sizes, start, last_ts = [], None, None
    for i, r in enumerate(ordered):
        if r["type"] not in _LEGS:
            continue
        ts = int(r["ts"])
        if start is None or last_ts is None or ts - last_ts > okx_mod.EPISODE_GAP_MS:
            if start is not None:
                sizes.append(end - start + 2)
            start = i
        end, last_ts = i, ts
    if start is not None:
        sizes.append(end - start + 2)
    return sizes


# --- one-click repay: the SPOT-mode debt, legs wallet only ---------------------------------------------------


def test_one_click_repay_pays_spot_debt_from_the_wallet_and_legs_touch_only_the_wallet() -> None:
    body = json.dumps({"code": "0", "msg": "", "data": [{
        "debtCcy": "USDC", "fillDebtSz": "9.079631989", "repayCcyList": ["USDC", "BTC"], "status": "filled",
        "ts": "1742194481852", "ordIdInfo": [
            {"cTime": "1742194485439", "fillPx": "1", "fillSz": "9.088651", "instId": "USDC-USDT",
             "ordId": "2338478342062235648", "ordType": "ioc", "px": "1.0049", "side": "buy", "state": "filled",
             "sz": "9.0886514537313433"}]}]}).encode()
    repay, leg = decode(REPAY, body)
    assert _books(repay) == (Decimal("-9.079631989"), Decimal("-9.079631989"), 0)
    assert _books(leg) == (Decimal("9.088651"), 0, 0) and leg.counter_amount == Decimal("-9.088651")
    assert okx_mod.SPOT_DEBT_SCOPE.feeds == (REPAY,)
    assert REPAY not in okx_mod.FLEXIBLE_LOAN_SCOPE.feeds


# --- position decoders ------------------------------------------------------------------------------------------

#: the docs' example (Financial Product > Flexible loan > Get loan info)
LOAN_INFO_EXAMPLE = (
    b'{"code":"0","data":[{"ordId":"12345","collateralData":[{"amt":"0.0000097","ccy":"COMP"},'
    b'{"amt":"0.78","ccy":"STX"},{"amt":"0.001","ccy":"DOT"},{"amt":"0.05357864","ccy":"LUNA"}],'
    b'"collateralNotionalUsd":"1.5078763","curLTV":"0.5742","liqLTV":"0.8374","loanData":[{"amt":"0.86590608",'
    b'"ccy":"USDC"}],"loanNotionalUsd":"0.8661285","marginCallLTV":"0.7374","riskWarningData":{"instId":"",'
    b'"liqPx":""}}],"msg":""}'
)
#: the docs' example (Trade > Get one-click repay currency list (New)), abridged to two repay currencies
CURRENCIES_EXAMPLE = (
    b'{"code":"0","data":[{"debtData":[{"debtAmt":"100","debtCcy":"USDC"}],"repayData":['
    b'{"repayAmt":"1.000022977","repayCcy":"BTC"},{"repayAmt":"4998.0002397","repayCcy":"USDT"}]}],"msg":""}'
)


def test_loan_info_example() -> None:
    (order,) = okx_mod.decode_loan_info(LOAN_INFO_EXAMPLE)
    assert order.ordId == "12345"
    assert order.loanData == [okx_mod.CcyAmount("USDC", Decimal("0.86590608"))]
    assert [(c.ccy, c.amt) for c in order.collateralData] == [
        ("COMP", Decimal("0.0000097")), ("STX", Decimal("0.78")), ("DOT", Decimal("0.001")),
        ("LUNA", Decimal("0.05357864"))]
    assert (order.curLTV, order.marginCallLTV, order.liqLTV) == ("0.5742", "0.7374", "0.8374")
    assert order.loanNotionalUsd == "0.8661285"


def test_currency_list_example() -> None:
    (row,) = okx_mod.decode_one_click_repay_currencies(CURRENCIES_EXAMPLE)
    assert row.debtData == [okx_mod.DebtAmount("USDC", Decimal("100"))]
    assert [(r.repayCcy, r.repayAmt) for r in row.repayData] == [("BTC", Decimal("1.000022977")),
                                                                    ("USDT", Decimal("4998.0002397"))]


def test_positions_of_the_examples() -> None:
    loans = okx_mod.decode_loan_info(LOAN_INFO_EXAMPLE)
    spot = okx_mod.decode_one_click_repay_currencies(CURRENCIES_EXAMPLE)
    got = okx_mod.positions_of("main", loans, spot, 1_700_000_000_000)
    flex = [(p.currency, p.debt, p.collateral) for p in got if p.scope == "okx.flexible_loan"]
    assert flex == [("USDC", Decimal("0.86590608"), 0), ("COMP", 0, Decimal("0.0000097")), ("STX", 0, Decimal("0.78")),
                    ("DOT", 0, Decimal("0.001")), ("LUNA", 0, Decimal("0.05357864"))]
    assert [(p.scope, p.currency, p.debt, p.collateral) for p in got if p.scope == "okx.spot_debt"] == [
        ("okx.spot_debt", "USDC", Decimal("100"), None)]
    assert all(p.venue == "okx" and p.account == "main" and p.ts == 1_700_000_000_000 for p in got)


def test_scopes_declare_the_named_residuals() -> None:
    flex, spot = okx_mod.FLEXIBLE_LOAN_SCOPE, okx_mod.SPOT_DEBT_SCOPE
    assert okx_mod.OKX.scopes == {flex.id: flex, spot.id: spot}
    assert flex.feeds == (LOAN, INTEREST) and flex.books == (Book.DEBT, Book.COLLATERAL)
    assert flex.residuals[Book.DEBT].name == "interest accrued before the interest feed's 30-day window"
    assert flex.residuals[Book.DEBT].sign == 1 and Book.COLLATERAL not in flex.residuals
    assert spot.books == (Book.DEBT,)
    assert spot.residuals[Book.DEBT].name == "spot-mode borrowing no feed records" and spot.residuals[Book.DEBT].sign == 1


@pytest.mark.parametrize(("decoder", "body", "match"), [
    (okx_mod.decode_loan_info, LOAN_INFO_EXAMPLE.replace(b'"0.86590608"', b'"-1"'), "non-negative"),
    (okx_mod.decode_loan_info, LOAN_INFO_EXAMPLE.replace(b'"0.78"', b'"NaN"'), "non-negative finite"),
    (okx_mod.decode_loan_info, LOAN_INFO_EXAMPLE.replace(b'"ccy":"STX"', b'"ccy":""'), "collateralData.ccy"),
    (okx_mod.decode_loan_info, LOAN_INFO_EXAMPLE.replace(b'"0.001"', b'"x"'), None),
    (okx_mod.decode_loan_info, b'{"code":"0","msg":"","data":{}}', None),
    (okx_mod.decode_one_click_repay_currencies, CURRENCIES_EXAMPLE.replace(b'"100"', b'"1E+999999"'), "finite"),
    (okx_mod.decode_one_click_repay_currencies, CURRENCIES_EXAMPLE.replace(b'"debtCcy":"USDC"', b'"debtCcy":""'),
     "debtCcy"),
    (okx_mod.decode_one_click_repay_currencies, CURRENCIES_EXAMPLE.replace(b'"4998.0002397"', b'""'), None),
    (okx_mod.decode_one_click_repay_currencies, b"<html>502</html>", None),
])
def test_position_decoders_refuse_bad_bodies(decoder: Any, body: bytes, match: str | None) -> None:
    with pytest.raises(DecodeError, match=match):
        decoder(body)


@pytest.mark.parametrize("decoder", [okx_mod.decode_loan_info, okx_mod.decode_one_click_repay_currencies])
def test_position_decoders_raise_the_typed_error_of_an_error_envelope(decoder: Any) -> None:
    with pytest.raises(RateLimited):
        decoder(b'{"code":"50011","msg":"Too Many Requests","data":[]}')
