"""The store protocol: what the Ledger needs from any backend.

Designed for more than one backend (SQLite now, a shared Postgres for several
workers later): every write is an idempotent upsert keyed by
(venue, account, feed, id), and a page's events are committed together with
the feed's new checkpoint in one transaction, guarded by a compare-and-set
on the previous checkpoint so two workers can never interleave one feed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ..events import EventKind, LoanEvent

__all__ = ["FeedKey", "Store"]


@dataclass(frozen=True, slots=True, order=True)
class FeedKey:
    """One feed of one account on one venue: the unit a checkpoint belongs to."""

    venue: str
    account: str
    feed: str

    def __str__(self) -> str:
        return f"{self.venue}/{self.account}/{self.feed}"


@runtime_checkable
class Store(Protocol):
    """An event store with per-feed checkpoints."""

    async def open(self) -> None:
        """Create or migrate the schema; idempotent."""
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
        were new or differ from the stored version (the rest were already there).
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
        """Stored events matching every given filter, in ts order."""
        ...

    async def balances(
        self,
        *,
        account: str | None = None,
        since: int | None = None,
        until: int | None = None,
        include_pending: bool = False,
    ) -> dict[tuple[str, str], Decimal]:
        """Net wallet change per (account, currency), summed exactly (counter legs included)."""
        ...

    async def summary(self) -> list[tuple[str, str, str, str, int]]:
        """(venue, account, feed, kind, count) for every stored combination."""
        ...

    async def feeds(self) -> list[FeedKey]:
        """Every feed that has a checkpoint."""
        ...


