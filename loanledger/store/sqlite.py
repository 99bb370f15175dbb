"""SQLite store (the default): one file, WAL, schema migrations in code, exact decimals.

Amounts are stored as their exact decimal text (never REAL: digits and exponent
round-trip as they are) and summed in Python in the EXACT context. All SQLite
work runs on aiosqlite's worker thread, so the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from pathlib import Path

import aiosqlite

from ..errors import CheckpointConflict, InvalidArgument, StoreError
from ..events import EventKind, LoanEvent
from ._shared import (
    Layout,
    Totals,
    balance_filters,
    feed_filter,
    changed,
    check_page,
    conditions,
    event_filters,
    order_sql,
    read_only_error,
)
from .base import Balance, BalanceKey, FeedKey, FeedState

__all__ = ["SQLiteStore"]

#: schema migrations, applied in order; PRAGMA user_version = how many have run
MIGRATIONS: tuple[str, ...] = (  # 1: the first schema
    """
    CREATE TABLE events (
        venue TEXT NOT NULL,
        account TEXT NOT NULL,
        feed TEXT NOT NULL,
        id TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        ts INTEGER NOT NULL,
        currency TEXT NOT NULL,
        amount TEXT NOT NULL,
        counter_currency TEXT,
        counter_amount TEXT,
        ref_id TEXT,
        parent_id TEXT,
        venue_type TEXT NOT NULL,
        raw BLOB,
        stored_at INTEGER NOT NULL,
        PRIMARY KEY (venue, account, feed, id)
    ) WITHOUT ROWID;
    CREATE INDEX events_ts ON events (ts);
    CREATE INDEX events_account_currency ON events (account, currency, ts);
    CREATE TABLE checkpoints (
        venue TEXT NOT NULL,
        account TEXT NOT NULL,
        feed TEXT NOT NULL,
        token TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (venue, account, feed)
    ) WITHOUT ROWID;
    """,
)

#: migration 2 (loanledger 0.2): the debt and collateral books; existing rows moved nothing in either
MIGRATIONS += (
    """
    ALTER TABLE events ADD COLUMN debt TEXT NOT NULL DEFAULT '0';
    ALTER TABLE events ADD COLUMN collateral TEXT NOT NULL DEFAULT '0';
    """,
)

# The column list, the upsert and the row mappers all follow LoanEvent's fields (events.FIELDS):
# a Decimal field is exact decimal text, an enum its value, `raw` a BLOB, the rest as they are.
_LAYOUT = Layout(LoanEvent, decimal_text=True)
_COLUMNS = _LAYOUT.columns
_UPSERT = _LAYOUT.upsert("events", mark="?", extra=("stored_at",))
_CHUNK = 400  # SQLite's host-parameter limit is comfortably above 4 * 400


class SQLiteStore:
    """`SQLiteStore("ledger.db")`: events upserted by (venue, account, feed, id), checkpoints
    per feed, each page committed with its checkpoint in one transaction.

    `read_only=True` opens an existing ledger for reading only (SQLite ``mode=ro``): it never
    creates the file nor migrates the schema, and refuses (StoreError) a file that is not a
    loanledger store or whose schema is older or newer than this loanledger's. A writable
    store creates the file if missing and migrates it, but refuses a database that already
    holds other tables (another application's file)."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        if not isinstance(path, str | Path):
            raise TypeError(f"path: expected str or Path, got {type(path).__name__}")
        if str(path) == "":
            raise InvalidArgument("path", "must not be empty (use ':memory:' for a throwaway store)")
        if not isinstance(read_only, bool):
            raise TypeError(f"read_only: expected bool, got {type(read_only).__name__}")
        if read_only and str(path) == ":memory:":
            raise InvalidArgument("path", "a read-only store needs a file (':memory:' would be empty)")
        self.path = str(path)
        self.read_only = read_only
        self._db: aiosqlite.Connection | None = None
        # one connection serves every feed task: a page's transaction must not interleave with another's
        self._write = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}{', read_only=True' if self.read_only else ''})"

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        if self._db is not None:
            return
        try:
            if self.read_only:
                # a URI so that SQLite never creates the file: mode=ro (the path is percent-quoted)
                uri = f"file:{urllib.parse.quote(str(Path(self.path).absolute()))}?mode=ro"
                db = await aiosqlite.connect(uri, uri=True, isolation_level=None)
            else:
                db = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open{' read-only' if self.read_only else ''} ({exc})") from None
        try:
            await self._prepare(db)
        except sqlite3.OperationalError as exc:  # e.g. a directory that cannot be read or written
            await db.close()
            raise StoreError(f"{self.path}: cannot open{' read-only' if self.read_only else ''} ({exc})") from None
        except sqlite3.DatabaseError as exc:  # e.g. "file is not a database"
            await db.close()
            raise StoreError(f"{self.path}: not a loanledger store ({exc})") from None
        except BaseException:
            await db.close()
            raise
        self._db = db

    async def _prepare(self, db: aiosqlite.Connection) -> None:
        await db.execute("PRAGMA busy_timeout=10000")
        # what the file holds is checked before anything is set or written in it
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        async with db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
            tables = {str(r[0]) async for r in cur}
        ours = {"events", "checkpoints"} <= tables
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path}: schema version {version} is newer than this loanledger")
        if (version == 0 and tables) or (version > 0 and not ours) or (self.read_only and version == 0):
            raise StoreError(f"{self.path}: not a loanledger store (no loanledger schema in it)")
        if self.read_only:
            if version < len(MIGRATIONS):
                raise StoreError(f"{self.path}: schema version {version} is older than this loanledger; "
                                 "open it writable once (e.g. loanledger sync) to migrate it")
            return
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute("PRAGMA foreign_keys=ON")
        for n in range(version, len(MIGRATIONS)):
            await db.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[n]} PRAGMA user_version = {n + 1}; COMMIT;")

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    async def __aenter__(self) -> SQLiteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError(f"{self!r} is not open; use `async with` or await open()")
        return self._db

    # --- checkpoints and pages ---------------------------------------------------------

    async def checkpoint(self, key: FeedKey) -> str | None:
        async with self._conn().execute(
            "SELECT token FROM checkpoints WHERE venue=? AND account=? AND feed=?",
            (key.venue, key.account, key.feed),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def feeds(self) -> list[FeedKey]:
        async with self._conn().execute("SELECT venue, account, feed FROM checkpoints ORDER BY 1, 2, 3") as cur:
            return [FeedKey(*r) async for r in cur]

    async def feed_states(self) -> list[FeedState]:
        async with self._conn().execute(
            "SELECT venue, account, feed, token, updated_at FROM checkpoints ORDER BY 1, 2, 3"
        ) as cur:
            return [FeedState(FeedKey(str(v), str(a), str(f)), str(t), int(u)) async for v, a, f, t, u in cur]

    async def commit_page(
        self, key: FeedKey, events: Sequence[LoanEvent], checkpoint: str, *, expected: str | None
    ) -> list[LoanEvent]:
        check_page(key, events, checkpoint)
        if self.read_only:
            raise read_only_error(self)
        db = self._conn()
        async with self._write:
            return await self._commit(db, key, events, checkpoint, expected)

    async def changed(self, key: FeedKey, events: Sequence[LoanEvent]) -> list[LoanEvent]:
        """The events `commit_page` would report as new or changed, read now (writes nothing)."""
        check_page(key, events, "")
        return changed(await self._stored(self._conn(), key, events), events)

    async def _commit(
        self, db: aiosqlite.Connection, key: FeedKey, events: Sequence[LoanEvent], checkpoint: str,
        expected: str | None,
    ) -> list[LoanEvent]:
        now = time.time_ns() // 1_000_000
        try:
            # inside the try: a cancellation while BEGIN waits on the SQLite thread still begins
            await db.execute("BEGIN IMMEDIATE")
            async with db.execute(
                "SELECT token FROM checkpoints WHERE venue=? AND account=? AND feed=?",
                (key.venue, key.account, key.feed),
            ) as cur:
                row = await cur.fetchone()
            current = None if row is None else str(row[0])
            if current != expected:
                raise CheckpointConflict(f"{key}: checkpoint moved (another writer?); re-read it and resume")
            new = changed(await self._stored(db, key, events), events)
            if new:
                await db.executemany(_UPSERT, [(*_LAYOUT.row(ev), now) for ev in new])
            await db.execute(
                "INSERT INTO checkpoints (venue, account, feed, token, updated_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT (venue, account, feed) DO UPDATE SET token=excluded.token, updated_at=excluded.updated_at",
                (key.venue, key.account, key.feed, checkpoint, now),
            )
            await db.execute("COMMIT")
        except BaseException:
            await self._rollback(db)
            raise
        return new

    @staticmethod
    async def _rollback(db: aiosqlite.Connection) -> None:
        """Undo the page's transaction if it is still open.

        A task cancelled while a statement waits on the SQLite thread leaves that statement
        queued: it still runs. If it was the COMMIT, the page is stored whole and there is
        nothing to roll back (ROLLBACK would fail and hide the CancelledError); if it was the
        BEGIN, the transaction is open and must be rolled back. The ROLLBACK is queued after
        the statement, so the state it finds is final.
        """
        try:
            await db.execute("ROLLBACK")
        except sqlite3.OperationalError:
            if db.in_transaction:
                raise

    @staticmethod
    async def _stored(db: aiosqlite.Connection, key: FeedKey, events: Sequence[LoanEvent]) -> dict[str, LoanEvent]:
        """The stored versions of the page's events, by id."""
        stored: dict[str, LoanEvent] = {}
        ids = list({ev.id for ev in events})
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            async with db.execute(
                f"SELECT {_COLUMNS} FROM events WHERE venue=? AND account=? AND feed=? AND id IN ({marks})",
                (key.venue, key.account, key.feed, *chunk),
            ) as cur:
                async for r in cur:
                    ev = _LAYOUT.event(r)
                    stored[ev.id] = ev
        return stored

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
        where, args = conditions(equal, since, until, mark="?")
        sql = f"SELECT {_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " " + order_sql(descending)
        async with self._conn().execute(sql, args) as cur:
            async for r in cur:
                yield _LAYOUT.event(r)

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
        where, args = conditions((("venue", venue), ("account", account)), None, until, mark="?")
        where.insert(0, f"status IN ({','.join('?' * len(statuses))})")
        args[:0] = statuses
        if only is not None:
            where.append(f"feed IN ({','.join('?' * len(only))})")
            args += only
        if currency is not None:
            where.append("(currency = ? OR counter_currency = ?)")
            args += [currency, currency]
        totals = Totals(currency)
        sql = ("SELECT venue, account, currency, kind, amount, debt, collateral, counter_currency, counter_amount"
               " FROM events WHERE " + " AND ".join(where))
        # exact text to Decimal, summed in EXACT (raises rather than rounds)
        async with self._conn().execute(sql, args) as cur:
            async for v, a, ccy, kind, amount, debt, collateral, cccy, camount in cur:
                totals.event(v, a, ccy, kind, Decimal(amount), Decimal(debt), Decimal(collateral), cccy,
                             None if camount is None else Decimal(camount))
        return totals.result()

    async def summary(self) -> list[tuple[str, str, str, str, int]]:
        async with self._conn().execute(
            "SELECT venue, account, feed, kind, COUNT(*) FROM events GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        ) as cur:
            return [(str(a), str(b), str(c), str(d), int(e)) async for a, b, c, d, e in cur]
