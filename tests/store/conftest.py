"""The store contract's harness: every contract test runs against each backend.

`backend` is parametrized over memory, SQLite and PostgreSQL (the session's throwaway
server, a fresh database per test). `backend.store()` is a new handle on the test's
ledger: for SQLite and PostgreSQL a new connection (or pool), so two handles are two
writers; for memory the one MemoryStore (a read-only handle is its `view()`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from store_support import BACKENDS, Backend

from loanledger import Store

@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "postgres":
        return Backend("postgres", request.getfixturevalue("postgres_dsn"))
    if request.param == "sqlite":
        return Backend("sqlite", tmp_path / "ledger.db")
    return Backend("memory", None)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    s = backend.store()
    await s.open()
    try:
        yield s
    finally:
        await s.close()
