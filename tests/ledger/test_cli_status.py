"""`loanledger status` (per feed: the span covered, the last sync, known gaps) and `loanledger sync
--full / --since` backfilling, as subprocesses against a simulator served by the test process."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from cli_support import assert_one_line, config, expected_ids, populated, run_cli

from loanledger import SQLiteStore
from loanledger.events import decode_json
from loanledger.testing import Simulator

LOAN = "okx.flexible_loan_history"


@pytest.fixture
async def sim() -> Any:
    async with populated() as s:
        yield s


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms // 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _block(out: str, key: str) -> str:
    """The lines `status` prints for one feed."""
    m = re.search(rf"^{re.escape(key)}\n((?:  .*\n|                 .*\n)+)", out, flags=re.MULTILINE)
    assert m is not None, out
    return m.group(1)


async def test_status_shows_the_span_covered_then_backfilled_and_last_sync(sim: Simulator, tmp_path: Path) -> None:
    cfg = tmp_path / "loanledger.toml"
    cfg.write_text(config(sim.base_url))
    db = tmp_path / "ledger.db"
    loans = sim.okx.records(sim.test_accounts[0], LOAN)  # type: ignore[attr-defined]
    # a since older than the 7 days OKX keeps one-click repays (that feed warns), newer than most loans
    week_ago = int(dt.datetime.now(dt.UTC).timestamp() * 1000) - 8 * 86_400_000
    k = next(i for i, r in enumerate(loans) if int(r["ts"]) < week_ago)
    assert 0 < k < len(loans) - 1
    since_ms = int(loans[k]["ts"])
    since = dt.datetime.fromtimestamp(since_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")
    code, out, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--feeds", "okx", "--since",
                                   since, "--quiet", "--stream", "jsonl")
    assert code == 0, err
    assert [line.split(" keeps only")[0] for line in err.splitlines()] == [
        "loanledger: warning: okx.one_click_repay_history of account 'o'"]
    first = {decode_json(line).id for line in out.splitlines() if b'"okx.flexible_loan_history"' in line}
    assert len(first) == k + 1  # the newest k + 1 records

    code, out, err = await run_cli("status", "--db", str(db), "--feed", LOAN)
    assert code == 0 and err == ""
    text = out.decode()
    assert text.startswith(f"{db}: 1 feed (times UTC)")
    block = _block(text, f"okx/o/{LOAN}")
    assert f"covered:       {_day(since_ms)} .. {_day(int(loans[0]['ts']))}" in block
    assert f"newest record: {_day(int(loans[0]['ts']))}" in block
    assert "open records:  0" in block and "known gaps:    none" in block
    last = re.search(r"last sync:     (\S+ \S+)", block)
    assert last is not None and abs(dt.datetime.strptime(last.group(1), "%Y-%m-%d %H:%M:%SZ").replace(
        tzinfo=dt.UTC).timestamp() - dt.datetime.now(dt.UTC).timestamp()) < 300

    # a sync without --since reaches back to each feed's default start: the missing span is backfilled
    code, out, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--feeds", "okx", "--quiet",
                                   "--stream", "jsonl")
    assert code == 0, err
    second = {decode_json(line).id for line in out.splitlines() if b'"okx.flexible_loan_history"' in line}
    assert second == expected_ids(sim)[LOAN] - first
    code, out, _ = await run_cli("status", "--db", str(db))
    block = _block(out.decode(), f"okx/o/{LOAN}")
    assert f"covered:       the oldest record .. {_day(int(loans[0]['ts']))}" in block
    one_click = _block(out.decode(), "okx/o/okx.one_click_repay_history")
    # the first sync's --since reached past the 7 days the venue keeps one-click repays: covered
    # from there (the venue had nothing older), and the span it could not read is a known gap
    assert since_ms < sim.now_ms() - 7 * 86_400_000
    assert f"covered:       {_day(since_ms)} .. " in one_click
    assert f"past the venue's retention when asked for, cannot be read: {_day(since_ms)} .. " in one_click
    assert re.search(r"open records:  [1-9]", one_click)  # running repays, read again until final
    # --since 2020 reaches back 7 days past what the one-click feed keeps: a warned, recorded gap
    code, out, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--feeds",
                                   "okx:o:okx.one_click_repay_history", "--quiet", "--since", "2020-01-01")
    assert code == 0
    (gap,) = err.splitlines()  # one line, even with --quiet
    assert re.fullmatch(r"loanledger: warning: okx.one_click_repay_history of account 'o' keeps only 7 days of "
                        r"records: 2020-01-01T00:00:00.000Z \.\. \S+ can no longer be read \(since=1577836800000\); "
                        r"records of that span that were not synced before are lost", gap), gap
    code, out, _ = await run_cli("status", "--db", str(db), "--feed", "okx.one_click_repay_history")
    block = _block(out.decode(), "okx/o/okx.one_click_repay_history")
    assert "covered:       2020-01-01 00:00:00Z .. " in block  # walked: the venue had nothing older
    assert "past the venue's retention when asked for, cannot be read: 2020-01-01 00:00:00Z .." in block

    # --full walks everything again and finds nothing changed; with it, nothing is streamed
    async with SQLiteStore(db) as store:
        before = {e.key: e async for e in store.events()}
    code, out, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--feeds", "okx", "--full",
                                   "--stream", "jsonl")
    assert code == 0 and out == b"", err
    async with SQLiteStore(db) as store:
        assert {e.key: e async for e in store.events()} == before


async def test_status_of_a_missing_ledger_exits_2(tmp_path: Path) -> None:
    code, out, err = await run_cli("status", "--db", str(tmp_path / "nope.db"))
    assert code == 2 and out == b"" and f"--db: {tmp_path / 'nope.db'} does not exist" in err
    assert_one_line(err)
    assert list(tmp_path.iterdir()) == []
