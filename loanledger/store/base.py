"""The store protocol: what the Ledger needs from any backend.

Every backend (`MemoryStore`, `SQLiteStore`, `PostgresStore`) keeps the same
guarantees, checked by one contract test suite (tests/store/):

- every write is an idempotent upsert keyed by (venue, account, feed, id), and
  a write returns only the events that were new or differ from the stored
  version (by value: ``Decimal("1.0") == Decimal("1.00")``), so re-reading a
  page yields nothing twice;
- a page's events are committed together with the feed's new checkpoint in one
  transaction, guarded by a compare-and-set on the previous checkpoint, so two
  writers (tasks, connections, processes, hosts) can never interleave one feed:
  the loser gets `CheckpointConflict` and wrote nothing;
- amounts are exact (never floats, never rounded) and sums are exact;
- a store opened with ``read_only=True`` never creates, migrates or writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ..events import EventKind, LoanEvent

__all__ = ["Balance", "BalanceKey", "FeedKey", "FeedState", "Store"]


@dataclass(frozen=True, slots=True, order=True)
class FeedKey:
    """One feed of one account on one venue: the unit a checkpoint belongs to."""

    venue: str
    account: str
    feed: str

    def __str__(self) -> str:
        return f"{self.venue}/{self.account}/{self.feed}"


@dataclass(frozen=True, slots=True, order=True)
class FeedState:
    """A feed's stored checkpoint and when it was last written (ms UTC, the store's clock).

    The checkpoint is the engine's token: `loanledger.paginate.token.coverage(checkpoint)`
    reads the spans it covers, its pending records and its known gaps."""

    key: FeedKey
    checkpoint: str
    updated_at: int


@dataclass(frozen=True, slots=True, order=True)
class BalanceKey:
    """One currency of one account on one venue: the unit `Store.balances` sums over.

    The venue is part of the key: two venues' accounts under one label never merge."""

    venue: str
    account: str
    currency: str

    def __str__(self) -> str:
        return f"{self.venue}/{self.account}/{self.currency}"


_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Balance:
    """The three books of one `BalanceKey`, summed exactly over the settled events.

    `wallet`: the net change of the free wallet (each event's `amount`, plus the
    `counter_amount` of the events whose other leg is in this currency); `debt`:
    the net change of what is owed (principal and interest); `collateral`: the net
    change of what is pledged; `interest`: what interest cost, the sum over
    `interest` events of ``debt - amount`` (interest added to the debt plus
    interest charged to the wallet)."""

    wallet: Decimal = _ZERO
    debt: Decimal = _ZERO
    collateral: Decimal = _ZERO
    interest: Decimal = _ZERO


@runtime_checkable
class Store(Protocol):
    """An event store with per-feed checkpoints."""

    @property
    def read_only(self) -> bool:
        """True when opened with ``read_only=True``: `commit_page` raises StoreError."""
        ...

    async def open(self) -> None:
        """Create or migrate the schema (read-only: check it, never create); idempotent."""
        ...

    async def close(self) -> None: ...

    async def checkpoint(self, key: FeedKey) -> str | None:
        """The feed's stored resume token, or None before its first page."""
        ...

    async def commit_page(
        self, key: FeedKey, events: Sequence[LoanEvent], checkpoint: str, *, expected: str | None
    ) -> list[LoanEvent]:
        """Upsert `events` and set the checkpoint in ONE transaction.

        The write happens only if the stored checkpoint still equals `expected`
        (else CheckpointConflict and nothing is written). Returns the events that
        were new or differ from the stored version (the rest were already there);
        an id repeated within the page counts once (its first occurrence). An event
        written without `raw` keeps the `raw` already stored. Every event must
        belong to `key` (InvalidArgument before anything is written).
        """
        ...

    async def changed(self, key: FeedKey, events: Sequence[LoanEvent]) -> list[LoanEvent]:
        """The events of `events` that are not stored yet or differ from the stored version:
        what `commit_page` would return if it ran now. A read; writes nothing. (The Ledger
        uses it to hand a page's changes to a `before_commit` callback before committing.)"""
        ...

    def events(
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
        """Stored events matching every given filter (`since`/`until` inclusive, ms).

        Order: ``ts, venue, account, feed, id``; with ``descending=True`` ts and id
        descend while venue, account and feed stay ascending (code-point order)."""
        ...

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
        """The books per (venue, account, currency), in key order, summed exactly.

        `until` (ms, inclusive): as of that time. `feeds`: only the events of these feed ids
        (reconciliation sums the feeds a venue position covers). Failed events never count; pending
        ones only with ``include_pending=True``. A counter leg counts in the wallet of
        its `counter_currency` (so ``currency="USDT"`` includes the USDT legs of
        conversions booked under another currency)."""
        ...

    async def summary(self) -> list[tuple[str, str, str, str, int]]:
        """(venue, account, feed, kind, count) for every stored combination."""
        ...

    async def feeds(self) -> list[FeedKey]:
        """Every feed that has a checkpoint."""
        ...

    async def feed_states(self) -> list[FeedState]:
        """Every feed that has a checkpoint, in key order, with its checkpoint and the time
        (ms UTC) its last page was committed (what `loanledger status` shows)."""
        ...
