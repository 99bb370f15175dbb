"""PostgreSQL store: a ledger shared by many processes and hosts (the `postgres` extra).

psycopg 3 (async) with a psycopg_pool connection pool: the feed tasks of a process
commit their pages in parallel, each on its own connection, and any number of
processes (workers on several hosts) can write the same ledger.

- Tables live in the ``loanledger`` schema of the database the DSN names;
  migrations run in code, each in one transaction under an advisory lock, and
  ``loanledger.schema_migrations`` records the versions applied (the same
  numbering as SQLiteStore's).
- Amounts are ``numeric`` with no precision or scale cap: exact, and summed
  exactly by the server. NUMERIC keeps every digit and the scale, so ``0.10``,
  ``0E-18`` and 38-digit amounts come back with the same digits and exponent; it
  has no positive exponent and no negative zero, so ``1E+2`` comes back as
  ``100`` and ``-0`` as ``0`` (equal values; change detection compares values,
  so neither is ever re-yielded as changed).
- A page and its checkpoint commit in one transaction that first takes a
  transaction-scoped advisory lock on the feed, then compares the stored
  checkpoint with the one expected: concurrent writers of one feed, in any
  process, are serialized, and every one but the first sees the checkpoint
  moved (CheckpointConflict, nothing written). The first page is covered too:
  the lock does not need the checkpoint row to exist.
- The DSN's password never appears in reprs, exceptions or logs.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterable, Sequence
from typing import Any, TypeVar

try:
    import psycopg
    from psycopg import conninfo as _conninfo
    from psycopg_pool import AsyncConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "PostgresStore needs psycopg 3 and psycopg-pool: pip install 'loanledger[postgres]'"
    ) from exc

from ..errors import CheckpointConflict, InvalidArgument, StoreError
from ..events import EventKind, LoanEvent
from ._shared import (
    EVENT_LAYOUT,
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

__all__ = ["MIGRATIONS", "PostgresStore"]

SCHEMA = "loanledger"

#: schema migrations, applied in order (version n = MIGRATIONS[n - 1]); the same versions as SQLiteStore's
MIGRATIONS: tuple[str, ...] = (
    # 1: events and checkpoints. Text columns compared or ordered by use the "C" collation:
    # code-point order, as SQLite and Python order them, whatever the database's locale.
    f"""
    CREATE TABLE {SCHEMA}.events (
        venue text COLLATE "C" NOT NULL,
        account text COLLATE "C" NOT NULL,
        feed text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        kind text COLLATE "C" NOT NULL,
        status text COLLATE "C" NOT NULL,
        ts bigint NOT NULL,
        currency text COLLATE "C" NOT NULL,
        amount numeric NOT NULL,
        counter_currency text COLLATE "C",
        counter_amount numeric,
        ref_id text,
        parent_id text,
        venue_type text NOT NULL,
        raw bytea,
        stored_at bigint NOT NULL,
        PRIMARY KEY (venue, account, feed, id)
    );
    CREATE INDEX events_ts ON {SCHEMA}.events (ts);
    CREATE INDEX events_books ON {SCHEMA}.events (venue, account, currency, ts);
    CREATE TABLE {SCHEMA}.checkpoints (
        venue text COLLATE "C" NOT NULL,
        account text COLLATE "C" NOT NULL,
        feed text COLLATE "C" NOT NULL,
        token text NOT NULL,
        updated_at bigint NOT NULL,
        PRIMARY KEY (venue, account, feed)
    );
    """,
    # 2 (loanledger 0.2): the debt and collateral books; existing rows moved nothing in either
    f"""
    ALTER TABLE {SCHEMA}.events
        ADD COLUMN debt numeric NOT NULL DEFAULT 0,
        ADD COLUMN collateral numeric NOT NULL DEFAULT 0;
    """,
)

_VERSIONS = f"{SCHEMA}.schema_migrations"
_CREATE_VERSIONS = f"""
    CREATE SCHEMA {SCHEMA};
    CREATE TABLE {_VERSIONS} (version integer PRIMARY KEY, applied_at bigint NOT NULL);
