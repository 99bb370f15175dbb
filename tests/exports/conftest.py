"""Fixtures of the export and report tests (the ledgers are in export_support.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from export_support import fill, small_ledger

from loanledger.testing.ledgers import three_book_events


@pytest.fixture
async def small_db(tmp_path: Path) -> Path:
    db = tmp_path / "small.db"
    await fill(db, small_ledger())
    return db


@pytest.fixture
async def books_db(tmp_path: Path) -> Path:
    """A generated three-book history (3000 events, three venues) plus the small ledger."""
    db = tmp_path / "books.db"
    await fill(db, [*three_book_events(3000, seed=5), *small_ledger()])
    return db


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo ledger: `loanledger demo` (the simulator, three venues, a full and an incremental sync)."""
    db = tmp_path_factory.mktemp("demo") / "demo-ledger.db"
    done = subprocess.run([sys.executable, "-m", "loanledger", "demo", "--db", str(db), "--size", "0.3"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return db
