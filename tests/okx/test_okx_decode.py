"""OKX decoders: the docs' response examples field by field, every normalization row,
error envelopes, malformed bodies. Pure: no network, no event loop."""

from __future__ import annotations

import decimal
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger import (
    AuthError,
    BadRequest,
    ClockSkewError,
    DecodeError,
    EventKind,
    EventStatus,
    LoanEvent,
    RateLimited,
    VenueError,
    VenueUnavailable,
    decode,
)
from loanledger.paginate import DecodeContext
from loanledger.venues import okx as okx_mod

LOAN = "okx.flexible_loan_history"
REPAY = "okx.one_click_repay_history"
CONVERT = "okx.convert_history"
INTEREST = "okx.flexible_loan_interest"
ALL_FEEDS = (LOAN, REPAY, CONVERT, INTEREST)

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
NOTES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "exchange-api-notes.md"

# --- the docs' examples, verbatim ---------------------------------------------------------

LOAN_EXAMPLE = b"""{
    "code": "0",
    "data": [
        {
            "amt": "-0.001",
            "ccy": "DOT",
            "refId": "17316594851045086",
            "ts": "1731659485000",
            "type": "collateral_locked"
        }
    ],
    "msg": ""
}"""

REPAY_EXAMPLE = b"""{
    "code": "0",
    "data": [
        {
            "debtCcy": "USDC",
            "fillDebtSz": "9.079631989",
            "ordIdInfo": [
                {
                    "cTime": "1742194485439",
                    "fillPx": "1",
                    "fillSz": "9.088651",
                    "instId": "USDC-USDT",
                    "ordId": "2338478342062235648",
                    "ordType": "ioc",
                    "px": "1.0049",
                    "side": "buy",
                    "state": "filled",
                    "sz": "9.0886514537313433"
                },
                {
                    "cTime": "1742194482326",
                    "fillPx": "83271.9",
                    "fillSz": "0.00010969",
                    "instId": "BTC-USDT",
                    "ordId": "2338478237607288832",
                    "ordType": "ioc",
                    "px": "82856.7",
                    "side": "sell",
                    "state": "filled",
                    "sz": "0.000109696512171"
                }
            ],
            "repayCcyList": [
                "USDC",
                "BTC"
            ],
            "status": "filled",
            "ts": "1742194481852"
        },
        {
            "debtCcy": "USDC",
            "fillDebtSz": "100",
            "ordIdInfo": [],
            "repayCcyList": [
                "USDC",
                "BTC"
            ],
            "status": "filled",
            "ts": "1742192217511"
        }
    ],
    "msg": ""
}"""

CONVERT_EXAMPLE = b"""{
    "code": "0",
    "data": [
        {
            "clTReqId": "",
            "instId": "ETH-USDT",
            "side": "buy",
            "fillPx": "2932.401044",
            "baseCcy": "ETH",
            "quoteCcy": "USDT",
            "fillBaseSz": "0.01023052",
            "state": "fullyFilled",
            "tradeId": "trader16461885203381437",
            "fillQuoteSz": "30",
            "ts": "1646188520000"
        }
    ],
    "msg": ""
}"""

INTEREST_EXAMPLE = (
    b'{"code":"0","data":[{"ccy":"USDC","interest":"0.00004054","interestRate":"0.41",'
    b'"loan":"0.86599309","refId":"17319133035195744","ts":"1731913200000"}],"msg":""}'
)


def _seed_examples(name: str) -> list[Any]:
    """The JSON response examples of a seed page (English and Chinese halves)."""
    text = (SEEDS / name).read_text()
    out = []
    for m in re.finditer(r"(?:Response Example|返回结果)\s*\n\s*\n\s*\n(\s*\{)", text):
        start = m.start(1)
        depth = 0
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    out.append(json.loads(text[start : i + 1]))
                    break
    return out


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared/seeds is not beside the repository")
@pytest.mark.parametrize(
    ("seed", "body"),
    [
        ("000_6410d28a97ec23b3.txt", LOAN_EXAMPLE),
        ("001_d8e3f077a40bce42.txt", REPAY_EXAMPLE),
        ("002_6f478404f987b686.txt", CONVERT_EXAMPLE),
    ],
)
def test_embedded_examples_are_the_seed_pages_examples(seed: str, body: bytes) -> None:
    examples = _seed_examples(seed)
    assert len(examples) == 2  # English and Chinese pages
    assert all(ex == json.loads(body) for ex in examples)


