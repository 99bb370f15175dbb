"""The `loanledger` command: sync, export, balances, reconcile, demo, simulate, feeds (docs/CLI.md).

Keys never live in the config file: it names the environment variables (or
PEM file paths) that hold them. Everything that can be checked (arguments,
config, environment, key files, paths) is checked before a store is opened or
a request is sent.

Exit codes: 0 ok; 1 a feed failed (one line per failure on stderr, even with
--quiet), or `reconcile` found an unexplained difference or could not read an
account's positions; 2 bad usage or configuration (one line); 130 interrupted (Ctrl-C);
141 stdout was closed by its reader (`| head`), as a process ended by SIGPIPE.
Tracebacks only with --debug.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import enum
import io
import logging
import os
import shlex
import shutil
import sys
import tempfile
import tomllib
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import msgspec

from ._args import check_label, to_ms
from .errors import InvalidArgument, LoanLedgerError, StoreError
from .events import FIELDS, EventKind, LoanEvent, encode_json, encode_msgpack
from .ratelimit import RateLimits
from .registry import FEEDS

if TYPE_CHECKING:
    from .client import VenueClient
    from .ledger import SyncReport
    from .reconcile import ReconcileReport
    from .store import Store

# The ledger, the SQLite store, the console and the HTTP side are imported inside the commands
# that use them, so `loanledger --version`, `--help` and `feeds` load none of them.

__all__ = ["AccountConfig", "Config", "UsageError", "build_client", "load_config", "main", "parser"]

VENUES = ("okx", "binance", "bybit")
_SECRET_KEYS = {"api_key", "secret", "passphrase", "private_key", "private_key_password", "key"}

#: exit statuses (docs/CLI.md)
EXIT_OK, EXIT_FEED_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED = 0, 1, 2, 130, 141

_INTERRUPTED = {
    "sync": "interrupted; nothing was lost: every stored page was committed whole with its checkpoint, "
            "and a re-run resumes from there",
    "export": "interrupted; the ledger is unchanged (export only reads it) and no --output file was written",
    "demo": "interrupted",
    "balances": "interrupted; the ledger is unchanged (balances only reads it)",
    "reconcile": "interrupted; the ledger is unchanged (reconcile only reads it)",
}


class UsageError(Exception):
    """Bad command line or configuration (exit code 2)."""


class StdoutClosed(Exception):
    """The reader of stdout went away (exit code 141)."""


# --- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class AccountConfig:
    """One account: its venue, label and where its credentials come from."""

    name: str
    venue: str
    api_key_env: str
    secret_env: str | None = None
    passphrase_env: str | None = None
    private_key_file: str | None = None  # absolute: resolved against the config file's directory
    private_key_password_env: str | None = None
    base_url: str | None = None
    feeds: tuple[str, ...] = ()
    demo: bool = False
    testnet: bool = False


@dataclass(frozen=True)
class Config:
    accounts: tuple[AccountConfig, ...]
    db: str | None = None  # absolute: resolved against the config file's directory
    rate_scale: float = 1.0
    source: str = ""


_ACCOUNT_KEYS = {f.name for f in fields(AccountConfig)}
_STRING_KEYS = ("name", "api_key_env", "secret_env", "passphrase_env", "private_key_file",
                "private_key_password_env", "base_url")


def _resolve(base: Path, value: str) -> str:
    """A path from the config file: relative ones are relative to the file's directory."""
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else base.parent / p)


