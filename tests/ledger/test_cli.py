"""The `loanledger` command as a subprocess against a simulator served by the test process:
sync, export, exit codes, configuration, and commands that fail writing nothing."""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    assert_no_secret,
    assert_one_line,
    config,
    expected_count,
    ledger_files,
    populated,
    run_cli,
)

import loanledger
from loanledger import SQLiteStore
from loanledger.events import decode_json, decode_msgpack
from loanledger.testing import Simulator


@pytest.fixture
async def sim() -> Any:
    async with populated() as s:
        yield s


def write_config(tmp_path: Path, text: str, name: str = "loanledger.toml") -> Path:
    cfg = tmp_path / name
    cfg.write_text(text)
    return cfg


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the happy path ------------------------------------------------------------------------------


async def test_sync_stream_and_export(sim: Simulator, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, config(sim.base_url))
    db = tmp_path / "ledger.db"
    code, out, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--stream", "jsonl")
    assert code == 0, err
    streamed = [decode_json(line) for line in out.splitlines()]
    assert Counter(e.feed for e in streamed) == expected_count(sim)
    assert "binance/b/binance.pmloan_history" in err and "ok" in err  # the report goes to stderr
    assert_no_secret(out, err)

    async with SQLiteStore(db) as store:
        stored = [e async for e in store.events()]
    assert sorted(e.key for e in stored) == sorted(e.key for e in streamed)

    # a second sync finds nothing new and streams nothing
    code, out2, err2 = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--stream", "jsonl", "--quiet")
    assert code == 0 and out2 == b"" and err2 == ""

    # exports: every format carries every event exactly
    code, jl, _ = await run_cli("export", "--db", str(db), "--format", "jsonl")
    assert code == 0
    assert [decode_json(line) for line in jl.splitlines()] == stored
    out_csv = tmp_path / "out.csv"
    code, _, e3 = await run_cli("export", "--db", str(db), "--format", "csv", "--output", str(out_csv))
    assert code == 0 and f"exported {len(stored)} events" in e3
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert len(rows) == len(stored)
    assert [Decimal(r["amount"]) for r in rows] == [e.amount for e in stored]
    assert all("E" not in r["amount"] for r in rows)  # plain notation for spreadsheets
    code, mp, _ = await run_cli("export", "--db", str(db), "--format", "msgpack", "--kind", "repay", "--venue", "okx")
    assert code == 0
    assert decode_msgpack(mp, many=True) == [e for e in stored if e.kind == "repay" and e.venue == "okx"] != []


async def test_export_never_changes_the_ledger(sim: Simulator, tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    code, _, err = await run_cli("sync", "--config", str(write_config(tmp_path, config(sim.base_url))),
                                 "--db", str(db), "--quiet")
    assert code == 0, err
    before = digest(db)
    code, out, _ = await run_cli("export", "--db", str(db), "--format", "csv")
    assert code == 0 and out.count(b"\n") > 100
    assert digest(db) == before
    # nothing new but SQLite's own companions of a WAL database (a reader needs the -shm index)
    assert set(ledger_files(tmp_path)) <= {"ledger.db", "ledger.db-wal", "ledger.db-shm"}
    assert not (tmp_path / "ledger.db-wal").exists() or (tmp_path / "ledger.db-wal").stat().st_size == 0


# --- failures: exit codes, one line each ---------------------------------------------------------


async def test_a_bad_key_fails_its_feeds_alone_and_is_reported_once(sim: Simulator, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, config(sim.base_url, bybit_secret_env="T_WRONG"))
    db = tmp_path / "l.db"
    code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), env={"T_WRONG": "not-the-secret"})
    assert code == 1
    assert "bybit/y/bybit.flexible_borrow_history" in err and "FAILED AuthError" in err  # the table
    # the venue's answer once for the account, not once per feed (nor twice per feed)
    assert err.count("error sign!") == 1
    assert err.count("failed authentication") == 1 and "bybit account 'y': 11 feeds failed" in err
    assert_no_secret(err)
    async with SQLiteStore(db) as store:
        venues = Counter([e.venue async for e in store.events()])
    assert set(venues) == {"okx", "binance"}


async def test_quiet_still_prints_each_failure(sim: Simulator, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, config(sim.base_url, bybit_secret_env="T_WRONG", okx_pass_env="T_WRONG"))
    code, out, err = await run_cli("sync", "--config", str(cfg), "--db", str(tmp_path / "l.db"), "--quiet",
                                   env={"T_WRONG": "not-it"})
    assert code == 1 and out == b""
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert any(line.startswith("loanledger: okx account 'o': 4 feeds failed authentication: AuthError") for line in lines)
    assert any(line.startswith("loanledger: bybit account 'y': 11 feeds failed authentication") for line in lines)
    assert "Traceback" not in err


