"""The throwaway PostgreSQL the tests use: found where Debian installs it, and when it is
missing the PostgreSQL tests skip naming what to install (or fail when it is required)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from loanledger.testing.postgres import PostgresUnavailable, TempPostgres, find_postgres_bindir

ROOT = Path(__file__).resolve().parents[2]
ONE_PG_TEST = "tests/store/test_store_factory.py::test_an_opened_postgres_target_is_the_ledger"


def test_no_binaries_is_postgres_unavailable_naming_the_package(tmp_path: Path) -> None:
    with pytest.raises(PostgresUnavailable, match=r"apt-get install postgresql-15"):
        TempPostgres(bindir=tmp_path)


def test_the_session_server_runs_from_the_machines_binaries(postgres_server: TempPostgres) -> None:
    assert find_postgres_bindir() == postgres_server.bindir
    assert postgres_server.password not in repr(postgres_server)
    assert "database system is ready to accept connections" in postgres_server.log()


def _pytest(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", ONE_PG_TEST],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_without_binaries_the_postgres_tests_skip_naming_what_to_install(tmp_path: Path) -> None:
    run = _pytest({"LOANLEDGER_PG_BINDIR": str(tmp_path), "LOANLEDGER_REQUIRE_POSTGRES": ""})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout and "apt-get install postgresql-15" in run.stdout


def test_without_binaries_but_required_the_postgres_tests_fail(tmp_path: Path) -> None:
    run = _pytest({"LOANLEDGER_PG_BINDIR": str(tmp_path), "LOANLEDGER_REQUIRE_POSTGRES": "1"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 error" in run.stdout and "LOANLEDGER_REQUIRE_POSTGRES=1" in run.stdout


def test_binaries_that_fail_to_start_a_server_are_an_error_never_a_skip() -> None:
    # a directory of its own under /tmp: the postgres user (when we are root) must reach the scripts
    bindir = Path(tempfile.mkdtemp(prefix="loanledger-fake-pg-"))
    try:
        bindir.chmod(0o755)
        for name in ("initdb", "pg_ctl", "postgres"):
            script = bindir / name
            script.write_text(f"#!/bin/sh\necho '{name}: could not create directory: No space left on device' >&2\n"
                              "exit 1\n")
            script.chmod(0o755)
        run = _pytest({"LOANLEDGER_PG_BINDIR": str(bindir), "LOANLEDGER_REQUIRE_POSTGRES": ""})
    finally:
        shutil.rmtree(bindir)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 error" in run.stdout and "skipped" not in run.stdout
    assert "initdb failed" in run.stdout and "No space left on device" in run.stdout
