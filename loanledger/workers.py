"""Sync workers on many machines: one job per feed in a procrastinate queue (docs/ARCHITECTURE.md).

    loanledger schedule --config C --db postgresql://...   # queue one job per (venue, account, feed)
    loanledger worker   --config C --db postgresql://...   # on every machine: run them

The queue is procrastinate's tables in the ledger's own PostgreSQL database, so one
server holds the ledger (schema ``loanledger``) and the work (``procrastinate_*``).

- A job syncs one feed of one account (`SyncWorkers.sync_feed`): a `Ledger` of that one
  client over the shared `PostgresStore`, so each page commits with its checkpoint in
  one transaction with the store's compare-and-set, exactly as ``loanledger sync`` does.
- Its procrastinate ``lock`` is the feed's rate-limit identity: venue, API-key fingerprint,
  endpoint path (`rate_identity`). Jobs sharing a lock never run at once, anywhere, so
  one (UID, endpoint) is walked by one worker at a time and per-UID limits hold across
  workers; a job starts one bucket interval late (`_prime`), so the hand-over from a job
  on another host cannot put two requests closer together than one worker would.
- Its ``queueing_lock`` is the feed (`FeedJob.queueing_lock`): at most one job per feed
  waits; queueing another raises AlreadyEnqueued, which scheduling counts as "waiting".
- Failures: a permanent one (AuthError, BadRequest, InvalidArgument, PaginationError, an
  account missing from the worker's config) fails the job and is logged; anything else
  (rate limits, 5xx, resets, a CheckpointConflict from another writer...) fails the job and
  queues its continuation after a backoff (``2 s * 2 ** attempt``, at most 5 min), up to
  `max_attempts` jobs. Retries are new jobs, not procrastinate retries: a retry of a job
  whose feed already has a waiting job would violate the queueing lock and leave the job
  ``doing`` for good; a new job is either queued or the waiting one takes over.
- A worker killed mid-job (SIGKILL, lost host) stops heartbeating; a periodic task on the
  other workers (`STALLED_TASK`) finds its jobs after `stalled_after` seconds and puts them
  back in the queue (procrastinate's ``retry_job``), or marks them failed when a newer job
  of the same feed already waits (else the retry's queueing-lock violation would keep the
  stalled job, and so the feed's lock, busy forever). The next job resumes from the
  checkpoint; a page in flight was committed whole or not at all.
- Rate limits: each worker process has its own `RateLimits`. Per-UID limits hold across
  workers through the locks; per-IP budgets (Binance's request weight) hold per process,
  so run one worker process per host (or per outgoing address, ``--local-address``).

Needs the `postgres` extra (psycopg 3, psycopg-pool, procrastinate).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from types import TracebackType
from typing import Any

import aiohttp

try:
    import procrastinate
    import psycopg
    from procrastinate import exceptions as pexc
    from procrastinate.jobs import Status
    from procrastinate.schema import SchemaManager
    from psycopg import conninfo as _conninfo
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("the sync workers need procrastinate and psycopg 3: pip install 'loanledger[postgres]'") from exc

from . import errors
from .cli import AccountConfig, Config, UsageError, build_client, select_accounts
from .client import VenueClient
from .errors import AuthError, BadRequest, InvalidArgument, LoanLedgerError, PaginationError, StoreError
from .ledger import FeedReport, Ledger
from .ratelimit import RateLimits
from .registry import FEEDS
from .signing import key_fingerprint
from .store.base import FeedKey
from .store.factory import POSTGRES_SCHEMES
from .store.postgres import PostgresStore
from .transport import Request
from .venues.binance import Binance
from .venues.bybit import Bybit
from .venues.okx import OKX

__all__ = [
    "MAINTENANCE_QUEUE",
    "STALLED_TASK",
    "SYNC_TASK",
    "VENUE_QUEUES",
    "FeedJob",
    "FeedJobFailed",
    "ScheduleResult",
    "SyncWorkers",
    "plan_jobs",
    "prepare_database",
    "rate_identity",
]

#: the procrastinate task names (what the job rows hold)
SYNC_TASK = "loanledger.sync_feed"
STALLED_TASK = "loanledger.retry_stalled_jobs"
#: sync jobs wait in their venue's queue (a worker can serve some venues only); the
#: stalled-job check runs on every worker's maintenance queue
VENUE_QUEUES = ("okx", "binance", "bybit")
MAINTENANCE_QUEUE = "loanledger"

_CLIENTS: dict[str, type[VenueClient]] = {"okx": OKX, "binance": Binance, "bybit": Bybit}
#: errors that another attempt cannot fix (a key, a parameter, the walk itself)
_PERMANENT: tuple[type[Exception], ...] = (AuthError, BadRequest, InvalidArgument, PaginationError)
# advisory lock (two-int key space) held while the procrastinate schema is checked and applied
_LOCK_QUEUE_SCHEMA = (0x4C4C_5300, 1)

log = logging.getLogger("loanledger.workers")


class FeedJobFailed(LoanLedgerError):
    """A sync job ended without syncing its feed to the end. `permanent`: no job was queued
    to continue it (another attempt cannot help, or the attempts are spent)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        self.permanent = permanent
        super().__init__(message)


