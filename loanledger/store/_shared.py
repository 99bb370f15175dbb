"""What every store shares: the column layout derived from LoanEvent's fields, the page check,
change detection, the query arguments, exact balance sums and the event order.

Nothing here names a LoanEvent field except the key, `raw`, `ts`, the books and the
counter leg, which the stores' semantics are about: the column list, the upsert and
the row mappers follow the Struct's own field list (`LoanEvent.__struct_fields__`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from .._money import EXACT
from ..errors import InvalidArgument, StoreError
from ..events import EventKind, EventStatus, LoanEvent
from .base import Balance, BalanceKey, FeedKey

__all__ = [
    "EVENT_LAYOUT",
    "Layout",
    "Totals",
    "changed",
    "check_page",
    "conditions",
    "counted_statuses",
    "event_filters",
    "order_events",
    "read_only_error",
]

S = TypeVar("S", bound=msgspec.Struct)

#: the primary key of the events table (and the columns the ordering names after ts)
KEY_COLUMNS = ("venue", "account", "feed", "id")


def _is_decimal(tp: Any) -> bool:
    return tp in (Decimal, Decimal | None)


def _enum_type(tp: Any) -> type[enum.Enum] | None:
    return tp if isinstance(tp, type) and issubclass(tp, enum.Enum) else None


class Layout(Generic[S]):
    """How a LoanEvent-shaped Struct maps to the columns of a table, derived from its fields.

    A Decimal field is a NUMERIC (``decimal_text=False``) or its exact decimal text
    (``decimal_text=True``, SQLite); an enum its value; `raw` bytes; the rest as they
    are. A field added to the Struct is a column here with no edit (tests prove it
    on a copy of LoanEvent with one more field); the stores' migrations add it."""

    def __init__(self, struct: type[S], *, decimal_text: bool) -> None:
        fields = msgspec.structs.fields(struct)
        self.struct = struct
        self.names: tuple[str, ...] = tuple(f.name for f in fields)
        self.raw_index = self.names.index("raw")
        self.decimals = frozenset(f.name for f in fields if _is_decimal(f.type))
        to: list[tuple[int, Callable[[Any], Any]]] = []
        back: list[tuple[str, Callable[[Any], Any] | None]] = []
        for i, f in enumerate(fields):
            enum_type = _enum_type(f.type)
            if f.name == "raw":
                to.append((i, _raw_to_bytes))
                back.append((f.name, _bytes_to_raw))
            elif enum_type is not None:
                to.append((i, _enum_value))
                back.append((f.name, enum_type))
            elif decimal_text and _is_decimal(f.type):
                to.append((i, _decimal_text))
                back.append((f.name, _text_decimal))
            else:
                back.append((f.name, None))
        self._to = to
        self._back = back
        self.columns = ", ".join(self.names)

    def row(self, ev: S) -> tuple[Any, ...]:
        """The column values of one event, in field order."""
        values = list(msgspec.structs.astuple(ev))
        for i, conv in self._to:
            values[i] = conv(values[i])
        return tuple(values)

    def event(self, row: Sequence[Any]) -> S:
        """The event of one row of `columns` (in field order)."""
        return self.struct(**{
            name: v if conv is None or v is None else conv(v)
            for (name, conv), v in zip(self._back, row, strict=True)
        })

    def upsert(self, table: str, *, mark: str, extra: Sequence[str] = ()) -> str:
        """``INSERT ... ON CONFLICT (key) DO UPDATE``: every column replaced, except `raw`,
        which a write without it keeps. `extra` columns follow the fields (``stored_at``)."""
        columns = [*self.names, *extra]
        sets = [
            "raw = COALESCE(EXCLUDED.raw, t.raw)" if c == "raw" else f"{c} = EXCLUDED.{c}"
            for c in columns if c not in KEY_COLUMNS
        ]
        return (
            f"INSERT INTO {table} AS t ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
            f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {', '.join(sets)}"
        )


