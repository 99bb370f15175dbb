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
included, byte for byte.
"""

from __future__ import annotations

import enum
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
class LoanEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
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
    """Inverse of `encode_msgpack`."""
    if many:
        return [_from_pack_mirror(m) for m in _pack_many.decode(data)]
    return _from_pack_mirror(_pack_one.decode(data))
