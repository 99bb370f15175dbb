"""Binance fixtures: a rate-scaled simulator with a populated account, and client factories.

The real pmloan-history limit is ~24 calls a minute (weight 500 of 12,000), so every
end-to-end test scales the simulator's budgets and the client's by the same factor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from loanledger import Binance, RateLimits
from loanledger.testing import BinanceAccount, Simulator

#: budgets x50: pmloan-history allows 1,200 calls a minute, the client paces at ~18 a second
SCALE = 50
PMLOAN = "/sapi/v1/portfolio/pmloan-history"
INTEREST = "/sapi/v1/portfolio/interest-history"
AMOUNT = "/sapi/v1/portfolio/pmLoan"
PMLOAN_FEED = "binance.pmloan_history"
INTEREST_FEED = "binance.pm_interest_history"
DAY = 86_400_000
WINDOW = 360 * DAY
DEFAULT_SINCE = 1_640_995_200_000  # 2022-01-01T00:00:00Z

API_KEY = "bn-test-key"
SECRET = "bn-test-secret"


def public_pem(private_pem: str) -> bytes:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


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