@pytest.mark.skipif(not NOTES.is_file(), reason="shared/reference is not beside the repository")
def test_embedded_interest_example_is_the_notes_example() -> None:
    assert INTEREST_EXAMPLE.decode() in NOTES.read_text()


def _decode(feed: str, body: bytes, *, keep_raw: bool = False, account: str = "acct") -> list[LoanEvent]:
    return decode(feed, body, account=account, keep_raw=keep_raw)


def _page(feed: str, body: bytes, *, keep_raw: bool = False) -> Any:
    spec = okx_mod.FEEDS[[s.id for s in okx_mod.FEEDS].index(feed)]
    return spec.decode(body, DecodeContext(feed=feed, account="acct", keep_raw=keep_raw))


# --- the examples, field by field ---------------------------------------------------------------


def test_loan_history_example() -> None:
    (ev,) = _decode(LOAN, LOAN_EXAMPLE)
    assert ev.venue == "okx"
    assert ev.account == "acct"
    assert ev.feed == LOAN
    assert ev.id == "17316594851045086"
    assert ev.kind is EventKind.COLLATERAL_ADD
    assert ev.status is EventStatus.DONE
    assert ev.ts == 1731659485000
    assert ev.currency == "DOT"
    assert ev.amount == Decimal("-0.001") and str(ev.amount) == "-0.001"
    assert ev.counter_currency is None and ev.counter_amount is None
    assert ev.ref_id == "17316594851045086"
    assert ev.parent_id is None
    assert ev.venue_type == "collateral_locked"
    assert ev.raw is None


def test_loan_history_page_facts() -> None:
    page = _page(LOAN, LOAN_EXAMPLE)
    assert (page.count, page.min_ts, page.max_ts, page.last_key) == (1, 1731659485000, 1731659485000,
                                                                     "17316594851045086")


def test_one_click_repay_example() -> None:
    evs = _decode(REPAY, REPAY_EXAMPLE)
    assert [e.id for e in evs] == [
        "1742194481852:USDC", "2338478342062235648", "2338478237607288832", "1742192217511:USDC",
    ]
    repay, buy, sell, repay2 = evs

    assert repay.kind is EventKind.REPAY
    assert repay.status is EventStatus.DONE
    assert repay.ts == 1742194481852
    assert repay.currency == "USDC"
    assert repay.amount == Decimal("-9.079631989")
    assert repay.counter_currency is None and repay.counter_amount is None
    assert repay.ref_id is None and repay.parent_id is None
    assert repay.venue_type == "one_click_repay"
    assert repay.feed == REPAY and repay.venue == "okx" and repay.account == "acct"

    # USDC-USDT buy: received 9.088651 USDC, paid 9.088651 * 1 USDT
    assert buy.kind is EventKind.CONVERT
    assert buy.status is EventStatus.DONE
    assert buy.parent_id == "1742194481852:USDC"
    assert buy.ref_id == "2338478342062235648"
    assert buy.ts == 1742194485439  # the order's cTime
    assert (buy.currency, buy.amount) == ("USDC", Decimal("9.088651"))
    assert (buy.counter_currency, buy.counter_amount) == ("USDT", Decimal("-9.088651"))
    assert buy.venue_type == "buy"

    # BTC-USDT sell: received 0.00010969 * 83271.9 USDT, paid 0.00010969 BTC
    assert sell.parent_id == "1742194481852:USDC"
    assert sell.ts == 1742194482326
    assert (sell.currency, sell.amount) == ("USDT", Decimal("9.134094711"))
    assert (sell.counter_currency, sell.counter_amount) == ("BTC", Decimal("-0.00010969"))
    assert sell.venue_type == "sell"

    assert repay2.kind is EventKind.REPAY
    assert (repay2.ts, repay2.currency, repay2.amount) == (1742192217511, "USDC", Decimal("-100"))
    assert repay2.parent_id is None


