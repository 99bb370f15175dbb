"""`loanledger balances` and `loanledger reconcile` as subprocesses against a simulator: the books
printed exactly, the reconcile verdict and its exit codes, usage errors, and a ledger never written."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cli_support import SECRETS, assert_one_line, config, populated, run_cli

from loanledger import SQLiteStore
from loanledger.testing import Simulator
from loanledger.testing.binance import BANKRUPTCY_SCOPE, LOAN_OPENED

AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")  # plain decimal notation: no exponent, no grouping


@pytest.fixture
async def synced(tmp_path: Path) -> AsyncIterator[tuple[Simulator, Path, Path]]:
    """A populated simulator, its config and a ledger synced from it by the command."""
    async with populated(seed=6, size=0.2) as sim:
        cfg = tmp_path / "loanledger.toml"
        cfg.write_text(config(sim.base_url))
        db = tmp_path / "ledger.db"
        code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--quiet")
        assert code == 0, err
        yield sim, cfg, db


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table_rows(text: str) -> list[list[str]]:
    """The rows of a plain table: the lines after the dashes, split on runs of two spaces or more."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---")) + 1
    return [re.split(r"\s{2,}", line.strip()) for line in lines[start:] if line.strip()]


def opened(sim: Simulator) -> dict[str, Decimal]:
    acct = sim.test_accounts[1]  # type: ignore[attr-defined]
    return {ccy: v for (scope, book, ccy, name), v in acct.books.unrecorded.items()
            if (scope, book, name) == (BANKRUPTCY_SCOPE, "debt", LOAN_OPENED)}


# --- balances ----------------------------------------------------------------------------------


async def test_balances_prints_every_book_exactly_and_writes_nothing(synced: tuple[Simulator, Path, Path]) -> None:
    _, _, db = synced
    before = digest(db)
    async with SQLiteStore(db, read_only=True) as store:
        want = await store.balances()
        want_usdt_binance = await store.balances(venue="binance", currency="USDT")
        want_pending = await store.balances(include_pending=True)
        first_ts = min([e.ts async for e in store.events()])
    assert any(b.debt != 0 for b in want.values())
    code, out, err = await run_cli("balances", "--db", str(db))
    assert code == 0 and err == "", err
    rows = table_rows(out.decode())
    assert out.decode().splitlines()[0].split() == ["venue", "account", "currency", "wallet", "debt", "collateral",
                                                    "interest"]
    assert [(r[0], r[1], r[2]) for r in rows] == [(k.venue, k.account, k.currency) for k in want]
    for row, (key, bal) in zip(rows, want.items(), strict=True):
        assert all(AMOUNT.match(v) for v in row[3:]), row
        assert [Decimal(v) for v in row[3:]] == [bal.wallet, bal.debt, bal.collateral, bal.interest], key
        assert row[3:] == [format(v, "f") for v in (bal.wallet, bal.debt, bal.collateral, bal.interest)]
    # json, filtered: the same digits, as strings
    code, out, err = await run_cli("balances", "--db", str(db), "--venue", "binance", "--currency", "USDT",
                                   "--format", "json")
    assert code == 0, err
    [obj] = json.loads(out)
    [(key, bal)] = want_usdt_binance.items()
    assert obj == {"venue": "binance", "account": key.account, "currency": "USDT", "wallet": format(bal.wallet, "f"),
                   "debt": format(bal.debt, "f"), "collateral": format(bal.collateral, "f"),
                   "interest": format(bal.interest, "f")}
    # --pending counts pending events too (the OKX and Bybit datasets hold some)
    code, out, _ = await run_cli("balances", "--db", str(db), "--pending", "--format", "json")
    assert code == 0
    got = {(o["venue"], o["account"], o["currency"]): Decimal(o["wallet"]) for o in json.loads(out)}
    assert got == {(k.venue, k.account, k.currency): b.wallet for k, b in want_pending.items()}
    assert want_pending != want
    # --at before anything: nothing, said on stderr
    code, out, err = await run_cli("balances", "--db", str(db), "--at", str(first_ts - 1))
    assert code == 0 and table_rows(out.decode()) == [] and err == "loanledger: no settled events match\n"
    assert digest(db) == before