def rate_identity(venue: str, fingerprint: str, feed: str) -> str:
    """The procrastinate lock of a feed's jobs: what the venue counts a per-UID limit by (the
    account, as its API-key fingerprint, and the endpoint path), as the client's buckets do."""
    return f"loanledger:{venue}:{fingerprint}:{FEEDS[feed].path}"


@dataclass(frozen=True, slots=True)
class FeedJob:
    """One feed of one account, as a job: its lock is its rate-limit identity."""

    venue: str
    account: str
    feed: str
    lock: str

    @property
    def queueing_lock(self) -> str:
        """At most one waiting job per feed."""
        return f"loanledger:{self.venue}:{self.account}:{self.feed}"

    @property
    def key(self) -> FeedKey:
        return FeedKey(self.venue, self.account, self.feed)


def plan_jobs(cfg: Config, feeds: Sequence[str] | None = None) -> list[FeedJob]:
    """The jobs of the selected feeds (the selection rules of ``loanledger sync --feeds``).
    Reads each selected account's API-key variable (for the lock), never a secret."""
    accounts, selection = select_accounts(cfg, feeds)
    jobs: list[FeedJob] = []
    for a in accounts:
        key = _api_key(a)
        for f in _CLIENTS[a.venue].feed_ids():
            if selection is None or any(w in (f, a.venue, f"{a.venue}:{a.name}", f"{a.venue}:{a.name}:{f}")
                                        for w in selection):
                jobs.append(FeedJob(a.venue, a.name, f, rate_identity(a.venue, key_fingerprint(key), f)))
    return jobs


def _api_key(a: AccountConfig) -> str:
    value = os.environ.get(a.api_key_env)
    if not value:
        raise UsageError(f"account {a.name}: environment variable {a.api_key_env} (API key) is not set")
    return value


@dataclass(frozen=True, slots=True)
class ScheduleResult:
    queued: int  # jobs added to the queue
    waiting: int  # feeds that already had a job waiting (AlreadyEnqueued)


# --- the database ------------------------------------------------------------------------


def _password(dsn: str) -> str:
    try:
        return str(_conninfo.conninfo_to_dict(dsn).get("password") or "")
    except psycopg.Error:
        return ""


def _query_functions() -> set[str]:
    """The procrastinate SQL functions this procrastinate's queries call (its sql/queries.sql)."""
    text = (resources.files("procrastinate.sql") / "queries.sql").read_text(encoding="utf-8")
    return set(re.findall(r"\b(procrastinate_[a-z0-9_]+_v[0-9]+)\s*\(", text))


