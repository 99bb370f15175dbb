"""The `loanledger` command: sync, export, demo, simulate, feeds.

Keys never live in the config file: it names the environment variables (or
PEM file paths) that hold them. Exit codes: 0 ok, 1 a feed failed, 2 bad
usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import enum
import io
import os
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import msgspec

from ._args import check_label, to_ms
from .client import VenueClient
from .errors import InvalidArgument, LoanLedgerError
from .events import FIELDS, EventKind, encode_json, encode_msgpack
from .ledger import Ledger, SyncReport, SyncRun
from .ratelimit import RateLimits
from .registry import FEEDS
from .store import SQLiteStore
from .venues.binance import Binance
from .venues.bybit import Bybit
from .venues.okx import OKX

__all__ = ["AccountConfig", "Config", "load_config", "main"]

VENUES = ("okx", "binance", "bybit")
_SECRET_KEYS = {"api_key", "secret", "passphrase", "private_key", "private_key_password", "key"}


class UsageError(Exception):
    """Bad command line or configuration (exit code 2)."""


# --- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class AccountConfig:
    """One account: its venue, label and where its credentials come from."""

    name: str
    venue: str
    api_key_env: str
    secret_env: str | None = None
    passphrase_env: str | None = None
    private_key_file: str | None = None
    private_key_password_env: str | None = None
    base_url: str | None = None
    feeds: tuple[str, ...] = ()
    demo: bool = False
    testnet: bool = False


@dataclass(frozen=True)
class Config:
    accounts: tuple[AccountConfig, ...]
    db: str | None = None
    rate_scale: float = 1.0
    source: str = ""


def load_config(path: str | Path) -> Config:
    """Read and check a loanledger.toml (see docs/CLI.md)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"--config: {p} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--config: {p} is not valid TOML: {exc}") from None
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
        known = {f.name for f in AccountConfig.__dataclass_fields__.values()}
        unknown = sorted(set(a) - known)
        if unknown:
            raise UsageError(f"{where}: unknown keys {', '.join(unknown)}")
        venue = a.get("venue")
        if venue not in VENUES:
            raise UsageError(f"{where}: venue must be one of {', '.join(VENUES)}")
        name = a.get("name", f"{venue}-{i + 1}")
        try:
            check_label("name", name)
        except (InvalidArgument, TypeError) as exc:
            raise UsageError(f"{where}: {exc}") from None
        if (venue, name) in names:
            raise UsageError(f"{where}: duplicate account name {name!r} for {venue}")
        names.add((venue, name))
        if not isinstance(a.get("api_key_env"), str):
            raise UsageError(f"{where}: api_key_env (the environment variable holding the API key) is required")
        feeds = tuple(a.get("feeds", ()))
        for f in feeds:
            if f not in FEEDS or not f.startswith(venue + "."):
                raise UsageError(f"{where}: unknown {venue} feed {f!r}")
        accounts.append(
            AccountConfig(
                name=name, venue=venue, api_key_env=a["api_key_env"], secret_env=a.get("secret_env"),
                passphrase_env=a.get("passphrase_env"), private_key_file=a.get("private_key_file"),
                private_key_password_env=a.get("private_key_password_env"), base_url=a.get("base_url"),
                feeds=feeds, demo=bool(a.get("demo", False)), testnet=bool(a.get("testnet", False)),
            )
        )
    scale = data.get("rate_scale", 1.0)
    if not isinstance(scale, int | float) or scale <= 0:
        raise UsageError(f"{p}: rate_scale must be a positive number")
    db = data.get("db")
    return Config(tuple(accounts), db if isinstance(db, str) else None, float(scale), str(p))


def _env(var: str | None, what: str, account: str) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise UsageError(f"account {account}: environment variable {var} ({what}) is not set")
    return value


def build_client(a: AccountConfig, limits: RateLimits) -> VenueClient:
    """A client for one configured account, credentials read from the environment."""
    key = _env(a.api_key_env, "API key", a.name)
    assert key is not None
    pem: str | None = None
    if a.private_key_file is not None:
        try:
            pem = Path(a.private_key_file).read_text()
        except OSError as exc:
            raise UsageError(f"account {a.name}: cannot read private_key_file: {exc.strerror}") from None
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
        raise UsageError(f"account {a.name}: {exc}") from None