def test_one_click_repay_page_counts_records_not_events() -> None:
    page = _page(REPAY, REPAY_EXAMPLE)
    assert page.count == 2
    assert len(page.events) == 4
    assert (page.min_ts, page.max_ts) == (1742192217511, 1742194481852)  # records' ts, not the legs'


def test_convert_example() -> None:
    (ev,) = _decode(CONVERT, CONVERT_EXAMPLE)
    assert ev.id == "trader16461885203381437"
    assert ev.kind is EventKind.CONVERT
    assert ev.status is EventStatus.DONE
    assert ev.ts == 1646188520000
    # side buy is relative to baseCcy: received ETH, paid USDT
    assert (ev.currency, ev.amount) == ("ETH", Decimal("0.01023052"))
    assert (ev.counter_currency, ev.counter_amount) == ("USDT", Decimal("-30"))
    assert ev.ref_id is None  # clTReqId ""
    assert ev.parent_id is None
    assert ev.venue_type == "buy"


def test_interest_example() -> None:
    (ev,) = _decode(INTEREST, INTEREST_EXAMPLE)
    assert ev.id == "17319133035195744"
    assert ev.kind is EventKind.INTEREST
    assert ev.status is EventStatus.DONE
    assert ev.ts == 1731913200000
    # added to the debt, not taken from the wallet: 0 / +i / 0
    assert (ev.currency, ev.amount, ev.debt, ev.collateral) == ("USDC", 0, Decimal("0.00004054"), 0)
    assert ev.ref_id == "17319133035195744"
    assert ev.counter_currency is None and ev.parent_id is None
    assert ev.venue_type == "interest_accrued"


# --- loan history: every type ----------------------------------------------------------------------

#: written out independently of the module's tables: type -> (kind, wallet, debt, collateral) of one
#: record alone (forced_liquidation / partial_liquidation alone: the collateral it seized)
LOAN_ROWS = {
    "borrowed": ("borrow", 1, 1, 0),
    "repaid": ("repay", -1, -1, 0),
    "collateral_locked": ("collateral_add", -1, 0, 1),
    "collateral_released": ("collateral_remove", 1, 0, -1),
    "forced_repayment_buy": ("liquidation", 0, -1, 0),
    "forced_repayment_sell": ("liquidation", 0, 0, -1),
    "forced_liquidation": ("liquidation", 0, 0, -1),
    "partial_liquidation": ("liquidation", 0, 0, -1),
    "sell_collateral": ("liquidation", 0, 0, -1),
    "buy_transition_coin": ("convert", 0, 0, 1),
    "sell_transition_coin": ("convert", 0, 0, -1),
    "buy_borrowed_coin": ("liquidation", 0, -1, 0),
}


def _loan_body(kind: str, amt: str, **extra: Any) -> bytes:
    row = {"amt": amt, "ccy": "usdt", "refId": "17316594851045086", "ts": "1731659485000", "type": kind}
    row.update(extra)
    return msgspec.json.encode({"code": "0", "data": [row], "msg": ""})


def test_every_documented_type_has_a_row() -> None:
    assert set(okx_mod.LOAN_HISTORY_TYPES) == set(LOAN_ROWS)
    assert len(LOAN_ROWS) == 12
    assert set(okx_mod.LOAN_HISTORY_BOOKS) | set(okx_mod.LIQUIDATION_LEGS) == set(LOAN_ROWS)


@pytest.mark.parametrize("wire_sign", ["", "-", "+"])
@pytest.mark.parametrize("venue_type", sorted(LOAN_ROWS))
def test_loan_history_type_maps_to_kind_and_books(venue_type: str, wire_sign: str) -> None:
    (ev,) = _decode(LOAN, _loan_body(venue_type, f"{wire_sign}12345678901.123456789"))
    kind, wallet, debt, collateral = LOAN_ROWS[venue_type]
    a = Decimal("12345678901.123456789")
    assert ev.kind == kind
    # each book's sign comes from the type, not the wire
    assert (ev.amount, ev.debt, ev.collateral) == (wallet * a, debt * a, collateral * a)
    assert ev.venue_type == venue_type
    assert ev.currency == "USDT"  # upper-cased
    assert ev.counter_currency is None and ev.counter_amount is None and ev.parent_id is None


