"""The exchange simulator: OKX, Binance and Bybit on loopback, for tests and demos.

    async with Simulator() as sim:
        sim.okx.add_account("key", "secret", "pass")
        async with OKX("key", "secret", "pass", base_url=sim.base_url) as okx:
            ...

It verifies every signature over the bytes it received, answers with the
venues' real error envelopes, enforces their documented rate limits, logs
every request (`sim.log`, no headers) and injects faults (`sim.faults`).
"""

from .binance import BinanceAccount, BinanceVenue
from .bybit import BybitAccount, BybitVenue
from .mock import MockSender
from .okx import OkxAccount, OkxVenue
from .server import Faults, LoggedRequest, Route, SimCall, SimError, Simulator, VenueSim

__all__ = [
    "BinanceAccount",
    "BinanceVenue",
    "BybitAccount",
    "BybitVenue",
    "Faults",
    "LoggedRequest",
    "MockSender",
    "OkxAccount",
    "OkxVenue",
    "Route",
    "SimCall",
    "SimError",
    "Simulator",
    "VenueSim",
]
