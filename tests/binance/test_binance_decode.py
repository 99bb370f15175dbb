"""Binance decoders, normalizers, error mapping and signing, without a network."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

import loanledger
from loanledger import (
    AuthError,
    BadRequest,
    ClockSkewError,
    DecodeError,
    EventKind,
    EventStatus,
    RateLimited,
    VenueError,
    VenueUnavailable,
)
from loanledger.paginate import DAY_MS, Bounds, DecodeContext, PagedWindows, TimeWindows
from loanledger.registry import FEEDS
from loanledger.signing import BinanceSigner
from loanledger.transport import Request
from loanledger.venues import binance as bn

SEEDS = Path("/work/shared/seeds")

# The response example of seeds/003 (Query Portfolio Margin Pro Bankruptcy Loan Repay History).
SEED_PMLOAN = b"""{
  "total": 3,
  "rows": [
    {
      "asset": "USDT",
      "amount": "404.80294503",
      "repayTime": 1731336427804
    },
    {
      "asset": "USDT",
      "amount": "4620.41204574",
      "repayTime": 1726125090016
    }
  ]
}"""

# exchange-api-notes.md section 6, interest-history example
DOC_INTEREST = (
    b'[{"asset":"USDT","interest":"24.4440","interestAccruedTime":1670227200000,'
    b'"interestRate":"0.0001164","principal":"210000"}]'
)


def ctx(feed: str = bn.PMLOAN_HISTORY_FEED, *, keep_raw: bool = False, occ: dict[str, int] | None = None) -> DecodeContext:
    return DecodeContext(feed=feed, account="acct-1", keep_raw=keep_raw, occurrences={} if occ is None else occ)


def pm(*rows: str, total: int | None = None) -> bytes:
    return (f'{{"total":{len(rows) if total is None else total},"rows":[' + ",".join(rows) + "]}").encode()


def row(asset: str = "USDT", amount: str = '"1.5"', ts: int = 1_731_336_427_804) -> str:
    return f'{{"asset":"{asset}","amount":{amount},"repayTime":{ts}}}'


# --- the seed example ------------------------------------------------------------------------


def test_seed_file_still_holds_the_example_we_decode() -> None:
    path = SEEDS / "003_ff8b6215afd2d273.txt"
    if not path.exists():
        pytest.skip("seed pages not available")
    text = path.read_text()
    for needle in ('"amount": "404.80294503"', '"repayTime": 1731336427804', '"amount": "4620.41204574"',
                   '"repayTime": 1726125090016', '"total": 3', "GET `/sapi/v1/portfolio/pmloan-history`"):
        assert needle in text


def test_seed_pmloan_example_decodes_field_by_field() -> None:
    page = bn.decode_pmloan_history(SEED_PMLOAN, ctx())
    assert page.total == 3  # the doc's own example says 3 and lists 2; the pager stops on the short page
    assert page.count == 2
    assert (page.min_ts, page.max_ts) == (1726125090016, 1731336427804)
    first, second = page.events
    assert first.venue == "binance"
    assert first.account == "acct-1"
    assert first.feed == "binance.pmloan_history"
    assert first.id == "1731336427804:USDT:404.80294503#0"
    assert first.kind is EventKind.REPAY
    assert first.status is EventStatus.DONE
    assert first.ts == 1731336427804
    assert first.currency == "USDT"
    assert first.amount == Decimal("-404.80294503")
    assert str(first.amount) == "-404.80294503"
    assert first.debt == Decimal("-404.80294503") and first.collateral == 0  # the repay reduces the debt
    assert first.venue_type == "pmloan-history"
    assert (first.counter_currency, first.counter_amount, first.ref_id, first.parent_id, first.raw) == (
        None, None, None, None, None,
    )
    assert second.id == "1726125090016:USDT:4620.41204574#0"
    assert second.ts == 1726125090016
    assert second.amount == Decimal("-4620.41204574")


def test_seed_example_through_the_sans_io_registry_decode() -> None:
    events = loanledger.decode("binance.pmloan_history", SEED_PMLOAN, account="x")
    assert [(e.id, e.amount, e.account) for e in events] == [
        ("1731336427804:USDT:404.80294503#0", Decimal("-404.80294503"), "x"),
        ("1726125090016:USDT:4620.41204574#0", Decimal("-4620.41204574"), "x"),
    ]


def test_keep_raw_keeps_each_rows_bytes() -> None:
    page = bn.decode_pmloan_history(SEED_PMLOAN, ctx(keep_raw=True))
    assert [msgspec.json.decode(bytes(e.raw)) for e in page.events if e.raw is not None] == [
        {"asset": "USDT", "amount": "404.80294503", "repayTime": 1731336427804},
        {"asset": "USDT", "amount": "4620.41204574", "repayTime": 1726125090016},
    ]
    plain = bn.decode_pmloan_history(SEED_PMLOAN, ctx())
    assert [e.id for e in page.events] == [e.id for e in plain.events]


def test_doc_interest_example_decodes_field_by_field() -> None:
    page = bn.decode_pm_interest_history(DOC_INTEREST, ctx(bn.PM_INTEREST_HISTORY_FEED))
    assert page.count == 1 and page.total is None
    (ev,) = page.events
    assert ev.feed == "binance.pm_interest_history"
    assert ev.id == "1670227200000:USDT:24.444#0"
    assert ev.kind is EventKind.INTEREST
    assert ev.status is EventStatus.DONE
    assert ev.ts == 1670227200000 == page.min_ts == page.max_ts
    assert ev.currency == "USDT"
    assert ev.amount == Decimal("-24.4440") and str(ev.amount) == "-24.4440"
    assert (ev.debt, ev.collateral) == (0, 0)  # charged to the (negative) balance, owed to no loan
    assert ev.venue_type == "interest-history"


def test_interest_accepts_the_classic_pm_spelling_of_the_time_field() -> None:
    body = b'[{"asset":"BTC","interest":"0.1","interestAccuredTime":1670227200000}]'
    (ev,) = bn.decode_pm_interest_history(body, ctx(bn.PM_INTEREST_HISTORY_FEED)).events
    assert ev.ts == 1670227200000 and ev.currency == "BTC"


def test_interest_keep_raw() -> None:
    (ev,) = bn.decode_pm_interest_history(DOC_INTEREST, ctx(bn.PM_INTEREST_HISTORY_FEED, keep_raw=True)).events
    assert ev.raw is not None and msgspec.json.decode(bytes(ev.raw))["principal"] == "210000"


# --- the type table -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue_type", "body", "decode", "books"),
    [
        # a repayment of the bankruptcy loan leaves the wallet and reduces the debt: -x / -x / 0
        ("pmloan-history", pm(row(amount='"404.80294503"')), bn.decode_pmloan_history,
         (Decimal("-404.80294503"), Decimal("-404.80294503"), Decimal(0))),
        # negative-balance interest is charged to the balance, owed to no loan: -i / 0 / 0
        ("interest-history", DOC_INTEREST, bn.decode_pm_interest_history,
         (Decimal("-24.4440"), Decimal(0), Decimal(0))),
    ],
)
def test_every_type_row_moves_its_three_books(venue_type: str, body: bytes, decode: object,
                                              books: tuple[Decimal, Decimal, Decimal]) -> None:
    kind, *_ = bn.TYPES[venue_type]
    (ev,) = decode(body, ctx()).events  # type: ignore[operator]
    assert ev.venue_type == venue_type
    assert ev.kind is kind
    assert (ev.amount, ev.debt, ev.collateral) == books
    assert str(ev.amount) == str(books[0])  # the wire digits, trailing zeros included


def test_type_table_is_exactly_the_two_endpoints_with_their_books() -> None:
    # (kind, wallet, debt, collateral) signs applied to the wire magnitude
    assert bn.TYPES == {
        "pmloan-history": (EventKind.REPAY, -1, -1, 0),
        "interest-history": (EventKind.INTEREST, -1, 0, 0),
    }


def test_a_signed_wire_amount_takes_the_tables_sign_on_every_book() -> None:
    # venues are inconsistent about signs: the magnitude is booked with the table's signs
    (ev,) = bn.decode_pmloan_history(pm(row(amount='"-7.250"')), ctx()).events
    assert (str(ev.amount), str(ev.debt), ev.collateral) == ("-7.250", "-7.250", 0)
    (it,) = bn.decode_pm_interest_history(
        b'[{"asset":"USDT","interest":"-0.5","interestAccruedTime":1}]', ctx(bn.PM_INTEREST_HISTORY_FEED)).events
    assert (it.amount, it.debt, it.collateral) == (Decimal("-0.5"), 0, 0)


def test_long_amounts_are_exact_on_the_debt_book_too() -> None:
    digits = "123456789012345678901234567890.123456789012"
    (ev,) = bn.decode_pmloan_history(pm(row("USDT", f'"{digits}"', 1)), ctx()).events
    assert str(ev.debt) == "-" + digits == str(ev.amount)


# --- derived ids -------------------------------------------------------------------------------------


def test_identical_rows_get_occurrence_indexes_and_other_rows_do_not() -> None:
    twin = row("USDT", '"10"', 1_700_000_000_000)
    body = pm(twin, twin, row("USDT", '"11"', 1_700_000_000_000), twin, row("USDC", '"10"', 1_700_000_000_000))
    ids = [e.id for e in bn.decode_pmloan_history(body, ctx()).events]
    assert ids == [
        "1700000000000:USDT:10#0", "1700000000000:USDT:10#1", "1700000000000:USDT:11#0",
        "1700000000000:USDT:10#2", "1700000000000:USDC:10#0",
    ]


def test_occurrences_continue_across_pages_of_one_window() -> None:
    occ: dict[str, int] = {}
    twin = row("USDT", '"10"', 1_700_000_000_000)
    p1 = bn.decode_pmloan_history(pm(row("BTC", '"1"', 1_700_000_000_001), twin), ctx(occ=occ))
    p2 = bn.decode_pmloan_history(pm(twin, row("BTC", '"1"', 1_699_999_999_999)), ctx(occ=occ))
    assert [e.id for e in p1.events + p2.events] == [
        "1700000000001:BTC:1#0", "1700000000000:USDT:10#0", "1700000000000:USDT:10#1", "1699999999999:BTC:1#0",
    ]
    assert occ["1700000000000:USDT:10"] == 2


def test_occurrences_are_merged_only_after_the_whole_page_decoded() -> None:
    occ: dict[str, int] = {"1700000000000:USDT:10": 1}
    bad = pm(row("USDT", '"10"', 1_700_000_000_000), row("USDT", '"NaN"', 1_700_000_000_000))
    with pytest.raises(DecodeError):
        bn.decode_pmloan_history(bad, ctx(occ=occ))
    assert occ == {"1700000000000:USDT:10": 1}  # a retried page counts its rows once
    (ev,) = bn.decode_pmloan_history(pm(row("USDT", '"10"', 1_700_000_000_000)), ctx(occ=occ)).events
    assert ev.id.endswith("#1")


def test_interest_ids_count_within_one_answer_only() -> None:
    body = b'[{"asset":"USDT","interest":"1","interestAccruedTime":5},{"asset":"USDT","interest":"1","interestAccruedTime":5}]'
    c = ctx(bn.PM_INTEREST_HISTORY_FEED)
    first = [e.id for e in bn.decode_pm_interest_history(body, c).events]
    again = [e.id for e in bn.decode_pm_interest_history(body, c).events]
    assert first == again == ["5:USDT:1#0", "5:USDT:1#1"]


@pytest.mark.parametrize(
    ("wire", "key"),
    [('"1.50"', "1.5"), ('"1.5"', "1.5"), ('"100"', "100"), ('"1E+3"', "1000"), ('"0.00000000"', "0"),
     ('"0.00012300"', "0.000123"), ('"12345678901.12345678"', "12345678901.12345678")],
)
def test_amount_in_the_id_has_no_trailing_zeros(wire: str, key: str) -> None:
    (ev,) = bn.decode_pmloan_history(pm(row("USDT", wire, 1)), ctx()).events
    assert ev.id == f"1:USDT:{key}#0"


def test_asset_is_upper_cased() -> None:
    (ev,) = bn.decode_pmloan_history(pm(row("usdt", '"1"', 1)), ctx()).events
    assert ev.currency == "USDT" and ev.id == "1:USDT:1#0"


# --- exact money ------------------------------------------------------------------------------------------


def test_long_amounts_are_exact_and_negated_without_rounding() -> None:
    digits = "123456789012345678901234567890.123456789012"  # 42 digits: beyond the default context
    (ev,) = bn.decode_pmloan_history(pm(row("USDT", f'"{digits}"', 1)), ctx()).events
    assert ev.amount == Decimal("-" + digits) and str(ev.amount) == "-" + digits


def test_numbers_and_numeric_strings_are_accepted_without_float() -> None:
    # strict=False decoders: a JSON number amount is parsed from its text, a string time becomes int
    body = pm(row("USDT", "12345678901234567.123", 1).replace('"repayTime":1', '"repayTime":"1731336427804"'))
    (ev,) = bn.decode_pmloan_history(body, ctx()).events
    assert ev.amount == Decimal("-12345678901234567.123")
    assert ev.ts == 1731336427804


def test_unknown_fields_are_ignored_and_an_empty_answer_is_an_empty_page() -> None:
    body = b'{"total":1,"extra":{"a":[1,2]},"rows":[{"asset":"USDT","amount":"2","repayTime":3,"detail":{"x":null},"tranId":9}]}'
    assert [e.id for e in bn.decode_pmloan_history(body, ctx()).events] == ["3:USDT:2#0"]
    empty = bn.decode_pmloan_history(b'{"total":0}', ctx())
    assert (empty.events, empty.count, empty.total, empty.min_ts) == ([], 0, 0, None)
    assert bn.decode_pm_interest_history(b"[]", ctx()).count == 0


# --- error envelopes and malformed bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "cls"),
    [(-1021, ClockSkewError), (-1022, AuthError), (-2015, AuthError), (-2014, AuthError), (-1002, AuthError),
     (-1003, RateLimited), (-1127, BadRequest), (-1102, BadRequest), (-1001, VenueUnavailable),
     (-1007, VenueUnavailable), (-9999, VenueError)],
)
@pytest.mark.parametrize("decode", [bn.decode_pmloan_history, bn.decode_pm_interest_history])
def test_error_envelopes_raise_typed_errors(code: int, cls: type[VenueError], decode: object) -> None:
    body = f'{{"code":{code},"msg":"boom"}}'.encode()
    with pytest.raises(cls) as info:
        decode(body, ctx())  # type: ignore[operator]
    assert info.value.code == str(code) and info.value.venue_message == "boom"
    assert info.value.path.startswith("/sapi/v1/portfolio/")


def test_signature_rejection_is_marked_for_one_resign() -> None:
    with pytest.raises(AuthError) as info:
        bn.decode_pmloan_history(b'{"code":-1022,"msg":"Signature for this request is not valid."}', ctx())
    assert info.value.signature is True
    with pytest.raises(AuthError) as info2:
        bn.decode_pmloan_history(b'{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}', ctx())
    assert info2.value.signature is False


@pytest.mark.parametrize(
    "body",
    [
        b"", b"not json", b"<html>502</html>", b'{"total":3,"rows":[{"asset":"USDT","amount":"1"',
        b'{"rows":[]}', b'{"total":"x","rows":[]}', b'{"total":1,"rows":{}}', b"[]", b"null",
        b'{"code":0,"msg":"success"}',
        pm(row("USDT", '"abc"', 1)), pm(row("USDT", '"NaN"', 1)), pm(row("USDT", '"Infinity"', 1)),
        pm(row("USDT", '"-Infinity"', 1)), pm(row("USDT", "null", 1)), pm(row("USDT", '"1"', 1).replace("1}", "1.5}")),
        pm('{"amount":"1","repayTime":1}'), pm('{"asset":"USDT","repayTime":1}'), pm('{"asset":"","amount":"1","repayTime":1}'),
        pm('{"asset":7,"amount":"1","repayTime":1}'), pm('"row"'),
    ],
)
@pytest.mark.parametrize("keep_raw", [False, True])
def test_malformed_pmloan_bodies_raise_decode_error(body: bytes, keep_raw: bool) -> None:
    with pytest.raises(DecodeError) as info:
        bn.decode_pmloan_history(body, ctx(keep_raw=keep_raw))
    assert info.value.venue == "binance" and info.value.feed == "binance.pmloan_history"


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b'{"total":1,"rows":[]}', b"[{}]", b'[{"asset":"USDT","interest":"1"}]',
     b'[{"asset":"USDT","interest":"NaN","interestAccruedTime":1}]', b'[{"asset":"USDT","interest":"1","interestAccruedTime":"x"}]',
     b"[1,2]", b"[", b"not json"],
)
@pytest.mark.parametrize("keep_raw", [False, True])
def test_malformed_interest_bodies_raise_decode_error(body: bytes, keep_raw: bool) -> None:
    with pytest.raises(DecodeError):
        bn.decode_pm_interest_history(body, ctx(bn.PM_INTEREST_HISTORY_FEED, keep_raw=keep_raw))


def test_pmloan_amount_decodes_the_doc_example() -> None:
    out = bn.decode_pmloan_amount(b'{"asset":"BUSD","amount":"579.45"}')
    assert out == bn.PmLoanAmount(asset="BUSD", amount=Decimal("579.45"))
    assert isinstance(out.amount, Decimal)
    assert bn.decode_pmloan_amount(b'{"asset":"USDT","amount":"0"}').amount == 0
    with pytest.raises(ClockSkewError):
        bn.decode_pmloan_amount(b'{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}')
    for bad in (b'{"asset":"USDT","amount":"NaN"}', b'{"asset":"USDT"}', b"[]", b"oops"):
        with pytest.raises(DecodeError):
            bn.decode_pmloan_amount(bad)


# --- non-200 answers -------------------------------------------------------------------------------------


def test_429_carries_retry_after() -> None:
    err = bn.response_error(429, {"Retry-After": "7"}, b'{"code":-1003,"msg":"Too much request weight used"}', "/p")
    assert isinstance(err, RateLimited) and err.retry_after == 7.0 and err.ban_until is None


def test_418_ban_end_from_retry_after_or_the_message_whichever_is_later() -> None:
    now = int(time.time() * 1000)
    err = bn.response_error(418, {"Retry-After": "120"}, b'{"code":-1003,"msg":"Way too much request weight used"}', "/p")
    assert isinstance(err, RateLimited) and err.ban_until is not None
    assert now + 119_000 <= err.ban_until <= now + 125_000
    later = now + 3 * 86_400_000
    msg = f'{{"code":-1003,"msg":"Way too much request weight used; IP banned until {later}. Please use WebSocket."}}'
    err2 = bn.response_error(418, {"Retry-After": "120"}, msg.encode(), "/p")
    assert isinstance(err2, RateLimited) and err2.ban_until == later
    earlier = now + 1_000  # a venue clock behind ours must not shorten the ban
    msg3 = f'{{"code":-1003,"msg":"IP banned until {earlier}."}}'
    err3 = bn.response_error(418, {"Retry-After": "60"}, msg3.encode(), "/p")
    assert isinstance(err3, RateLimited) and err3.ban_until is not None and err3.ban_until >= now + 59_000
    bare = bn.response_error(418, {}, b"", "/p")
    assert isinstance(bare, RateLimited) and bare.ban_until is not None and bare.ban_until >= now + 119_000


def test_other_statuses() -> None:
    assert isinstance(bn.response_error(503, {}, b"Service Unavailable", "/p"), VenueUnavailable)
    assert isinstance(bn.response_error(401, {}, b'{"code":-2015,"msg":"x"}', "/p"), AuthError)
    assert isinstance(bn.response_error(400, {}, b'{"code":-1021,"msg":"x"}', "/p"), ClockSkewError)
    assert isinstance(bn.response_error(403, {}, b"<html>WAF</html>", "/p"), AuthError)
    assert isinstance(bn.response_error(400, {}, b'{"code":-1127,"msg":"More than 8640 hours"}', "/p"), BadRequest)


# --- signing: the computed vectors B3, B4, B6 of exchange-api-notes.md 2.2 ----------------------------------------

B3 = "7fa65ddbe79eab20e6eb1a105f321c9e2d99dd1e9836607ad7d52809055929e7"
B4 = "aCShMnDMAq7t/QE4LHlwJCL0NEDrO5MLjnLJ6+wntdVB2prVb4bkW9hi01ndcL1vWWDEPNloflfGZ7gHGYXvDA=="
B6 = (
    "ghneDYneCZeYL4nNS30CPDkisA2XwGVMVVvzmNQAjbgWoT000WQYusviQvnf1XptihnK+45dUNV3Tlhx8ncxky+5qDRKiN6Pk8IWUOhPavkWw3v"
    "vZnUGZQ8WcUdg/ufznHxaxcKHtOeSjItEqIICXIcg70zj7NyvdQX8SsoPvSc/FlTdcIxcw8UYgu8Nd1VjaiOhLrER8+ptZpbC9xO22m3DK0VMB"
    "m9qh9F/IQQs8gzfajuigZaq7YXCfnD2sc5r09445TcQJzQQB0ApDkZX1refy2ap1JFxG2L9m5Pr5APt4kC1vHZydn7yKt8Y6wTyIFlBCukcuy"
    "+gN7CORA/T5w=="
)
PAYLOAD = "startTime=1735689600000&endTime=1738368000000&current=1&size=100&recvWindow=5000&timestamp=1738368000123"


def _pct(sig: str) -> str:
    return sig.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


@pytest.mark.parametrize("key_type", ["hmac", "ed25519", "rsa"])
def test_the_pmloan_page_request_signs_to_the_documented_vectors(
    key_type: str, rsa_private_pem: str, ed25519_private_pem: str
) -> None:
    # the page params in the order the PagedWindows cursor sends them
    params = PagedWindows(span_ms=1738368000000 - 1735689600000 + 1, size=100).walk(
        Bounds(1735689600000, 1738368000000), None, False
    ).params()
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    signer = {
        "hmac": lambda: BinanceSigner("k", secret),
        "ed25519": lambda: BinanceSigner("k", private_key=ed25519_private_pem),
        "rsa": lambda: BinanceSigner("k", private_key=rsa_private_pem.encode()),
    }[key_type]()
    expected = {"hmac": B3, "ed25519": _pct(B4), "rsa": _pct(B6)}[key_type]
    prep = bn.BinanceDialect(signer, 5000).prepare(
        Request("GET", bn.PMLOAN_HISTORY_PATH, bn.PMLOAN_HISTORY_LIMIT, params=tuple(params)), 1738368000123
    )
    assert prep.path_qs == f"{bn.PMLOAN_HISTORY_PATH}?{PAYLOAD}&signature={expected}"
    assert prep.headers == {"X-MBX-APIKEY": "k"}
    assert secret not in repr(signer) and "PRIVATE" not in repr(signer)


# --- feed specs ----------------------------------------------------------------------------------------


def test_feed_specs_are_registered_with_the_documented_limits() -> None:
    pmloan, interest = FEEDS["binance.pmloan_history"], FEEDS["binance.pm_interest_history"]
    assert loanledger.Binance.feed_ids() == ["binance.pm_interest_history", "binance.pmloan_history"]
    assert (pmloan.path, pmloan.limit.weight, pmloan.limit.budget, pmloan.limit.per, pmloan.limit.scope,
            pmloan.limit.window) == ("/sapi/v1/portfolio/pmloan-history", 500, 12_000, 60.0, "ip", "fixed")
    assert (interest.path, interest.limit.weight, interest.limit.scope) == (
        "/sapi/v1/portfolio/interest-history", 50, "ip")
    assert (bn.PMLOAN_AMOUNT_LIMIT.weight, bn.PMLOAN_AMOUNT_LIMIT.scope) == (500, "uid")
    assert pmloan.derived_ids and interest.derived_ids
    assert pmloan.default_since == interest.default_since == 1_640_995_200_000  # 2022-01-01T00:00:00Z
    assert pmloan.kinds == ("repay",) and interest.kinds == ("interest",)
    assert {k: f.wire for k, f in interest.filters.items()} == {"asset": "asset"} and not pmloan.filters


def test_windows_stay_within_the_venues_ranges() -> None:
    bounds = Bounds(1_640_995_200_000, 1_795_000_000_000)
    assert isinstance(FEEDS["binance.pmloan_history"].cursor, PagedWindows)
    w = FEEDS["binance.pmloan_history"].cursor.walk(bounds, None, False)
    p = dict(w.params())
    assert int(p["endTime"]) - int(p["startTime"]) < 360 * DAY_MS
    assert (p["current"], p["size"]) == ("1", "100")
    assert isinstance(FEEDS["binance.pm_interest_history"].cursor, TimeWindows)
    tw = FEEDS["binance.pm_interest_history"].cursor.walk(bounds, None, False)
    q = dict(tw.params())
    assert int(q["endTime"]) - int(q["startTime"]) <= 30 * DAY_MS  # padded request included
    assert q["size"] == "100"


def test_a_negative_wire_amount_still_repays_out_of_the_wallet() -> None:
    """The sign comes from the kind, never from the wire value (and is set without rounding)."""
    from decimal import Decimal

    from loanledger import decode

    big = "12345678901234567890.123456789012345678"
    for wire in (big, "-" + big):
        body = ('{"total":1,"rows":[{"asset":"USDT","amount":"%s","repayTime":1731336427804}]}' % wire).encode()
        (ev,) = decode("binance.pmloan_history", body)
        assert ev.amount == Decimal("-" + big) and str(ev.amount) == "-" + big