async def test_nothing_listening_fails_each_feed_and_leaves_no_ledger(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = write_config(tmp_path, config(f"http://127.0.0.1:{port}"))
    code, out, err = await run_cli("sync", "--config", str(cfg), "--db", str(tmp_path / "new.db"), "--quiet",
                                   "--feeds", "okx:o", "binance.pmloan_history")
    assert code == 1 and out == b""
    lines = err.splitlines()
    assert len(lines) == 5 and all("ConnectError" in line and " failed: " in line for line in lines), err
    assert ledger_files(tmp_path) == []  # the new ledger it created held nothing: removed


async def test_a_wrong_secret_everywhere_leaves_no_new_ledger(sim: Simulator, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, config(sim.base_url, bybit_secret_env="T_WRONG", okx_pass_env="T_WRONG")
                       .replace('secret_env = "T_BN_SECRET"', 'secret_env = "T_WRONG"'))
    code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(tmp_path / "new.db"),
                                 env={"T_WRONG": "nope-nope"})
    assert code == 1 and err.count("failed authentication") == 3
    assert ledger_files(tmp_path) == []


async def test_an_existing_ledger_is_kept_when_a_later_sync_fails(sim: Simulator, tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    code, _, _ = await run_cli("sync", "--config", str(write_config(tmp_path, config(sim.base_url))),
                               "--db", str(db), "--quiet", "--feeds", "bybit")
    assert code == 0
    cfg = write_config(tmp_path, config(sim.base_url, okx_pass_env="T_WRONG"), "bad.toml")
    code, _, _ = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--quiet", "--feeds", "okx",
                               env={"T_WRONG": "nope"})
    assert code == 1 and db.exists()
    async with SQLiteStore(db, read_only=True) as store:
        assert {e.venue async for e in store.events()} == {"bybit"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[account]]\nvenue = "okx"\napi_key = "raw-key"\n', "api_key must not be written in the file"),
        ('[[account]]\nvenue = "kraken"\napi_key_env = "K"\n', "venue must be one of okx, binance, bybit"),
        ('[[account]]\nvenue = "okx"\napi_key_env = "T_MISSING"\nsecret_env = "S"\npassphrase_env = "P"\n',
         "environment variable T_MISSING (API key) is not set"),
        ("not toml = [", "is not valid TOML"),
        ('[[account]]\nvenue = "okx"\napi_key_env = 5\n', "api_key_env must be a string"),
        ('[[account]]\nvenue = "bybit"\napi_key_env = "T_BY_KEY"\nfeeds = ["okx.convert_history"]\n',
         "unknown bybit feed 'okx.convert_history'"),
        ('rate_scale = 0\n[[account]]\nvenue = "bybit"\napi_key_env = "T_BY_KEY"\n', "rate_scale must be a positive"),
    ],
)
async def test_config_errors_exit_2_with_one_line_and_write_nothing(tmp_path: Path, text: str, message: str) -> None:
    cfg = write_config(tmp_path, text, "c.toml")
    code, out, err = await run_cli("sync", "--config", str(cfg), "--db", str(tmp_path / "x.db"))
    assert code == 2 and message in err and out == b""
    assert_one_line(err)
    assert "raw-key" not in err
    assert ledger_files(tmp_path) == []


async def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, config("http://127.0.0.1:9"))
    keyless = write_config(tmp_path, config("http://127.0.0.1:9").replace(
        'secret_env = "T_BN_SECRET"', 'private_key_file = "keys/none.pem"'), "keyless.toml")
    cases = [
        (["sync", "--config", str(keyless), "--db", str(tmp_path / "x.db")],
         f"account b: cannot read private_key_file {tmp_path / 'keys' / 'none.pem'}: No such file or directory"),
        (["sync", "--config", str(tmp_path / "none.toml")], f"--config: {tmp_path / 'none.toml'} does not exist"),
        (["sync", "--config", str(cfg), "--db", "/nonexistent/dir/x.db"],
         "--db: cannot create /nonexistent/dir/x.db: directory /nonexistent/dir does not exist"),
        (["sync", "--config", str(cfg), "--db", str(tmp_path)], f"--db: {tmp_path} is a directory"),
        (["sync", "--config", str(cfg), "--db", str(tmp_path / "x.db"), "--since", "yesterday"],
         "--since: 'yesterday' is not ms"),
        (["sync", "--config", str(cfg), "--db", str(tmp_path / "x.db"), "--feeds", "okx.nope"],
         "--feeds: 'okx.nope' is no feed, venue or venue:account of"),
        (["export", "--db", str(tmp_path / "none.db")], "does not exist"),
        (["export", "--db", str(tmp_path / "none.db"), "--kind", "gift"], "argument --kind: invalid choice"),
        (["sync"], "the following arguments are required: --config"),
        (["simulate", "--port", "70000"], "--port: '70000': must be from 0 to 65535"),
    ]
    for args, message in cases:
        code, out, err = await run_cli(*args)
        assert code == 2 and message in err and out == b"", (args, err)
        assert_one_line(err)
    assert ledger_files(tmp_path) == []


