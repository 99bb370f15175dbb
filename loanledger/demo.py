"""`loanledger demo` and `loanledger simulate`: the whole product on loopback.

`run_demo` (`loanledger demo`, `make demo`), in well under a minute:

Starts the simulator with generated multi-venue history, configures one
account per venue (OKX HMAC, Binance Ed25519, Bybit HMAC), syncs every feed
into a fresh SQLite ledger through real HTTP, signing, pagination and
(scaled) rate limits, prints what was stored, then lets each venue produce
new records and settle pending ones and runs a second, incremental sync that
fetches only those. It ends with the books per venue, account and currency
and the reconcile verdict against the simulator's own positions, naming
every explained residual and why it is there.

`populate_demo` adds the same demo accounts to any simulator (`loanledger
simulate` serves them); `write_sim_config` writes the Binance test key and a
loanledger.toml for them, and `sim_env` names the environment variables that
config and the README's examples read.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ._console import balances_table, drive, failure_lines, print_table, reconcile_text, report_table
from .client import VenueClient
from .ledger import Ledger, SyncReport
from .ratelimit import RateLimits
from .store.sqlite import SQLiteStore
from .venues.binance import Binance
from .venues.bybit import Bybit
from .venues.okx import OKX

if TYPE_CHECKING:
    from .testing.simulator import Simulator

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_RATE_SCALE",
    "SIM_ENV",
    "demo_binance_pem",
    "demo_clients",
    "populate_demo",
    "run_demo",
    "sim_env",
    "write_sim_config",
]

#: every documented limit x this, on both sides (simulator and clients)
DEMO_RATE_SCALE = 10.0

#: demo-only credentials of the simulated accounts (no real account anywhere)
DEMO_ACCOUNTS: dict[str, dict[str, str]] = {
    "okx": {"api_key": "demo-okx-key", "secret": "demo-okx-secret", "passphrase": "demo-okx-pass"},
    "binance": {"api_key": "demo-binance-key", "key_type": "ed25519"},
    "bybit": {"api_key": "demo-bybit-key", "secret": "demo-bybit-secret"},
}

# RFC 8032 section 7.1 TEST 1: a published test key, so a demo run is reproducible
_DEMO_ED25519_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")


def _demo_binance_key() -> tuple[str, ed25519.Ed25519PublicKey]:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(_DEMO_ED25519_SEED)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


def demo_binance_pem() -> str:
    """The demo Binance account's Ed25519 private key (PKCS#8 PEM; a published test key)."""
    return _demo_binance_key()[0]


def populate_demo(sim: Simulator, *, seed: int, size: float = 1.0) -> dict[str, Any]:
    """Add the demo accounts to `sim` and generate their history; returns the sim accounts."""
    o, b, y = DEMO_ACCOUNTS["okx"], DEMO_ACCOUNTS["binance"], DEMO_ACCOUNTS["bybit"]
    _, public = _demo_binance_key()
    accounts: dict[str, Any] = {
        "okx": sim.okx.add_account(o["api_key"], o["secret"], o["passphrase"], label="okx-demo"),
        "binance": sim.binance.add_account(b["api_key"], public_key=public, label="binance-demo"),
        "bybit": sim.bybit.add_account(y["api_key"], secret=y["secret"], label="bybit-demo"),
    }
    sim.okx.populate(accounts["okx"], seed=seed, scale=size)
    sim.binance.populate(accounts["binance"], seed=seed + 1, scale=size)
    sim.bybit.populate(accounts["bybit"], seed=seed + 2, scale=size)
    return accounts


def demo_clients(base_url: str, limits: RateLimits) -> list[VenueClient]:
    """One client per demo account, on `base_url`."""
    o, b, y = DEMO_ACCOUNTS["okx"], DEMO_ACCOUNTS["binance"], DEMO_ACCOUNTS["bybit"]
    pem = demo_binance_pem()
    return [
        OKX(o["api_key"], o["secret"], o["passphrase"], account="okx-demo", base_url=base_url, limits=limits),
        Binance(b["api_key"], private_key=pem, account="binance-demo", base_url=base_url, limits=limits),
        Bybit(y["api_key"], y["secret"], account="bybit-demo", base_url=base_url, limits=limits),
    ]


def _fresh(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db) + suffix)
        if p.exists():
            p.unlink()


