"""open_store: the store a --db target names (a SQLite path or a PostgreSQL URL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loanledger import PostgresStore, SQLiteStore, open_store


def test_paths_are_sqlite_and_postgresql_urls_are_postgres(tmp_path: Path) -> None:
    s = open_store(str(tmp_path / "ledger.db"))
    assert isinstance(s, SQLiteStore) and not s.read_only and s.path == str(tmp_path / "ledger.db")
    assert isinstance(open_store(tmp_path / "l.db", read_only=True), SQLiteStore)
    assert open_store(tmp_path / "l.db", read_only=True).read_only
    assert isinstance(open_store("relative/dir/ledger.sqlite"), SQLiteStore)
    for url in ("postgresql://loanledger:pw@127.0.0.1:5432/ledger", "postgres://u@db.internal/ledger"):
        p = open_store(url, read_only=True)
        assert isinstance(p, PostgresStore) and p.read_only and "pw" not in repr(p)


def test_bad_targets_name_the_argument_and_never_echo_a_password() -> None:
    with pytest.raises(ValueError, match="db: unsupported URL scheme 'mysql'") as exc:
        open_store("mysql://root:hunter2@db/ledger")
    assert "hunter2" not in str(exc.value)
    with pytest.raises(ValueError, match="--db: must not be empty"):
        open_store(" ", argument="--db")
    with pytest.raises(TypeError, match="db"):
        open_store(3)  # type: ignore[arg-type]


async def test_an_opened_postgres_target_is_the_ledger(postgres_dsn: str) -> None:
    async with open_store(postgres_dsn) as store:  # type: ignore[attr-defined]
        assert await store.feeds() == []
    async with open_store(postgres_dsn, read_only=True) as ro:  # type: ignore[attr-defined]
        assert await ro.summary() == []
