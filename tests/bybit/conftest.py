"""Bybit fixtures: a populated simulator, clients with small pages, the doc examples."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bybit_support import KEY, SCALE, SECRET

from loanledger import Bybit, RateLimits
from loanledger.testing import Simulator
from loanledger.testing.bybit import BybitAccount


@pytest.fixture
async def bsim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=11, rate_scale=SCALE) as s:
        acct = s.bybit.add_account(KEY, secret=SECRET, label="main")
        s.bybit.populate(acct, seed=5, scale=1.0)
        s.bybit.ins_repay_delay_ms = 300
        yield s


@pytest.fixture
def acct(bsim: Simulator) -> BybitAccount:
    return bsim.bybit.account("main")


@pytest.fixture
def make_client(bsim: Simulator) -> Callable[..., Bybit]:
    def make(cls: type[Bybit] = Bybit, **kw: Any) -> Bybit:
        kw.setdefault("limits", RateLimits(scale=SCALE))
        return cls(KEY, SECRET, base_url=bsim.base_url, account="main", **kw)

    return make


@pytest.fixture
async def client(make_client: Callable[..., Bybit]) -> AsyncIterator[Bybit]:
    async with make_client() as c:
        yield c