def test_loan_history_keeps_the_wire_value_in_raw() -> None:
    body = _loan_body("repaid", "0.5")
    (ev,) = _decode(LOAN, body, keep_raw=True)
    assert ev.amount == Decimal("-0.5")
    assert ev.raw is not None and json.loads(bytes(ev.raw))["amt"] == "0.5"


def test_zero_amount_is_not_negative_zero() -> None:
    (ev,) = _decode(LOAN, _loan_body("repaid", "0"))
    assert str(ev.amount) == "0"


def test_unknown_loan_history_type_is_a_decode_error_not_a_guess() -> None:
    with pytest.raises(DecodeError, match="unknown loan-history type 'auto_repay'"):
        _decode(LOAN, _loan_body("auto_repay", "1"))


def test_unknown_fields_are_ignored() -> None:
    body = _loan_body("borrowed", "3", ordId="123", extInfo={"a": [1, {"b": None}]}, tag=None)
    (ev,) = _decode(LOAN, body)
    assert ev.amount == Decimal("3")


def test_twenty_digit_amounts_are_exact() -> None:
    (ev,) = _decode(LOAN, _loan_body("borrowed", "98765432109876543210.12345678901234567891"))
    assert str(ev.amount) == "98765432109876543210.12345678901234567891"


# --- one-click repay ---------------------------------------------------------------------------------


def _leg(ord_id: str, inst: str, side: str, px: str, sz: str, state: str = "filled", **extra: Any) -> dict[str, Any]:
    leg = {"cTime": "1742194485439", "fillPx": px, "fillSz": sz, "instId": inst, "ordId": ord_id,
           "ordType": "ioc", "px": "1", "side": side, "state": state, "sz": "1"}
    leg.update(extra)
    return leg


def _repay_body(status: str, fill: str, legs: list[dict[str, Any]], *, ts: str = "1742194481852",
                debt: str = "USDC") -> bytes:
    row = {"debtCcy": debt, "fillDebtSz": fill, "ordIdInfo": legs, "repayCcyList": [debt, "BTC"],
           "status": status, "ts": ts}
    return msgspec.json.encode({"code": "0", "data": [row], "msg": ""})


@pytest.mark.parametrize(
    ("status", "expected"),
    [("running", EventStatus.PENDING), ("filled", EventStatus.DONE), ("failed", EventStatus.FAILED)],
)
def test_one_click_status_mapping(status: str, expected: EventStatus) -> None:
    (ev,) = _decode(REPAY, _repay_body(status, "5", []))
    assert ev.status is expected
    assert ev.kind is EventKind.REPAY
    assert ev.amount == Decimal("-5")


def test_one_click_id_does_not_change_when_the_record_settles() -> None:
    running = _decode(REPAY, _repay_body("running", "", [_leg("11", "BTC-USDT", "sell", "80000", "0.001")]))
    filled = _decode(REPAY, _repay_body("filled", "79.5", [
        _leg("11", "BTC-USDT", "sell", "80000", "0.001"),
        _leg("12", "USDC-USDT", "buy", "1.0001", "79.5"),
    ]))
    assert running[0].id == filled[0].id == "1742194481852:USDC"
    assert (running[0].status, running[0].amount) == (EventStatus.PENDING, Decimal(0))
    assert (filled[0].status, filled[0].amount) == (EventStatus.DONE, Decimal("-79.5"))
    assert [e.id for e in filled[1:]] == ["11", "12"]
    assert all(e.parent_id == filled[0].id for e in filled[1:])


def test_one_click_unfilled_legs_are_not_conversions() -> None:
    evs = _decode(REPAY, _repay_body("filled", "10", [
        _leg("21", "BTC-USDT", "sell", "", "0", state="canceled"),
        _leg("22", "ETH-USDT", "sell", "", "", state="canceled"),
        _leg("23", "SOL-USDT", "sell", "150.5", "0.2", state="canceled"),  # partial ioc fill: money moved
        _leg("24", "USDC-USDT", "buy", "1", "10"),
    ]))
    assert [e.id for e in evs] == ["1742194481852:USDC", "23", "24"]
    partial = evs[1]
    assert (partial.currency, partial.amount) == ("USDT", Decimal("30.10"))
    assert (partial.counter_currency, partial.counter_amount) == ("SOL", Decimal("-0.2"))
    assert partial.status is EventStatus.DONE


