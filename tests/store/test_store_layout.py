"""The stores' columns, upsert and row mappers derive from LoanEvent's own field list: a copy of
the schema with one more field gets its column with no edit to any store."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

import msgspec

from loanledger import EventKind, EventStatus, LoanEvent
from loanledger.store import postgres as pg_store
from loanledger.store import sqlite as sqlite_store
from loanledger.store._shared import EVENT_LAYOUT, Layout


def extended_schema() -> type[msgspec.Struct]:
    """LoanEvent plus a `fee` Decimal and a `note` str, built from LoanEvent's fields."""
    spec: list[Any] = []
    for f in msgspec.structs.fields(LoanEvent):
        spec.append((f.name, f.type) if f.required else (f.name, f.type, f.default))
    spec += [("fee", Decimal, Decimal(0)), ("note", str | None, None)]
    return msgspec.defstruct("ExtendedEvent", spec, frozen=True, kw_only=True)


def test_every_store_lists_exactly_loanevents_fields() -> None:
    fields = ", ".join(LoanEvent.__struct_fields__)
    assert sqlite_store._COLUMNS == pg_store._COLUMNS == EVENT_LAYOUT.columns == fields
    for upsert in (sqlite_store._UPSERT, pg_store._UPSERT):
        for name in LoanEvent.__struct_fields__:
            assert name in upsert


def test_a_field_added_to_a_copy_of_the_schema_is_stored_and_read_back_with_no_edit() -> None:
    Extended = extended_schema()
    layout = Layout(Extended, decimal_text=True)
    assert layout.names[-2:] == ("fee", "note") and "fee" in layout.decimals
    upsert = layout.upsert("events", mark="?", extra=("stored_at",))
    assert "fee = EXCLUDED.fee" in upsert and "note = EXCLUDED.note" in upsert
    raw = msgspec.Raw(b'{"ordId":"2205764866869846016","fee":"0.000000000000000001"}')
    event = Extended(  # type: ignore[call-arg]
        venue="okx", account="main", feed="okx.flexible_loan_history", id="2205764866869846016",
        kind=EventKind.INTEREST, status=EventStatus.DONE, ts=1_742_194_481_852, currency="USDT",
        amount=Decimal("0"), debt=Decimal("0.000000000000000001"), venue_type="interest_accrued", raw=raw,
        fee=Decimal("12345678901234567890.123456789012345678"), note="accrued",
    )
    row = layout.row(event)
    assert row[layout.names.index("fee")] == "12345678901234567890.123456789012345678"  # exact text
    # a real SQLite table made from the layout's columns: the upsert and the mappers just work
    with sqlite3.connect(":memory:") as db:
        db.execute(f"CREATE TABLE events ({layout.columns}, stored_at INTEGER, "
                   "PRIMARY KEY (venue, account, feed, id))")
        db.execute(upsert, (*row, 1))
        again = msgspec.structs.replace(event, raw=None, note="settled")  # type: ignore[type-var]
        db.execute(upsert, (*layout.row(again), 2))
        (back_row,) = db.execute(f"SELECT {layout.columns} FROM events").fetchall()
    back = layout.event(back_row)
    assert back == msgspec.structs.replace(event, note="settled")  # type: ignore[type-var]
    assert getattr(back, "fee").as_tuple() == Decimal("12345678901234567890.123456789012345678").as_tuple()
    # the value layout (PostgreSQL's NUMERIC, the memory store) passes Decimals through
    value_row = Layout(Extended, decimal_text=False).row(event)
    assert value_row[layout.names.index("fee")] == Decimal("12345678901234567890.123456789012345678")