"""
# advisory lock classes (the two-int key space): one for migrations, one for feeds
_LOCK_SCHEMA = 0x4C4C_5300  # "LLS\0"
_LOCK_FEED = 0x4C4C_4600  # "LLF\0"

_COLUMNS = EVENT_LAYOUT.columns
_UPSERT = EVENT_LAYOUT.upsert(f"{SCHEMA}.events", mark="%s", extra=("stored_at",))
_CHECKPOINT = f"SELECT token FROM {SCHEMA}.checkpoints WHERE venue = %s AND account = %s AND feed = %s"
_SET_CHECKPOINT = (
    f"INSERT INTO {SCHEMA}.checkpoints AS c (venue, account, feed, token, updated_at) VALUES (%s, %s, %s, %s, %s) "
    "ON CONFLICT (venue, account, feed) DO UPDATE SET token = EXCLUDED.token, updated_at = EXCLUDED.updated_at"
)
_STORED = (f"SELECT {_COLUMNS} FROM {SCHEMA}.events "
           "WHERE venue = %s AND account = %s AND feed = %s AND id = ANY(%s)")
_ITERSIZE = 2000  # rows per round trip when streaming events()
T = TypeVar("T")


def _feed_lock(key: FeedKey) -> int:
    """The feed's advisory-lock id: a stable 32-bit hash (a collision only serializes two feeds)."""
    h = zlib.crc32(f"{key.venue}\x1f{key.account}\x1f{key.feed}".encode())
    return h - (1 << 32) if h >= 1 << 31 else h