def test_one_click_children_directly_follow_their_parent() -> None:
    body = msgspec.json.encode({"code": "0", "msg": "", "data": [
        json.loads(_repay_body("filled", "1", [_leg("31", "A-USDT", "sell", "2", "1"),
                                               _leg("32", "USDC-USDT", "buy", "1", "1")], ts="3"))["data"][0],
        json.loads(_repay_body("failed", "0", [], ts="2", debt="ETH"))["data"][0],
        json.loads(_repay_body("filled", "1", [_leg("33", "B-USDT", "sell", "2", "1")], ts="1"))["data"][0],
    ]})
    evs = _decode(REPAY, body)
    assert [(e.id, e.parent_id) for e in evs] == [
        ("3:USDC", None), ("31", "3:USDC"), ("32", "3:USDC"), ("2:ETH", None), ("1:USDC", None), ("33", "1:USDC"),
    ]
    assert evs[3].status is EventStatus.FAILED and str(evs[3].amount) == "0"


def test_one_click_leg_amounts_are_exact_products() -> None:
    size, price = "12345678901.123456789", "83271.123456789012"
    (_, leg) = _decode(REPAY, _repay_body("filled", "1", [_leg("41", "BTC-USDT", "sell", price, size)]))
    exact = decimal.Context(prec=60).multiply(Decimal(size), Decimal(price))
    assert leg.amount == exact and leg.currency == "USDT"
    assert leg.counter_amount == Decimal("-" + size) and leg.counter_currency == "BTC"


