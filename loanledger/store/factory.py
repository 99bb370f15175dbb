"""Pick the store a target names: a PostgreSQL URL or a SQLite file path (the CLI's ``--db``)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InvalidArgument
from .base import Store
from .sqlite import SQLiteStore

__all__ = ["POSTGRES_SCHEMES", "open_store"]

#: URL schemes that name a PostgreSQL database (what libpq accepts)
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def open_store(target: str | Path, *, read_only: bool = False, argument: str = "db") -> Store:
    """`PostgresStore` for ``postgresql://...`` / ``postgres://...``, else `SQLiteStore` for a path.

    The store is not opened yet (``async with open_store(...) as store``). `argument`
    names the option in error messages (``--db`` on the command line)."""
    if isinstance(target, Path):
        return SQLiteStore(target, read_only=read_only)
    if not isinstance(target, str):
        raise TypeError(f"{argument}: expected a path or a postgresql:// URL, got {type(target).__name__}")
    if target.strip() == "":
        raise InvalidArgument(argument, "must not be empty: a SQLite file path or a postgresql:// URL")
    if target.startswith(POSTGRES_SCHEMES):
        from .postgres import PostgresStore  # the `postgres` extra, imported only when asked for

        return PostgresStore(target, read_only=read_only)
    url = _URL.match(target)
    if url is not None:  # name the scheme only: the rest may hold a password
        raise InvalidArgument(argument, f"unsupported URL scheme {url.group(1)!r}: "
                              "give a SQLite file path or a postgresql:// URL")
    return SQLiteStore(target, read_only=read_only)