def _raw_to_bytes(v: Any) -> Any:
    return None if v is None else bytes(v)


def _bytes_to_raw(v: Any) -> msgspec.Raw:
    return msgspec.Raw(bytes(v))


def _enum_value(v: Any) -> Any:
    return v.value


def _decimal_text(v: Any) -> Any:
    return None if v is None else str(v)


def _text_decimal(v: Any) -> Decimal:
    return Decimal(v)


#: LoanEvent's layout with Decimals as values (what the memory store compares, PostgreSQL stores)
EVENT_LAYOUT: Layout[LoanEvent] = Layout(LoanEvent, decimal_text=False)
_RAW = EVENT_LAYOUT.raw_index


def check_page(key: FeedKey, events: Sequence[LoanEvent], checkpoint: str) -> None:
    """A page belongs to its feed, and its checkpoint is text: checked before anything is written."""
    if not isinstance(key, FeedKey):
        raise TypeError(f"key: expected FeedKey, got {type(key).__name__}")
    if not isinstance(checkpoint, str):
        raise TypeError(f"checkpoint: expected str, got {type(checkpoint).__name__}")
    for ev in events:
        if not isinstance(ev, LoanEvent):
            raise TypeError(f"events: expected LoanEvent, got {type(ev).__name__}")
        if (ev.venue, ev.account, ev.feed) != (key.venue, key.account, key.feed):
            raise InvalidArgument("events", f"event {ev.id!r} belongs to {ev.venue}/{ev.account}/{ev.feed}, not {key}")


def read_only_error(store: object) -> StoreError:
    return StoreError(f"{store!r} is read-only: open it without read_only=True to write")


def differs(old: LoanEvent, new: LoanEvent) -> bool:
    """True if `new` changes the stored `old`: any field's value (Decimals by value, so
    a NUMERIC's notation never counts), or new `raw` bytes (a write without raw keeps it)."""
    o = msgspec.structs.astuple(old)
    n = msgspec.structs.astuple(new)
    if o[:_RAW] != n[:_RAW] or o[_RAW + 1:] != n[_RAW + 1:]:
        return True
    return new.raw is not None and (old.raw is None or bytes(old.raw) != bytes(new.raw))


def changed(stored: Mapping[str, LoanEvent], events: Iterable[LoanEvent]) -> list[LoanEvent]:
    """The events (first occurrence per id) not stored yet or differing from the stored one."""
    out: list[LoanEvent] = []
    seen: set[str] = set()
    for ev in events:
        if ev.id in seen:
            continue
        seen.add(ev.id)
        old = stored.get(ev.id)
        if old is None or differs(old, ev):
            out.append(ev)
    return out


def _optional_str(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name}: expected str or None, got {type(value).__name__}")
    return value


def _optional_ms(name: str, value: object) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"{name}: expected int milliseconds or None, got {type(value).__name__}")
    return value


def event_filters(
    venue: object, account: object, feed: object, kind: object, currency: object, since: object, until: object
) -> tuple[tuple[tuple[str, str | None], ...], int | None, int | None]:
    """The checked filters of `Store.events`: ((column, value) ...), since, until."""
    kind_value: str | None = None
    if kind is not None:
        if not isinstance(kind, str):
            raise TypeError(f"kind: expected EventKind or str, got {type(kind).__name__}")
        try:
            kind_value = EventKind(kind).value
        except ValueError:
            raise InvalidArgument("kind", f"unknown kind {kind!r}; known: {', '.join(k.value for k in EventKind)}") from None
    equal = (("venue", _optional_str("venue", venue)), ("account", _optional_str("account", account)),
             ("feed", _optional_str("feed", feed)), ("currency", _optional_str("currency", currency)),
             ("kind", kind_value))
    return equal, _optional_ms("since", since), _optional_ms("until", until)


