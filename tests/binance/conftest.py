"""Binance fixtures: a rate-scaled simulator with a populated account, and client factories.

The real pmloan-history limit is ~24 calls a minute (weight 500 of 12,000), so every
end-to-end test scales the simulator's budgets and the client's by the same factor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from binance_helpers import API_KEY, SCALE, SECRET

from loanledger import Binance, RateLimits
from loanledger.testing import BinanceAccount, Simulator


@pytest.fixture
async def bsim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=11, rate_scale=SCALE) as s:
        yield s


@pytest.fixture
def acct(bsim: Simulator) -> BinanceAccount:
    a = bsim.binance.add_account(API_KEY, secret=SECRET, label="main")
    bsim.binance.populate(a, seed=3)
    return a


@pytest.fixture
def limits() -> RateLimits:
    return RateLimits(scale=SCALE)


@pytest.fixture
async def client(bsim: Simulator, acct: BinanceAccount, limits: RateLimits) -> AsyncIterator[Binance]:
    async with Binance(API_KEY, SECRET, account="main", base_url=bsim.base_url, limits=limits) as c:
        yield c


@pytest.fixture
def make_client(bsim: Simulator, limits: RateLimits) -> Callable[..., Binance]:
    """Binance clients on the simulator sharing one RateLimits (one process, one IP)."""

    def make(api_key: str = API_KEY, secret: str | None = SECRET, **kw: Any) -> Binance:
        kw.setdefault("limits", limits)
        return Binance(api_key, secret, base_url=bsim.base_url, **kw)

    return make
