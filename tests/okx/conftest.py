"""OKX fixtures: a simulator with a populated account, and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from okx_support import KEY, LABEL, PASSPHRASE, SCALE, SECRET, SEED, ClientFactory

from loanledger import OKX, RateLimits, RetryPolicy
from loanledger.testing import Simulator

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture
async def okx_sim() -> AsyncIterator[Simulator]:
    """A simulator (limits x SCALE) with one populated OKX account labelled LABEL."""
    async with Simulator(seed=SEED, rate_scale=SCALE) as sim:
        sim.okx.add_account(KEY, SECRET, PASSPHRASE, label=LABEL)
        sim.okx.populate(LABEL, seed=SEED)
        yield sim


@pytest.fixture
def make_client(okx_sim: Simulator) -> ClientFactory:
    """OKX clients against `okx_sim` sharing one RateLimits registry (as one process would)."""
    limits = RateLimits(scale=SCALE)

    def make(**kwargs: object) -> OKX:
        args: dict[str, object] = {"base_url": okx_sim.base_url, "limits": limits, "retry": FAST_RETRY}
        args.update(kwargs)
        key = str(args.pop("api_key", KEY))
        secret = str(args.pop("secret", SECRET))
        passphrase = str(args.pop("passphrase", PASSPHRASE))
        return OKX(key, secret, passphrase, account=LABEL, **args)  # type: ignore[arg-type]

    return make