class PostgresStore:
    """`PostgresStore("postgresql://user:pass@host/db")`: events upserted by (venue, account,
    feed, id), checkpoints per feed, each page committed with its checkpoint in one
    transaction with a compare-and-set that holds across connections and processes.

    `pool_size`: the most connections this store opens (default 4): that many pages
    commit in parallel; the others wait their turn. Keep processes x pool_size under
    the server's ``max_connections``. With ``read_only=True`` the store never creates or
    migrates the schema (StoreError if it is absent), its sessions are read-only and
    `commit_page` raises StoreError."""

    def __init__(self, dsn: str, *, read_only: bool = False, pool_size: int = 4) -> None:
        if not isinstance(dsn, str):
            raise TypeError(f"dsn: expected str, got {type(dsn).__name__}")
        if not dsn.strip():
            raise InvalidArgument("dsn", "must not be empty")
        if not isinstance(read_only, bool):
            raise TypeError(f"read_only: expected bool, got {type(read_only).__name__}")
        if not isinstance(pool_size, int) or isinstance(pool_size, bool):
            raise TypeError(f"pool_size: expected int, got {type(pool_size).__name__}")
        if pool_size < 1:
            raise InvalidArgument("pool_size", f"must be at least 1, got {pool_size}")
        try:
            params = _conninfo.conninfo_to_dict(dsn)
        except psycopg.Error:
            params = None  # raised below, outside the handler: the parser's error may quote the password
        if params is None:
            raise InvalidArgument("dsn", "not a PostgreSQL URL or connection string "
                                  "(postgresql://user:password@host:port/dbname)")
        self._dsn = dsn
        self._password = str(params.get("password") or "")
        self.target = _display(params)
        self.read_only = read_only
        self.pool_size = pool_size
        self._pool: AsyncConnectionPool[Any] | None = None

    def __repr__(self) -> str:
        ro = ", read_only=True" if self.read_only else ""
        return f"PostgresStore({self.target!r}{ro})"

    def _error(self, what: str, exc: BaseException) -> StoreError:
        """A StoreError naming the store, with the driver's message minus any secret."""
        text = str(exc).strip() or type(exc).__name__
        if self._password:
            text = text.replace(self._password, "***")
        return StoreError(f"{self!r}: {what}: {text}")

    async def _guard(self, what: str, aw: Awaitable[T]) -> T:
        """Await `aw`; a driver error becomes a StoreError raised outside the handler, so it
        carries no context: psycopg's connection errors hold the parsed DSN, password included."""
        try:
            return await aw
        except (psycopg.Error, PoolTimeout) as exc:
            err = self._error(what, exc)
        raise err

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await self._guard("cannot open", self._open())

    async def _open(self) -> AsyncConnectionPool[Any]:
        # one direct connection first: a wrong DSN or password fails here, at once
        conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
        async with conn:
            if self.read_only:
                await self._check_schema(conn)
            else:
                await self._migrate(conn)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self._dsn, min_size=1, max_size=self.pool_size, open=False, name="loanledger",
            kwargs={"autocommit": True}, configure=self._configure,
            check=AsyncConnectionPool.check_connection, timeout=60.0,
        )
        try:
            await pool.open(wait=True, timeout=30.0)
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self.read_only:
            await conn.execute("SET default_transaction_read_only = on")

    async def _version(self, conn: psycopg.AsyncConnection[Any]) -> int | None:
        """The schema version applied, 0 for a database without the schema, None for a foreign one."""
        cur = await conn.execute("SELECT to_regnamespace(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
                                 (SCHEMA, _VERSIONS))
        row = await cur.fetchone()
        assert row is not None
        has_schema, has_versions = row
        if not has_schema:
            return 0
        if not has_versions:
            return None
        cur = await conn.execute(f"SELECT coalesce(max(version), 0) FROM {_VERSIONS}")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def _check_schema(self, conn: psycopg.AsyncConnection[Any]) -> None:
        version = await self._version(conn)
        if not version:
            raise StoreError(f"{self!r}: not a loanledger store (no {SCHEMA} schema; a read-only store never creates it)")
        self._check_version(version)
        if version < len(MIGRATIONS):
            raise StoreError(f"{self!r}: schema version {version} is older than this loanledger; "
                             "open it once without read_only to upgrade it")

    def _check_version(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise StoreError(f"{self!r}: schema version {version} is newer than this loanledger")

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Create or upgrade the schema: one transaction, under a lock every opener takes."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_LOCK_SCHEMA,))
            version = await self._version(conn)
            if version is None:
                raise StoreError(f"{self!r}: schema {SCHEMA!r} exists but is not a loanledger store")
            self._check_version(version)
            if version == 0:
                await conn.execute(_CREATE_VERSIONS)
            for n in range(version, len(MIGRATIONS)):
                await conn.execute(MIGRATIONS[n])
                await conn.execute(f"INSERT INTO {_VERSIONS} (version, applied_at) VALUES (%s, %s)",
                                   (n + 1, time.time_ns() // 1_000_000))

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def __aenter__(self) -> PostgresStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _conns(self) -> AsyncConnectionPool[Any]:
        if self._pool is None:
            raise StoreError(f"{self!r} is not open; use `async with` or await open()")
        return self._pool

    # --- checkpoints and pages ---------------------------------------------------------

    async def _fetch(self, query: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._conns().connection() as conn:
            cur = await conn.execute(query, args)
            rows: list[tuple[Any, ...]] = await cur.fetchall()
            return rows

    async def checkpoint(self, key: FeedKey) -> str | None:
        rows = await self._guard("reading a checkpoint", self._fetch(_CHECKPOINT, (key.venue, key.account, key.feed)))
        return str(rows[0][0]) if rows else None

    async def feeds(self) -> list[FeedKey]:
        query = f"SELECT venue, account, feed FROM {SCHEMA}.checkpoints ORDER BY 1, 2, 3"
        return [FeedKey(*r) for r in await self._guard("listing feeds", self._fetch(query))]

    async def feed_states(self) -> list[FeedState]:
        query = f"SELECT venue, account, feed, token, updated_at FROM {SCHEMA}.checkpoints ORDER BY 1, 2, 3"
        return [FeedState(FeedKey(str(v), str(a), str(f)), str(t), int(u))
                for v, a, f, t, u in await self._guard("listing feeds", self._fetch(query))]

    async def commit_page(
        self, key: FeedKey, events: Sequence[LoanEvent], checkpoint: str, *, expected: str | None
    ) -> list[LoanEvent]:
        check_page(key, events, checkpoint)
        if self.read_only:
            raise read_only_error(self)
        return await self._guard(f"committing a page of {key}", self._commit(key, events, checkpoint, expected))

    async def _commit(
        self, key: FeedKey, events: Sequence[LoanEvent], checkpoint: str, expected: str | None
    ) -> list[LoanEvent]:
        k = (key.venue, key.account, key.feed)
        async with self._conns().connection() as conn, conn.transaction():
            # every writer of this feed queues here, until the holder commits or rolls back;
            # the checkpoint read after it is the one the holder left (READ COMMITTED)
            await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_FEED, _feed_lock(key)))
            cur = await conn.execute(_CHECKPOINT, k)
            row = await cur.fetchone()
            current = None if row is None else str(row[0])
            if current != expected:
                raise CheckpointConflict(f"{key}: checkpoint moved (another writer?); re-read it and resume")
            stored: dict[str, LoanEvent] = {}
            if events:
                cur = await conn.execute(_STORED, (*k, list({ev.id for ev in events})))
                for r in await cur.fetchall():
                    ev = EVENT_LAYOUT.event(r)
                    stored[ev.id] = ev
            new = changed(stored, events)
            now = time.time_ns() // 1_000_000
            if new:
                async with conn.cursor() as wcur:
                    await wcur.executemany(_UPSERT, [(*EVENT_LAYOUT.row(ev), now) for ev in new])
            await conn.execute(_SET_CHECKPOINT, (*k, checkpoint, now))
        return new

    async def changed(self, key: FeedKey, events: Sequence[LoanEvent]) -> list[LoanEvent]:
        """The events `commit_page` would report as new or changed, read now (writes nothing)."""
        check_page(key, events, "")
        if not events:
            return []
        rows = await self._guard(f"reading a page of {key}", self._fetch(
            _STORED, (key.venue, key.account, key.feed, list({ev.id for ev in events}))))
        stored = {ev.id: ev for ev in map(EVENT_LAYOUT.event, rows)}
        return changed(stored, events)

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
        where, args = conditions(equal, since, until, mark="%s")
        sql = f"SELECT {_COLUMNS} FROM {SCHEMA}.events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " " + order_sql(descending)
        batches = self._batches(self._conns(), sql, args)
        try:
            while (batch := await self._guard("reading events", anext(batches, None))) is not None:
                for r in batch:
                    yield EVENT_LAYOUT.event(r)
        finally:
            await self._guard("reading events", batches.aclose())

    @staticmethod
    async def _batches(
        pool: AsyncConnectionPool[Any], sql: str, args: Sequence[Any]
    ) -> AsyncGenerator[list[tuple[Any, ...]], None]:
        """A server-side cursor in a read transaction: one snapshot, _ITERSIZE rows per round trip."""
        async with pool.connection() as conn, conn.transaction(), conn.cursor(name="loanledger_events") as cur:
            await cur.execute(sql, args)
            while rows := await cur.fetchmany(_ITERSIZE):
                yield rows

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
        where, args = conditions((("venue", venue), ("account", account)), None, until, mark="%s")
        where.insert(0, "status = ANY(%s)")
        args.insert(0, list(statuses))
        if only is not None:
            where.append("feed = ANY(%s)")
            args.append(list(only))
        own_where, own_args = list(where), list(args)
        leg_where, leg_args = [*where, "counter_currency IS NOT NULL", "counter_amount IS NOT NULL"], list(args)
        if currency is not None:
            own_where.append("currency = %s")
            own_args.append(currency)
            leg_where.append("counter_currency = %s")
            leg_args.append(currency)
        # NUMERIC sums are exact (no precision cap); the two halves meet in Totals (EXACT)
        own = (f"SELECT venue, account, currency, sum(amount), sum(debt), sum(collateral), "
               f"sum(CASE WHEN kind = '{EventKind.INTEREST.value}' THEN debt - amount ELSE 0 END) "
               f"FROM {SCHEMA}.events WHERE {' AND '.join(own_where)} GROUP BY 1, 2, 3")
        legs = (f"SELECT venue, account, counter_currency, sum(counter_amount) "
                f"FROM {SCHEMA}.events WHERE {' AND '.join(leg_where)} GROUP BY 1, 2, 3")
        totals = Totals(currency)
        for v, a, ccy, wallet, debt, collateral, interest in await self._guard("summing balances",
                                                                              self._fetch(own, own_args)):
            totals.add(BalanceKey(v, a, ccy), wallet, debt, collateral, interest)
        for v, a, ccy, wallet in await self._guard("summing balances", self._fetch(legs, leg_args)):
            totals.add(BalanceKey(v, a, ccy), wallet)
        return totals.result()

    async def summary(self) -> list[tuple[str, str, str, str, int]]:
        query = (f"SELECT venue, account, feed, kind, count(*) FROM {SCHEMA}.events "
                 "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")
        return [(str(a), str(b), str(c), str(d), int(e))
                for a, b, c, d, e in await self._guard("summarizing", self._fetch(query))]


def _display(params: dict[str, Any]) -> str:
    """The DSN as a URL without its password (for reprs and messages)."""
    user = params.get("user")
    host = params.get("host") or params.get("hostaddr") or ""
    port = params.get("port")
    auth = f"{user}{':***' if params.get('password') else ''}@" if user else ""
    where = f"{host}:{port}" if port else str(host)
    return f"postgresql://{auth}{where}/{params.get('dbname') or ''}"