def test_one_click_leg_still_open_is_pending() -> None:
    (_, leg) = _decode(REPAY, _repay_body("running", "1", [_leg("51", "BTC-USDT", "sell", "2", "1", state="live")]))
    assert leg.status is EventStatus.PENDING


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (_repay_body("filled", "", []), "fillDebtSz is empty"),
        (_repay_body("done", "1", []), "unknown one-click repay status"),
        (_repay_body("filled", "1", [_leg("1", "BTCUSDT", "sell", "1", "1")]), "not a spot pair"),
        (_repay_body("filled", "1", [_leg("1", "BTC-USDT", "hold", "1", "1")]), "neither buy nor sell"),
        (_repay_body("filled", "1", [_leg("1", "BTC-USDT", "sell", "", "1")]), "fillPx is empty"),
        (_repay_body("filled", "1", [_leg("1", "BTC-USDT", "sell", "x", "1")]), "fillPx is not a decimal"),
        (_repay_body("filled", "1", [_leg("1", "BTC-USDT", "sell", "1", "NaN")]), "not a finite"),
        (_repay_body("filled", "1", [{"ordId": "1"}]), "ordIdInfo"),
        (_repay_body("filled", "1", [_leg("", "BTC-USDT", "sell", "1", "1")]), "ordId is empty"),
        (_repay_body("filled", "1 ", []), "not a decimal"),
        (_repay_body("filled", "1_000", []), "not a decimal"),
        (_repay_body("filled", "1", [], debt=""), "debtCcy is empty"),
        (_repay_body("filled", "1", [_leg("1", "BTC-USDT", "sell", "1E+999999", "1E+999999")]), "sane magnitude"),
        (_repay_body("filled", "1", [_leg("1", "BTC-USDT", "sell", "1." + "1" * 600, "1." + "3" * 600)]),
         "exactly"),  # 1200 significant digits: more than the exact context holds
    ],
)
def test_one_click_malformed_records(body: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        _decode(REPAY, body)


def test_one_click_keep_raw_keeps_record_and_leg_bytes() -> None:
    evs = _decode(REPAY, REPAY_EXAMPLE, keep_raw=True)
    rec = json.loads(REPAY_EXAMPLE)["data"]
    assert evs[0].raw is not None and json.loads(bytes(evs[0].raw)) == rec[0]
    assert evs[1].raw is not None and json.loads(bytes(evs[1].raw)) == rec[0]["ordIdInfo"][0]
    assert evs[2].raw is not None and json.loads(bytes(evs[2].raw)) == rec[0]["ordIdInfo"][1]
    assert bytes(evs[1].raw) in REPAY_EXAMPLE  # the venue's bytes, not a re-encoding
    assert [e.id for e in evs] == [e.id for e in _decode(REPAY, REPAY_EXAMPLE)]


# --- convert ------------------------------------------------------------------------------------------


def _convert_row(side: str, state: str = "fullyFilled", base_sz: str = "2", quote_sz: str = "60000.5",
                 **extra: Any) -> dict[str, Any]:
    row = {"clTReqId": "", "instId": "BTC-USDT", "side": side, "fillPx": "30000.25", "baseCcy": "BTC",
           "quoteCcy": "USDT", "fillBaseSz": base_sz, "state": state, "tradeId": "t1",
           "fillQuoteSz": quote_sz, "ts": "1646188520000"}
    row.update(extra)
    return row


def _convert_body(*rows: dict[str, Any]) -> bytes:
    return msgspec.json.encode({"code": "0", "data": list(rows), "msg": ""})


def test_convert_buy_receives_base_pays_quote() -> None:
    (ev,) = _decode(CONVERT, _convert_body(_convert_row("buy")))
    assert (ev.currency, ev.amount, ev.counter_currency, ev.counter_amount) == (
        "BTC", Decimal("2"), "USDT", Decimal("-60000.5"))


def test_convert_sell_receives_quote_pays_base() -> None:
    # ccxt maps this the other way round; the docs say side is relative to baseCcy
    (ev,) = _decode(CONVERT, _convert_body(_convert_row("sell")))
    assert (ev.currency, ev.amount, ev.counter_currency, ev.counter_amount) == (
        "USDT", Decimal("60000.5"), "BTC", Decimal("-2"))
    assert ev.venue_type == "sell"


@pytest.mark.parametrize("size", ["", "0"])
def test_convert_rejected_is_failed(size: str) -> None:
    (ev,) = _decode(CONVERT, _convert_body(_convert_row("buy", "rejected", size, size)))
    assert ev.status is EventStatus.FAILED
    assert ev.amount == 0 and ev.counter_amount == 0 and str(ev.counter_amount) in ("0", "0")


def test_convert_client_id_is_the_ref() -> None:
    (ev,) = _decode(CONVERT, _convert_body(_convert_row("buy", clTReqId="my-1")))
    assert ev.ref_id == "my-1"


@pytest.mark.parametrize(
    "text",
    ["0." + "1" * 1200,  # more significant digits than the fast parser's context holds
     "1." + "0" * 1200,  # trailing zeros it would round away
     "5.", ".5", "+7", "1E+3", "1e-5", "\u0661\u0662"],  # odd spellings Decimal() reads
)
def test_convert_amounts_read_as_decimal_reads_them(text: str) -> None:
    # the fast path parses with a context that traps every signal: whatever it cannot read as
    # Decimal(text) exactly takes the exact path, so digits, exponent and trailing zeros are the wire's
    (ev,) = _decode(CONVERT, _convert_body(_convert_row("buy", base_sz=text, quote_sz=text)))
    assert str(ev.amount) == str(Decimal(text))
    assert str(ev.counter_amount) == str(Decimal(text).copy_negate())


@pytest.mark.parametrize(
    ("row", "match"),
    [
        (_convert_row("buy", "processing"), "unknown convert state"),
        (_convert_row("swap"), "neither buy nor sell"),
        (_convert_row("buy", base_sz=""), "fillBaseSz is empty"),
        (_convert_row("buy", quote_sz="Infinity"), "not a finite"),
        (_convert_row("buy", quote_sz="1_000"), "not a decimal"),
        (_convert_row("buy", base_sz=" 2"), "not a decimal"),
        (_convert_row("buy", base_sz="2" * 402), "sane magnitude"),
        (_convert_row("buy", tradeId=""), "tradeId is empty"),
        (_convert_row("buy", baseCcy=""), "baseCcy is empty"),
    ],
)
def test_convert_malformed_records(row: dict[str, Any], match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        _decode(CONVERT, _convert_body(row))


# --- interest -----------------------------------------------------------------------------------------


def test_interest_is_added_to_the_debt_whatever_the_wire_sign() -> None:
    body = INTEREST_EXAMPLE.replace(b'"0.00004054"', b'"-0.00004054"')
    (ev,) = _decode(INTEREST, body)
    assert (ev.amount, ev.debt) == (0, Decimal("0.00004054"))


def test_interest_page_last_key_is_the_oldest_ref() -> None:
    rows = [{"ccy": "USDT", "interest": "1", "refId": str(100 - i), "ts": str(1_731_913_200_000 - i)}
            for i in range(3)]
    page = _page(INTEREST, msgspec.json.encode({"code": "0", "data": rows, "msg": ""}))
    assert page.last_key == "98" and page.count == 3


# --- raw, empty pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("feed", "body"), [(LOAN, LOAN_EXAMPLE), (CONVERT, CONVERT_EXAMPLE),
                                            (INTEREST, INTEREST_EXAMPLE)])
