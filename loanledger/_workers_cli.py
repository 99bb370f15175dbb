"""`loanledger schedule` and `loanledger worker`: the command side of loanledger/workers.py.

Imported by the CLI only when one of the two commands runs (the workers need the
`postgres` extra: psycopg 3 and procrastinate). Exit codes as every command's
(loanledger/cli.py): 2 for usage and configuration, a `--db` that is not a PostgreSQL
URL or cannot be opened included; 1 when the job queue's database fails under a
running worker; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys

from .cli import EXIT_FEED_FAILED, EXIT_OK, UsageError, build_client, load_config
from .errors import StoreError
from .ratelimit import RateLimits
from .store.factory import POSTGRES_SCHEMES

__all__ = ["schedule", "worker"]


def _postgres_db(db: str) -> str:
    """--db of `schedule` and `worker`: a PostgreSQL URL (workers on several hosts share it)."""
    if not db.startswith(POSTGRES_SCHEMES):
        scheme = db.split("://", 1)[0] if "://" in db else None  # never echo a URL: it may hold a password
        given = f"a {scheme}:// URL" if scheme else f"the file path {db!r}"
        raise UsageError(f"--db: workers need a PostgreSQL URL (postgresql://user@host/dbname), not {given}: "
                         "a SQLite ledger serves one process (loanledger sync)")
    try:
        import procrastinate  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError:
        raise UsageError("schedule and worker need the postgres extra: pip install 'loanledger[postgres]'") from None
    return db


async def schedule(args: argparse.Namespace) -> int:
    """`loanledger schedule` (docs/CLI.md)."""
    cfg = load_config(args.config)
    db = _postgres_db(args.db)
    from .workers import SyncWorkers, plan_jobs

    jobs = plan_jobs(cfg, args.feeds)  # every API-key variable is read before the database is touched
    workers = SyncWorkers(db, pool_size=1)
    try:
        await workers.open()
    except StoreError as exc:
        raise UsageError(f"--db: {exc}") from None
    try:
        while True:
            try:
                r = await workers.schedule(jobs)
                print(f"loanledger schedule: queued {r.queued} sync jobs; {r.waiting} feeds already had one "
                      f"waiting ({len(jobs)} feeds)", file=sys.stderr, flush=True)
            except StoreError as exc:
                if args.every is None:
                    raise
                print(f"loanledger: {exc}; trying again in {args.every:g}s", file=sys.stderr, flush=True)
            if args.every is None:
                return EXIT_OK
            await asyncio.sleep(args.every)
    finally:
        await workers.close()


class _QuietJobErrors(logging.Filter):
    """procrastinate logs each failed job with a traceback; the worker's own line says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "action", None) not in ("job_error", "job_error_retry")


def _worker_logging(debug: bool) -> None:
    if debug:
        return  # main() sent every logger to stderr at DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(_QuietJobErrors())
    # psycopg's pool logs every failed reconnection: the worker's own error says it once
    for name, level in (("loanledger.workers", logging.INFO), ("procrastinate", logging.WARNING),
                        ("psycopg", logging.ERROR)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
        logger.propagate = False


async def worker(args: argparse.Namespace) -> int:
    """`loanledger worker` (docs/CLI.md)."""
    cfg = load_config(args.config)
    db = _postgres_db(args.db)
    from .workers import VENUE_QUEUES, SyncWorkers

    if args.stalled_after < 3:
        raise UsageError(f"--stalled-after: {args.stalled_after:g} is below 3 seconds (three heartbeats)")
    queues = args.queues or list(VENUE_QUEUES)
    limits = RateLimits(scale=cfg.rate_scale)  # this process's: shared by every job it runs
    served = [a for a in cfg.accounts if a.venue in queues]
    if not served:
        raise UsageError(f"--queues: {cfg.source} has no account of {', '.join(queues)}")
    for a in served:  # every credential of the accounts served, checked now (no request)
        await build_client(a, limits).close()
    workers = SyncWorkers(db, config=cfg, limits=limits, stalled_after=args.stalled_after,
                          local_address=args.local_address, pool_size=args.concurrency + 1)
    try:
        await workers.open()
    except StoreError as exc:
        raise UsageError(f"--db: {exc}") from None
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    _worker_logging(getattr(args, "debug", False))
    task = asyncio.current_task()
    assert task is not None
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, terminate)
    print(f"loanledger worker {name}: queues {', '.join(queues)}, concurrency {args.concurrency}, "
          f"ledger {workers.store.target}; Ctrl-C or SIGTERM stops it", file=sys.stderr, flush=True)
    try:
        await workers.run(concurrency=args.concurrency, queues=queues, name=name, poll=args.poll,
                          shutdown_timeout=args.shutdown_timeout)
    except asyncio.CancelledError:
        if terminated and task.uncancel() == 0:
            print(f"loanledger worker {name}: stopped (SIGTERM)", file=sys.stderr)
            return EXIT_OK
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        await workers.close()
    # procrastinate stops a worker whose heartbeat or notification listener failed (the
    # database went away): say so, and exit non-zero for the service manager to restart it
    print(f"loanledger: worker {name} stopped on its own (the job queue's database connection failed?); "
          "its running jobs continue elsewhere once it is taken for dead", file=sys.stderr)
    return EXIT_FEED_FAILED
