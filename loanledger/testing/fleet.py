"""A fleet of simulated accounts: many accounts per venue on one simulator, with the
loanledger.toml and the environment a `loanledger sync` / `loanledger worker` reads for them
(load tests and the scale benchmark).

    fleet = Fleet.populate(sim, 100, seed=1, size=0.3)      # 100 accounts per venue
    config, env = fleet.write_config(Path("run"))            # loanledger.toml + its variables

The credentials are for the simulator only (the Binance accounts sign with an Ed25519 key
derived from a fixed seed, written next to the config).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ..client import VenueClient
from ..registry import FEEDS
from ..venues.binance import Binance
from ..venues.bybit import Bybit
from ..venues.okx import OKX
from .simulator import Simulator

__all__ = ["FLEET_VENUES", "Fleet"]

FLEET_VENUES = ("okx", "binance", "bybit")

# account i's API key is the prefix plus i; one secret (and passphrase) per venue
_OKX_KEY, _OKX_SECRET, _OKX_PASS = "fleet-okx-key-", "fleet-okx-SECRET-p3Q9", "fleet-okx-PASS-t7Rk"
_BNB_KEY = "fleet-bnb-key-"
_BYB_KEY, _BYB_SECRET = "fleet-byb-key-", "fleet-byb-SECRET-c5Lm"
_ENV = {"FLEET_OKX_SECRET": _OKX_SECRET, "FLEET_OKX_PASS": _OKX_PASS, "FLEET_BYB_SECRET": _BYB_SECRET}
_ED25519 = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"loanledger simulator fleet").digest())
PEM = _ED25519.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass
class Fleet:
    """`per_venue` accounts per venue on `sim`, labelled ``<venue>-<i>``."""

    sim: Simulator
    per_venue: int
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (venue, label)

    @classmethod
    def populate(
        cls, sim: Simulator, per_venue: int, *, seed: int, size: float = 1.0, venues: Iterable[str] = FLEET_VENUES
    ) -> Fleet:
        """Add the accounts to `sim`, each with a generated history (`size`: the dataset scale)."""
        fleet = cls(sim, per_venue)
        wanted = [v for v in FLEET_VENUES if v in set(venues)]
        for i in range(per_venue):
            for v in wanted:
                label = f"{v}-{i}"
                if v == "okx":
                    acct: Any = sim.okx.add_account(f"{_OKX_KEY}{i}", _OKX_SECRET, _OKX_PASS, label=label)
                elif v == "binance":
                    acct = sim.binance.add_account(f"{_BNB_KEY}{i}", public_key=_ED25519.public_key(), label=label)
                else:
                    acct = sim.bybit.add_account(f"{_BYB_KEY}{i}", secret=_BYB_SECRET, label=label)
                getattr(sim, v).populate(acct, seed=seed * 1000 + i, scale=size)
                fleet.accounts.append((v, label))
        return fleet

    def feeds(self) -> list[tuple[str, str, str]]:
        """Every (venue, account, feed) of the fleet."""
        return [(v, a, f) for v, a in self.accounts for f, spec in FEEDS.items() if spec.venue == v]

    def expected(self, venue: str, account: str, feed: str) -> set[str]:
        """The event ids a complete walk of the feed must yield now."""
        return set(getattr(self.sim, venue).expected_ids(account, feed))

    def client(self, venue: str, i: int, **kw: Any) -> VenueClient:
        """A client for account i, on the simulator (keyword arguments go to the client)."""
        base: dict[str, Any] = {"account": f"{venue}-{i}", "base_url": self.sim.base_url, **kw}
        if venue == "okx":
            return OKX(f"{_OKX_KEY}{i}", _OKX_SECRET, _OKX_PASS, **base)
        if venue == "binance":
            return Binance(f"{_BNB_KEY}{i}", private_key=PEM, **base)
        return Bybit(f"{_BYB_KEY}{i}", _BYB_SECRET, **base)

    def write_config(self, directory: Path, *, base_url: str | None = None) -> tuple[Path, dict[str, str]]:
        """Write ``loanledger.toml`` (every account, the simulator's `rate_scale`) and the Binance
        key file into `directory`; returns the config's path and the environment it reads."""
        url = base_url or self.sim.base_url
        key_file = directory / "fleet-binance-ed25519.pem"
        key_file.write_text(PEM)
        env = dict(_ENV)
        lines = [f"rate_scale = {self.sim.rate_scale}", ""]
        for v, label in self.accounts:
            i = int(label.rsplit("-", 1)[1])
            var = f"FLEET_{v.upper()}_KEY_{i}"
            lines += ["[[account]]", f'venue = "{v}"', f'name = "{label}"', f'api_key_env = "{var}"',
                      f'base_url = "{url}"']
            if v == "okx":
                env[var] = f"{_OKX_KEY}{i}"
                lines += ['secret_env = "FLEET_OKX_SECRET"', 'passphrase_env = "FLEET_OKX_PASS"']
            elif v == "binance":
                env[var] = f"{_BNB_KEY}{i}"
                lines += [f'private_key_file = "{key_file.name}"']
            else:
                env[var] = f"{_BYB_KEY}{i}"
                lines += ['secret_env = "FLEET_BYB_SECRET"']
            lines.append("")
        path = directory / "loanledger.toml"
        path.write_text("\n".join(lines))
        return path, env
