"""`loanledger report --config`: the ledger reconciled with the venues (the simulator) when the
report is made, the verdict on the page and in the exit code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cli_support import assert_no_secret, config, populated, run_cli

from loanledger.testing import Simulator


@pytest.fixture
async def sim() -> Any:
    async with populated() as s:
        yield s


def report_data(html: str) -> Any:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert m is not None
    return json.loads(m.group(1))


async def test_report_with_config_shows_the_reconcile_verdict(sim: Simulator, tmp_path: Path) -> None:
    cfg = tmp_path / "loanledger.toml"
    cfg.write_text(config(sim.base_url))
    db, out = tmp_path / "ledger.db", tmp_path / "report.html"
    code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--quiet")
    assert code == 0, err
    code, _, err = await run_cli("report", "--config", str(cfg), "--db", str(db), "--output", str(out))
    html = out.read_text()
    data = report_data(html)
    verdict = data["reconcile"]
    assert verdict is not None and code == (0 if verdict["ok"] else 1), err
    assert ("matched or explained" if verdict["ok"] else "DIFFERS") in html
    assert html.count("<tr>") >= len(verdict["checks"]) + 1
    for c in verdict["checks"]:
        assert c["verdict"] in ("matched", "explained", "differs", "unchecked")
    assert "reconcile:" in err
    assert_no_secret(html, err)


async def test_report_with_a_bad_config_exits_2_before_reading_anything(sim: Simulator, tmp_path: Path) -> None:
    cfg = tmp_path / "loanledger.toml"
    cfg.write_text(config(sim.base_url, bybit_secret_env="T_UNSET_SECRET"))
    out = tmp_path / "report.html"
    code, _, err = await run_cli("report", "--config", str(cfg), "--db", str(tmp_path / "none.db"), "--output", str(out))
    assert code == 2 and "T_UNSET_SECRET" in err and not out.exists()
    assert len(sim.log) == 0