async def prepare_database(dsn: str) -> None:
    """Apply or verify both schemas: procrastinate's (applied once, under an advisory lock,
    so workers starting together do not race; an older one is refused, naming its
    migrations) and the ledger's (`PostgresStore` migrates it). Idempotent."""
    if not dsn.startswith(POSTGRES_SCHEMES):
        raise InvalidArgument("dsn", "the workers need a PostgreSQL URL (postgresql://...)")
    store = PostgresStore(dsn, pool_size=1)  # checks the DSN; the ledger schema is migrated by open()
    failure: str | None = None
    try:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        async with conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", _LOCK_QUEUE_SCHEMA)
                cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
                row = await cur.fetchone()
                if row is None or not row[0]:
                    await conn.execute(SchemaManager.get_schema())
            wanted = sorted(_query_functions())
            cur = await conn.execute("SELECT DISTINCT proname FROM pg_proc WHERE proname = ANY(%s)", (wanted,))
            missing = sorted(set(wanted) - {str(r[0]) for r in await cur.fetchall()})
    except psycopg.Error as exc:
        failure = str(exc).strip() or type(exc).__name__
    if failure is not None:  # raised outside the handler: psycopg's errors hold the DSN
        password = _password(dsn)
        raise StoreError(f"{store!r}: {failure.replace(password, '***') if password else failure}")
    if missing:
        raise StoreError(
            f"{store!r}: the procrastinate schema is older than procrastinate {procrastinate.__version__} "
            f"(missing {', '.join(missing)}); apply its migrations (procrastinate's docs: "
            "https://procrastinate.readthedocs.io/en/stable/howto/production/migrations.html)")
    async with store:
        pass


class _SharedStore(PostgresStore):
    """The worker's one PostgresStore, shared by every job: a job's Ledger opens it (a no-op,
    it is open) and closes it on exit, which leaves it open; `shutdown()` closes it."""

    async def close(self) -> None:
        return None

    async def shutdown(self) -> None:
        await super().close()


# --- workers -------------------------------------------------------------------------------


