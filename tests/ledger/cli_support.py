"""Running the `loanledger` command in a subprocess against a simulator served by the test process."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

from loanledger import FEEDS
from loanledger.testing import Simulator

SCALE = 50.0
SECRETS = {
    "T_OKX_KEY": "okx-cli-key-7f3a", "T_OKX_SECRET": "okx-cli-secret-91bd", "T_OKX_PASS": "okx-cli-pass-c04e",
    "T_BN_KEY": "bn-cli-key-55aa", "T_BN_SECRET": "bn-cli-secret-66bb",
    "T_BY_KEY": "by-cli-key-77cc", "T_BY_SECRET": "by-cli-secret-88dd",
}
#: the console script installed beside the interpreter (`pip install` puts it there)
SCRIPT = str(Path(sys.executable).parent / "loanledger")


def config(base_url: str, *, scale: float = SCALE, bybit_secret_env: str = "T_BY_SECRET",
           okx_pass_env: str = "T_OKX_PASS", extra: str = "") -> str:
    return f"""
rate_scale = {scale}

[[account]]
name = "o"
venue = "okx"
api_key_env = "T_OKX_KEY"
secret_env = "T_OKX_SECRET"
passphrase_env = "{okx_pass_env}"
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
{extra}"""


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **SECRETS, **(env or {})}


async def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                  stdout: IO[bytes] | int = asyncio.subprocess.PIPE, script: bool = False,
                  timeout: float = 120) -> tuple[int, bytes, str]:
    """Run the command (`python -m loanledger`, or the console script) to its end."""
    cmd = [SCRIPT] if script else [sys.executable, "-m", "loanledger"]
    proc = await asyncio.create_subprocess_exec(
        *cmd, *args, stdout=stdout, stderr=asyncio.subprocess.PIPE, env=cli_env(env), cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out or b"", err.decode()


async def start_cli(*args: str, env: dict[str, str] | None = None, stdout: IO[bytes] | int = asyncio.subprocess.PIPE,
                    ) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loanledger", *args, stdout=stdout, stderr=asyncio.subprocess.PIPE, env=cli_env(env),
    )


async def shell(script: str, *, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[int, bytes, str]:
    """A bash pipeline (`set -o pipefail`: the status is the first failing command's)."""
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", "set -o pipefail; " + script, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=cli_env(env), cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out, err.decode()


def cli(*args: str) -> str:
    """`python -m loanledger ARGS` as shell words."""
    import shlex

    return " ".join(shlex.quote(a) for a in (sys.executable, "-m", "loanledger", *args))


@asynccontextmanager
async def populated(*, seed: int = 5, size: float = 0.3, scale: float = SCALE) -> AsyncIterator[Simulator]:
    """A simulator with one account per venue (the credentials in SECRETS) and generated history."""
    async with Simulator(seed=seed, rate_scale=scale) as s:
        accts = [
            s.okx.add_account(SECRETS["T_OKX_KEY"], SECRETS["T_OKX_SECRET"], SECRETS["T_OKX_PASS"], label="o"),
            s.binance.add_account(SECRETS["T_BN_KEY"], secret=SECRETS["T_BN_SECRET"], label="b"),
            s.bybit.add_account(SECRETS["T_BY_KEY"], secret=SECRETS["T_BY_SECRET"], label="y"),
        ]
        s.okx.populate(accts[0], seed=seed, scale=size)
        s.binance.populate(accts[1], seed=seed, scale=size)
        s.bybit.populate(accts[2], seed=seed, scale=size)
        s.test_accounts = accts  # type: ignore[attr-defined]
        yield s


def expected_ids(sim: Simulator) -> dict[str, set[str]]:
    """feed id -> every id the simulator's dataset holds for it."""
    o, b, y = sim.test_accounts  # type: ignore[attr-defined]
    out: dict[str, set[str]] = {}
    for feed_id, spec in FEEDS.items():
        venue: Any = getattr(sim, spec.venue)
        acct = {"okx": o, "binance": b, "bybit": y}[spec.venue]
        out[feed_id] = set(venue.expected_ids(acct, feed_id))
    return out


def expected_count(sim: Simulator) -> Counter[str]:
    return Counter({f: len(ids) for f, ids in expected_ids(sim).items()})


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        blob = text.decode(errors="replace") if isinstance(text, bytes) else text
        for secret in SECRETS.values():
            assert secret not in blob


def assert_one_line(err: str) -> None:
    """One line on stderr, and no traceback."""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err


def committed(db: Path) -> tuple[int, int]:
    """(feeds with a checkpoint, time of the latest page commit) in `db`: changes with every
    commit; (0, 0) before the file or its schema exists."""
    if not db.exists():
        return (0, 0)
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            n, last = conn.execute("SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM checkpoints").fetchone()
            return int(n), int(last)
    except sqlite3.Error:
        return (0, 0)


def ledger_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith((".db", ".db-wal", ".db-shm")))
