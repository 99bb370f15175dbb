"""Apache Arrow and Parquet: one typed column per `LoanEvent` field, amounts exact.

    table = loanledger.to_arrow(events)                  # a pyarrow.Table
    n = await write_parquet(store.events(), "ledger.parquet")  # streamed, row group by row group

Needs the `arrow` extra (``pip install 'loanledger[arrow]'``, pyarrow); pyarrow is imported
when one of these functions is first called, so `import loanledger` works without it.

Columns follow `loanledger.events.FIELDS` in order (a new field gets its column, or fails
here until it is given one):

- a `Decimal` field is ``decimal128(38, 18)``: 20 integer and 18 fractional digits, exact,
  read as ``DECIMAL(38,18)`` by DuckDB and ``Decimal(38, 18)`` by Polars. A value that type
  cannot hold exactly (more than 18 fractional digits once trailing zeros are dropped, more than
  20 integer digits) is never rounded: its decimal cell is null and its exact plain-notation
  text goes into the string column ``<field>_text`` right after it (null otherwise). The exact
  value of every row is therefore ``coalesce(amount::VARCHAR, amount_text)``. Wider decimals
  (decimal256) are not used: DuckDB reads a Parquet decimal wider than 38 digits as DOUBLE and
  Polars refuses it (https://github.com/duckdb/duckdb/pull/9770,
  https://docs.pola.rs/api/python/stable/reference/api/polars.datatypes.Decimal.html);
- `ts` is ``timestamp[ms, tz=UTC]``; `kind` and `status` are dictionary-encoded strings;
- `raw` is the venue record's JSON text (null unless the ledger kept it).

The schema is the same for every export (pipelines append files), and says so in its metadata
(``loanledger.amounts``).
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import AsyncIterable, Iterable, Sequence
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

import msgspec

from ..events import LoanEvent

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["AMOUNT_PRECISION", "AMOUNT_SCALE", "ROW_GROUP", "arrow_schema", "fits_decimal128", "to_arrow",
           "write_parquet"]

#: the decimal columns' type: decimal128(AMOUNT_PRECISION, AMOUNT_SCALE)
AMOUNT_PRECISION, AMOUNT_SCALE = 38, 18
#: rows per Parquet row group (and per record batch): what write_parquet holds in memory at once
ROW_GROUP = 65_536

_META = {
    b"loanledger.amounts": (
        f"decimal128({AMOUNT_PRECISION},{AMOUNT_SCALE}); a null amount with a non-null <field>_text: "
        "the exact value did not fit and is the text").encode(),
}


def _require_pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise ImportError("Parquet and Arrow exports need pyarrow: pip install 'loanledger[arrow]'") from None
    return pyarrow


def fits_decimal128(value: Decimal) -> bool:
    """True iff `value` is exactly representable in decimal128(38, 18) (no rounding, ever)."""
    if not value.is_finite():
        return False
    _, digits, exp = value.as_tuple()
    assert isinstance(exp, int)
    n = len(digits)
    while n > 1 and digits[n - 1] == 0 and exp < 0:  # trailing zeros go without rounding
        n -= 1
        exp += 1
    scale = max(0, -exp)
    integer_digits = max(0, n + exp)
    return scale <= AMOUNT_SCALE and integer_digits <= AMOUNT_PRECISION - AMOUNT_SCALE


# --- the columns, derived from LoanEvent's fields --------------------------------------------

_AMOUNT, _STRING, _TS, _INT, _ENUM, _RAW = "amount", "string", "ts", "int", "enum", "raw"


def _kind_of(name: str, tp: Any) -> str:
    """Which column type a LoanEvent field becomes (raises for a type with no column rule)."""
    args = set(typing.get_args(tp)) - {type(None)} if isinstance(tp, types.UnionType) else {tp}
    if args == {Decimal}:
        return _AMOUNT
    if args == {str}:
        return _STRING
    if args == {int}:
        return _TS if name == "ts" else _INT
    if args == {msgspec.Raw}:
        return _RAW
    if len(args) == 1:
        (only,) = args
        if isinstance(only, type) and issubclass(only, enum.Enum):
            return _ENUM
    raise TypeError(f"LoanEvent.{name}: no Arrow column rule for {tp!r} (add one in loanledger/exports/arrow.py)")


_COLUMNS: tuple[tuple[str, str, bool], ...] = tuple(
    (f.name, _kind_of(f.name, f.type), not f.required and f.default is None)
    for f in msgspec.structs.fields(LoanEvent)
)


def arrow_schema() -> pa.Schema:
    """The Arrow schema of every export (see the module docstring)."""
    pa_ = _require_pyarrow()
    dec = pa_.decimal128(AMOUNT_PRECISION, AMOUNT_SCALE)
    out: list[Any] = []
    for name, kind, nullable in _COLUMNS:
        if kind == _AMOUNT:
            out.append(pa_.field(name, dec, nullable=True))  # null when the value went to <name>_text
            out.append(pa_.field(f"{name}_text", pa_.string(), nullable=True))
        elif kind == _STRING:
            out.append(pa_.field(name, pa_.string(), nullable=nullable))
        elif kind == _TS:
            out.append(pa_.field(name, pa_.timestamp("ms", tz="UTC"), nullable=False))
        elif kind == _INT:
            out.append(pa_.field(name, pa_.int64(), nullable=nullable))
        elif kind == _ENUM:
            out.append(pa_.field(name, pa_.dictionary(pa_.int8(), pa_.string()), nullable=False))
        else:
            out.append(pa_.field(name, pa_.string(), nullable=True))
    return pa_.schema(out, metadata=_META)


def _batch(pa_: Any, schema: Any, events: Sequence[LoanEvent]) -> Any:
    """One record batch of `events` in `schema`."""
    arrays: list[Any] = []
    dec = pa_.decimal128(AMOUNT_PRECISION, AMOUNT_SCALE)
    for name, kind, _ in _COLUMNS:
        values = [getattr(ev, name) for ev in events]
        if kind == _AMOUNT:
            exact = [v if v is None or fits_decimal128(v) else None for v in values]
            text = [None if v is None or e is not None else format(v, "f") for v, e in zip(values, exact, strict=True)]
            arrays.append(pa_.array(exact, dec))
            arrays.append(pa_.array(text, pa_.string()))
        elif kind == _STRING:
            arrays.append(pa_.array(values, pa_.string()))
        elif kind == _TS:
            arrays.append(pa_.array(values, pa_.int64()).cast(pa_.timestamp("ms", tz="UTC")))
        elif kind == _INT:
            arrays.append(pa_.array(values, pa_.int64()))
        elif kind == _ENUM:
            arrays.append(pa_.array([v.value for v in values], pa_.string()).dictionary_encode()
                          .cast(pa_.dictionary(pa_.int8(), pa_.string())))
        else:
            arrays.append(pa_.array([None if v is None else bytes(v).decode() for v in values], pa_.string()))
    return pa_.record_batch(arrays, schema=schema)


def to_arrow(events: Iterable[LoanEvent], *, batch_rows: int = ROW_GROUP) -> pa.Table:
    """The events as a `pyarrow.Table` (schema: `arrow_schema()`; amounts exact, see the module
    docstring). Builds the table in batches of `batch_rows` events (its chunks)."""
    pa_ = _require_pyarrow()
    schema = arrow_schema()
    batches: list[Any] = []
    buf: list[LoanEvent] = []
    for ev in events:
        buf.append(ev)
        if len(buf) >= batch_rows:
            batches.append(_batch(pa_, schema, buf))
            buf = []
    if buf or not batches:
        batches.append(_batch(pa_, schema, buf))
    return pa_.Table.from_batches(batches, schema=schema)


async def write_parquet(events: AsyncIterable[LoanEvent], where: str | IO[bytes], *,
                        row_group: int = ROW_GROUP, compression: str = "zstd") -> int:
    """Write `events` (e.g. ``store.events()``) to a Parquet file or binary stream, one row group
    per `row_group` events: memory stays bounded by one row group however many events there are.
    Returns the number of rows written."""
    if isinstance(row_group, bool) or not isinstance(row_group, int) or row_group < 1:
        raise ValueError(f"row_group: must be a positive integer, got {row_group!r}")
    pa_ = _require_pyarrow()
    import pyarrow.parquet as pq

    schema = arrow_schema()
    n = 0
    with pq.ParquetWriter(where, schema, compression=compression) as writer:
        buf: list[LoanEvent] = []
        async for ev in events:
            buf.append(ev)
            if len(buf) >= row_group:
                writer.write_batch(_batch(pa_, schema, buf))
                n += len(buf)
                buf = []
        if buf:
            writer.write_batch(_batch(pa_, schema, buf))
            n += len(buf)
    return n
