"""The one event schema every venue record is normalized into.

`LoanEvent` is the contract between the venue adapters, the paginator, the
store and the user's code (see docs/EVENTS.md). It is a frozen msgspec
Struct: amounts are `Decimal` from the wire string to the store, timestamps
are int milliseconds since the Unix epoch (UTC).

Encoding: `msgspec.json.encode(event)` and `msgspec.msgpack.encode(event)`
round-trip exactly when `raw` is None. `raw` holds the venue's JSON bytes,
which msgspec cannot embed in msgpack as-is nor decode back into an optional
field, so use the codec helpers below (`encode_json`/`decode_json`,
`encode_msgpack`/`decode_msgpack`): they round-trip every field, `raw`
included, byte for byte. `iter_msgpack` reads a msgpack *stream* (objects
back to back, what `loanledger export --format msgpack` writes) one event at
a time, in linear time.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, overload

import msgspec

__all__ = [
    "FIELDS",
    "EventKind",
    "EventStatus",
    "LoanEvent",
    "decode_json",
    "decode_msgpack",
    "encode_json",
    "encode_msgpack",
    "iter_msgpack",
]


class EventKind(enum.StrEnum):
    """What happened to the user's wallet."""

    BORROW = "borrow"
    REPAY = "repay"
    INTEREST = "interest"
    COLLATERAL_ADD = "collateral_add"
    COLLATERAL_REMOVE = "collateral_remove"
    LIQUIDATION = "liquidation"
    CONVERT = "convert"


class EventStatus(enum.StrEnum):
    """Settlement state. `pending` events can change later; stores upsert by id."""

    DONE = "done"
    PENDING = "pending"
    FAILED = "failed"


# gc=False: every field is a scalar (str, int, Decimal, enum, Raw, None), so an event can never be
# part of a reference cycle; untracked, building and holding many of them costs the collector nothing.
class LoanEvent(msgspec.Struct, frozen=True, gc=False):
    """One normalized loan record, in three books.

    `id` is stable and unique within (venue, account, feed): the same venue
    record always yields the same id, across pages and runs, even when the
    venue gives none. `amount` is the signed change of the user's free wallet
    in `currency` (+ in, - out); `debt` the signed change of what the account
    owes in `currency` (principal and interest); `collateral` the signed change
    of what it has pledged in `currency` (docs/EVENTS.md has the table per kind).
    """

    venue: str
    account: str
    feed: str
    id: str
    kind: EventKind
    status: EventStatus
    ts: int
    currency: str
    amount: Decimal
    debt: Decimal = Decimal(0)
    collateral: Decimal = Decimal(0)
    counter_currency: str | None = None
    counter_amount: Decimal | None = None
    ref_id: str | None = None
    parent_id: str | None = None
    venue_type: str = ""
    raw: msgspec.Raw | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The store's primary key: (venue, account, feed, id)."""
        return (self.venue, self.account, self.feed, self.id)


# --- codecs that carry `raw` too -------------------------------------------------
#
# JSON: encoding embeds `raw` verbatim (it is JSON). Decoding goes through a
# mirror whose `raw` is a non-optional msgspec.Raw (msgspec cannot decode an
# object into `Raw | None`), then maps the literal `null` back to None.
# msgpack: `raw` travels as a bin field holding the JSON bytes.
# Both mirrors are derived from LoanEvent's own fields: a new field needs no edit here.

#: LoanEvent's field names, in order: the one source of the field list (codecs, stores, exports)
FIELDS: tuple[str, ...] = LoanEvent.__struct_fields__


def _mirror(name: str, raw_type: Any, raw_default: Any) -> type[msgspec.Struct]:
    spec: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(LoanEvent):
        if f.name == "raw":
            spec.append(("raw", raw_type, raw_default))
        elif f.required:
            spec.append((f.name, f.type))
        else:
            spec.append((f.name, f.type, f.default))
    return msgspec.defstruct(name, spec, frozen=True, kw_only=True, module=__name__)


_JsonMirror = _mirror("_JsonMirror", msgspec.Raw, msgspec.Raw(b"null"))
_PackMirror = _mirror("_PackMirror", bytes | None, None)
_FIELDS = FIELDS
_json_encoder = msgspec.json.Encoder()
_json_one = msgspec.json.Decoder(_JsonMirror)
_json_many = msgspec.json.Decoder(list[_JsonMirror])  # type: ignore[valid-type]
_pack_encoder = msgspec.msgpack.Encoder()
_pack_one = msgspec.msgpack.Decoder(_PackMirror)
_pack_many = msgspec.msgpack.Decoder(list[_PackMirror])  # type: ignore[valid-type]


def _from_json_mirror(m: Any) -> LoanEvent:
    values: dict[str, Any] = {f: getattr(m, f) for f in _FIELDS}
    raw = m.raw
    values["raw"] = None if bytes(raw) == b"null" else msgspec.Raw(bytes(raw))
    return LoanEvent(**values)


def _to_pack_mirror(ev: LoanEvent) -> Any:
    values: dict[str, Any] = {f: getattr(ev, f) for f in _FIELDS}
    values["raw"] = None if ev.raw is None else bytes(ev.raw)
    return _PackMirror(**values)


def _from_pack_mirror(m: Any) -> LoanEvent:
    values: dict[str, Any] = {f: getattr(m, f) for f in _FIELDS}
    values["raw"] = None if m.raw is None else msgspec.Raw(m.raw)
    return LoanEvent(**values)


def encode_json(obj: LoanEvent | list[LoanEvent]) -> bytes:
    """JSON bytes of one event or a list of events (`raw` embedded verbatim)."""
    return _json_encoder.encode(obj)