def test_keep_raw_keeps_the_record_bytes(feed: str, body: bytes) -> None:
    (with_raw,) = _decode(feed, body, keep_raw=True)
    (without,) = _decode(feed, body)
    assert with_raw.raw is not None and without.raw is None
    assert bytes(with_raw.raw) in body
    assert json.loads(bytes(with_raw.raw)) == json.loads(body)["data"][0]
    assert msgspec.structs.replace(with_raw, raw=None) == without


@pytest.mark.parametrize("feed", ALL_FEEDS)
@pytest.mark.parametrize("keep_raw", [False, True])
def test_empty_success_page(feed: str, keep_raw: bool) -> None:
    page = _page(feed, b'{"code":"0","msg":"","data":[]}', keep_raw=keep_raw)
    assert (page.events, page.count, page.min_ts, page.max_ts) == ([], 0, None, None)


# --- error envelopes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("feed", ALL_FEEDS)
@pytest.mark.parametrize("keep_raw", [False, True])
@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"code":"50011","msg":"Too Many Requests","data":[]}', RateLimited),
        (b'{"code":"50011","msg":"Too Many Requests"}', RateLimited),
        (b'{"code":50011,"msg":"Too Many Requests","data":[]}', RateLimited),
        (b'{"code":"50102","msg":"Timestamp request expired","data":[]}', ClockSkewError),
        (b'{"code":"50113","msg":"Invalid Sign","data":[]}', AuthError),
        (b'{"code":"50120","msg":"API key lacks permission","data":[]}', AuthError),
        (b'{"code":"51000","msg":"Parameter after error","data":[]}', BadRequest),
        (b'{"code":"50001","msg":"Service temporarily unavailable","data":[]}', VenueUnavailable),
        (b'{"code":"59999","msg":"something new","data":[]}', VenueError),
    ],
)
def test_error_envelope_is_never_an_empty_page(feed: str, keep_raw: bool, body: bytes, error: type) -> None:
    with pytest.raises(error) as info:
        _decode(feed, body, keep_raw=keep_raw)
    assert isinstance(info.value, VenueError)
    assert info.value.code == str(json.loads(body)["code"])


def test_signature_rejection_is_flagged() -> None:
    with pytest.raises(AuthError) as info:
        _decode(LOAN, b'{"code":"50113","msg":"Invalid Sign","data":[]}')
    assert info.value.signature is True


@pytest.mark.parametrize("feed", ALL_FEEDS)
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>502 Bad Gateway</html>",
        b'{"code":"0","msg":"","data":[{"amt":',
        b'{"code":"0","msg":""}',
        b'{"code":"0","msg":"","data":null}',
        b'{"code":"0","msg":"","data":{"refId":"1"}}',
        b'{"code":"0","msg":"","data":[null]}',
        b'{"code":"0","msg":"","data":[{}]}',
        b'{"code":"0","msg":"","data":[{"refId":"1","type":"borrowed","ccy":"BTC","amt":"1","ts":"x",'
        b'"debtCcy":"BTC","fillDebtSz":"1","status":"filled","tradeId":"1","side":"buy","baseCcy":"A",'
        b'"quoteCcy":"B","fillBaseSz":"1","fillQuoteSz":"1","state":"fullyFilled","interest":"1"}]}',
        b"[]",
        b"null",
    ],
)
@pytest.mark.parametrize("keep_raw", [False, True])
def test_malformed_bodies_are_decode_errors(feed: str, body: bytes, keep_raw: bool) -> None:
    with pytest.raises(DecodeError):
        _decode(feed, body, keep_raw=keep_raw)


