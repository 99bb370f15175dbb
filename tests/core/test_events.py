"""The event contract: fields, enums, immutability, lossless JSON and msgpack."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from loanledger import EventKind, EventStatus, LoanEvent
from loanledger.events import decode_json, decode_msgpack, encode_json, encode_msgpack

CONTRACT = [
    "venue", "account", "feed", "id", "kind", "status", "ts", "currency", "amount", "debt", "collateral",
    "counter_currency", "counter_amount", "ref_id", "parent_id", "venue_type", "raw",
]


def _event(**over: object) -> LoanEvent:
    base: dict[str, object] = dict(
        venue="okx", account="main", feed="okx.one_click_repay_history", id="1742194481852:USDC:2338478342062235648",
        kind=EventKind.CONVERT, status=EventStatus.DONE, ts=1742194485439, currency="USDC",
        amount=Decimal("9.088651"), counter_currency="USDT", counter_amount=Decimal("-9.088651"),
        ref_id="2338478342062235648", parent_id="1742194481852:USDC", venue_type="buy",
    )
    base.update(over)
    return LoanEvent(**base)  # type: ignore[arg-type]


def test_fields_are_exactly_the_contract() -> None:
    assert list(LoanEvent.__struct_fields__) == CONTRACT


def test_enums_are_str_enums_with_the_contract_values() -> None:
    assert [k.value for k in EventKind] == [
        "borrow", "repay", "interest", "collateral_add", "collateral_remove", "liquidation", "convert"
    ]
    assert [s.value for s in EventStatus] == ["done", "pending", "failed"]
    assert EventKind.REPAY == "repay" and isinstance(EventStatus.PENDING, str)


def test_frozen_and_hashable() -> None:
    ev = _event()
    with pytest.raises(AttributeError):
        ev.amount = Decimal("0")  # type: ignore[misc]
    assert ev == _event() and hash(ev) == hash(_event())
    assert ev.key == ("okx", "main", "okx.one_click_repay_history", ev.id)


# 20-digit amounts and a 28-place fraction: anything float-shaped on the path would break these
EXACT = [Decimal("12345678901234567890.12345678"), Decimal("-0.0000000000000000000000000001"), Decimal("0E-18")]


@pytest.mark.parametrize("amount", EXACT)
def test_plain_msgspec_json_and_msgpack_round_trip_exactly(amount: Decimal) -> None:
    ev = _event(amount=amount, counter_amount=-amount)
    for mod in (msgspec.json, msgspec.msgpack):
        back = mod.decode(mod.encode(ev), type=LoanEvent)
        assert back == ev
        assert str(back.amount) == str(amount)  # same digits, same exponent
    assert b'"12345678901234567890.12345678"' in msgspec.json.encode(_event(amount=EXACT[0])) or amount != EXACT[0]


def test_codecs_round_trip_raw_byte_for_byte() -> None:
    raw = msgspec.Raw(b'{"ordId":"2338478342062235648","fillPx":"","extra":{"n":12345678901234567890}}')
    ev = _event(raw=raw)
    for enc, dec in ((encode_json, decode_json), (encode_msgpack, decode_msgpack)):
        back = dec(enc(ev))
        assert isinstance(back, LoanEvent)
        assert back.raw is not None and bytes(back.raw) == bytes(raw)
        assert msgspec.structs.replace(back, raw=None) == msgspec.structs.replace(ev, raw=None)
        many = dec(enc([ev, _event(id="x")]), many=True)
        assert isinstance(many, list) and [e.id for e in many] == [ev.id, "x"] and many[1].raw is None


def test_json_embeds_raw_verbatim_for_audit() -> None:
    raw = msgspec.Raw(b'{"amt":"-0.001","ccy":"DOT"}')
    assert b'"raw":{"amt":"-0.001","ccy":"DOT"}' in encode_json(_event(raw=raw))


def test_missing_contract_field_is_a_validation_error() -> None:
    data = msgspec.json.encode(_event())
    broken = data.replace(b'"currency":"USDC",', b"")
    with pytest.raises(msgspec.ValidationError, match="currency"):
        msgspec.json.decode(broken, type=LoanEvent)