@overload
def decode_json(data: bytes | str) -> LoanEvent: ...
@overload
def decode_json(data: bytes | str, *, many: bool) -> LoanEvent | list[LoanEvent]: ...
def decode_json(data: bytes | str, *, many: bool = False) -> LoanEvent | list[LoanEvent]:
    """Inverse of `encode_json`; `many=True` for a JSON array of events."""
    if many:
        return [_from_json_mirror(m) for m in _json_many.decode(data)]
    return _from_json_mirror(_json_one.decode(data))


def encode_msgpack(obj: LoanEvent | list[LoanEvent]) -> bytes:
    """msgpack bytes of one event or a list (`raw` as a bin of its JSON bytes)."""
    if isinstance(obj, list):
        return _pack_encoder.encode([_to_pack_mirror(e) for e in obj])
    return _pack_encoder.encode(_to_pack_mirror(obj))


@overload
def decode_msgpack(data: bytes) -> LoanEvent: ...
@overload
def decode_msgpack(data: bytes, *, many: bool) -> LoanEvent | list[LoanEvent]: ...
def decode_msgpack(data: bytes, *, many: bool = False) -> LoanEvent | list[LoanEvent]:
    """Inverse of `encode_msgpack`. `many=True` reads a msgpack array of events (what
    `encode_msgpack(list)` writes) or a stream of events back to back (what
    `loanledger export --format msgpack` writes; empty input is no events)."""
    if many:
        view = memoryview(data)
        if len(view) and view[0] in _ARRAY_HEADS:
            return [_from_pack_mirror(m) for m in _pack_many.decode(view)]
        return list(iter_msgpack(view))
    return _from_pack_mirror(_pack_one.decode(data))


def iter_msgpack(data: bytes | bytearray | memoryview) -> Iterator[LoanEvent]:
    """The events of a msgpack stream (objects back to back, as `loanledger export --format
    msgpack` writes them), one at a time. Linear time; `data` can be any buffer, e.g. an
    `mmap` of a large export file. A truncated or malformed stream raises msgspec.DecodeError."""
    view = memoryview(data).cast("B")
    start = 0
    for end in _object_ends(view):
        yield _from_pack_mirror(_pack_one.decode(view[start:end]))
        start = end


_ARRAY_HEADS = frozenset({*range(0x90, 0xA0), 0xDC, 0xDD})


def _lead_bytes() -> tuple[tuple[int, int, int], ...]:
    """What each msgpack lead byte means, as (action, a, b):
    0: the item is `a` bytes long in all;  1: an `a`-byte length L follows, the item is
    1 + a + b + L bytes (b = 1 for ext's type byte);  2: a container of `a` items (fixmap,
    fixarray: the lead byte is the header);  3: an `a`-byte count N follows, the container
    holds b * N items;  4: not a msgpack lead byte."""
    table: list[tuple[int, int, int]] = []
    for lead in range(256):
        if lead <= 0x7F or lead >= 0xE0:  # positive / negative fixint
            table.append((0, 1, 0))
        elif lead <= 0x8F:  # fixmap: key and value per entry
            table.append((2, 2 * (lead & 0x0F), 0))
        elif lead <= 0x9F:  # fixarray
            table.append((2, lead & 0x0F, 0))
        elif lead <= 0xBF:  # fixstr
            table.append((0, 1 + (lead & 0x1F), 0))
        elif lead in (0xC0, 0xC2, 0xC3):  # nil, false, true
            table.append((0, 1, 0))
        elif 0xC4 <= lead <= 0xC6:  # bin 8/16/32
            table.append((1, 1 << (lead - 0xC4), 0))
        elif 0xC7 <= lead <= 0xC9:  # ext 8/16/32
            table.append((1, 1 << (lead - 0xC7), 1))
        elif 0xCA <= lead <= 0xCB:  # float 32/64
            table.append((0, 1 + (4 << (lead - 0xCA)), 0))
        elif 0xCC <= lead <= 0xD3:  # uint / int 8-64
            table.append((0, 1 + (1 << ((lead - 0xCC) % 4)), 0))
        elif 0xD4 <= lead <= 0xD8:  # fixext 1-16 (a type byte, then the data)
            table.append((0, 2 + (1 << (lead - 0xD4)), 0))
        elif 0xD9 <= lead <= 0xDB:  # str 8/16/32
            table.append((1, 1 << (lead - 0xD9), 0))
        elif lead in (0xDC, 0xDD):  # array 16/32
            table.append((3, 2 << (lead - 0xDC), 1))
        elif lead in (0xDE, 0xDF):  # map 16/32
            table.append((3, 2 << (lead - 0xDE), 2))
        else:  # 0xc1: never used
            table.append((4, 0, 0))
    return tuple(table)


_LEAD = _lead_bytes()


def _object_ends(view: memoryview) -> Iterator[int]:
    """The offset just past each top-level msgpack object in `view`: only headers are read,
    values are skipped (msgspec then decodes each object's own bytes)."""
    n = len(view)
    lead = _LEAD
    pos = 0
    while pos < n:
        pending = 1  # items of this object still to skip
        while pending:
            if pos >= n:
                raise msgspec.DecodeError(f"MessagePack stream truncated at byte {n}")
            action, a, b = lead[view[pos]]
            pending -= 1
            if action == 0:
                pos += a
            elif action == 2:
                pending += a
                pos += 1
            elif action == 4:
                raise msgspec.DecodeError(f"MessagePack stream: invalid byte 0x{view[pos]:02x} at {pos}")
            else:
                value = int.from_bytes(view[pos + 1 : pos + 1 + a], "big")
                if action == 1:
                    pos += 1 + a + b + value
                else:
                    pending += b * value
                    pos += 1 + a
        if pos > n:
            raise msgspec.DecodeError(f"MessagePack stream truncated at byte {n}")
        yield pos
