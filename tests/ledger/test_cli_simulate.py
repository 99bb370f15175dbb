"""`loanledger simulate` serves the demo accounts and hands over everything a config needs;
`loanledger demo` runs; the README's examples run as written."""

from __future__ import annotations

import asyncio
import re
import shlex
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from cli_support import assert_one_line, cli_env, run_cli

from loanledger import SQLiteStore
from loanledger.demo import SIM_ENV, demo_binance_pem, populate_demo, sim_env, write_sim_config
from loanledger.testing import Simulator

ROOT = Path(__file__).resolve().parents[2]


async def start_simulate(*args: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    """Start `loanledger simulate ARGS`; returns it with what it printed up to 'Ctrl-C stops'."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loanledger", "simulate", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(),
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Ctrl-C stops"):
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line, f"simulate ended early: {lines}"
        lines.append(line.decode().rstrip("\n"))
    return proc, lines


def exported(lines: list[str]) -> dict[str, str]:
    """The variables of the printed `export` line."""
    line = next(x for x in lines if x.strip().startswith("export "))
    return dict(word.split("=", 1) for word in shlex.split(line.strip())[1:])


async def stop(proc: asyncio.subprocess.Process, sig: int = signal.SIGINT) -> str:
    proc.send_signal(sig)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    return err.decode()


async def test_simulate_serves_the_demo_accounts_and_prints_a_working_config(tmp_path: Path) -> None:
    proc, lines = await start_simulate("--port", "0", "--scale", "50", "--size", "0.1")
    try:
        base_url = re.search(r"on (http://127\.0\.0\.1:\d+) ", lines[0]).group(1)  # type: ignore[union-attr]
        env = exported(lines)
        assert tuple(env) == SIM_ENV and env["LOANLEDGER_BASE_URL"] == base_url
        pem = Path(env["BINANCE_PRIVATE_KEY_FILE"])
        assert pem.read_text() == demo_binance_pem() and str(pem) in "\n".join(lines)
        assert f"api key {env['OKX_API_KEY']}, secret {env['OKX_SECRET']}, passphrase {env['OKX_PASSPHRASE']}" in lines[2]
        sync_line = next(x for x in lines if x.strip().startswith("loanledger sync "))
        config = Path(shlex.split(sync_line)[3])
        assert config.parent == pem.parent and 'private_key_file = "binance-demo-ed25519.pem"' in config.read_text()
        # the printed command, with the printed variables, from another directory
        db = tmp_path / "sim-ledger.db"
        code, _, err = await run_cli(*shlex.split(sync_line)[1:4], "--db", str(db), "--quiet", env=env, cwd=tmp_path)
        assert code == 0, err
        async with SQLiteStore(db, read_only=True) as store:
            assert {e.venue async for e in store.events()} == {"okx", "binance", "bybit"}
            assert {f.account for f in await store.feeds()} == {"okx-demo", "binance-demo", "bybit-demo"}
    finally:
        err = await stop(proc)
    assert proc.returncode == 0 and err == "simulator stopped\n"
    assert not pem.parent.exists()  # the temporary directory went with it


async def test_simulate_dir_keeps_the_files_and_sigterm_stops_it(tmp_path: Path) -> None:
    target = tmp_path / "sim"
    proc, lines = await start_simulate("--port", "0", "--dir", str(target))
    await stop(proc, signal.SIGTERM)
    assert proc.returncode == 0
    assert sorted(p.name for p in target.iterdir()) == ["binance-demo-ed25519.pem", "loanledger.toml"]
    assert exported(lines)["BINANCE_PRIVATE_KEY_FILE"] == str(target / "binance-demo-ed25519.pem")
    assert "rate_scale = 1.0" in (target / "loanledger.toml").read_text()


async def test_simulate_empty_serves_no_accounts(tmp_path: Path) -> None:
    proc, lines = await start_simulate("--port", "0", "--empty")
    try:
        assert "no accounts (--empty)" in "\n".join(lines) and not any("export" in x for x in lines)
        base_url = re.search(r"on (http://127\.0\.0\.1:\d+) ", lines[0]).group(1)  # type: ignore[union-attr]
        config, pem = write_sim_config(tmp_path, base_url, 1.0)  # the demo accounts' config, for the empty one
        code, _, err = await run_cli("sync", "--config", str(config), "--db", str(tmp_path / "l.db"), "--quiet",
                                     env=sim_env(base_url, pem))
        assert code == 1 and err.count("failed authentication") == 3, err
        assert not (tmp_path / "l.db").exists()
    finally:
        await stop(proc)


async def test_simulate_on_a_busy_port_exits_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        code, out, err = await run_cli("simulate", "--port", str(s.getsockname()[1]))
    assert code == 2 and out == b"" and "--port: cannot listen on 127.0.0.1:" in err
    assert_one_line(err)


async def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    code, out, err = await run_cli("demo", "--db", str(tmp_path / "d.db"), "--size", "0.1")
    text = out.decode()
    assert code == 0, err
    assert "1) full sync of every feed" in text and "incremental sync:" in text and "FAILED" not in text
    # it ends with the books and the reconcile verdict, naming each explained residual and why
    books, verdict = text.split("\n3) the books: ", 1)[1].split("\n4) reconcile: ", 1)
    assert books.splitlines()[1].split() == ["venue", "account", "currency", "wallet", "debt", "collateral",
                                             "interest"]
    assert "binance  binance-demo" in books and "e+" not in books.lower()  # plain notation, every digit
    assert "reconciled: every check matched or explained" in verdict
    assert re.search(r"explained: binance/binance-demo binance\.pm_bankruptcy_loan \w+ debt: \d+(\.\d+)? is "
                     r"bankruptcy loan opened \(no feed records its creation\)", verdict)
    code, _, err = await run_cli("demo", "--db", "/nonexistent/dir/d.db")
    assert code == 2 and "--db: cannot create /nonexistent/dir/d.db" in err
    precious = tmp_path / "precious.sqlite"  # not a ledger: the demo does not replace it
    precious.write_bytes(b"SQLite format 3\x00" + bytes(4080))
    code, _, err = await run_cli("demo", "--db", str(precious))
    assert code == 2 and "not a loanledger store" in err and "give another path" in err
    assert precious.read_bytes() == b"SQLite format 3\x00" + bytes(4080)


# --- the README ----------------------------------------------------------------------------------


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)


async def test_the_readme_python_examples_run_as_written(tmp_path: Path) -> None:
    snippets = blocks((ROOT / "README.md").read_text(), "python")
    assert len(snippets) >= 2
    async with Simulator(seed=3) as sim:  # the venues' real limits: the examples use the defaults
        populate_demo(sim, seed=3, size=0.1)
        pem = tmp_path / "binance-demo-ed25519.pem"
        pem.write_text(demo_binance_pem())
        env = sim_env(sim.base_url, pem)
        for i, code in enumerate(snippets):
            script = tmp_path / f"readme_{i}.py"
            script.write_text(code)
            work = tmp_path / f"run{i}"
            work.mkdir()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(script), cwd=work, env=cli_env(env),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 180)
            assert proc.returncode == 0, f"README example {i + 1}:\n{code}\n{err.decode()}"
            assert b"FAILED" not in out, out.decode()
            if (work / "ledger.db").exists():
                async with SQLiteStore(work / "ledger.db", read_only=True) as store:
                    assert {e.venue async for e in store.events()} == {"okx", "binance", "bybit"}
    assert any("SQLiteStore(\"ledger.db\")" in s for s in snippets)


def test_every_command_line_in_the_docs_is_accepted() -> None:
    from loanledger.cli import parser

    seen = 0
    for doc in (ROOT / "README.md", ROOT / "docs" / "CLI.md"):
        for block in blocks(doc.read_text(), "sh"):
            for line in block.splitlines():
                line = line.split(" #")[0].strip()
                if not line.startswith("loanledger "):
                    continue
                words = shlex.split(line.split(" | ")[0])[1:]
                if "--version" in words or "--help" in words:
                    continue
                args: Any = parser().parse_args(words)
                assert args.command in {"sync", "export", "balances", "reconcile", "demo", "simulate", "feeds"}
                seen += 1
    assert seen >= 8


def test_the_docs_point_only_inside_the_repository() -> None:
    """No reference to files that are not in the repository (design briefs, seed pages,
    private notes): the docs link the venues' official documentation instead."""
    docs = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for doc in docs:
        text = doc.read_text()
        for outside in ("DESIGN.md", "seeds/", "seed 00", "exchange-api-notes", "../shared", "shared/", "the notes"):
            assert outside not in text, f"{doc.relative_to(ROOT)} mentions {outside!r}"
        for path in re.findall(r"`((?:docs|loanledger|benchmarks|tests)/[\w/.-]+)`", text):
            assert (ROOT / path).exists() or (ROOT / "loanledger" / path).exists(), f"{doc.name}: {path}"
    assert "https://developers.binance.com/docs/" in (ROOT / "docs" / "venues" / "binance.md").read_text()
