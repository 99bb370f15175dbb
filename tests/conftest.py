"""Shared fixtures: the simulator, test credentials, and an aioresponses compat shim."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientResponse

import aioresponses.core as _aioresponses_core
from loanledger.testing import Simulator

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
    """The RSA-2048 test-only key of exchange-api-notes.md Appendix A (vectors B6, Y4)."""
    return (Path(__file__).parent / "data" / "rsa_test_key.pem").read_text()


@pytest.fixture(scope="session")
def ed25519_private_pem() -> str:
    """RFC 8032 section 7.1 TEST 1 key, PKCS#8 (vectors B4, B5)."""
    return (Path(__file__).parent / "data" / "ed25519_test_key.pem").read_text()


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=7) as s:
        yield s


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", default=False, help="run the long soak variants")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="soak variant: run with `make soak`")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)