class SyncWorkers:
    """The procrastinate app of the ledger's database, with the sync task registered.

    ``async with SyncWorkers(dsn) as w: await w.schedule(plan_jobs(cfg))`` queues jobs;
    ``SyncWorkers(dsn, config=cfg)`` can also run them (`run`). `limits`: this process's
    rate limits (one registry for every job it runs; default ``RateLimits(scale=cfg.rate_scale)``).
    `stalled_after`: seconds without a heartbeat before a worker's jobs are retried
    elsewhere (heartbeats every third of it). `max_attempts`: jobs per feed before a
    transient failure is given up. `retry_delay`: the first backoff, in seconds (doubled per
    attempt, at most `retry_cap`). `local_address`: send venue requests from this local IP.
    `pool_size`: connections of the ledger store (the job queue has its own few).
    """

    def __init__(
        self,
        dsn: str,
        *,
        config: Config | None = None,
        limits: RateLimits | None = None,
        stalled_after: float = 30.0,
        max_attempts: int = 5,
        retry_delay: float = 2.0,
        retry_cap: float = 300.0,
        local_address: str | None = None,
        pool_size: int = 4,
    ) -> None:
        if not isinstance(dsn, str) or not dsn.startswith(POSTGRES_SCHEMES):
            raise InvalidArgument("dsn", "the workers need a PostgreSQL URL (postgresql://...)")
        for name, value in (("stalled_after", stalled_after), ("retry_delay", retry_delay), ("retry_cap", retry_cap)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
                raise InvalidArgument(name, f"must be a positive number of seconds, got {value!r}")
        if stalled_after < 3:
            raise InvalidArgument("stalled_after", f"must be at least 3 seconds (3 heartbeats), got {stalled_after}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise InvalidArgument("max_attempts", f"must be an integer of at least 1, got {max_attempts!r}")
        if local_address is not None:
            try:
                ipaddress.ip_address(local_address)
            except ValueError:
                raise InvalidArgument("local_address", f"{local_address!r} is not an IP address") from None
        self.dsn = dsn
        self.config = config
        self.limits = limits if limits is not None else RateLimits(scale=config.rate_scale if config else 1.0)
        self.stalled_after = float(stalled_after)
        self.max_attempts = max_attempts
        self.retry_delay = float(retry_delay)
        self.retry_cap = float(retry_cap)
        self.local_address = local_address
        self.store = _SharedStore(dsn, pool_size=pool_size)
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(
            conninfo=dsn, min_size=1, max_size=5, name="loanledger-jobs"))  # one of them LISTENs
        self._accounts = {(a.venue, a.name): a for a in config.accounts} if config else {}
        self.app.task(name=SYNC_TASK, pass_context=True)(self.sync_feed)
        stalled = self.app.task(name=STALLED_TASK, queue=MAINTENANCE_QUEUE, lock=STALLED_TASK,
                                queueing_lock=STALLED_TASK)(self._stalled_tick)
        every = max(1, min(30, round(self.stalled_after / 3)))
        self.app.periodic(cron=f"* * * * * */{every}")(stalled)

    def __repr__(self) -> str:
        return f"SyncWorkers({self.store.target!r})"

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Apply or verify both schemas (`prepare_database`), then connect."""
        await prepare_database(self.dsn)
        await self.store.open()
        try:
            await self.app.open_async()
        except pexc.ConnectorException as exc:
            await self.store.shutdown()
            raise self._error("cannot open the job queue", exc) from None

    async def close(self) -> None:
        try:
            await self.app.close_async()
        finally:
            await self.store.shutdown()

    async def __aenter__(self) -> SyncWorkers:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _error(self, what: str, exc: BaseException) -> StoreError:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        text = str(cause).strip() or type(cause).__name__
        password = _password(self.dsn)
        return StoreError(f"{self!r}: {what}: {text.replace(password, '***') if password else text}")

    # --- queueing ------------------------------------------------------------------------

    async def schedule(self, jobs: Iterable[FeedJob]) -> ScheduleResult:
        """Queue one job per feed; a feed that already has a job waiting keeps that one."""
        queued = waiting = 0
        for job in jobs:
            if await self._defer(job, attempt=0, delay=None):
                queued += 1
            else:
                waiting += 1
        return ScheduleResult(queued, waiting)

    async def _defer(self, job: FeedJob, *, attempt: int, delay: float | None) -> bool:
        """Queue `job` (after `delay` seconds); False when the feed already has a job waiting."""
        deferrer = self.app.configure_task(
            SYNC_TASK, lock=job.lock, queueing_lock=job.queueing_lock, queue=job.venue,
            schedule_in=None if delay is None else {"seconds": delay},
        )
        try:
            await deferrer.defer_async(venue=job.venue, account=job.account, feed=job.feed, attempt=attempt)
        except pexc.AlreadyEnqueued:
            return False
        except pexc.ConnectorException as exc:
            raise self._error(f"cannot queue a job for {job.key}", exc) from None
        return True

    async def counts(self) -> dict[str, int]:
        """Sync jobs per status (todo, doing, succeeded, failed, ...) as the queue holds them
        (a worker deletes the jobs that succeeded)."""
        rows = await self.app.connector.execute_query_all_async(
            "SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs "
            "WHERE task_name = %(task)s GROUP BY 1", task=SYNC_TASK)
        return {str(r["status"]): int(r["n"]) for r in rows}

    # --- running -------------------------------------------------------------------------

    async def run(
        self,
        *,
        concurrency: int = 4,
        queues: Sequence[str] | None = None,
        name: str | None = None,
        poll: float = 1.0,
        shutdown_timeout: float = 30.0,
    ) -> None:
        """Run jobs until cancelled: at most `concurrency` at once, from the `queues` (venue
        names; default all) and the maintenance queue. `poll`: seconds between looks for jobs
        whose lock was released (a release sends no notification). On cancellation, running
        jobs get `shutdown_timeout` seconds to finish; then they are cancelled (their page
        rolls back) and each queues its continuation."""
        if self.config is None:
            raise InvalidArgument("config", "a worker needs the accounts' config")
        wanted = list(queues) if queues else list(VENUE_QUEUES)
        for q in wanted:
            if q not in VENUE_QUEUES:
                raise InvalidArgument("queues", f"unknown queue {q!r} (queues: {', '.join(VENUE_QUEUES)})")
        options: dict[str, Any] = {"name": name} if name else {}
        try:
            await self._run(wanted, concurrency, poll, shutdown_timeout, options)
        except pexc.ConnectorException as exc:
            raise self._error("the job queue's database failed", exc) from None

    async def _run(self, wanted: list[str], concurrency: int, poll: float, shutdown_timeout: float,
                   options: dict[str, Any]) -> None:
        await self.app.run_worker_async(
            queues=[*wanted, MAINTENANCE_QUEUE], concurrency=concurrency,
            fetch_job_polling_interval=poll, shutdown_graceful_timeout=shutdown_timeout,
            install_signal_handlers=False, delete_jobs="successful", listen_notify=True,
            update_heartbeat_interval=self.stalled_after / 3, stalled_worker_timeout=self.stalled_after,
            **options,
        )

    async def sync_feed(
        self, context: procrastinate.JobContext, venue: str, account: str, feed: str, attempt: int = 0
    ) -> dict[str, int]:
        """The sync task: one feed of one account, resumed from its checkpoint, to its end."""
        job_id = context.job.id or 0
        key = FeedKey(venue, account, feed)
        started = time.perf_counter()
        try:
            rep, err = await self._sync(job_id, context.job.lock, key)
        except asyncio.CancelledError:
            # the worker is stopping (its grace period is over) or the job was aborted: the
            # page in flight rolled back whole; the feed goes on in a new job
            if context.job.lock is not None:
                await self._continue(FeedJob(venue, account, feed, context.job.lock), attempt, 0.0,
                                     f"{key}: interrupted (job {job_id})")
            raise
        except FeedJobFailed as exc:
            log.error("%s: FAILED, not retried: %s (job %s)", key, exc, job_id)
            raise
        seconds = time.perf_counter() - started
        if rep is not None and rep.ok and err is None:
            log.info("%s: ok, %d new or changed events, %d pages, %d requests in %.1fs (job %s)",
                     key, rep.events, rep.pages, rep.requests, seconds, job_id)
            return {"events": rep.events, "pages": rep.pages, "requests": rep.requests}
        text, permanent = _failure(rep, err)
        job = FeedJob(venue, account, feed, context.job.lock or "")
        if permanent or attempt + 1 >= self.max_attempts:
            why = "permanent" if permanent else f"attempt {attempt + 1} of {self.max_attempts}"
            log.error("%s: FAILED (%s), not retried: %s (job %s)", key, why, text, job_id)
            raise FeedJobFailed(f"{key}: {text}", permanent=True)
        delay = min(self.retry_cap, self.retry_delay * 2**attempt)
        await self._continue(job, attempt + 1, delay,
                             f"{key}: FAILED (attempt {attempt + 1} of {self.max_attempts}): {text} (job {job_id})")
        raise FeedJobFailed(f"{key}: {text}", permanent=False)

    async def _continue(self, job: FeedJob, attempt: int, delay: float, what: str) -> None:
        """Queue the job that continues `job`'s feed from its checkpoint (unless one waits)."""
        try:
            queued = await self._defer(job, attempt=attempt, delay=delay)
        except StoreError as exc:
            log.error("%s; cannot queue its continuation: %s", what, exc)
            return
        then = f"continues in {delay:g}s" if queued else "the job already waiting for it continues it"
        log.warning("%s; %s", what, then)

    async def _sync(self, job_id: int, lock: str | None, key: FeedKey) -> tuple[FeedReport | None, BaseException | None]:
        a = self._accounts.get((key.venue, key.account))
        if a is None:
            source = self.config.source if self.config else "the worker's config"
            raise FeedJobFailed(f"{key}: no {key.venue} account {key.account!r} in {source}", permanent=True)
        spec = FEEDS.get(key.feed)
        if spec is None or spec.venue != key.venue:
            raise FeedJobFailed(f"{key}: unknown {key.venue} feed {key.feed!r}", permanent=True)
        session = self._session(job_id)
        try:
            try:
                client = build_client(a, self.limits, session=session)
            except UsageError as exc:
                raise FeedJobFailed(f"{key}: {exc}", permanent=True) from None
            ledger = Ledger([client], store=self.store)
            identity = rate_identity(key.venue, client.transport.scope_id, key.feed)
            if lock != identity:
                await ledger.close()
                raise FeedJobFailed(f"{key}: the job was queued under another API key than this worker's (or "
                                    "without its lock); run `loanledger schedule` again", permanent=True)
            err: BaseException | None = None
            try:
                async with ledger:
                    await _prime(client, spec.path, spec.limit)
                    async for _ in ledger.sync([f"{key.venue}:{key.account}:{key.feed}"]):
                        pass  # committed with their page; nothing to hand on
            except LoanLedgerError as exc:  # a ledger that raises when a feed failed
                err = exc
            report = ledger.last_report
            return (report.feeds[0] if report is not None and report.feeds else None), err
        finally:
            await session.close()

    def _session(self, job_id: int) -> aiohttp.ClientSession:
        """The job's own HTTP session: its User-Agent names the job (a venue's logs, and the
        simulator's, can tell the jobs apart); from `local_address` when set."""
        from . import __version__

        connector = aiohttp.TCPConnector(local_addr=(self.local_address, 0)) if self.local_address else None
        return aiohttp.ClientSession(connector=connector,
                                     headers={"User-Agent": f"loanledger/{__version__} (job {job_id})"})

    # --- stalled jobs ----------------------------------------------------------------------

    async def _stalled_tick(self, timestamp: int) -> None:
        await self.retry_stalled()

    async def retry_stalled(self) -> list[tuple[int, str]]:
        """Jobs of workers silent for `stalled_after` seconds: back to the queue, or failed when
        a newer job of the same feed waits (it continues the feed) or the attempts are spent.
        Returns (job id, what was done) per job."""
        done: list[tuple[int, str]] = []
        manager = self.app.job_manager
        for name in (SYNC_TASK, STALLED_TASK):
            for job in await manager.get_stalled_jobs(task_name=name, seconds_since_heartbeat=self.stalled_after):
                assert job.id is not None
                what = "retried"
                try:
                    if name == SYNC_TASK and job.attempts + 1 < self.max_attempts:
                        try:
                            await manager.retry_job(job)
                        except pexc.UniqueViolation:
                            # a newer job of this feed waits: retrying would break the queueing lock
                            await manager.finish_job(job, status=Status.FAILED, delete_job=False)
                            what = "failed: a newer job of its feed waits and continues it"
                    else:
                        await manager.finish_job(job, status=Status.FAILED, delete_job=False)
                        what = "failed" if name == STALLED_TASK else "failed: its attempts are spent"
                except pexc.ConnectorException as exc:  # another worker got there first
                    log.debug("stalled job %s: %s", job.id, exc)
                    continue
                args = job.task_kwargs
                log.warning("job %s (%s/%s/%s) of a silent worker: %s", job.id, args.get("venue"),
                            args.get("account"), args.get("feed"), what)
                done.append((job.id, what))
        return done


async def _prime(client: VenueClient, path: str, limit: Any) -> None:
    """Take one request's worth from the feed's per-UID bucket before the first request:
    the previous job of this lock may have run on another host a moment ago, and this
    process's bucket does not know; one interval of spacing keeps the pair within the
    venue's per-UID budget. (Per-IP buckets belong to this host: nothing to hand over.)"""
    if limit.scope == "uid":
        await client.transport.bucket(Request("GET", path, limit)).acquire()


def _failure(rep: FeedReport | None, err: BaseException | None) -> tuple[str, bool]:
    """What failed, and whether another attempt cannot help. The report names the error's
    type first ("AuthError: ..."); an error raised by the ledger itself counts too."""
    text = rep.error if rep is not None and rep.error else f"{type(err).__name__}: {err}"
    candidates: list[BaseException] = []
    if err is not None:
        candidates += list(getattr(err, "exceptions", ())) or [err]
    if any(isinstance(e, _PERMANENT) for e in candidates):
        return text, True
    cls = getattr(errors, text.split(":", 1)[0], None)
    return text, isinstance(cls, type) and issubclass(cls, _PERMANENT)
