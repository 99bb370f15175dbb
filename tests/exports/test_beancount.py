"""The Beancount export, checked by Beancount's own checker (bean-check) under the precision the
file states: the demo ledger, a generated three-book history, the small ledger with its 38-digit
amounts, an export from --since, and a tampered file that must fail."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from export_support import fill, small_ledger

from loanledger import EventKind, EventStatus, LoanEvent, SQLiteStore
from loanledger.exports import ExportError, write_beancount
from loanledger.exports.beancount import MAX_PRECISION, BeancountNames
from loanledger.testing.ledgers import three_book_events

D = Decimal
BIN = Path(sys.executable).parent


def check(path: Path, precision: int | None) -> subprocess.CompletedProcess[str]:
    """bean-check (`precision` None: as installed, Python's default 28 digits)."""
    if precision is None:
        cmd = [str(BIN / "bean-check"), "--no-cache", str(path)]
    else:
        cmd = [sys.executable, "-c", f"import decimal; decimal.getcontext().prec = {precision}; "
               "from beancount.scripts.check import main; main()", "--no-cache", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def stated_precision(text: str) -> int:
    """The precision the file's closing comment says checking it needs."""
    return int(re.findall(r"; sums need (\d+) significant digits", text)[-1])


def export(db: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loanledger", "export", "--db", str(db), "--format", "beancount",
                           "--output", str(out), *args], capture_output=True, text=True, timeout=300)


def balances(db: Path) -> dict[tuple[str, str, str], object]:
    async def read() -> dict[tuple[str, str, str], object]:
        async with SQLiteStore(db, read_only=True) as store:
            return {(k.venue, k.account, k.currency): b for k, b in (await store.balances()).items()}
    return asyncio.run(read())


def test_demo_ledger_passes_bean_check(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo.beancount"
    done = export(demo_db, out)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    need = stated_precision(text)
    res = check(out, max(need, 28))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert len(re.findall(r"^\d{4}-\d\d-\d\d balance ", text, re.M)) == 3 * len(balances(demo_db))  # wallet, loans, collateral per currency
    assert "E+" not in text and "E-" not in text


async def test_three_books_pass_bean_check_with_the_store_sums_asserted(tmp_path: Path) -> None:
    db, out = tmp_path / "b.db", tmp_path / "b.beancount"
    await fill(db, three_book_events(3000, seed=5))
    async with SQLiteStore(db, read_only=True) as store:
        with out.open("wb") as f:
            n = await write_beancount(store, f, path_hint=str(out))
        settled = [e async for e in store.events() if e.status == "done"]
        sums = await store.balances()
    assert n == len(settled)
    text = out.read_text()
    assert check(out, max(stated_precision(text), 28)).returncode == 0
    # the assertions are the store's sums: debt as a negative liability, collateral, wallet
    for k, b in sums.items():
        tag = {"okx": "Okx", "binance": "Binance", "bybit": "Bybit"}[k.venue]
        acct = k.account[0].upper() + k.account[1:]
        for account, value in ((f"Liabilities:{tag}:{acct}:Loans", b.debt.copy_negate()),
                               (f"Assets:{tag}:{acct}:Collateral", b.collateral),
                               (f"Assets:{tag}:{acct}:Wallet", b.wallet)):
            line = re.search(rf" balance {re.escape(account)}  (\S+) ~ 0 {k.currency}\n", text)
            assert line is not None and D(line.group(1)) == value, (account, k.currency)
    assert any(b.debt > 0 for b in sums.values()) and any(b.collateral > 0 for b in sums.values())

    # an assertion that is off by one unit of the 18th decimal fails: the check is exact
    bad = tmp_path / "bad.beancount"
    m = re.search(r"balance (Liabilities:\S+)  (-\d+\.\d{18}) ~ 0 ETH", text)
    assert m is not None
    off = D(m.group(2)) - D("1E-18")
    bad.write_text(text.replace(m.group(0), f"balance {m.group(1)}  {format(off, 'f')} ~ 0 ETH"))
    res = check(bad, max(stated_precision(text), 28))
    assert res.returncode == 1 and "Balance failed" in res.stdout + res.stderr


async def test_38_digit_amounts_need_the_stated_precision(small_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.beancount"
    async with SQLiteStore(small_db, read_only=True) as store:
        with out.open("wb") as f:
            await write_beancount(store, f, path_hint=str(out))
    text = out.read_text()
    need = stated_precision(text)
    assert need > 28 and f"decimal.getcontext().prec = {need}" in text
    plain = check(out, None)  # Beancount's default 28 digits round the 38-digit sums
    assert plain.returncode == 1
    assert check(out, need).returncode == 0
    # names: a leading digit gets an X, labels become components, the originals stay as metadata
    assert "commodity X1INCH\n  name: \"1INCH\"" in text
    assert "Assets:Binance:Pm-pro:Wallet  123456789012345678901.5 X1INCH" in text
    assert "Liabilities:Okx:Okx-main:Loans  -12345678901234567890.123456789012345678 ETH" in text
    # the repay paid in ETH: the USDT debt falls, the ETH leaves the wallet, both through the trading account
    r2 = text[text.index('id: "r2"'):].split("\n\n")[0]
    assert "Liabilities:Okx:Okx-main:Loans  5000 USDT" in r2 and "Assets:Okx:Okx-main:Wallet  -1.6 ETH" in r2
    assert "Equity:Okx:Okx-main:Conversions  -5000 USDT" in r2 and "Equity:Okx:Okx-main:Conversions  1.6 ETH" in r2
    # interest onto the debt is an expense; pending and failed events are not in the books
    i2 = text[text.index('id: "i2"'):].split("\n\n")[0]
    assert "Expenses:Okx:Okx-main:Interest  0.000000000000000123 ETH" in i2
    assert 'id: "by-b2"' not in text and 'id: "by-r0"' not in text


async def test_since_opens_with_the_books_before_it(tmp_path: Path) -> None:
    db, out = tmp_path / "b.db", tmp_path / "since.beancount"
    events = list(three_book_events(1500, seed=8))
    await fill(db, events)
    cut = events[700].ts
    done = export(db, out, "--since", str(cut), "--venue", "okx")
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "opening balances before" in text and "Equity:Okx:Okx-main:Opening-Balances" in text
    assert "Binance" not in text
    assert text.count('  id: "') == sum(1 for e in events if e.ts >= cut and e.venue == "okx" and e.status == "done")
    assert check(out, max(stated_precision(text), 28)).returncode == 0


async def test_an_amount_beyond_any_check_precision_fails_naming_the_event(tmp_path: Path) -> None:
    db = tmp_path / "huge.db"
    huge = LoanEvent(venue="okx", account="a", feed="okx.flexible_loan_history", id="huge-1", kind=EventKind.BORROW,
                     status=EventStatus.DONE, ts=1_740_787_200_000, currency="USDT", amount=D("1E+150"),
                     debt=D("1E+150"))
    await fill(db, [*small_ledger()[:3], huge])
    async with SQLiteStore(db, read_only=True) as store:
        with pytest.raises(ExportError, match=rf"okx/a/okx.flexible_loan_history/huge-1.*{MAX_PRECISION}"):
            with (tmp_path / "x").open("wb") as f:
                await write_beancount(store, f)
    out = tmp_path / "huge.beancount"
    done = export(db, out)
    assert done.returncode == 1 and "huge-1" in done.stderr and not out.exists()


def test_names_are_valid_and_never_merge() -> None:
    names = BeancountNames()
    assert names.commodity("USDT") == "USDT" and names.commodity("1INCH") == "X1INCH"
    assert names.commodity("1000SATS") == "X1000SATS"
    odd = names.commodity("usdt")
    assert odd != "USDT" and re.fullmatch(r"[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]", odd)
    slash = names.commodity("BTC/USD")
    assert re.fullmatch(r"[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]", slash) and slash != names.commodity("BTC-USD")
    assert names.commodity("1INCH") == "X1INCH"  # stable
    assert names.component("okx-main") == "Okx-main" and names.component("main_acct") == "Main-acct"
    assert names.component("Okx-main") != "Okx-main"  # already taken by okx-main
    assert re.fullmatch(r"[A-Z0-9][A-Za-z0-9-]*", names.component("_x y"))


def test_kind_and_currency_filters_are_refused(small_db: Path, tmp_path: Path) -> None:
    for flag in (["--kind", "repay"], ["--currency", "USDT"]):
        done = export(small_db, tmp_path / "k.beancount", *flag)
        assert done.returncode == 2 and "balance assertions" in done.stderr
        assert not (tmp_path / "k.beancount").exists()