async def test_balances_as_of_a_time(synced: tuple[Simulator, Path, Path]) -> None:
    _, _, db = synced
    async with SQLiteStore(db, read_only=True) as store:
        want = await store.balances(until=1_735_689_600_000, account="b")  # 2025-01-01T00:00:00Z
    code, out, err = await run_cli("balances", "--db", str(db), "--at", "2025-01-01", "--account", "b",
                                   "--format", "json")
    assert code == 0, err
    assert {o["currency"]: Decimal(o["debt"]) for o in json.loads(out)} == {k.currency: b.debt for k, b in want.items()}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "{tmp}/missing.db"], "--db: {tmp}/missing.db does not exist"),
        (["--db", "{tmp}/not-a-ledger.db"], "not a loanledger store"),
        (["--db", "{tmp}/ledger.db", "--at", "yesterday"], "--at: 'yesterday' is not ms, YYYY-MM-DD or an ISO-8601"),
        (["--db", "mysql://u:hunter2@h/db"], "unsupported URL scheme 'mysql'"),
        (["--db", "{tmp}/ledger.db", "--venue", "kraken"], "invalid choice: 'kraken'"),
        (["--db", "{tmp}/ledger.db", "--format", "xml"], "invalid choice: 'xml'"),
    ],
)
async def test_balances_usage_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "not-a-ledger.db").write_bytes(b"SQLite format 3\x00" + bytes(4080))
    (tmp_path / "ledger.db").write_bytes(b"")
    code, out, err = await run_cli("balances", *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and out == b"", err
    assert message.format(tmp=tmp_path) in err and "hunter2" not in err
    assert_one_line(err)
    assert not (tmp_path / "missing.db").exists()


# --- reconcile -----------------------------------------------------------------------------------


async def test_reconcile_explains_the_bankruptcy_loans_and_exits_0(synced: tuple[Simulator, Path, Path]) -> None:
    sim, cfg, db = synced
    before = digest(db)
    code, out, err = await run_cli("reconcile", "--config", str(cfg), "--db", str(db), "--feeds", "binance")
    text = out.decode()
    assert code == 0 and err == "", err
    loans = opened(sim)
    assert loans
    for ccy, amount in loans.items():
        # the check's row: venue account scope currency book venue-says ledger difference verdict
        [row] = [r for r in table_rows(text) if r[:5] == ["binance", "b", "binance.pm_bankruptcy_loan", ccy, "debt"]]
        assert Decimal(row[7]) == amount and row[8].startswith("explained: bankruptcy loan opened")
        assert f"explained: binance/b binance.pm_bankruptcy_loan {ccy} debt: {format(amount, 'f')} is bankruptcy " \
               f"loan opened (no feed records its creation)" in text
    assert "reconciled: every check matched or explained" in text
    # json: one object, amounts as strings
    code, out, _ = await run_cli("reconcile", "--config", str(cfg), "--db", str(db), "--feeds", "binance:b",
                                 "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["errors"] == {}
    assert {c["currency"]: Decimal(c["difference"]) for c in report["checks"]} == loans
    assert all(c["verdict"] == "explained" and c["book"] == "debt" for c in report["checks"])
    assert digest(db) == before


async def test_reconcile_exits_1_on_an_unexplained_difference(synced: tuple[Simulator, Path, Path]) -> None:
    sim, cfg, db = synced
    acct = sim.test_accounts[1]  # type: ignore[attr-defined]
    # a venue answer no ledger can explain: pmLoan says less is owed than the repayments allow for
    # (position - ledger = loans opened; take every loan opened and 5 more off the position)
    acct.books.move(BANKRUPTCY_SCOPE, acct.loan_asset, debt=(opened(sim)[acct.loan_asset] + 5).copy_negate())
    code, out, err = await run_cli("reconcile", "--config", str(cfg), "--db", str(db), "--feeds", "binance")
    assert code == 1
    assert "NOT reconciled: 1 unexplained difference" in out.decode()
    assert err.count("\n") == 1 and err.startswith(f"loanledger: differs: binance/b binance.pm_bankruptcy_loan "
                                                   f"{acct.loan_asset} debt: the venue says -")
    assert Decimal(err.rsplit("(difference ", 1)[1].rstrip(")\n")) == -5


async def test_reconcile_exits_1_when_an_accounts_positions_cannot_be_read(
    synced: tuple[Simulator, Path, Path], tmp_path: Path
) -> None:
    _, _, db = synced
    sim: Any = synced[0]
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(config(sim.base_url).replace('secret_env = "T_BN_SECRET"', 'secret_env = "T_WRONG"'))
    code, out, err = await run_cli("reconcile", "--config", str(wrong), "--db", str(db), "--feeds", "binance",
                                   env={"T_WRONG": "not-the-secret"})
    assert code == 1
    assert "NOT reconciled: 1 account whose positions could not be read" in out.decode()
    assert err.startswith("loanledger: error: binance:b: AuthError") and err.count("\n") == 1
    assert SECRETS["T_BN_SECRET"] not in err + out.decode() and "not-the-secret" not in err + out.decode()


async def test_reconcile_skips_a_scope_whose_feed_was_never_synced(tmp_path: Path) -> None:
    async with populated(seed=6, size=0.1) as sim:
        cfg = tmp_path / "loanledger.toml"
        cfg.write_text(config(sim.base_url))
        db = tmp_path / "ledger.db"
        code, _, err = await run_cli("sync", "--config", str(cfg), "--db", str(db), "--quiet",
                                     "--feeds", "binance.pm_interest_history")
        assert code == 0, err
        code, out, err = await run_cli("reconcile", "--config", str(cfg), "--db", str(db), "--feeds", "binance")
    text = out.decode()
    assert code == 0, err
    [row] = [r for r in table_rows(text) if r[0] == "binance:b:binance.pm_bankruptcy_loan"]
    assert row[-1] == ("skipped: binance.pmloan_history never synced into this ledger: "
                       "its sum could not be complete")
    assert "0 matched, 0 explained" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "{tmp}/missing.db"], "--db: {tmp}/missing.db does not exist"),
        (["--db", "{tmp}/ledger.db", "--feeds", "kraken"], "--feeds: 'kraken' is no feed, venue or venue:account"),
        (["--db", "{tmp}/not-a-ledger.db"], "not a loanledger store"),
    ],
)
async def test_reconcile_usage_errors_exit_2_before_any_request(
    tmp_path: Path, sim: Simulator, args: list[str], message: str
) -> None:
    cfg = tmp_path / "loanledger.toml"
    cfg.write_text(config(sim.base_url))
    (tmp_path / "not-a-ledger.db").write_bytes(b"SQLite format 3\x00" + bytes(4080))
    code, out, err = await run_cli("reconcile", "--config", str(cfg), *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and out == b"", err
    assert message.format(tmp=tmp_path) in err
    assert_one_line(err)
    assert sim.log == [] and not (tmp_path / "missing.db").exists() and not (tmp_path / "ledger.db").exists()


# --- a PostgreSQL ledger ---------------------------------------------------------------------------


async def test_balances_and_reconcile_read_a_postgresql_ledger(postgres_dsn: str, tmp_path: Path) -> None:
    from loanledger import Binance, Ledger, PostgresStore, RateLimits
    from cli_support import SCALE

    async with populated(seed=8, size=0.1) as sim:
        client = Binance(SECRETS["T_BN_KEY"], SECRETS["T_BN_SECRET"], account="b", base_url=sim.base_url,
                         limits=RateLimits(scale=SCALE))
        async with Ledger([client], store=PostgresStore(postgres_dsn)) as ledger:
            async for _ in ledger.sync():
                pass
            want = await ledger.balances()
        code, out, err = await run_cli("balances", "--db", postgres_dsn, "--format", "json")
        assert code == 0, err
        assert {(o["venue"], o["currency"]): (Decimal(o["wallet"]), Decimal(o["debt"]), Decimal(o["interest"]))
                for o in json.loads(out)} == {(k.venue, k.currency): (b.wallet, b.debt, b.interest)
                                              for k, b in want.items()}
        cfg = tmp_path / "loanledger.toml"
        cfg.write_text(config(sim.base_url))
        code, out, err = await run_cli("reconcile", "--config", str(cfg), "--db", postgres_dsn, "--feeds", "binance",
                                       "--format", "json")
        assert code == 0, err
        assert {c["currency"]: Decimal(c["difference"]) for c in json.loads(out)["checks"]} == opened(sim)
        # a database that does not exist: exit 2, one line, the password never shown
        password = postgres_dsn.split(":")[2].split("@")[0]
        missing = postgres_dsn.rsplit("/", 1)[0] + "/no_such_ledger"
        code, out, err = await run_cli("balances", "--db", missing)
        assert code == 2 and out == b"" and password not in err and err.startswith("loanledger: --db: "), err
        assert_one_line(err)
