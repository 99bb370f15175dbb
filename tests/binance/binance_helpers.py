"""Constants and helpers shared by the Binance tests (imported by conftest and the test modules)."""

from __future__ import annotations

import asyncio

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from loanledger.testing import Simulator

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


async def fresh_minute(sim: Simulator, need_seconds: float = 5.0) -> None:
    """Wait for the venue's next minute if fewer than `need_seconds` are left in this one
    (tests that pre-load the per-minute weight counter must not straddle a reset)."""
    left = 60_000 - sim.now_ms() % 60_000
    if left < need_seconds * 1000:
        await asyncio.sleep(left / 1000 + 0.05)


def minimum_requests(stamps: list[int], since: int, until: int, size: int = 100) -> int:
    """Requests a 360-day-window / page-number walk of since..until needs at least:
    every window is asked once, and once more per further page of `size` rows."""
    n, whi = 0, until
    while whi >= since:
        wlo = max(since, whi - WINDOW + 1)
        rows = sum(1 for t in stamps if wlo <= t <= whi)
        n += max(1, -(-rows // size))
        whi = wlo - 1
    return n
