"""The `loanledger` command as a subprocess against a simulator served by the test process."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from loanledger import LoanEvent, SQLiteStore
from loanledger.events import decode_json
from loanledger.testing import Simulator

SCALE = 50.0
SECRETS = {
    "T_OKX_KEY": "okx-cli-key-7f3a", "T_OKX_SECRET": "okx-cli-secret-91bd", "T_OKX_PASS": "okx-cli-pass-c04e",
    "T_BN_KEY": "bn-cli-key-55aa", "T_BN_SECRET": "bn-cli-secret-66bb",
    "T_BY_KEY": "by-cli-key-77cc", "T_BY_SECRET": "by-cli-secret-88dd",
}


def config(base_url: str, *, bybit_secret_env: str = "T_BY_SECRET") -> str:
    return f"""
rate_scale = {SCALE}

[[account]]
name = "o"
venue = "okx"
api_key_env = "T_OKX_KEY"
secret_env = "T_OKX_SECRET"
passphrase_env = "T_OKX_PASS"
base_url = "{base_url}"

[[account]]
name = "b"
venue = "binance"
api_key_env = "T_BN_KEY"
secret_env = "T_BN_SECRET"
base_url = "{base_url}"

[[account]]
name = "y"
venue = "bybit"
api_key_env = "T_BY_KEY"
secret_env = "{bybit_secret_env}"
base_url = "{base_url}"
"""


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loanledger", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **SECRETS, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out, err.decode()


@pytest.fixture
async def sim() -> Any:
    async with Simulator(seed=5, rate_scale=SCALE) as s:
        accts = [
            s.okx.add_account(SECRETS["T_OKX_KEY"], SECRETS["T_OKX_SECRET"], SECRETS["T_OKX_PASS"], label="o"),
            s.binance.add_account(SECRETS["T_BN_KEY"], secret=SECRETS["T_BN_SECRET"], label="b"),
            s.bybit.add_account(SECRETS["T_BY_KEY"], secret=SECRETS["T_BY_SECRET"], label="y"),
        ]
        s.okx.populate(accts[0], seed=5, scale=0.3)
        s.binance.populate(accts[1], seed=5, scale=0.3)
        s.bybit.populate(accts[2], seed=5, scale=0.3)
        s.test_accounts = accts  # type: ignore[attr-defined]
        yield s


def expected_count(sim: Simulator) -> Counter[str]:
    out: Counter[str] = Counter()
    o, b, y = sim.test_accounts  # type: ignore[attr-defined]
    from loanledger import FEEDS

    for feed_id, spec in FEEDS.items():
        venue: Any = getattr(sim, spec.venue)
        acct = {"okx": o, "binance": b, "bybit": y}[spec.venue]
        out[feed_id] = len(venue.expected_ids(acct, feed_id))
    return out


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        blob = text.decode(errors="replace") if isinstance(text, bytes) else text
        for secret in SECRETS.values():
            assert secret not in blob


async def test_sync_stream_and_export(sim: Simulator, tmp_path: Path) -> None:
    cfg = tmp_path / "loanledger.toml"
    cfg.write_text(config(sim.base_url))
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
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert len(rows) == len(stored)
    assert [Decimal(r["amount"]) for r in rows] == [e.amount for e in stored]
    assert all("E" not in r["amount"] for r in rows)  # plain notation for spreadsheets
    code, mp, _ = await run_cli("export", "--db", str(db), "--format", "msgpack", "--kind", "repay", "--venue", "okx")
    assert code == 0
    unpacked = list(_msgpack_stream(mp))
    assert len(unpacked) == sum(1 for e in stored if e.kind == "repay" and e.venue == "okx") > 0


def _msgpack_stream(data: bytes) -> Any:
    from loanledger.events import decode_msgpack

    # each event is one msgpack object, back to back: re-encode each decoded object to find its length
    view = memoryview(data)
    while view:
        obj = msgspec.msgpack.decode(_first_object(view))
        n = len(msgspec.msgpack.encode(obj))
        ev = decode_msgpack(bytes(view[:n]))
        assert isinstance(ev, LoanEvent)
        yield ev
        view = view[n:]


def _first_object(view: memoryview) -> bytes:
    # msgspec decodes exactly one object; find the shortest prefix that decodes
    for end in range(1, len(view) + 1):
        try:
            msgspec.msgpack.decode(view[:end])
        except msgspec.DecodeError:
            continue
        return bytes(view[:end])
    raise AssertionError("truncated msgpack stream")


async def test_a_bad_key_fails_its_feeds_alone_and_the_exit_code_says_so(sim: Simulator, tmp_path: Path) -> None:
    cfg = tmp_path / "loanledger.toml"
    cfg.write_text(config(sim.base_url, bybit_secret_env="T_WRONG"))
    db = tmp_path / "l.db"
    code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), env={"T_WRONG": "not-the-secret"})
    assert code == 1
    assert "bybit/y/bybit.flexible_borrow_history" in err and "FAILED AuthError" in err
    assert_no_secret(err)
    async with SQLiteStore(db) as store:
        venues = Counter([e.venue async for e in store.events()])
    assert set(venues) == {"okx", "binance"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[account]]\nvenue = "okx"\napi_key = "raw-key"\n', "api_key must not be written in the file"),
        ('[[account]]\nvenue = "kraken"\napi_key_env = "K"\n', "venue must be one of okx, binance, bybit"),
        ('[[account]]\nvenue = "okx"\napi_key_env = "T_MISSING"\nsecret_env = "S"\npassphrase_env = "P"\n',
         "environment variable T_MISSING (API key) is not set"),
        ("not toml = [", "is not valid TOML"),
    ],
)
async def test_config_errors_exit_2_and_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    code, out, err = await run_cli("sync", "--config", str(cfg), "--db", str(tmp_path / "x.db"))
    assert code == 2 and message in err and out == b""
    assert "raw-key" not in err


async def test_feeds_and_unknown_selection(tmp_path: Path) -> None:
    code, out, _ = await run_cli("feeds")
    assert code == 0 and len(out.decode().splitlines()) == 15
    cfg = tmp_path / "c.toml"
    cfg.write_text(config("http://127.0.0.1:9"))
    code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(tmp_path / "x.db"), "--feeds", "okx.nope")
    assert code == 2 and "--feeds: feeds: unknown feed or venue 'okx.nope'" in err


async def test_export_missing_db_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = await run_cli("export", "--db", str(tmp_path / "none.db"))
    assert code == 2 and "does not exist" in err