def load_config(path: str | Path) -> Config:
    """Read and check a loanledger.toml (see docs/CLI.md). Paths in it (`db`,
    `private_key_file`) resolve against the file's directory."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config: {p} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"--config: {p} is a directory") from None
    except OSError as exc:
        raise UsageError(f"--config: cannot read {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--config: {p} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--config: {p} is not valid TOML: {exc}") from None
    unknown_top = sorted(set(data) - {"account", "db", "rate_scale"})
    if unknown_top:
        raise UsageError(f"{p}: unknown keys {', '.join(unknown_top)} (expected db, rate_scale, [[account]])")
    raw_accounts = data.get("account", [])
    if not isinstance(raw_accounts, list) or not raw_accounts:
        raise UsageError(f"{p}: define at least one [[account]] table")
    accounts: list[AccountConfig] = []
    names: set[tuple[str, str]] = set()
    for i, a in enumerate(raw_accounts):
        where = f"{p}: [[account]] #{i + 1}"
        if not isinstance(a, dict):
            raise UsageError(f"{where}: must be a table")
        leaked = sorted(_SECRET_KEYS & set(a))
        if leaked:
            raise UsageError(
                f"{where}: {', '.join(leaked)} must not be written in the file; name an environment "
                f"variable instead ({', '.join(k + '_env' for k in leaked)})"
            )
        unknown = sorted(set(a) - _ACCOUNT_KEYS)
        if unknown:
            raise UsageError(f"{where}: unknown keys {', '.join(unknown)}")
        for key in _STRING_KEYS:
            if key in a and not isinstance(a[key], str):
                raise UsageError(f"{where}: {key} must be a string")
        for key in ("demo", "testnet"):
            if key in a and not isinstance(a[key], bool):
                raise UsageError(f"{where}: {key} must be true or false")
        venue = a.get("venue")
        if venue not in VENUES:
            raise UsageError(f"{where}: venue must be one of {', '.join(VENUES)}")
        name = a.get("name", f"{venue}-{i + 1}")
        try:
            check_label("name", name)
        except (InvalidArgument, TypeError) as exc:
            raise UsageError(f"{where}: {exc}") from None
        where = f"{p}: account {name!r}"
        if (venue, name) in names:
            raise UsageError(f"{where}: a second {venue} account with this name")
        names.add((venue, name))
        if "api_key_env" not in a:
            raise UsageError(f"{where}: api_key_env (the environment variable holding the API key) is required")
        feeds = a.get("feeds", [])
        if not isinstance(feeds, list) or not all(isinstance(f, str) for f in feeds):
            raise UsageError(f"{where}: feeds must be a list of feed ids")
        for f in feeds:
            if f not in FEEDS or FEEDS[f].venue != venue:
                raise UsageError(f"{where}: unknown {venue} feed {f!r} (loanledger feeds lists them)")
        key_file = a.get("private_key_file")
        accounts.append(
            AccountConfig(
                name=name, venue=venue, api_key_env=a["api_key_env"], secret_env=a.get("secret_env"),
                passphrase_env=a.get("passphrase_env"),
                private_key_file=None if key_file is None else _resolve(p, key_file),
                private_key_password_env=a.get("private_key_password_env"), base_url=a.get("base_url"),
                feeds=tuple(feeds), demo=a.get("demo", False), testnet=a.get("testnet", False),
            )
        )
    scale = data.get("rate_scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale < float("inf"):
        raise UsageError(f"{p}: rate_scale must be a positive number")
    db = data.get("db")
    if db is not None and (not isinstance(db, str) or not db):
        raise UsageError(f"{p}: db must be a file path")
    return Config(tuple(accounts), None if db is None else _resolve(p, db), float(scale), str(p))


def _env(var: str | None, what: str, account: str) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise UsageError(f"account {account}: environment variable {var} ({what}) is not set")
    return value


def build_client(a: AccountConfig, limits: RateLimits) -> VenueClient:
    """A client for one configured account, credentials read from the environment and
    key files now (no request: a client opens its session on its first request)."""
    from .venues.binance import Binance
    from .venues.bybit import Bybit
    from .venues.okx import OKX

    key = _env(a.api_key_env, "API key", a.name)
    assert key is not None
    pem: str | None = None
    if a.private_key_file is not None:
        if a.venue == "okx":
            raise UsageError(f"account {a.name}: okx signs with secret_env and passphrase_env, not a private_key_file")
        try:
            pem = Path(a.private_key_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not a PEM text file"
            raise UsageError(f"account {a.name}: cannot read private_key_file {a.private_key_file}: {why}") from None
    password = _env(a.private_key_password_env, "PEM password", a.name)
    try:
        if a.venue == "okx":
            secret = _env(a.secret_env, "secret", a.name)
            passphrase = _env(a.passphrase_env, "passphrase", a.name)
            if secret is None or passphrase is None:
                raise UsageError(f"account {a.name}: okx needs secret_env and passphrase_env")
            return OKX(key, secret, passphrase, account=a.name, base_url=a.base_url, demo=a.demo, limits=limits)
        if a.venue == "binance":
            return Binance(key, _env(a.secret_env, "secret", a.name), private_key=pem, private_key_password=password,
                           account=a.name, base_url=a.base_url, limits=limits)
        return Bybit(key, _env(a.secret_env, "secret", a.name), private_key=pem, private_key_password=password,
                     account=a.name, base_url=a.base_url, testnet=a.testnet, limits=limits)
    except (InvalidArgument, TypeError) as exc:
        where = f" (private_key_file {a.private_key_file})" if pem is not None else ""
        raise UsageError(f"account {a.name}: {exc}{where}") from None


def select_accounts(cfg: Config, feeds: Sequence[str] | None) -> tuple[list[AccountConfig], list[str] | None]:
    """The accounts a sync needs and the Ledger selection among them: --feeds (feed ids,
    venues, venue:account, venue:account:feed_id) wins; otherwise each account's `feeds`
    from the config; otherwise everything. Unselected accounts are never loaded."""
    def matches(a: AccountConfig, w: str) -> bool:
        label = f"{a.venue}:{a.name}"
        spec = FEEDS.get(w)
        return (w in (a.venue, label) or (spec is not None and spec.venue == a.venue)
                or (w.startswith(label + ":") and FEEDS.get(w[len(label) + 1:]) is not None
                    and FEEDS[w[len(label) + 1:]].venue == a.venue))

    if feeds:
        for w in feeds:
            if not any(matches(a, w) for a in cfg.accounts):
                known = sorted({a.venue for a in cfg.accounts} | {f"{a.venue}:{a.name}" for a in cfg.accounts}
                               | {f for f, s in FEEDS.items() if any(s.venue == a.venue for a in cfg.accounts)})
                raise UsageError(f"--feeds: {w!r} is no feed, venue or venue:account of {cfg.source}; "
                                 f"known: {', '.join(known)}")
        return [a for a in cfg.accounts if any(matches(a, w) for w in feeds)], list(feeds)
    if any(a.feeds for a in cfg.accounts):
        selection = [f"{a.venue}:{a.name}:{f}" for a in cfg.accounts for f in a.feeds]
        selection += [f"{a.venue}:{a.name}" for a in cfg.accounts if not a.feeds]
        return list(cfg.accounts), selection
    return list(cfg.accounts), None


def parse_time(text: str | None, name: str) -> int | None:
    """--since / --until: int ms, a date (UTC midnight) or an ISO-8601 datetime with offset."""
    if text is None:
        return None
    try:
        if text.isdigit():
            return to_ms(name, int(text))
        if len(text) == 10:
            return to_ms(name, dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC))
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise UsageError(f"--{name}: {text!r} is not ms, YYYY-MM-DD or an ISO-8601 datetime") from None
    if value.tzinfo is None:
        raise UsageError(f"--{name}: {text!r} has no UTC offset (add Z or +00:00)")
    try:
        return to_ms(name, value)
    except (ValueError, OverflowError) as exc:
        raise UsageError(f"--{name}: {exc}") from None


# --- paths -------------------------------------------------------------------------------


def _check_db(db: str, what: str) -> bool:
    """A ledger path a sync can write: an existing file, or a new one in a writable
    directory. Returns whether it exists."""
    p = Path(db)
    if p.is_dir():
        raise UsageError(f"{what}: {db} is a directory")
    if p.exists():
        if not os.access(p, os.R_OK | os.W_OK):
            raise UsageError(f"{what}: {db} is not writable")
        return True
    parent = p.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"{what}: cannot create {db}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what}: cannot create {db}: directory {parent} is not writable")
    return False


async def _discard_if_empty(db: str) -> None:
    """Remove a ledger file this run created if no page was committed to it."""
    from .store.sqlite import SQLiteStore

    if not Path(db).exists():
        return
    try:
        async with SQLiteStore(db, read_only=True) as store:
            if await store.feeds():
                return
    except StoreError:
        pass  # not even the schema got in: nothing of value either
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(db + suffix).unlink(missing_ok=True)


class _Output:
    """--output FILE, written whole or not at all: a temporary file beside it, renamed over
    it at the end (so a failed or interrupted export leaves no partial file)."""

    def __init__(self, path: str) -> None:
        target = Path(path)
        if target.is_dir():
            raise UsageError(f"--output: {path} is a directory")
        parent = target.absolute().parent
        if not parent.is_dir():
            raise UsageError(f"--output: cannot write {path}: directory {parent} does not exist")
        if target.exists() and not os.access(target, os.W_OK):
            raise UsageError(f"--output: {path} is not writable")
        try:
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".part")
        except OSError as exc:
            raise UsageError(f"--output: cannot write {path}: {exc.strerror}") from None
        self.target, self.tmp = target, Path(tmp)
        self.file: IO[bytes] = os.fdopen(fd, "wb")

    def commit(self) -> None:
        self.file.close()
        mask = os.umask(0)
        os.umask(mask)
        self.tmp.chmod(0o666 & ~mask)  # as if created by open(): mkstemp makes it 0600
        os.replace(self.tmp, self.target)

    def discard(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


# --- commands ------------------------------------------------------------------------------


class _JsonLines:
    """--stream jsonl: each page's new or changed events, written and flushed to stdout before
    the page commits (at-least-once). When the reader goes away it stops the sync."""

    def __init__(self, out: IO[bytes], task: asyncio.Task[Any]) -> None:
        self.out, self.task, self.closed = out, task, False

    async def __call__(self, events: list[LoanEvent]) -> None:
        if self.closed:
            raise StdoutClosed("stdout is closed")
        try:
            self.out.write(b"".join([encode_json(ev) + b"\n" for ev in events]))
            self.out.flush()
        except BrokenPipeError:
            self.closed = True
            self.task.cancel()  # the page is not committed; the whole sync stops
            raise StdoutClosed("stdout is closed") from None


async def cmd_sync(args: argparse.Namespace) -> int:
    from ._console import drive, failure_lines, report_table
    from .ledger import Ledger
    from .store.sqlite import SQLiteStore

    cfg = load_config(args.config)
    since = parse_time(args.since, "since")
    accounts, selection = select_accounts(cfg, args.feeds)
    limits = RateLimits(scale=cfg.rate_scale)
    clients = [build_client(a, limits) for a in accounts]
    db, what = (args.db, "--db") if args.db else (cfg.db, f"db (in {cfg.source})") if cfg.db else ("ledger.db", "--db")
    existed = _check_db(db, what)
    task = asyncio.current_task()
    assert task is not None
    sink = _JsonLines(sys.stdout.buffer, task) if args.stream == "jsonl" else None
    store = SQLiteStore(db)
    ledger = Ledger(clients, store=store, keep_raw=args.keep_raw)
    report: SyncReport | None = None
    try:
        try:
            await store.open()  # before any request: a file that is not a ledger stops here
        except StoreError as exc:
            raise UsageError(f"{what}: {exc}") from None
        async with ledger:
            report = await drive(ledger.sync(selection, since=since, before_commit=sink), sys.stderr,
                                 progress=not args.quiet)
    except asyncio.CancelledError:
        if sink is not None and sink.closed and task.uncancel() == 0:
            raise StdoutClosed("stdout is closed") from None
        raise
    finally:
        await ledger.close()
        if not existed and (report is None or not report.ok):
            await _discard_if_empty(db)
    if sink is not None and sink.closed:
        raise StdoutClosed("stdout is closed")
    if not args.quiet:
        print(report_table(report), file=sys.stderr)
    for line in failure_lines(report):
        print(f"loanledger: {line}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FEED_FAILED


def _cell(value: Any) -> Any:
    """A CSV cell: amounts in plain decimal notation (never an exponent), `raw` as its JSON text."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, msgspec.Raw):
        return bytes(value).decode()
    if isinstance(value, enum.Enum):
        return value.value
    return value


