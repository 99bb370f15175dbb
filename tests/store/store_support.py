"""The store contract's backends (see conftest.py)."""

from __future__ import annotations

from pathlib import Path

from loanledger import MemoryStore, PostgresStore, SQLiteStore, Store

BACKENDS = ("memory", "sqlite", "postgres")


class Backend:
    def __init__(self, name: str, target: str | Path | None) -> None:
        self.name = name
        self.target = target
        self._memory = MemoryStore() if name == "memory" else None

    def __repr__(self) -> str:
        return f"Backend({self.name})"

    @property
    def keeps_notation(self) -> bool:
        """True where a Decimal comes back with its own exponent and sign even when NUMERIC
        could not keep them (``1E+2``, ``-0``): memory and SQLite's decimal text."""
        return self.name != "postgres"

    @property
    def separate_writers(self) -> bool:
        """True where two handles are two connections racing in the database itself."""
        return self.name != "memory"

    def store(self, *, read_only: bool = False) -> Store:
        if self._memory is not None:
            return self._memory.view() if read_only else self._memory
        if self.name == "sqlite":
            assert isinstance(self.target, Path)
            return SQLiteStore(self.target, read_only=read_only)
        assert isinstance(self.target, str)
        return PostgresStore(self.target, read_only=read_only)
