"""Parquet and Arrow: typed columns, every amount exact (decimal128(38,18) or its text column),
read back by DuckDB and Polars, streamed by row groups."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_support import fill, small_ledger

import loanledger
from loanledger import LoanEvent, SQLiteStore
from loanledger.exports import arrow_schema, fits_decimal128, write_parquet
from loanledger.testing.ledgers import three_book_events

D = Decimal
AMOUNTS = ("amount", "debt", "collateral", "counter_amount")


@pytest.mark.parametrize(("value", "fits"), [
    ("0E-18", True), ("1E+2", True), ("-0", True), ("1.50000000000000000000000", True),
    ("12345678901234567890.123456789012345678", True), ("99999999999999999999.999999999999999999", True),
    ("-0.000000000000000001", True), ("1E-19", False), ("0.0000000000000000001", False),
    ("123456789012345678901.5", False), ("1E+20", False), ("NaN", False), ("Infinity", False),
])
def test_fits_decimal128_agrees_with_pyarrow(value: str, fits: bool) -> None:
    d = D(value)
    assert fits_decimal128(d) is fits
    if d.is_finite():  # pyarrow itself refuses exactly the values that do not fit (never rounds)
        try:
            got = pa.array([d], pa.decimal128(38, 18)).to_pylist()[0]
        except pa.ArrowInvalid:
            assert not fits
        else:
            assert fits and got == d


def exact(row: dict[str, object], field: str) -> Decimal | None:
    """The exact value of one amount of one exported row: the decimal, else its text."""
    value, text = row[field], row[f"{field}_text"]
    if value is None:
        return None if text is None else D(str(text))
    assert text is None
    return D(str(value))


def test_to_arrow_one_typed_column_per_field_amounts_exact() -> None:
    events = small_ledger()
    table = loanledger.to_arrow(events, batch_rows=4)
    assert table.num_rows == len(events) and table.column("amount").num_chunks == 5
    schema = table.schema
    assert schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("kind").type == pa.dictionary(pa.int8(), pa.string())
    for f in AMOUNTS:
        assert schema.field(f).type == pa.decimal128(38, 18) and schema.field(f"{f}_text").type == pa.string()
    rows = table.to_pylist()
    for ev, row in zip(events, rows, strict=True):
        assert row["id"] == ev.id and row["kind"] == ev.kind.value and row["status"] == ev.status.value
        assert int(row["ts"].timestamp() * 1000) == ev.ts
        for f in AMOUNTS:
            assert exact(row, f) == getattr(ev, f)
    by_id = {r["id"]: r for r in rows}
    # 38 significant digits fit the decimal column; 21 integer digits and 19 decimals go to the text column
    assert by_id["b2"]["amount"] == D("12345678901234567890.123456789012345678") and by_id["b2"]["amount_text"] is None
    assert by_id["bn-b2"]["amount"] is None and by_id["bn-b2"]["amount_text"] == "123456789012345678901.5"
    assert by_id["bn-r2"]["debt"] is None and by_id["bn-r2"]["debt_text"] == "-0.0000000000000000001"
    assert by_id["x1"]["counter_amount"] == D("-1") and by_id["b1"]["counter_amount"] is None
    assert by_id["b1"]["counter_amount_text"] is None
    assert loanledger.to_arrow([]).schema == arrow_schema()


async def test_parquet_read_back_by_duckdb_and_polars_equals_the_store(tmp_path: Path) -> None:
    db, out = tmp_path / "l.db", tmp_path / "l.parquet"
    await fill(db, [*three_book_events(2500, seed=11), *small_ledger()])
    async with SQLiteStore(db, read_only=True) as store:
        stored = {e.key: e async for e in store.events()}
        n = await write_parquet(store.events(), str(out), row_group=1000)
    assert n == len(stored) == 2500 + len(small_ledger())
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == 3 and meta.num_rows == n  # one row group per 1000 events

    con = duckdb.connect()
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{out}')").fetchall())
    assert types["amount"] == "DECIMAL(38,18)" and types["ts"] == "TIMESTAMP WITH TIME ZONE"
    cols = ", ".join(f"{f}, {f}_text" for f in AMOUNTS)
    duck = con.execute(f"SELECT venue, account, feed, id, epoch_ms(ts), {cols} FROM '{out}'").fetchall()
    frame = pl.read_parquet(out)
    assert frame.schema["amount"] == pl.Decimal(38, 18)
    for source in (duck, frame.rows()):
        seen = 0
        for row in source:
            if source is duck:
                key, ts, values = tuple(row[:4]), row[4], row[5:]
            else:
                named = dict(zip(frame.columns, row, strict=True))
                key = (named["venue"], named["account"], named["feed"], named["id"])
                ts = int(named["ts"].timestamp() * 1000)
                values = tuple(v for f in AMOUNTS for v in (named[f], named[f"{f}_text"]))
            ev = stored[key]
            assert ts == ev.ts
            for i, f in enumerate(AMOUNTS):
                got = exact({f: values[2 * i], f"{f}_text": values[2 * i + 1]}, f)
                assert got == getattr(ev, f), (key, f, got)
            seen += 1
        assert seen == n
    # the 20+ digit amounts survive both readers exactly
    wide = con.execute(f"SELECT coalesce(amount::VARCHAR, amount_text) FROM '{out}' WHERE id IN ('b2', 'bn-b2') "
                       "ORDER BY id").fetchall()
    assert [D(v) for (v,) in wide] == [D("12345678901234567890.123456789012345678"), D("123456789012345678901.5")]


def test_cli_parquet_on_the_demo_ledger(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo.parquet"
    done = subprocess.run([sys.executable, "-m", "loanledger", "export", "--db", str(demo_db), "--format", "parquet",
                           "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import asyncio

    async def stored() -> list[LoanEvent]:
        async with SQLiteStore(demo_db, read_only=True) as store:
            return [e async for e in store.events()]

    events = asyncio.run(stored())
    assert f"exported {len(events)} events" in done.stderr
    rows = duckdb.connect().execute(
        f"SELECT id, feed, coalesce(amount::VARCHAR, amount_text), coalesce(counter_amount::VARCHAR, "
        f"counter_amount_text) FROM '{out}'").fetchall()
    assert len(rows) == len(events) > 500
    for (id_, feed, amount, counter), ev in zip(rows, events, strict=True):  # ts order kept
        assert (id_, feed) == (ev.id, ev.feed)
        assert D(amount) == ev.amount
        assert (None if counter is None else D(counter)) == ev.counter_amount
    assert any(len(D(a).as_tuple().digits) >= 20 for _, _, a, _ in rows)  # the demo's 20-digit amounts


def test_without_pyarrow_parquet_is_a_usage_error_naming_the_extra(small_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    code = ("import sys; sys.modules['pyarrow'] = None; from loanledger.cli import main; "
            f"sys.exit(main(['export', '--db', {str(small_db)!r}, '--format', 'parquet', '--output', {str(out)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "loanledger[arrow]" in done.stderr and not out.exists()
    # the rest of the package imports without it
    done = subprocess.run([sys.executable, "-c", "import sys; sys.modules['pyarrow'] = None; import loanledger; "
                           "loanledger.to_arrow([])"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "pip install 'loanledger[arrow]'" in done.stderr
