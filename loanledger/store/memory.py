"""In-memory store: the `Store` protocol in a dict, for a Ledger without a persistent store
and for tests. Same semantics as SQLiteStore and PostgresStore (the contract suite runs
against all three); everything is lost with the object, and every event synced stays
in memory until then (stream large histories into SQLiteStore or PostgresStore).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field

import msgspec

from ..errors import CheckpointConflict
from ..events import EventKind, LoanEvent
from ._shared import Totals, balance_filters, changed, check_page, event_filters, feed_filter, order_events, read_only_error
from .base import Balance, BalanceKey, FeedKey, FeedState

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Data:
    events: dict[tuple[str, str, str, str], LoanEvent] = field(default_factory=dict)
    checkpoints: dict[FeedKey, str] = field(default_factory=dict)
    updated: dict[FeedKey, int] = field(default_factory=dict)  # ms UTC of each feed's last commit


class MemoryStore:
    """`MemoryStore()`: events upserted by (venue, account, feed, id), checkpoints per feed,
    each page committed with its checkpoint at once (no await in between: atomic for
    every task of the event loop). `open`/`close` do nothing: the data lives as long
    as the object; `view()` gives a read-only store over the same data."""

    def __init__(self, *, read_only: bool = False) -> None:
        if not isinstance(read_only, bool):
            raise TypeError(f"read_only: expected bool, got {type(read_only).__name__}")
        self.read_only = read_only
        self._data = _Data()

    def view(self) -> MemoryStore:
        """A read-only MemoryStore over this store's data (it sees later writes too)."""
        v = MemoryStore(read_only=True)
        v._data = self._data
        return v

    def __repr__(self) -> str:
        ro = ", read_only=True" if self.read_only else ""
        return f"MemoryStore({len(self._data.events)} events, {len(self._data.checkpoints)} feeds{ro})"

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> MemoryStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- checkpoints and pages ---------------------------------------------------------

    async def checkpoint(self, key: FeedKey) -> str | None:
        return self._data.checkpoints.get(key)

    async def feeds(self) -> list[FeedKey]:
        return sorted(self._data.checkpoints)

    async def feed_states(self) -> list[FeedState]:
        data = self._data
        return [FeedState(k, data.checkpoints[k], data.updated[k]) for k in sorted(data.checkpoints)]

    async def commit_page(
        self, key: FeedKey, events: Sequence[LoanEvent], checkpoint: str, *, expected: str | None
    ) -> list[LoanEvent]:
        check_page(key, events, checkpoint)
        if self.read_only:
            raise read_only_error(self)
        data = self._data
        # from here to the end nothing awaits: no other task can interleave
        if data.checkpoints.get(key) != expected:
            raise CheckpointConflict(f"{key}: checkpoint moved (another writer?); re-read it and resume")
        prefix = (key.venue, key.account, key.feed)
        stored = {ev.id: old for ev in events if (old := data.events.get((*prefix, ev.id))) is not None}
        new = changed(stored, events)
        for ev in new:
            old = stored.get(ev.id)
            if ev.raw is None and old is not None and old.raw is not None:
                ev = msgspec.structs.replace(ev, raw=old.raw)  # a write without raw keeps it
            data.events[ev.key] = ev
        data.checkpoints[key] = checkpoint
        data.updated[key] = time.time_ns() // 1_000_000
        return new

    async def changed(self, key: FeedKey, events: Sequence[LoanEvent]) -> list[LoanEvent]:
        """The events `commit_page` would report as new or changed, read now (writes nothing)."""
        check_page(key, events, "")
        prefix = (key.venue, key.account, key.feed)
        data = self._data
        return changed({ev.id: old for ev in events if (old := data.events.get((*prefix, ev.id))) is not None}, events)

    # --- queries ------------------------------------------------------------------------

    async def events(
        self,
        *,
        venue: str | None = None,
        account: str | None = None,
        feed: str | None = None,
        kind: EventKind | str | None = None,
        currency: str | None = None,
        since: int | None = None,
        until: int | None = None,
        descending: bool = False,
    ) -> AsyncIterator[LoanEvent]:
        equal, since, until = event_filters(venue, account, feed, kind, currency, since, until)
        wanted = [(name, value) for name, value in equal if value is not None]
        matching = [
            ev for ev in list(self._data.events.values())
            if all(getattr(ev, name) == value for name, value in wanted)
            and (since is None or ev.ts >= since) and (until is None or ev.ts <= until)
        ]
        for ev in order_events(matching, descending):
            yield ev

    async def balances(
        self,
        *,
        venue: str | None = None,
        account: str | None = None,
        currency: str | None = None,
        until: int | None = None,
        include_pending: bool = False,
        feeds: Iterable[str] | None = None,
    ) -> dict[BalanceKey, Balance]:
        venue, account, currency, until, statuses = balance_filters(venue, account, currency, until, include_pending)
        only = feed_filter(feeds)
        totals = Totals(currency)
        for ev in self._data.events.values():
            if ev.status.value not in statuses or (until is not None and ev.ts > until):
                continue
            if (venue is not None and ev.venue != venue) or (account is not None and ev.account != account):
                continue
            if only is not None and ev.feed not in only:
                continue
            totals.event(ev.venue, ev.account, ev.currency, ev.kind.value, ev.amount, ev.debt, ev.collateral,
                         ev.counter_currency, ev.counter_amount)
        return totals.result()

    async def summary(self) -> list[tuple[str, str, str, str, int]]:
        counts = Counter((ev.venue, ev.account, ev.feed, ev.kind.value) for ev in self._data.events.values())
        return [(*k, n) for k, n in sorted(counts.items())]
