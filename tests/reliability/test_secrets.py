"""Item 5: API keys' secrets, passphrases and PEMs never appear in the repr/str of clients
and their parts, in exceptions (message, repr, traceback, causes), in log records at DEBUG,
in the simulator's request log, in the store, or in the CLI's output. Every surface is
scanned for the literal secrets (the PEM also line by line)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytest
from rel_support import (
    BNB_KEY,
    BNB_PEM,
    BYB_KEY,
    BYB_SECRET,
    CLI_ENV,
    OKX_KEY,
    OKX_PASS,
    OKX_SECRET,
    SECRETS,
    Figures,
    cli_config,
    feed_ids,
    scan,
    walk,
    world,
)

from loanledger import (
    OKX,
    AmbiguousOutcome,
    Binance,
    Bybit,
    InvalidArgument,
    Ledger,
    LoanLedgerError,
    SQLiteStore,
    SyncError,
)


def exception_text(exc: BaseException) -> str:
    """Everything an exception shows: str, repr, the formatted traceback with its chain, and
    the attributes the SDK attaches (request body, cause, body excerpt)."""
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for name in ("body", "cause", "body_excerpt", "venue_message", "detail", "path", "argument"):
        if hasattr(exc, name):
            parts.append(repr(getattr(exc, name)))
    return "\n".join(parts)


def everything_of(obj: Any) -> str:
    """repr and str of an object and of the parts it is made of (transport, dialect, signer)."""
    seen: list[Any] = [obj]
    transport = getattr(obj, "transport", None)
    if transport is not None:
        seen += [transport, transport.dialect, getattr(transport.dialect, "signer", None), transport.clock]
    return "\n".join(f"{o!r}\n{o}" for o in seen if o is not None)


def test_the_scan_finds_a_secret() -> None:
    for secret in SECRETS:
        with pytest.raises(AssertionError, match="leaked into the probe"):
            scan(f"...{secret}...", "the probe")


async def test_no_secret_in_reprs_errors_logs_request_log_or_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, figures: Figures
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's and asyncio's included
    scanned = 0
    surfaces = 0
    errors: list[BaseException] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with world(seed=12, scale=0.2) as w:
            sim = w.sim
            # a sync with faults (retries are logged), into a store that keeps the raw records
            sim.faults.rates = {"5xx": 0.1, "truncate": 0.05}
            clients = w.clients(pages=20)
            for c in clients:
                scanned += scan(everything_of(c), f"repr of {type(c).__name__}")
                surfaces += 1
            async with Ledger(clients, store=SQLiteStore(tmp_path / "s.db"), keep_raw=True) as ledger:
                run = ledger.sync()
                try:
                    async for ev in run:
                        scanned += scan(repr(ev), "an event")
                except SyncError as exc:  # feeds that failed under the faults: the group says why
                    errors.append(exc)
                scanned += scan(run.report.table(), "the sync report")
                surfaces += 2
            sim.faults.rates = {}
            # failures: a wrong secret / PEM / key on every venue, every feed; through a ledger, the
            # SyncError grouping them (its traceback shows every feed's)
            async with Ledger(w.clients(wrong_secret=True)) as ledger:
                with pytest.raises(SyncError) as group:
                    async for _ in ledger.sync():
                        pass
                errors.append(group.value)
                scanned += scan(ledger.last_report.table() if ledger.last_report else "", "a failed report")
            for bad in (w.clients(wrong_secret=True),):
                for c, f in feed_ids(bad):
                    r = await walk(c, f, max_runs=1)
                    assert r.stopped_by is not None
                    errors.append(r.stopped_by)
                for c in bad:
                    await c.close()
            # an ambiguous action (its exception carries the request body and the cause)
            async with Bybit(f"{BYB_KEY}0", BYB_SECRET, account="bybit-0", base_url=sim.base_url,
                             limits=w.clients()[2].transport.limits, recv_window=500) as bybit:
                sim.faults.force("5xx_after", path="/v5/crypto-loan-flexible/borrow")
                with pytest.raises(AmbiguousOutcome) as amb:
                    await bybit.borrow_flexible("USDT", "12.5")
                errors.append(amb.value)
                await amb.value.reconcile()
                feed = bybit.flexible_borrow_history()
                async for _ in feed.pages():
                    break
                await feed.aclose()
                scanned += scan(f"{feed!r} {feed.checkpoint}", "a feed and its checkpoint")
                surfaces += 1
            # bad credentials refused at construction: the message names the argument, not the value
            for make in (
                lambda: OKX(OKX_KEY, OKX_SECRET + " x", OKX_PASS),
                lambda: OKX(OKX_KEY, OKX_SECRET, OKX_PASS + "\n"),
                lambda: Bybit(BYB_KEY, BYB_SECRET + "\t"),
                lambda: Binance(BNB_KEY, private_key=BNB_PEM.replace("A", "!")),
                lambda: Binance(BNB_KEY, private_key=BNB_PEM, private_key_password=OKX_SECRET),
                lambda: Binance(BNB_KEY, OKX_SECRET, private_key=BNB_PEM),
                lambda: Bybit(BYB_KEY, private_key=BNB_PEM),
            ):
                with pytest.raises((InvalidArgument, TypeError)) as info:
                    make()
                errors.append(info.value)
            for exc in errors:
                scanned += scan(exception_text(exc), f"a {type(exc).__name__}")
            surfaces += len(errors)
            scanned += scan("\n".join(repr(r) for r in sim.log), "the simulator's request log")
            surfaces += 1
    records = [f"{r.name} {r.levelname} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    assert any(r.levelno == logging.DEBUG for r in caplog.records), "DEBUG logging was not captured"
    scanned += scan("\n".join(records), "the log records")
    scanned += scan("\n".join(str(m.message) for m in caught), "the warnings")
    for f in tmp_path.iterdir():
        scanned += scan(f.read_bytes(), f"the store file {f.name}")
    surfaces += 3
    assert all(isinstance(e, LoanLedgerError | TypeError) for e in errors)
    figures.add(**{"secrets: surfaces scanned (reprs, errors, logs, request log, store)": surfaces,
                   "secrets: log records at DEBUG scanned": len(caplog.records),
                   "secrets: bytes scanned": scanned})


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loanledger", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **env},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def test_no_secret_in_cli_output(tmp_path: Path, figures: Figures) -> None:
    """The command line, succeeding and failing (wrong secret, a key written in the config,
    a missing variable), streaming events and exporting them: no secret in its output."""
    async with world(seed=13, scale=0.1, rate_scale=20.0) as w:
        cfg = cli_config(tmp_path, w.sim.base_url, 20.0)
        db = tmp_path / "cli.db"
        runs = [
            (["sync", "--config", str(cfg), "--db", str(db), "--stream", "jsonl"], CLI_ENV, 0),
            (["export", "--db", str(db), "--format", "csv"], CLI_ENV, 0),
            (["sync", "--config", str(cfg), "--db", str(db)], {**CLI_ENV, "REL_OKX_SECRET": OKX_SECRET + "x",
                                                              "REL_BYB_SECRET": BYB_SECRET + "y"}, 1),
            (["sync", "--config", str(cfg), "--db", str(db)], {**CLI_ENV, "REL_OKX_PASS": ""}, 2),
        ]
        leaked = tmp_path / "leaky.toml"
        leaked.write_text(cfg.read_text().replace('secret_env = "REL_OKX_SECRET"', f'secret = "{OKX_SECRET}"'))
        runs.append((["sync", "--config", str(leaked), "--db", str(db)], CLI_ENV, 2))
        scanned = 0
        for args, env, code in runs:
            rc, out, err = await run_cli(*args, env=env)
            assert rc == code, (args, err.decode())
            scanned += scan(out, f"stdout of {args[0]}") + scan(err, f"stderr of {args[0]}")
        figures.add(**{"secrets: CLI runs scanned": len(runs), "secrets: bytes of CLI output scanned": scanned})