async def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    code, _, err = await run_cli("sync", "--config", str(tmp_path / "none.toml"), "--debug")
    assert code == 2 and "Traceback (most recent call last)" in err and "UsageError" in err
    assert err.splitlines()[-1] == f"loanledger: --config: {tmp_path / 'none.toml'} does not exist"
    code, _, err = await run_cli("--debug", "sync", "--config", str(tmp_path / "none.toml"))  # before the command
    assert code == 2 and "Traceback (most recent call last)" in err


async def test_a_database_that_is_not_a_ledger_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE songs (title TEXT)")
        conn.execute("INSERT INTO songs VALUES ('la')")
    conn.close()
    text_file = tmp_path / "notes.db"
    text_file.write_text("these are my notes, not a database\n" * 20)
    cfg = write_config(tmp_path, config("http://127.0.0.1:9"))
    for path in (other, text_file):
        before = digest(path)
        for args in (["export", "--db", str(path)], ["export", "--db", str(path), "--format", "csv"],
                     ["sync", "--config", str(cfg), "--db", str(path)]):
            code, out, err = await run_cli(*args)
            assert code == 2 and out == b"" and "not a loanledger store" in err, (args, err)
            assert err.startswith(f"loanledger: --db: {path}")
            assert_one_line(err)
        assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loanledger.toml", "notes.db", "other.sqlite"]


