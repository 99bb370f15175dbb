"""`Simulator`: the simulator core with OKX, Binance and Bybit mounted (what tests and demos use).

The core (`server.SimServer`) knows no venue; this module is the one place that
names the three and forwards the venue-specific knobs (`okx_rate_http`) to
their simulators.
"""

from __future__ import annotations

from .binance import BinanceVenue
from .bybit import BybitVenue
from .okx import OkxVenue
from .server import Faults, SimServer

__all__ = ["Simulator"]


class Simulator(SimServer):
    """The three venues on one loopback port: ``sim.okx``, ``sim.binance``, ``sim.bybit``.

    ``async with Simulator() as sim:`` serves on 127.0.0.1 (a free port unless
    `port` is given); point every client's ``base_url`` at ``sim.base_url``.
    `rate_scale` multiplies every documented rate limit (the clients' RateLimits
    must use the same scale). `skew_ms` offsets the venue clock from the host's.
    `okx_rate_http` is the HTTP status of OKX's 50011 answer (``sim.okx.rate_http``).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        rate_scale: float = 1.0,
        skew_ms: int = 0,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        okx_rate_http: int = 429,
    ) -> None:
        super().__init__(seed=seed, rate_scale=rate_scale, skew_ms=skew_ms, faults=faults, host=host, port=port)
        self.okx = self.mount(OkxVenue(self, rate_http=okx_rate_http))
        self.binance = self.mount(BinanceVenue(self))
        self.bybit = self.mount(BybitVenue(self))

    @property
    def okx_rate_http(self) -> int:
        """The HTTP status of OKX's 50011 rate-limit answer (429, or 200 as some gateways send)."""
        return self.okx.rate_http

    @okx_rate_http.setter
    def okx_rate_http(self, status: int) -> None:
        self.okx.rate_http = status
