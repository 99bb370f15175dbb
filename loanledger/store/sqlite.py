"""SQLite store (the default): one file, WAL, schema migrations in code, exact decimals.

Amounts are stored as their exact decimal text (never REAL) and summed in
Python with Decimal. All SQLite work runs on aiosqlite's worker thread, so the
event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import decimal
import sqlite3
import time
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

from .._money import EXACT
from ..errors import CheckpointConflict, InvalidArgument, StoreError
from ..events import FIELDS, EventKind, EventStatus, LoanEvent
from .base import FeedKey

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
_DECIMALS = frozenset(f.name for f in msgspec.structs.fields(LoanEvent)
                      if f.type in (Decimal, Decimal | None))
_ENUMS: dict[str, type[EventKind] | type[EventStatus]] = {"kind": EventKind, "status": EventStatus}
_KEY = ("venue", "account", "feed", "id")
_RAW = FIELDS.index("raw")
_COLUMNS = ", ".join(FIELDS)
_UPSERT = (
    f"INSERT INTO events ({_COLUMNS}, stored_at) VALUES ({', '.join('?' * (len(FIELDS) + 1))})\n"
    "ON CONFLICT (venue, account, feed, id) DO UPDATE SET "
    + ", ".join(
        "raw = COALESCE(excluded.raw, events.raw)" if f == "raw" else f"{f} = excluded.{f}"
        for f in FIELDS if f not in _KEY
    )
    + ", stored_at = excluded.stored_at"
)
_CHUNK = 400  # SQLite's host-parameter limit is comfortably above 4 * 400


def _to_column(name: str) -> Any:
    if name in _DECIMALS:
        return lambda v: None if v is None else str(v)
    if name in _ENUMS:
        return lambda v: v.value
    if name == "raw":
        return lambda v: None if v is None else bytes(v)
    return None


def _from_column(name: str) -> Any:
    if name in _DECIMALS:
        return lambda v: None if v is None else Decimal(v)
    if name in _ENUMS:
        return _ENUMS[name]
    if name == "raw":
        return lambda v: None if v is None else msgspec.Raw(bytes(v))
    return None


_TO = [(i, conv) for i, conv in enumerate(_to_column(f) for f in FIELDS) if conv is not None]
_FROM = [(f, _from_column(f)) for f in FIELDS]


def _row(ev: LoanEvent) -> tuple[Any, ...]:
    values = list(msgspec.structs.astuple(ev))
    for i, conv in _TO:
        values[i] = conv(values[i])
    return tuple(values)


def _event(r: Sequence[Any]) -> LoanEvent:
    return LoanEvent(**{f: v if conv is None else conv(v) for (f, conv), v in zip(_FROM, r, strict=True)})


def _conditions(
    equal: Sequence[tuple[str, object]], since: int | None, until: int | None
) -> tuple[list[str], list[Any]]:
    """SQL conditions and their arguments: ``column = ?`` for each value given, then the ts range."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in equal:
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        where.append("ts >= ?")
        args.append(since)
    if until is not None:
        where.append("ts <= ?")
        args.append(until)
    return where, args


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
            raise InvalidArgument("read_only", "a ':memory:' store is empty: it cannot be opened read-only")
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
            raise StoreError(f"{self.path}: cannot open ({exc})") from None
        try:
            await self._prepare(db)
        except sqlite3.OperationalError as exc:  # e.g. a directory that cannot be read or written
            await db.close()
            raise StoreError(f"{self.path}: cannot open ({exc})") from None
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
        if (version == 0 and tables) or (version > 0 and not ours) or (self.read_only and version == 0):
            raise StoreError(f"{self.path}: not a loanledger store (no loanledger schema in it)")
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path}: schema version {version} is newer than this loanledger")
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

    async def commit_page(
        self, key: FeedKey, events: Sequence[LoanEvent], checkpoint: str, *, expected: str | None
    ) -> list[LoanEvent]:
        db = self._conn()
        if self.read_only:
            raise StoreError(f"{self!r}: opened read-only")
        for ev in events:
            if (ev.venue, ev.account, ev.feed) != (key.venue, key.account, key.feed):
                raise InvalidArgument("events", f"event {ev.id!r} belongs to {ev.venue}/{ev.account}/{ev.feed}, not {key}")
        async with self._write:
            return await self._commit(db, key, events, checkpoint, expected)

    async def changed(self, key: FeedKey, events: Sequence[LoanEvent]) -> list[LoanEvent]:
        """The events `commit_page` would report as new or changed, read now (writes nothing)."""
        return await self._changed(self._conn(), key, events)

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
            changed = await self._changed(db, key, events)
            if changed:
                await db.executemany(_UPSERT, [(*_row(ev), now) for ev in changed])
            await db.execute(
                "INSERT INTO checkpoints (venue, account, feed, token, updated_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT (venue, account, feed) DO UPDATE SET token=excluded.token, updated_at=excluded.updated_at",
                (key.venue, key.account, key.feed, checkpoint, now),
            )
            await db.execute("COMMIT")
        except BaseException:
            await self._rollback(db)
            raise
        return changed

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
    async def _changed(db: aiosqlite.Connection, key: FeedKey, events: Sequence[LoanEvent]) -> list[LoanEvent]:
        """The events that are not stored yet or differ from the stored row."""
        if not events:
            return []
        stored: dict[str, tuple[Any, ...]] = {}
        ids = [ev.id for ev in events]
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            async with db.execute(
                f"SELECT {_COLUMNS} FROM events WHERE venue=? AND account=? AND feed=? AND id IN ({marks})",
                (key.venue, key.account, key.feed, *chunk),
            ) as cur:
                async for r in cur:
                    stored[r[3]] = tuple(r)
        out: list[LoanEvent] = []
        seen: set[str] = set()
        for ev in events:
            if ev.id in seen:
                continue
            seen.add(ev.id)
            old = stored.get(ev.id)
            new = _row(ev)
            if old is None or old[:_RAW] != new[:_RAW] or old[_RAW + 1:] != new[_RAW + 1:] or (
                new[_RAW] is not None and old[_RAW] != new[_RAW]
            ):
                out.append(ev)
        return out

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
        where, args = _conditions(
            (("venue", venue), ("account", account), ("feed", feed), ("currency", currency),
             ("kind", None if kind is None else EventKind(kind).value)),
            since, until,
        )
        sql = f"SELECT {_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        order = "DESC" if descending else "ASC"
        sql += f" ORDER BY ts {order}, venue, account, feed, id {order}"
        async with self._conn().execute(sql, args) as cur:
            async for r in cur:
                yield _event(r)

    async def balances(
        self,
        *,
        account: str | None = None,
        since: int | None = None,
        until: int | None = None,
        include_pending: bool = False,
    ) -> dict[tuple[str, str], Decimal]:
        statuses = ("done", "pending") if include_pending else ("done",)
        where, args = _conditions((("account", account),), since, until)
        where.insert(0, f"status IN ({','.join('?' * len(statuses))})")
        args[:0] = statuses
        totals: dict[tuple[str, str], Decimal] = {}
        sql = ("SELECT account, currency, amount, counter_currency, counter_amount FROM events WHERE "
               + " AND ".join(where))
        # sums never round (the default context keeps 28 digits); the decimal context
        # is per task, so holding it across the awaits of the row stream is safe
        with decimal.localcontext(EXACT):
            async with self._conn().execute(sql, args) as cur:
                async for acct, ccy, amount, cccy, camount in cur:
                    key = (acct, ccy)
                    totals[key] = totals.get(key, Decimal(0)) + Decimal(amount)
                    if cccy is not None and camount is not None:
                        ckey = (acct, cccy)
                        totals[ckey] = totals.get(ckey, Decimal(0)) + Decimal(camount)
        return dict(sorted(totals.items()))

    async def summary(self) -> list[tuple[str, str, str, str, int]]:
        async with self._conn().execute(
            "SELECT venue, account, feed, kind, COUNT(*) FROM events GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        ) as cur:
            return [(str(a), str(b), str(c), str(d), int(e)) async for a, b, c, d, e in cur]
