"""Koinly and CoinTracking CSV: golden files (exact bytes) from the small ledger, and what the rows
add up to checked against the store's books on a generated history and on the demo ledger.

Regenerate the golden files after a deliberate change with LOANLEDGER_REGEN_GOLDEN=1 (then read
the diff)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from export_support import DATA, fill, small_ledger

from loanledger import LoanEvent, SQLiteStore
from loanledger._money import exact_sum
from loanledger.exports import write_cointracking, write_koinly
from loanledger.exports.taxcsv import COINTRACKING_HEADER, KOINLY_HEADER
from loanledger.testing.ledgers import three_book_events

D = Decimal
GOLDEN = {"koinly": DATA / "koinly.csv", "cointracking": DATA / "cointracking.csv"}
WRITERS = {"koinly": write_koinly, "cointracking": write_cointracking}


async def aiter(events: list[LoanEvent]) -> AsyncIterator[LoanEvent]:
    for ev in events:
        yield ev


async def produce(fmt: str, events: list[LoanEvent]) -> bytes:
    buf = io.BytesIO()
    await WRITERS[fmt](aiter(events), buf)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["koinly", "cointracking"])
async def test_golden_file(fmt: str) -> None:
    got = await produce(fmt, small_ledger())
    if os.environ.get("LOANLEDGER_REGEN_GOLDEN") == "1":
        GOLDEN[fmt].write_bytes(got)
    assert got == GOLDEN[fmt].read_bytes()


def legs(fmt: str, data: bytes) -> list[tuple[str, str, Decimal, str]]:
    """(tx id, type or label, signed amount, currency) of every filled Sent/Received cell."""
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    out = []
    for r in rows:
        if fmt == "koinly":
            tx, what, pairs = r["TxHash"], r["Label"], (("Received", 1), ("Sent", -1))
            cells = [(r[f"{side} Amount"], r[f"{side} Currency"], sign) for side, sign in pairs]
        else:
            tx, what = r["Tx-ID"], r["Type"]
            cells = [(r["Buy Amount"], r["Buy Currency"], 1), (r["Sell Amount"], r["Sell Currency"], -1)]
        for amount, currency, sign in cells:
            if amount:
                assert re.fullmatch(r"\d+(\.\d+)?", amount), amount  # positive, plain, no exponent
                out.append((tx, what, D(amount) if sign > 0 else D(amount).copy_negate(), currency))
            else:
                assert currency == ""
    return out


@pytest.mark.parametrize("fmt", ["koinly", "cointracking"])
async def test_golden_rows_mean_what_the_books_say(fmt: str) -> None:
    data = GOLDEN[fmt].read_bytes()
    assert data.splitlines()[0].decode().split(",") == list(KOINLY_HEADER if fmt == "koinly" else COINTRACKING_HEADER)
    got = {(tx.rsplit(":", 1)[1], what, amount, ccy) for tx, what, amount, ccy in legs(fmt, data)}
    loan, repay, fee, liq, trade = (("loan", "loan repayment", "loan fee", "", "") if fmt == "koinly" else
                                    ("Receive Loan", "Repay Loan", "Borrowing Fee", "Liquidation", "Trade"))
    assert got == {
        ("b1", loan, D("30000"), "USDT"), ("b2", loan, D("12345678901234567890.123456789012345678"), "ETH"),
        ("bn-b1", loan, D("100"), "USDC"), ("bn-i1", fee, D("-0.0000001"), "USDC"),
        ("bn-b2", loan, D("123456789012345678901.5"), "1INCH"),
        ("bn-r2", repay, D("-0.0000000000000000001"), "1INCH"),
        ("r1", repay, D("-10001.25"), "USDT"),
        ("x1", trade, D("60000"), "USDT"), ("x1", trade, D("-1"), "BTC"),
        ("r2", repay, D("-1.6"), "ETH"),  # the USDT debt paid with ETH: the ETH leaves
        ("by-b1", loan, D("9000.5"), "USDT"),
        ("by-l1", liq, D("-60"), "SOL"),  # the seized collateral is a disposal
    }  # no row: pledges and releases, interest onto the debt, the debt a liquidation cleared, pending, failed
    assert b'ref 1893,""A"""' in data  # CSV quoting of a ref id with a comma and quotes


async def holdings(db: Path) -> dict[str, Decimal]:
    """What a tax tool holds per currency according to the store: wallet plus collateral."""
    async with SQLiteStore(db, read_only=True) as store:
        sums = await store.balances()
    out: dict[str, Decimal] = {}
    for k, b in sums.items():
        out[k.currency] = exact_sum([out.get(k.currency, D(0)), b.wallet, b.collateral])
    return {c: v for c, v in out.items() if v}


def totals(rows: list[tuple[str, str, Decimal, str]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for _, _, amount, ccy in rows:
        out[ccy] = exact_sum([out.get(ccy, D(0)), amount])
    return {c: v for c, v in out.items() if v}


@pytest.mark.parametrize("fmt", ["koinly", "cointracking"])
async def test_rows_add_up_to_the_store_books(fmt: str, tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    await fill(db, [*three_book_events(3000, seed=21), *small_ledger()])
    async with SQLiteStore(db, read_only=True) as store:
        buf = io.BytesIO()
        n = await WRITERS[fmt](store.events(), buf)
    rows = legs(fmt, buf.getvalue())
    assert n == len({tx for tx, *_ in rows}) > 1000
    assert totals(rows) == await holdings(db)


@pytest.mark.parametrize("fmt", ["koinly", "cointracking"])
def test_cli_on_the_demo_ledger(fmt: str, demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / f"demo.{fmt}.csv"
    done = subprocess.run([sys.executable, "-m", "loanledger", "export", "--db", str(demo_db), "--format", fmt,
                           "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = legs(fmt, out.read_bytes())
    assert f"exported {len({tx for tx, *_ in rows})} rows" in done.stderr
    assert totals(rows) == asyncio.run(holdings(demo_db))