async def run_demo(*, db: str = "demo-ledger.db", seed: int = 2026, out: IO[str], size: float = 1.0) -> int:
    """The demo; returns the process exit code."""
    path = Path(db)
    _fresh(path)
    from .testing.simulator import Simulator  # shipped test support: imported by the command only

    started = time.perf_counter()
    sim = Simulator(seed=seed, rate_scale=DEMO_RATE_SCALE)
    accounts = populate_demo(sim, seed=seed, size=size)
    async with sim:
        print(f"simulator: OKX, Binance and Bybit on {sim.base_url} (rate limits x{DEMO_RATE_SCALE:g})", file=out)
        limits = RateLimits(scale=DEMO_RATE_SCALE)
        async with Ledger(demo_clients(sim.base_url, limits), store=SQLiteStore(path)) as ledger:
            print(f"\n1) full sync of every feed into {path}", file=out, flush=True)
            first = await drive(ledger.sync(), out, progress=True)
            print(report_table(first), file=out)
            for line in failure_lines(first):
                print(line, file=out)
            assert ledger.store is not None
            summary = await ledger.store.summary()
            print_table(out, "stored events", ["venue", "account", "feed", "kind", "events"],
                        [[v, a, f, k, str(n)] for v, a, f, k, n in summary])

            sim.okx.grow(accounts["okx"], seed=seed + 10, n=3)
            sim.binance.grow(accounts["binance"], seed=seed + 11, n=3)
            sim.bybit.grow(accounts["bybit"], seed=seed + 12, n=3)
            print("\n2) the venues record new activity and settle pending records; incremental sync", file=out)
            before = len(sim.log)
            run = ledger.sync()
            new = [ev async for ev in run]
            second: SyncReport = run.report
            print(report_table(second), file=out)
            for line in failure_lines(second):
                print(line, file=out)
            print_table(out, "new or changed events in the incremental sync",
                        ["venue", "feed", "id", "kind", "status", "amount", "currency"],
                        [[e.venue, e.feed, e.id, e.kind.value, e.status.value, format(e.amount, "f"), e.currency]
                         for e in new[:40]])
            total = sum(n for *_, n in summary)
            print(
                f"\nfirst sync: {first.events} events stored ({total} in the ledger) with "
                f"{sum(f.requests for f in first.feeds)} signed requests; incremental sync: {len(new)} new or "
                f"changed events with {len(sim.log) - before} requests; "
                f"rate-limit answers from the venues: {sum(1 for r in sim.log if r.code in _RATE_CODES)}; "
                f"{time.perf_counter() - started:.1f}s",
                file=out,
            )
            print("\n3) the books: wallet change, debt, collateral and interest cost per venue, account and "
                  "currency, summed exactly over the settled events (the generated amounts are synthetic: they "
                  "include 18-20 digit values and random prices to exercise exact decimal handling)", file=out)
            print(balances_table(await ledger.balances()), file=out)
            print("\n4) reconcile: each venue's own positions (read from the simulator's account state) against "
                  "the ledger's debt and collateral", file=out, flush=True)
            verdict = await ledger.reconcile()
            print(reconcile_text(verdict), file=out)
    return 0 if first.ok and second.ok and verdict.ok else 1


_RATE_CODES = {"50011", "-1003", "10006"}


# --- `loanledger simulate`: a config and the environment for the demo accounts --------------

#: the environment variables the written loanledger.toml and the README's examples read
SIM_ENV: tuple[str, ...] = (
    "OKX_API_KEY", "OKX_SECRET", "OKX_PASSPHRASE", "BINANCE_API_KEY", "BINANCE_PRIVATE_KEY_FILE",
    "BYBIT_API_KEY", "BYBIT_SECRET", "LOANLEDGER_BASE_URL",
)

PEM_NAME = "binance-demo-ed25519.pem"
CONFIG_NAME = "loanledger.toml"


def sim_env(base_url: str, pem_file: Path) -> dict[str, str]:
    """SIM_ENV's values for the demo accounts of a simulator on `base_url`."""
    o, b, y = DEMO_ACCOUNTS["okx"], DEMO_ACCOUNTS["binance"], DEMO_ACCOUNTS["bybit"]
    env = {
        "OKX_API_KEY": o["api_key"], "OKX_SECRET": o["secret"], "OKX_PASSPHRASE": o["passphrase"],
        "BINANCE_API_KEY": b["api_key"], "BINANCE_PRIVATE_KEY_FILE": str(pem_file),
        "BYBIT_API_KEY": y["api_key"], "BYBIT_SECRET": y["secret"], "LOANLEDGER_BASE_URL": base_url,
    }
    assert tuple(env) == SIM_ENV
    return env


def write_sim_config(directory: Path, base_url: str, rate_scale: float) -> tuple[Path, Path]:
    """Write the demo Binance key (PEM) and a loanledger.toml for the demo accounts of the
    simulator on `base_url` into `directory`; returns (config, pem)."""
    pem = directory / PEM_NAME
    pem.write_text(demo_binance_pem())
    pem.chmod(0o600)
    config = directory / CONFIG_NAME
    config.write_text(_sim_toml(base_url, rate_scale, PEM_NAME))
    return config, pem


def _sim_toml(base_url: str, rate_scale: float, pem_name: str) -> str:
    url = base_url.replace("\\", "\\\\").replace('"', '\\"')
    return f"""# Written by `loanledger simulate` for the simulator on {base_url}.
# The demo accounts are simulated: their credentials (in the environment variables named
# below; `loanledger simulate` prints them) work against this simulator only.
rate_scale = {rate_scale!r}   # the simulator's --scale: the clients pace themselves to match

[[account]]
name = "okx-demo"
venue = "okx"
api_key_env = "OKX_API_KEY"
secret_env = "OKX_SECRET"
passphrase_env = "OKX_PASSPHRASE"
base_url = "{url}"

[[account]]
name = "binance-demo"
venue = "binance"
api_key_env = "BINANCE_API_KEY"
private_key_file = "{pem_name}"   # relative paths resolve against this file's directory
base_url = "{url}"

[[account]]
name = "bybit-demo"
venue = "bybit"
api_key_env = "BYBIT_API_KEY"
secret_env = "BYBIT_SECRET"
base_url = "{url}"
"""
