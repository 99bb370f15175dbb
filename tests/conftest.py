"""Shared fixtures: the simulator, test credentials, and an aioresponses compat shim."""

from __future__ import annotations

import os
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import ClientResponse

import aioresponses.core as _aioresponses_core
from loanledger.testing import Simulator
from loanledger.testing.postgres import PostgresUnavailable, TempPostgres

# aioresponses <= 0.7.9 builds ClientResponse without the `stream_writer` argument
# aiohttp 3.14 requires (pnuckowski/aioresponses#289). Supply a stub writer so
# transport unit tests run on the aiohttp security release; remove once fixed upstream.
if "stream_writer" in ClientResponse.__init__.__code__.co_varnames:

    class _CompatResponse(ClientResponse):
        def __init__(self, method, url, **kwargs):  # type: ignore[no-untyped-def]
            kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
            super().__init__(method, url, **kwargs)

    _aioresponses_core.ClientResponse = _CompatResponse  # type: ignore[misc]


@pytest.fixture(scope="session")
def rsa_private_pem() -> str:
    """A test-only RSA-2048 key (tests/data/rsa_test_key.pem; signing vectors B6, Y4 of tests/core/test_signing.py)."""
    return (Path(__file__).parent / "data" / "rsa_test_key.pem").read_text()


@pytest.fixture(scope="session")
def ed25519_private_pem() -> str:
    """RFC 8032 section 7.1 TEST 1 key, PKCS#8 (vectors B4, B5)."""
    return (Path(__file__).parent / "data" / "ed25519_test_key.pem").read_text()


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=7) as s:
        yield s


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TempPostgres]:
    """One throwaway PostgreSQL server for the whole session, from the machine's binaries
    (loanledger.testing.postgres). No binaries: the test skips naming what to install
    (a failure with LOANLEDGER_REQUIRE_POSTGRES=1). Binaries present but the server does
    not start: the test ERRORs, it never skips."""
    try:
        server = TempPostgres()
    except PostgresUnavailable as exc:
        if os.environ.get("LOANLEDGER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{exc} (LOANLEDGER_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture
async def postgres_dsn(postgres_server: TempPostgres) -> AsyncIterator[str]:
    """A fresh database on the session's PostgreSQL (dropped after the test): its URL."""
    dsn = await postgres_server.create_database()
    try:
        yield dsn
    finally:
        await postgres_server.drop_database(dsn.rsplit("/", 1)[1])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", default=False, help="run the long soak variants")
    parser.addoption("--browser", action="store_true", default=False,
                     help="run the headless-browser tests (make test-browser)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--browser"):
        skip_browser = pytest.mark.skip(reason="renders in headless Chromium: run with `make test-browser`")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip_browser)
    if config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="soak variant: run with `make soak`")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)