def balance_filters(
    venue: object, account: object, currency: object, until: object, include_pending: object
) -> tuple[str | None, str | None, str | None, int | None, tuple[str, ...]]:
    """The checked arguments of `Store.balances`, with the statuses that count."""
    if not isinstance(include_pending, bool):
        raise TypeError(f"include_pending: expected bool, got {type(include_pending).__name__}")
    return (_optional_str("venue", venue), _optional_str("account", account), _optional_str("currency", currency),
            _optional_ms("until", until), counted_statuses(include_pending))


def feed_filter(feeds: object) -> tuple[str, ...] | None:
    """`feeds` of `Store.balances`: None (every feed) or a non-empty collection of feed ids."""
    if feeds is None:
        return None
    if isinstance(feeds, str) or not isinstance(feeds, Iterable):
        raise TypeError(f"feeds: expected a collection of feed ids, got {type(feeds).__name__}")
    out = tuple(sorted(set(feeds)))
    if not out:
        raise InvalidArgument("feeds", "is empty; pass None for every feed")
    for f in out:
        if not isinstance(f, str) or not f:
            raise TypeError(f"feeds: expected feed ids (str), got {f!r}")
    return out


def counted_statuses(include_pending: bool) -> tuple[str, ...]:
    return (EventStatus.DONE.value, EventStatus.PENDING.value) if include_pending else (EventStatus.DONE.value,)


def conditions(
    equal: Sequence[tuple[str, object]], since: int | None, until: int | None, *, mark: str
) -> tuple[list[str], list[Any]]:
    """SQL conditions and their arguments: ``column = mark`` for each value given, then the ts range."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in equal:
        if value is not None:
            where.append(f"{column} = {mark}")
            args.append(value)
    if since is not None:
        where.append(f"ts >= {mark}")
        args.append(since)
    if until is not None:
        where.append(f"ts <= {mark}")
        args.append(until)
    return where, args


def order_sql(descending: bool) -> str:
    order = "DESC" if descending else "ASC"
    return f"ORDER BY ts {order}, venue, account, feed, id {order}"


def order_events(events: Iterable[LoanEvent], descending: bool) -> list[LoanEvent]:
    """`order_sql` in Python: ts and id follow `descending`, venue, account, feed ascend."""
    out = sorted(events, key=lambda e: e.id, reverse=descending)
    out.sort(key=lambda e: (e.venue, e.account, e.feed))
    out.sort(key=lambda e: e.ts, reverse=descending)
    return out


_ZERO = Decimal(0)


class Totals:
    """Exact running sums of the four books per BalanceKey (EXACT raises rather than rounds)."""

    __slots__ = ("_books", "_currency")

    def __init__(self, currency: str | None = None) -> None:
        self._books: dict[BalanceKey, list[Decimal]] = {}
        self._currency = currency

    def add(self, key: BalanceKey, wallet: Decimal, debt: Decimal = _ZERO, collateral: Decimal = _ZERO,
            interest: Decimal = _ZERO) -> None:
        books = self._books.get(key)
        if books is None:
            self._books[key] = [wallet, debt, collateral, interest]
            return
        add = EXACT.add
        books[0] = add(books[0], wallet)
        books[1] = add(books[1], debt)
        books[2] = add(books[2], collateral)
        books[3] = add(books[3], interest)

    def event(self, venue: str, account: str, currency: str, kind: str, amount: Decimal, debt: Decimal,
              collateral: Decimal, counter_currency: str | None, counter_amount: Decimal | None) -> None:
        """One event's share: its three books on its currency, its counter leg's wallet change."""
        if self._currency is None or currency == self._currency:
            interest = EXACT.subtract(debt, amount) if kind == EventKind.INTEREST.value else _ZERO
            self.add(BalanceKey(venue, account, currency), amount, debt, collateral, interest)
        if counter_currency is not None and counter_amount is not None and (
            self._currency is None or counter_currency == self._currency
        ):
            self.add(BalanceKey(venue, account, counter_currency), counter_amount)

    def result(self) -> dict[BalanceKey, Balance]:
        return {k: Balance(*self._books[k]) for k in sorted(self._books)}