@pytest.mark.parametrize(("feed", "field"), [(LOAN, "amt"), (INTEREST, "interest")])
@pytest.mark.parametrize("value", ['"NaN"', '"Infinity"', '"-Infinity"', '"abc"', '""', "null", "true"])
def test_non_finite_or_invalid_amounts_are_decode_errors(feed: str, field: str, value: str) -> None:
    row = {"refId": "1", "type": "borrowed", "ccy": "BTC", "amt": "1", "interest": "1", "ts": "1"}
    text = json.dumps({"code": "0", "msg": "", "data": [row]}).replace(f'"{field}": "1"', f'"{field}": {value}')
    with pytest.raises(DecodeError):
        _decode(feed, text.encode())


@settings(max_examples=150, deadline=None)
@given(
    feed=st.sampled_from(ALL_FEEDS),
    keep_raw=st.booleans(),
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=6)
        | st.sampled_from(["0", "1", "-1.5", "", "NaN", "buy", "sell", "filled", "BTC-USDT", "borrowed"]),
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["code", "data", "msg", "refId", "type", "ccy", "amt", "ts", "debtCcy", "fillDebtSz",
                             "status", "ordIdInfo", "ordId", "instId", "side", "fillPx", "fillSz", "cTime",
                             "tradeId", "baseCcy", "quoteCcy", "fillBaseSz", "fillQuoteSz", "state",
                             "interest"]),
            inner, max_size=8),
        max_leaves=25,
    ),
)
def test_any_body_yields_events_or_a_typed_error(feed: str, keep_raw: bool, data: Any) -> None:
    body = json.dumps(data).encode()
    try:
        events = _decode(feed, body, keep_raw=keep_raw)
    except (DecodeError, VenueError):
        return
    for ev in events:
        assert ev.amount.is_finite()
        assert ev.currency and ev.currency == ev.currency.upper()
        assert ev.id


# --- the documented tables are the code's -------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "venues" / "okx.md"


def _books(cell: str) -> tuple[int, int, int]:
    return tuple(0 if p.strip() == "0" else (1 if p.strip().startswith("+") else -1)  # type: ignore[return-value]
                 for p in cell.split("/"))


def test_docs_loan_history_table_is_the_module_table() -> None:
    rows = re.findall(r"^\| `([a-z_]+)` \| ([a-z_]+) \| ([^|]+?) \| ([a-z_]+|-) \|", DOCS.read_text(), re.MULTILINE)
    documented = {t: (kind, cell.strip(), leg) for t, kind, cell, leg in rows if kind != "kind"}  # not the header
    assert set(documented) == set(LOAN_ROWS)
    for vtype, (kind, cell, leg) in documented.items():
        assert kind == LOAN_ROWS[vtype][0] == okx_mod.LOAN_HISTORY_TYPES[vtype].value
        assert leg == (okx_mod.LIQUIDATION_LEGS[vtype].value if vtype in okx_mod.LIQUIDATION_LEGS else "-")
        if vtype in okx_mod.LOAN_HISTORY_BOOKS:
            assert _books(cell) == okx_mod.LOAN_HISTORY_BOOKS[vtype] == LOAN_ROWS[vtype][1:]
        else:  # decided per episode: both possibilities written out
            assert cell == "0 / 0 / -a or 0 / -a / 0"


def test_docs_status_mappings_are_the_module_mappings() -> None:
    text = DOCS.read_text()
    for wire, status in okx_mod.ONE_CLICK_REPAY_STATUS.items():
        assert f"`{wire}` -> {status.value}" in text
    for wire, status in okx_mod.CONVERT_STATE.items():
        assert f"`{wire}` -> {status.value}" in text