def parse_time(text: str | None, name: str) -> int | None:
    """--since / --until: int ms, a date (UTC midnight) or an ISO-8601 datetime with offset."""
    if text is None:
        return None
    if text.isdigit():
        return to_ms(name, int(text))
    try:
        if len(text) == 10:
            return to_ms(name, dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC))
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--{name}: {text!r} is not ms, YYYY-MM-DD or an ISO-8601 datetime") from None
    if value.tzinfo is None:
        raise UsageError(f"--{name}: {text!r} has no UTC offset (add Z or +00:00)")
    return to_ms(name, value)


# --- progress ----------------------------------------------------------------------------


@dataclass
class _Progress:
    """Per-feed progress: rich bars on a terminal, plain lines otherwise (to stderr)."""

    report: SyncReport
    out: IO[str]
    rich: bool
    _last: dict[str, tuple[int, int, bool]] = field(default_factory=dict)

    async def run(self) -> None:
        if self.rich:
            await self._rich()
        else:
            while True:
                self._plain()
                await asyncio.sleep(0.5)

    def _plain(self) -> None:
        for f in self.report.feeds:
            state = (f.pages, f.events, f.done or not f.ok)
            if state == (0, 0, False):
                continue  # nothing to say until the first page
            if self._last.get(str(f.key)) != state:
                self._last[str(f.key)] = state
                status = "done" if f.done else ("FAILED " + (f.error or "")) if not f.ok else "syncing"
                print(f"{f.key}: {f.pages} pages, {f.events} new events, {status}", file=self.out, flush=True)

    async def _rich(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(file=self.out)
        with Progress(SpinnerColumn(), TextColumn("{task.description:<58}"), TextColumn("{task.fields[stat]}"),
                      TimeElapsedColumn(), console=console, transient=False) as bars:
            tasks = {str(f.key): bars.add_task(str(f.key), total=None, stat="") for f in self.report.feeds}
            try:
                while True:
                    self._refresh(bars, tasks)
                    await asyncio.sleep(0.2)
            finally:
                self._refresh(bars, tasks)

    def _refresh(self, bars: Any, tasks: dict[str, Any]) -> None:
        for f in self.report.feeds:
            status = "[green]done" if f.done else "[red]FAILED" if not f.ok else "syncing"
            bars.update(tasks[str(f.key)], stat=f"{f.pages:>4} pages {f.events:>7} events  {status}",
                        total=1 if (f.done or not f.ok) else None, completed=1 if (f.done or not f.ok) else 0)


def _use_rich(stream: IO[str]) -> bool:
    if not stream.isatty():
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


async def _drive(run: SyncRun, out: IO[bytes] | None, err: IO[str], *, progress: bool) -> SyncReport:
    """Consume a sync, optionally streaming JSON lines, with progress on `err`."""
    bar = _Progress(run.report, err, _use_rich(err)) if progress else None
    ticker = asyncio.create_task(bar.run()) if bar is not None else None
    try:
        async for ev in run:
            if out is not None:
                out.write(encode_json(ev) + b"\n")
                out.flush()
    finally:
        if ticker is not None:
            ticker.cancel()
            try:
                await ticker
            except asyncio.CancelledError:
                pass
            if bar is not None and not bar.rich:
                bar._plain()
    return run.report


# --- commands ------------------------------------------------------------------------------


async def cmd_sync(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    db = args.db or cfg.db or "ledger.db"
    since = parse_time(args.since, "since")
    limits = RateLimits(scale=cfg.rate_scale)
    clients = [build_client(a, limits) for a in cfg.accounts]
    store = SQLiteStore(db)
    async with Ledger(clients, store=store, keep_raw=args.keep_raw) as ledger:
        wanted = _selection(ledger, cfg, args.feeds)
        run = ledger.sync(wanted, since=since)
        stream = sys.stdout.buffer if args.stream == "jsonl" else None
        report = await _drive(run, stream, sys.stderr, progress=not args.quiet)
    if not args.quiet:
        print(report.table(), file=sys.stderr)
    return 0 if report.ok else 1


def _selection(ledger: Ledger, cfg: Config, feeds: Sequence[str] | None) -> list[str] | None:
    """--feeds wins; otherwise per-account `feeds` from the config; otherwise everything."""
    if feeds:
        try:
            ledger.select(feeds)
        except InvalidArgument as exc:
            raise UsageError(f"--feeds: {exc}") from None
        return list(feeds)
    if any(a.feeds for a in cfg.accounts):
        out: list[str] = []
        for a in cfg.accounts:
            out += list(a.feeds) if a.feeds else [f"{a.venue}:{a.name}"]
        return out
    return None


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


async def cmd_export(args: argparse.Namespace) -> int:
    if not Path(args.db).exists():
        raise UsageError(f"--db: {args.db} does not exist")
    since, until = parse_time(args.since, "since"), parse_time(args.until, "until")
    if since is not None and until is not None and since > until:
        raise UsageError("--since is after --until")
    kind = None
    if args.kind is not None:
        try:
            kind = EventKind(args.kind)
        except ValueError:
            raise UsageError(f"--kind: one of {', '.join(k.value for k in EventKind)}") from None
    out: IO[bytes] = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    n = 0
    try:
        async with SQLiteStore(args.db) as store:
            events = store.events(venue=args.venue, account=args.account, feed=args.feed, kind=kind,
                                  currency=args.currency, since=since, until=until)
            if args.format == "csv":
                text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
                writer = csv.writer(text)
                writer.writerow(FIELDS)
                async for ev in events:
                    writer.writerow([_cell(v) for v in msgspec.structs.astuple(ev)])
                    n += 1
                text.detach()
            else:
                encode = encode_msgpack if args.format == "msgpack" else (lambda e: encode_json(e) + b"\n")
                async for ev in events:
                    out.write(encode(ev))
                    n += 1
            out.flush()
    finally:
        if args.output:
            out.close()
    print(f"exported {n} events", file=sys.stderr)
    return 0


async def cmd_simulate(args: argparse.Namespace) -> int:
    from .testing import Simulator
    from .testing.demo import DEMO_ACCOUNTS, populate_demo

    sim = Simulator(seed=args.seed, rate_scale=args.scale, host=args.host, port=args.port)
    if args.populate:
        populate_demo(sim, seed=args.seed, size=args.size)
    async with sim:
        print(f"simulator serving OKX, Binance and Bybit on {sim.base_url}", flush=True)
        if args.populate:
            for venue, creds in DEMO_ACCOUNTS.items():
                print(f"  {venue}: " + ", ".join(f"{k}={v}" for k, v in creds.items()), flush=True)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    from .testing.demo import run_demo

    return await run_demo(db=args.db, seed=args.seed, out=sys.stdout, size=args.size)


def cmd_feeds(args: argparse.Namespace) -> int:
    for feed_id, spec in FEEDS.items():
        print(f"{feed_id:<45} {spec.path:<52} {spec.cursor.name}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loanledger", description="Crypto-loan history from OKX, Binance and Bybit.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("sync", help="sync every configured account's feeds into a SQLite ledger")
    s.add_argument("--config", required=True, help="loanledger.toml")
    s.add_argument("--db", help="SQLite file (default: the config's db, else ledger.db)")
    s.add_argument("--feeds", nargs="+", help="feed ids, venues or venue:account labels")
    s.add_argument("--since", help="lower bound: ms, YYYY-MM-DD or ISO-8601 with offset")
    s.add_argument("--stream", choices=["jsonl"], help="also write each new event to stdout")
    s.add_argument("--quiet", action="store_true", help="no progress, no report")
    s.add_argument("--keep-raw", action="store_true", help="store each record's venue JSON too (for audit)")

    e = sub.add_parser("export", help="export stored events")
    e.add_argument("--db", required=True)
    e.add_argument("--format", choices=["jsonl", "csv", "msgpack"], default="jsonl")
    e.add_argument("--output", help="file (default: stdout)")
    e.add_argument("--since")
    e.add_argument("--until")
    e.add_argument("--venue")
    e.add_argument("--account")
    e.add_argument("--feed")
    e.add_argument("--kind")
    e.add_argument("--currency")

    d = sub.add_parser("demo", help="simulator + three venues + a full and an incremental sync")
    d.add_argument("--db", default="demo-ledger.db")
    d.add_argument("--seed", type=int, default=2026)
    d.add_argument("--size", type=float, default=1.0, help="dataset size multiplier")

    m = sub.add_parser("simulate", help="serve the exchange simulator for your own tests")
    m.add_argument("--host", default="127.0.0.1")
    m.add_argument("--port", type=int, default=8999)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--scale", type=float, default=1.0, help="multiply every venue rate limit")
    m.add_argument("--populate", action="store_true", help="add the demo accounts with generated history")
    m.add_argument("--size", type=float, default=1.0)

    sub.add_parser("feeds", help="list every feed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "feeds":
            return cmd_feeds(args)
        handler = {"sync": cmd_sync, "export": cmd_export, "demo": cmd_demo, "simulate": cmd_simulate}[args.command]
        return asyncio.run(handler(args))
    except UsageError as exc:
        print(f"loanledger: {exc}", file=sys.stderr)
        return 2
    except LoanLedgerError as exc:
        print(f"loanledger: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