async def test_export_to_an_unwritable_output_exits_2_and_writes_nothing(sim: Simulator, tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    code, _, _ = await run_cli("sync", "--config", str(write_config(tmp_path, config(sim.base_url))),
                               "--db", str(db), "--quiet", "--feeds", "bybit")
    assert code == 0
    for target, message in [
        (tmp_path / "nope" / "x.csv", f"--output: cannot write {tmp_path / 'nope' / 'x.csv'}: directory "),
        (tmp_path, f"--output: {tmp_path} is a directory"),
    ]:
        code, out, err = await run_cli("export", "--db", str(db), "--format", "csv", "--output", str(target))
        assert code == 2 and out == b"" and message in err, err
        assert_one_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.db", "loanledger.toml"]


# --- configuration ---------------------------------------------------------------------------------


async def test_private_key_file_resolves_against_the_config_file(tmp_path: Path, ed25519_private_pem: str) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key: Any = load_pem_private_key(ed25519_private_pem.encode(), None)
    conf = tmp_path / "conf"
    (conf / "keys").mkdir(parents=True)
    (conf / "keys" / "bn.pem").write_text(ed25519_private_pem)
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    async with Simulator(seed=3, rate_scale=50.0) as s:
        acct = s.binance.add_account("bn-ed-key", public_key=key.public_key(), label="ed")
        s.binance.populate(acct, seed=3, scale=0.2)
        text = f"""rate_scale = 50.0
db = "ledgers/ed.db"

[[account]]
name = "ed"
venue = "binance"
api_key_env = "T_ED_KEY"
private_key_file = "keys/bn.pem"
base_url = "{s.base_url}"
"""
        (conf / "ledgers").mkdir()
        cfg = write_config(conf, text)
        code, _, err = await run_cli("sync", "--config", str(cfg), "--quiet", cwd=elsewhere, env={"T_ED_KEY": "bn-ed-key"})
        assert code == 0, err
        assert (conf / "ledgers" / "ed.db").exists() and list(elsewhere.iterdir()) == []  # `db` resolves there too
        # a missing key file: the message names the resolved path
        cfg.write_text(text.replace("keys/bn.pem", "keys/missing.pem"))
        code, _, err = await run_cli("sync", "--config", str(cfg), "--quiet", cwd=elsewhere, env={"T_ED_KEY": "bn-ed-key"})
        assert code == 2
        assert f"cannot read private_key_file {conf / 'keys' / 'missing.pem'}: No such file or directory" in err
        assert_one_line(err)


async def test_only_the_selected_accounts_are_loaded(sim: Simulator, tmp_path: Path) -> None:
    broken = """
[[account]]
name = "later"
venue = "okx"
api_key_env = "T_NOT_SET_ANYWHERE"
secret_env = "T_NOT_SET_EITHER"
passphrase_env = "T_NOR_THIS"
"""
    cfg = write_config(tmp_path, config(sim.base_url, extra=broken))
    db = tmp_path / "l.db"
    code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--quiet", "--feeds", "bybit", "okx:o")
    assert code == 0, err
    async with SQLiteStore(db, read_only=True) as store:
        assert {e.venue async for e in store.events()} == {"bybit", "okx"}
        assert {f.account for f in await store.feeds()} == {"y", "o"}
    # without a selection the unset variable of the other account is a configuration error
    code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--quiet")
    assert code == 2 and "account later: environment variable T_NOT_SET_ANYWHERE (API key) is not set" in err


async def test_per_account_feeds_from_the_config_select_exactly_those(sim: Simulator, tmp_path: Path) -> None:
    text = config(sim.base_url).replace(
        'name = "y"', 'name = "y"\nfeeds = ["bybit.flexible_borrow_history", "bybit.fixed_borrow_contracts"]')
    db = tmp_path / "l.db"
    code, _, err = await run_cli("sync", "--config", str(write_config(tmp_path, text)), "--db", str(db), "--quiet")
    assert code == 0, err
    async with SQLiteStore(db, read_only=True) as store:
        feeds = {f.feed for f in await store.feeds() if f.venue == "bybit"}
    assert feeds == {"bybit.flexible_borrow_history", "bybit.fixed_borrow_contracts"}


# --- small commands --------------------------------------------------------------------------------


async def test_version_from_the_console_script() -> None:
    code, out, _ = await run_cli("--version", script=True)
    assert code == 0 and out.decode() == f"loanledger {loanledger.__version__}\n"


async def test_feeds_has_a_header_and_every_feed() -> None:
    code, out, _ = await run_cli("feeds")
    lines = out.decode().splitlines()
    assert code == 0 and lines[0].split() == ["FEED", "VENUE", "PATH", "CURSOR"]
    assert [line.split()[0] for line in lines[1:]] == list(loanledger.FEEDS)
    assert all(line.split()[1] == loanledger.FEEDS[line.split()[0]].venue for line in lines[1:])


def test_every_option_has_help_and_is_documented_in_its_commands_section() -> None:
    import argparse
    import re

    from loanledger.cli import parser

    doc = (Path(__file__).resolve().parents[2] / "docs" / "CLI.md").read_text()
    sections = dict(re.findall(r"^## `loanledger (\w+)`\n(.*?)(?=^## |\Z)", doc, flags=re.MULTILINE | re.DOTALL))
    top = parser()
    subs = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subs.choices) == set(sections) == {"sync", "export", "balances", "reconcile", "demo", "simulate",
                                                  "feeds"}
    checked = 0
    for name, sub in [("loanledger", top), *subs.choices.items()]:
        text = doc.split("## Exit codes")[0] if name == "loanledger" else sections[name]
        assert sub.description or name == "loanledger"
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction) or "-h" in action.option_strings:
                continue
            assert action.help and len(action.help) > 10, (name, action.option_strings)
            for opt in action.option_strings:
                assert f"`{opt}" in text, (name, opt)  # in the command's own table
                checked += 1
    assert checked >= 30
    for code in ("| 0 ", "| 1 ", "| 2 ", "| 130 ", "| 141 "):
        assert code in doc


async def test_help_of_every_command_runs() -> None:
    for cmd in ("sync", "export", "balances", "reconcile", "demo", "simulate", "feeds"):
        code, out, err = await run_cli(cmd, "--help")
        assert code == 0 and err == "" and b"--debug" in out


def test_the_cli_does_not_import_the_simulator_and_the_simulator_not_the_cli() -> None:
    import subprocess
    import sys

    for check in (
        "import sys, loanledger.cli; assert 'loanledger.testing' not in sys.modules, 'the CLI imports the simulator'",
        "import sys, loanledger.testing; bad = {'loanledger.cli', 'loanledger._console', 'loanledger.demo'} "
        "& set(sys.modules); assert not bad, bad",
    ):
        subprocess.run([sys.executable, "-c", check], check=True)