async def _write_events(events: AsyncIterator[LoanEvent], fmt: str, out: IO[bytes]) -> int:
    n = 0
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        writer.writerow(FIELDS)
        async for ev in events:
            writer.writerow([_cell(v) for v in msgspec.structs.astuple(ev)])
            n += 1
            if buf.tell() >= 1 << 16:
                out.write(buf.getvalue().encode())
                buf.seek(0)
                buf.truncate()
        out.write(buf.getvalue().encode())
    else:
        encode: Callable[[LoanEvent], bytes] = (
            encode_msgpack if fmt == "msgpack" else (lambda e: encode_json(e) + b"\n")
        )
        async for ev in events:
            out.write(encode(ev))
            n += 1
    out.flush()
    return n


async def cmd_export(args: argparse.Namespace) -> int:
    from .store.sqlite import SQLiteStore

    since, until = parse_time(args.since, "since"), parse_time(args.until, "until")
    if since is not None and until is not None and since > until:
        raise UsageError("--since is after --until")
    if not Path(args.db).exists():
        raise UsageError(f"--db: {args.db} does not exist")
    output = _Output(args.output) if args.output else None
    store = SQLiteStore(args.db, read_only=True)  # never creates nor migrates a file
    try:
        try:
            await store.open()
        except StoreError as exc:
            raise UsageError(f"--db: {exc}") from None
        events = store.events(venue=args.venue, account=args.account, feed=args.feed, kind=args.kind,
                              currency=args.currency, since=since, until=until)
        try:
            n = await _write_events(events, args.format, output.file if output else sys.stdout.buffer)
        except BrokenPipeError:
            raise StdoutClosed("stdout is closed") from None
        finally:
            # close the query now, inside the loop (an async generator left to the loop's shutdown
            # would report "an error occurred during closing of asynchronous generator")
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        if output is not None:
            output.commit()
            output = None
    finally:
        if output is not None:
            output.discard()
        await store.close()
    print(f"exported {n} events" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return EXIT_OK


def _reading(db: str, what: str) -> Store:
    """The store `db` names (a SQLite path or a postgresql:// URL), opened read-only: never
    created, migrated nor written. A SQLite path must exist."""
    from .store import SQLiteStore, open_store

    try:
        store = open_store(db, read_only=True, argument=what)
    except InvalidArgument as exc:
        raise UsageError(str(exc)) from None
    except ImportError as exc:  # a postgresql:// URL without the `postgres` extra
        raise UsageError(f"{what}: {exc}") from None
    if isinstance(store, SQLiteStore) and not Path(db).exists():
        raise UsageError(f"{what}: {db} does not exist")
    return store


async def _open_reading(store: Store, what: str) -> None:
    try:
        await store.open()
    except StoreError as exc:
        raise UsageError(f"{what}: {exc}") from None


def _emit(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise StdoutClosed("stdout is closed") from None


async def cmd_balances(args: argparse.Namespace) -> int:
    from ._console import balance_rows, balances_table

    at = parse_time(args.at, "at")
    store = _reading(args.db, "--db")
    try:
        await _open_reading(store, "--db")
        balances = await store.balances(venue=args.venue, account=args.account, currency=args.currency,
                                        until=at, include_pending=args.pending)
    finally:
        await store.close()
    if args.format == "json":
        keys = ["venue", "account", "currency", "wallet", "debt", "collateral", "interest"]
        _emit(msgspec.json.encode([dict(zip(keys, row, strict=True)) for row in balance_rows(balances)]).decode()
              + "\n")
    else:
        _emit(balances_table(balances) + "\n")
    if not balances:
        print("loanledger: no settled events match" if not args.pending else "loanledger: no events match",
              file=sys.stderr)
    return EXIT_OK


def _report_json(report: ReconcileReport) -> bytes:
    def amount(v: Decimal | None) -> str | None:
        return None if v is None else format(v, "f")

    return msgspec.json.encode({
        "ok": report.ok,
        "checks": [
            {"venue": c.venue, "account": c.account, "scope": c.scope, "currency": c.currency, "book": c.book.value,
             "position": amount(c.position), "ledger": amount(c.computed), "difference": amount(c.difference),
             "verdict": c.verdict.value, "explanation": c.explanation, "pending": amount(c.pending)}
            for c in report.checks
        ],
        "errors": report.errors,
        "skipped": report.skipped,
    })


async def cmd_reconcile(args: argparse.Namespace) -> int:
    from ._console import reconcile_text, reconcile_verdict
    from .ledger import Ledger

    cfg = load_config(args.config)
    accounts, selection = select_accounts(cfg, args.feeds)
    limits = RateLimits(scale=cfg.rate_scale)
    db, what = (args.db, "--db") if args.db else (cfg.db, f"db (in {cfg.source})") if cfg.db else ("ledger.db", "--db")
    store = _reading(db, what)  # before any client: a missing ledger stops here
    clients = [build_client(a, limits) for a in accounts]
    ledger = Ledger(clients, store=store)
    try:
        await _open_reading(store, what)
        report = await ledger.reconcile(selection)
    finally:
        await ledger.close()
    verdict = reconcile_verdict(report)
    if args.format == "json":
        _emit(_report_json(report).decode() + "\n")
    else:
        _emit(reconcile_text(report) + "\n")
    if not report.ok:  # on stderr too, even when stdout goes to a file or a pipe
        for line in verdict[1:]:
            if line.startswith(("differs:", "error:")):
                print(f"loanledger: {line}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FEED_FAILED


async def cmd_simulate(args: argparse.Namespace) -> int:
    import signal

    from .demo import DEMO_ACCOUNTS, populate_demo, sim_env, write_sim_config
    from .testing import Simulator

    keep = args.dir is not None
    if keep and not args.empty:
        directory = Path(args.dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--dir: cannot create {directory}: {exc.strerror}") from None
        if not os.access(directory, os.W_OK | os.X_OK):
            raise UsageError(f"--dir: {directory} is not writable")
    sim = Simulator(seed=args.seed, rate_scale=args.scale, host=args.host, port=args.port)
    if not args.empty:
        populate_demo(sim, seed=args.seed, size=args.size)
    try:
        await sim.start()
    except OSError as exc:
        raise UsageError(f"--port: cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    made: Path | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        say = print
        say(f"loanledger simulator: OKX, Binance and Bybit on {sim.base_url} "
            f"(seed {args.seed}, rate limits x{args.scale:g})", flush=True)
        if args.empty:
            say("no accounts (--empty): every signed request is refused", flush=True)
        else:
            if not keep:
                made = Path(tempfile.mkdtemp(prefix="loanledger-sim-"))
            target = Path(args.dir) if keep else made
            assert target is not None
            config, pem = write_sim_config(target.absolute(), sim.base_url, args.scale)
            env = sim_env(sim.base_url, pem)
            o, b, y = DEMO_ACCOUNTS["okx"], DEMO_ACCOUNTS["binance"], DEMO_ACCOUNTS["bybit"]
            say("demo accounts (simulated; their credentials work against this simulator only):")
            say(f"  okx-demo      api key {o['api_key']}, secret {o['secret']}, passphrase {o['passphrase']}")
            say(f"  binance-demo  api key {b['api_key']}, Ed25519 private key in {pem}")
            say(f"  bybit-demo    api key {y['api_key']}, secret {y['secret']}")
            gone = "" if keep else " (both removed when the simulator stops)"
            say(f"wrote {config} and the key file{gone}; in another shell:")
            say("  export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()))
            say(f"  loanledger sync --config {shlex.quote(str(config))} --db sim-ledger.db")
            say("(the README's examples read the same variables)")
        say("Ctrl-C stops the simulator.", flush=True)
        try:
            await stop.wait()
        except asyncio.CancelledError:  # Ctrl-C: the way to stop it
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        await sim.stop()
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    print("simulator stopped", file=sys.stderr)
    return EXIT_OK


async def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .store.sqlite import SQLiteStore

    if _check_db(args.db, "--db"):  # the demo starts from a fresh ledger: only ever replace a ledger
        try:
            async with SQLiteStore(args.db, read_only=True):
                pass
        except StoreError as exc:
            raise UsageError(f"--db: {exc}; the demo replaces its ledger, so give another path") from None
    return await run_demo(db=args.db, seed=args.seed, out=sys.stdout, size=args.size)


def cmd_feeds(args: argparse.Namespace) -> int:
    print(f"{'FEED':<45} {'VENUE':<8} {'PATH':<52} CURSOR")
    for feed_id, spec in FEEDS.items():
        print(f"{feed_id:<45} {spec.venue:<8} {spec.path:<52} {spec.cursor.name}")
    sys.stdout.flush()
    return EXIT_OK


# --- the parser ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _count(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r}: must be from {low} to {high}" if high is not None
                                             else f"{text!r}: must be at least {low}")
        return value

    parse.__name__ = "integer"
    return parse


def _positive(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a number above 0")
    return value


def _add_debug(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="on an error, print the Python traceback too; log requests at DEBUG to stderr")


def parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(prog="loanledger", description="Crypto-loan history from OKX, Binance and Bybit.",
                epilog="Exit codes: 0 ok, 1 a feed failed (reconcile: an unexplained difference or an unreadable "
                       "account), 2 usage or configuration, 130 interrupted, "
                       "141 stdout closed by its reader. docs/CLI.md has the details.")
    p.add_argument("--version", action="version", version=f"loanledger {__version__}",
                   help="print the version and exit")
    _add_debug(p)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sync", help="sync the configured accounts' feeds into a SQLite ledger",
                       description="Sync every selected feed concurrently into a SQLite ledger; each feed "
                                   "resumes from its checkpoint.")
    s.add_argument("--config", required=True, metavar="FILE",
                   help="loanledger.toml: the accounts and the environment variables holding their keys")
    s.add_argument("--db", metavar="FILE", help="the SQLite ledger (default: the config's db, else ./ledger.db)")
    s.add_argument("--feeds", nargs="+", metavar="SELECTOR",
                   help="only these: feed ids, venues, venue:account or venue:account:feed_id "
                        "(default: each account's feeds from the config, else all)")
    s.add_argument("--since", metavar="TIME", help="lower bound of a first sync: ms, YYYY-MM-DD or ISO-8601 with offset")
    s.add_argument("--stream", choices=["jsonl"],
                   help="also write each new or changed event to stdout as a JSON line, before its page "
                        "is committed (at-least-once)")
    s.add_argument("--quiet", action="store_true", help="no progress and no report (failures are still printed)")
    s.add_argument("--keep-raw", action="store_true", help="store each record's venue JSON too (for audit)")
    _add_debug(s)

    e = sub.add_parser("export", help="write stored events as JSON lines, CSV or msgpack",
                       description="Stored events in ts order. Opens the ledger read-only.")
    e.add_argument("--db", required=True, metavar="FILE", help="the SQLite ledger to read (never created nor changed)")
    e.add_argument("--format", choices=["jsonl", "csv", "msgpack"], default="jsonl",
                   help="jsonl (default): one JSON object a line; csv: a header row and one row per event; "
                        "msgpack: one msgpack map per event, back to back")
    e.add_argument("--output", metavar="FILE", help="write FILE (whole, or not at all) instead of stdout")
    e.add_argument("--since", metavar="TIME", help="only events at or after TIME (ms, YYYY-MM-DD or ISO-8601)")
    e.add_argument("--until", metavar="TIME", help="only events at or before TIME (ms, YYYY-MM-DD or ISO-8601)")
    e.add_argument("--venue", choices=VENUES, help="only this venue's events")
    e.add_argument("--account", metavar="NAME", help="only this account's events (its name in the config)")
    e.add_argument("--feed", choices=list(FEEDS), metavar="FEED_ID", help="only this feed's events (loanledger feeds)")
    e.add_argument("--kind", choices=[k.value for k in EventKind], help="only events of this kind")
    e.add_argument("--currency", metavar="CCY", help="only events in this currency (e.g. USDT)")
    _add_debug(e)

    b = sub.add_parser("balances", help="print the books per venue, account and currency from a ledger",
                       description="The wallet change, debt, collateral and interest cost per (venue, account, "
                                   "currency), summed exactly over the stored events. Opens the ledger read-only.")
    b.add_argument("--db", required=True, metavar="LEDGER",
                   help="the ledger to read: a SQLite file or a postgresql:// URL (never created nor changed)")
    b.add_argument("--at", metavar="TIME", help="as of TIME (ms, YYYY-MM-DD or ISO-8601; inclusive); default: everything")
    b.add_argument("--venue", choices=VENUES, help="only this venue's books")
    b.add_argument("--account", metavar="NAME", help="only this account's books (its name in the config)")
    b.add_argument("--currency", metavar="CCY", help="only this currency (e.g. USDT)")
    b.add_argument("--pending", action="store_true", help="count pending events too (default: settled events only)")
    b.add_argument("--format", choices=["table", "json"], default="table",
                   help="table (default): aligned columns; json: an array of objects, amounts as strings")
    _add_debug(b)

    r = sub.add_parser("reconcile", help="compare the ledger's debt and collateral with each venue's positions",
                       description="Read each selected account's current positions from its venue and compare "
                                   "them with the ledger's debt and collateral: matched, explained by a named "
                                   "residual, or different. Opens the ledger read-only.")
    r.add_argument("--config", required=True, metavar="FILE",
                   help="loanledger.toml: the accounts and the environment variables holding their keys")
    r.add_argument("--db", metavar="LEDGER",
                   help="the ledger to compare: a SQLite file or a postgresql:// URL (default: the config's db, "
                        "else ./ledger.db); never created nor changed")
    r.add_argument("--feeds", nargs="+", metavar="SELECTOR",
                   help="only the position scopes of these: feed ids, venues, venue:account or "
                        "venue:account:feed_id (default: each account's feeds from the config, else all)")
    r.add_argument("--format", choices=["table", "json"], default="table",
                   help="table (default): the checks and the verdict in words; json: one object")
    _add_debug(r)

    d = sub.add_parser("demo", help="the simulator, three venues, a full and an incremental sync",
                       description="Serve the simulator with three generated demo accounts, sync them into a "
                                   "fresh ledger, then sync again after new venue activity.")
    d.add_argument("--db", default="demo-ledger.db", metavar="FILE",
                   help="the ledger to (re)create (default: ./demo-ledger.db)")
    d.add_argument("--seed", type=_count(0), default=2026, help="dataset seed (default: 2026)")
    d.add_argument("--size", type=_positive, default=1.0, help="dataset size multiplier (default: 1)")
    _add_debug(d)

    m = sub.add_parser("simulate", help="serve the exchange simulator with the demo accounts, for your own tests",
                       description="Serve OKX, Binance and Bybit on one loopback port with the demo accounts and "
                                   "generated history; print their credentials, write the Binance test key and a "
                                   "loanledger.toml for them. Ctrl-C stops it.")
    m.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    m.add_argument("--port", type=_count(0, 65535), default=8999,
                   help="port to listen on; 0 picks a free one (default: 8999)")
    m.add_argument("--seed", type=_count(0), default=1, help="dataset seed (default: 1)")
    m.add_argument("--size", type=_positive, default=1.0, help="dataset size multiplier (default: 1)")
    m.add_argument("--scale", type=_positive, default=1.0,
                   help="multiply every venue rate limit; the written config's rate_scale matches (default: 1)")
    m.add_argument("--empty", action="store_true", help="serve no accounts (every signed request is refused)")
    m.add_argument("--dir", metavar="DIR",
                   help="write the key file and loanledger.toml here and keep them (default: a temporary "
                        "directory removed when the simulator stops)")
    _add_debug(m)

    f = sub.add_parser("feeds", help="list every feed id with its venue, path and cursor kind",
                       description="Every feed id, its venue, its endpoint path and its cursor kind.")
    _add_debug(f)
    return p


# --- main ------------------------------------------------------------------------------------


def _silence_stdout() -> None:
    """After the reader of stdout went away: nothing more to write (and no error at exit)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    debug: bool = getattr(args, "debug", False)
    if debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")

    def fail(message: str, code: int) -> int:
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(f"loanledger: {message}", file=sys.stderr)
        return code

    handlers: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
        "sync": cmd_sync, "export": cmd_export, "demo": cmd_demo, "simulate": cmd_simulate,
        "balances": cmd_balances, "reconcile": cmd_reconcile,
    }
    try:
        if args.command == "feeds":
            return cmd_feeds(args)
        return asyncio.run(handlers[args.command](args))
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return fail(_INTERRUPTED.get(args.command, "interrupted"), EXIT_INTERRUPTED)
    except (StdoutClosed, BrokenPipeError):
        _silence_stdout()
        if debug:
            traceback.print_exc(file=sys.stderr)
        return EXIT_PIPE_CLOSED
    except LoanLedgerError as exc:
        return fail(f"{type(exc).__name__}: {exc}", EXIT_FEED_FAILED)
    except Exception as exc:
        hint = "" if debug else " (--debug prints the traceback)"
        return fail(f"unexpected {type(exc).__name__}: {exc}{hint}", EXIT_FEED_FAILED)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
