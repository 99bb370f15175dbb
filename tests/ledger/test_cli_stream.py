"""`sync --stream jsonl` is at-least-once, a closed pipe ends a command quietly, Ctrl-C exits 130
and resumes exactly (the command as a subprocess; the simulator in the test process)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from pathlib import Path
from typing import Any

from cli_support import SCALE, cli, committed, config, expected_ids, ledger_files, populated, run_cli, shell, start_cli

from loanledger import SQLiteStore
from loanledger.events import decode_json

SLOW = 2.0  # rate limits x2: a sync takes seconds, so a signal can land in the middle of it


async def stored_keys(db: Path) -> set[tuple[str, str, str, str]]:
    async with SQLiteStore(db, read_only=True) as store:
        return {e.key async for e in store.events()}


def streamed_keys(path: Path) -> set[tuple[str, str, str, str]]:
    lines = path.read_bytes().splitlines()
    return {decode_json(line).key for line in lines}


async def wait_for_commit(db: Path, proc: asyncio.subprocess.Process, pages: int = 1) -> None:
    """Until `proc` has committed `pages` pages (or ended)."""
    seen = committed(db)
    for _ in range(3000):
        if proc.returncode is not None:
            return
        now = committed(db)
        if now != seen:
            seen = now
            pages -= 1
            if pages <= 0:
                return
        await asyncio.sleep(0.005)
    raise AssertionError("the sync committed nothing in 15 s")


async def test_a_reader_that_stops_reading_holds_the_commits_back(tmp_path: Path) -> None:
    """A consumer that stops reading (the pipe fills up): nothing is committed that was not
    written to the pipe, even when the process is then killed."""
    async with populated(scale=SCALE) as sim:
        cfg = tmp_path / "c.toml"
        cfg.write_text(config(sim.base_url, scale=SCALE))
        db = tmp_path / "l.db"
        proc = await start_cli("sync", "--config", str(cfg), "--db", str(db), "--stream", "jsonl", "--quiet")
        assert proc.stdout is not None
        head = bytearray()

        async def read_until_cancelled() -> None:  # a reader that keeps up at first
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                head.extend(chunk)

        reader = asyncio.create_task(read_until_cancelled())
        await wait_for_commit(db, proc)
        reader.cancel()  # ... then stops reading: the pipe fills up
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        quiet_since, last = asyncio.get_running_loop().time(), committed(db)
        while asyncio.get_running_loop().time() - quiet_since < 1.5:  # until nothing commits for 1.5 s
            await asyncio.sleep(0.05)
            if committed(db) != last:
                quiet_since, last = asyncio.get_running_loop().time(), committed(db)
        assert proc.returncode is None, "the sync ended: it did not fill the pipe"
        proc.send_signal(signal.SIGKILL)
        rest = await proc.stdout.read()
        await proc.wait()
        written = bytes(head) + rest
        assert len(rest) >= 60_000  # the pipe was full
        lines = written.split(b"\n")[:-1]  # a page written in part ends in a partial line
        assert len(written) >= 60_000  # the pipe was full
        stored = await stored_keys(db)
        assert stored and stored <= {decode_json(line).key for line in lines}
        assert len(stored) < sum(len(ids) for ids in expected_ids(sim).values())


async def test_every_stored_event_was_streamed_before_its_page_committed(tmp_path: Path) -> None:
    """kill -9 at random moments, stdout to a file: whatever the ledger holds after each kill
    was written to stdout by then (at-least-once), and the runs together stream everything."""
    rng = random.Random(11)
    async with populated(scale=SLOW) as sim:
        cfg = tmp_path / "c.toml"
        cfg.write_text(config(sim.base_url, scale=SLOW))
        db = tmp_path / "l.db"
        outputs: list[Path] = []
        killed = 0
        for i in range(3):
            out = tmp_path / f"run{i}.jsonl"
            outputs.append(out)
            with out.open("wb") as fh:
                proc = await start_cli("sync", "--config", str(cfg), "--db", str(db), "--stream", "jsonl",
                                       "--quiet", stdout=fh)
                await wait_for_commit(db, proc)
                await asyncio.sleep(rng.uniform(0.05, 0.6))
                if proc.returncode is None:
                    proc.send_signal(signal.SIGKILL)
                    killed += 1
                await proc.wait()
            every = set().union(*(streamed_keys(o) for o in outputs))
            missing = await stored_keys(db) - every
            assert not missing, f"run {i}: {len(missing)} stored events were never written to stdout"
        assert killed >= 2
        out = tmp_path / "last.jsonl"
        with out.open("wb") as fh:
            code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--stream", "jsonl",
                                         "--quiet", stdout=fh)
        assert code == 0, err
        outputs.append(out)
        expected = {(f.split(".")[0], {"okx": "o", "binance": "b", "bybit": "y"}[f.split(".")[0]], f, i)
                    for f, ids in expected_ids(sim).items() for i in ids}
        assert await stored_keys(db) == expected
        assert set().union(*(streamed_keys(o) for o in outputs)) == expected


async def test_a_closed_pipe_ends_sync_quietly_and_the_next_run_streams_the_rest(tmp_path: Path) -> None:
    async with populated(scale=SLOW) as sim:
        cfg = tmp_path / "c.toml"
        cfg.write_text(config(sim.base_url, scale=SLOW))
        db = tmp_path / "l.db"
        code, out, err = await shell(f"{cli('sync', '--config', str(cfg), '--db', str(db), '--stream', 'jsonl')} | head -1")
        assert code == 141, err  # what a shell reports for a writer ended by SIGPIPE
        assert len(out.splitlines()) == 1 and decode_json(out.splitlines()[0]).venue in ("okx", "binance", "bybit")
        for noise in ("Traceback", "BrokenPipe", "Exception ignored", "FAILED", "StdoutClosed"):
            assert noise not in err, err
        before = await stored_keys(db) if db.exists() else set()
        code, rest, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--stream", "jsonl", "--quiet")
        assert code == 0, err
        after = await stored_keys(db)
        # the second run streams exactly what the first did not commit
        assert {decode_json(line).key for line in rest.splitlines()} == after - before
        assert len(after) == sum(len(ids) for ids in expected_ids(sim).values())


async def test_a_closed_pipe_ends_export_quietly(tmp_path: Path) -> None:
    async with populated() as sim:
        cfg = tmp_path / "c.toml"
        cfg.write_text(config(sim.base_url))
        db = tmp_path / "l.db"
        code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--quiet")
        assert code == 0, err
    assert len(await stored_keys(db)) > 600  # more than a pipe buffer of CSV
    for fmt in ("csv", "jsonl", "msgpack"):
        code, out, err = await shell(f"{cli('export', '--db', str(db), '--format', fmt)} | head -c 300")
        assert code == 141 and len(out) == 300, (fmt, err)
        assert err == "", err  # no "error occurred during closing of asynchronous generator", no traceback
    code, out, err = await shell(f"{cli('export', '--db', str(db), '--format', 'csv')} | head -2")
    assert code == 141 and err == ""
    assert out.decode().splitlines()[0].startswith("venue,account,feed,id,kind,status,ts")
    code, out, err = await shell(f"{cli('feeds')} | head -1")
    assert code in (0, 141) and err == "" and out.startswith(b"FEED")


async def test_ctrl_c_exits_130_with_one_line_and_a_rerun_resumes(tmp_path: Path) -> None:
    async with populated(scale=SLOW) as sim:
        cfg = tmp_path / "c.toml"
        cfg.write_text(config(sim.base_url, scale=SLOW))
        db = tmp_path / "l.db"
        proc = await start_cli("sync", "--config", str(cfg), "--db", str(db), "--quiet")
        await wait_for_commit(db, proc, 2)
        assert proc.returncode is None, "the sync ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err_bytes = await asyncio.wait_for(proc.communicate(), 60)
        err = err_bytes.decode()
        assert proc.returncode == 130, err
        assert err.splitlines() == ["loanledger: interrupted; nothing was lost: every stored page was committed "
                                    "whole with its checkpoint, and a re-run resumes from there"]
        partial = await stored_keys(db)
        code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--quiet")
        assert code == 0, err
        assert len(await stored_keys(db)) == sum(len(ids) for ids in expected_ids(sim).values()) > len(partial)


async def test_ctrl_c_before_the_first_commit_leaves_no_ledger(tmp_path: Path) -> None:
    async with populated(scale=SLOW) as sim:
        arrived, release = asyncio.Event(), asyncio.Event()
        answer = sim.bybit.dispatch

        async def stalled(request: Any, route: Any) -> Any:  # the venue takes its time to answer
            arrived.set()
            await release.wait()
            return await answer(request, route)

        sim.bybit.dispatch = stalled  # type: ignore[method-assign]
        cfg = tmp_path / "c.toml"
        cfg.write_text(config(sim.base_url, scale=SLOW))
        proc = await start_cli("sync", "--config", str(cfg), "--db", str(tmp_path / "new.db"), "--quiet",
                               "--feeds", "bybit.flexible_borrow_history")
        await asyncio.wait_for(arrived.wait(), 30)
        assert (tmp_path / "new.db").exists()  # opened (and migrated) before the first request
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        release.set()
        assert proc.returncode == 130 and b"nothing was lost" in err
        assert ledger_files(tmp_path) == []
