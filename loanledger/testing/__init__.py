"""The exchange simulator: OKX, Binance and Bybit on loopback, for tests and demos.

    async with Simulator() as sim:
        sim.okx.add_account("key", "secret", "pass")
        async with OKX("key", "secret", "pass", base_url=sim.base_url) as okx:
            ...

It verifies every signature over the exact bytes it received, answers with the
venues' real error envelopes, enforces their documented rate limits, logs
every request (`sim.log`, no headers) and injects faults (`sim.faults`).
`MockSender` answers a client's requests without sockets (unit tests).

Names are imported on first use: `MockSender` does not load aiohttp or the
simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .binance import BinanceAccount, BinanceVenue
    from .bybit import BybitAccount, BybitVenue
    from .mock import MockSender
    from .okx import OkxAccount, OkxVenue
    from .server import Faults, LoggedRequest, Route, SimCall, SimError, SimServer, VenueSim
    from .simulator import Simulator

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
    "SimServer",
    "Simulator",
    "VenueSim",
]

__getattr__, __dir__ = lazy_exports(__name__, globals(), {
    ".binance": ("BinanceAccount", "BinanceVenue"),
    ".bybit": ("BybitAccount", "BybitVenue"),
    ".mock": ("MockSender",),
    ".okx": ("OkxAccount", "OkxVenue"),
    ".server": ("Faults", "LoggedRequest", "Route", "SimCall", "SimError", "SimServer", "VenueSim"),
    ".simulator": ("Simulator",),
})
