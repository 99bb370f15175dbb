"""The reliability harness: a simulated world of three venues, clients on it, walks that
resume after typed errors, and the figures docs/RELIABILITY.md quotes.

A uniquely named module (every test directory shares one sys.path).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from loanledger import (
    OKX,
    AuthError,
    Binance,
    Bybit,
    EventStatus,
    LoanEvent,
    LoanLedgerError,
    RateLimited,
    RateLimits,
    RetryPolicy,
)
from loanledger.client import VenueClient
from loanledger.feeds import FeedSpec
from loanledger.paginate import ExclusiveIdCursor, OpaqueCursor, PagedWindows, TimeWindows
from loanledger.testing import Simulator
from loanledger.testing.okx import INTEREST_WINDOW_MS, ONE_CLICK_WINDOW_MS

DATA = Path(__file__).resolve().parent.parent / "data"

#: every documented limit x RATE_SCALE on both sides: the limits are enforced, just faster
RATE_SCALE = 200.0
VENUES = ("okx", "binance", "bybit")

# Credentials of the simulated accounts. Literal, recognisable values: the secrets tests
# scan every output for them (the Binance account signs with the RFC 8032 test key's PEM).
OKX_KEY, OKX_SECRET, OKX_PASS = "rel-okx-key-Q7d2", "rel-okx-SECRET-Zq81nVw3xA", "rel-okx-PASS-Hh27pR"
BNB_KEY, BNB_PEM = "rel-bnb-key-K4m8", (DATA / "ed25519_test_key.pem").read_text()
BYB_KEY, BYB_SECRET = "rel-byb-key-M9t1", "rel-byb-SECRET-Wq03kEe8Ld"
#: the strings that must never appear in any output: API keys (account i's key is the key
#: plus i), secrets, passphrases, the PEM (also line by line)
SECRETS: tuple[str, ...] = (OKX_KEY, BNB_KEY, BYB_KEY, OKX_SECRET, OKX_PASS, BYB_SECRET, BNB_PEM) + tuple(
    line for line in BNB_PEM.splitlines() if len(line) >= 16 and not line.startswith("-----")
)

#: retries that keep fault cells fast; `max_delay` x 20 caps an honoured Retry-After at 1 s
FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.002, max_delay=0.05)
NO_RETRY = RetryPolicy(max_attempts=1, base_delay=0.002, max_delay=0.05)

RATE_CODES = frozenset({"50011", "-1003", "10006"})


# --- figures ---------------------------------------------------------------------------------


@dataclass
class Figures:
    """What the reliability tests tried, per item of docs/RELIABILITY.md (summed over a run)."""

    counts: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)

    def add(self, **counts: int) -> None:
        self.counts.update(counts)

    def add_faults(self, sim: Simulator) -> None:
        """Count what the simulator injected: faults, and rate-limit answers it gave."""
        for r in sim.log:
            if r.fault is not None:
                self.faults[r.fault] += 1
            elif r.code in RATE_CODES or r.status in (418, 429):
                self.faults[f"rate answer {r.code or r.status}"] += 1

    def report(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())), "faults": dict(sorted(self.faults.items()))}

    def write(self) -> None:
        target = os.environ.get("LOANLEDGER_RELIABILITY_FIGURES")
        if target and (self.counts or self.faults):
            Path(target).write_text(json.dumps(self.report(), indent=2) + "\n")


FIGURES = Figures()


# --- the world -------------------------------------------------------------------------------


def _ed25519_public() -> Any:
    return serialization.load_pem_private_key(BNB_PEM.encode(), None).public_key()


@dataclass
class World:
    """A simulator with `n` populated accounts per venue (labels ``<venue>-<i>``)."""

    sim: Simulator
    n: int
    rate_scale: float

    def labels(self, venue: str) -> list[str]:
        return [f"{venue}-{i}" for i in range(self.n)]

    def venue(self, name: str) -> Any:
        return getattr(self.sim, name)

    def expected(self, client: VenueClient, feed_id: str, since: int | None = None) -> set[str]:
        return set(self.venue(client.venue).expected_ids(client.account, feed_id, since=since))

    def clients(
        self,
        *,
        index: int = 0,
        venues: Iterable[str] = VENUES,
        limits: RateLimits | None = None,
        retry: RetryPolicy = FAST_RETRY,
        timeout: float = 10.0,
        pages: int | None = None,
        wrong_secret: bool = False,
    ) -> list[VenueClient]:
        """One client per venue for account `index` (one process: one RateLimits)."""
        limits = limits if limits is not None else RateLimits(scale=self.rate_scale)
        kw: dict[str, Any] = {"base_url": self.sim.base_url, "limits": limits, "retry": retry, "timeout": timeout}
        out: list[VenueClient] = []
        bad = "-wrong" if wrong_secret else ""
        for v in venues:
            label = f"{v}-{index}"
            if v == "okx":
                out.append(small_pages(OKX, pages)(f"{OKX_KEY}{index}", OKX_SECRET + bad, OKX_PASS, account=label, **kw))
            elif v == "binance":
                pem = _other_pem() if wrong_secret else BNB_PEM
                out.append(small_pages(Binance, pages)(f"{BNB_KEY}{index}", private_key=pem, account=label, **kw))
            else:
                out.append(small_pages(Bybit, pages)(f"{BYB_KEY}{index}", BYB_SECRET + bad, account=label, **kw))
        return out


def _other_pem() -> str:
    return (DATA / "rsa_test_key.pem").read_text()  # a valid key the venue does not know


@asynccontextmanager
async def world(
    *, seed: int = 1, scale: float = 0.3, n: int = 1, rate_scale: float = RATE_SCALE, grow: bool = True,
    **sim_kw: Any,
) -> AsyncIterator[World]:
    """A running simulator with `n` accounts per venue, each with a generated history (plus
    a `grow()`: records stamped at the venue's now, and settled pending records)."""
    async with Simulator(seed=seed, rate_scale=rate_scale, **sim_kw) as sim:
        pub = _ed25519_public()
        for i in range(n):
            o = sim.okx.add_account(f"{OKX_KEY}{i}", OKX_SECRET, OKX_PASS, label=f"okx-{i}")
            b = sim.binance.add_account(f"{BNB_KEY}{i}", public_key=pub, label=f"binance-{i}")
            y = sim.bybit.add_account(f"{BYB_KEY}{i}", secret=BYB_SECRET, label=f"bybit-{i}")
            for venue, acct in ((sim.okx, o), (sim.binance, b), (sim.bybit, y)):
                venue.populate(acct, seed=seed * 1000 + i, scale=scale)
                if grow:
                    venue.grow(acct, seed=seed * 1000 + i + 1, n=2)
            _away_from_retention_edges(sim, o)
        yield World(sim, n, rate_scale)


def _away_from_retention_edges(sim: Simulator, acct: Any) -> None:
    """OKX serves only the last 7 (30) days: a record within minutes of that edge would leave
    the dataset while a test runs. The generated data keeps clear of it; check, loudly."""
    now = sim.now_ms()
    for feed, window in (("okx.one_click_repay_history", ONE_CLICK_WINDOW_MS),
                         ("okx.flexible_loan_interest", INTEREST_WINDOW_MS)):
        for r in sim.okx.account(acct).book.table(feed):
            assert abs(r.ts - (now - window)) > 15 * 60_000, f"{feed} record {r.key} sits on the retention edge"


def small_pages(cls: type[VenueClient], pages: int | None) -> Any:
    """`cls` asking for `pages` records per request where the cursor allows it (id and opaque
    cursors, numbered pages, time windows): more requests, more page boundaries, more faults.
    Timestamp cursors keep their size (a tie wider than a page cannot be walked past)."""
    if pages is None:
        return cls
    specs: dict[str, FeedSpec] = {}
    for sid, spec in cls.feed_specs.items():
        cur: Any = spec.cursor
        if isinstance(cur, ExclusiveIdCursor | OpaqueCursor):
            cur = dataclasses.replace(cur, limit=pages)
        elif isinstance(cur, PagedWindows | TimeWindows):
            cur = dataclasses.replace(cur, size=pages)
        specs[sid] = dataclasses.replace(spec, cursor=cur)
    return type(f"{cls.__name__}Pages{pages}", (cls,), {"feed_specs": specs})


def feed_ids(clients: Iterable[VenueClient]) -> list[tuple[VenueClient, str]]:
    return [(c, f) for c in clients for f in c.feed_ids()]


# --- walks that resume ---------------------------------------------------------------------------


@dataclass
class Walk:
    """One feed walked to the end, resuming from its checkpoint after each typed error."""

    feed: str
    runs: int = 0
    errors: list[str] = field(default_factory=list)
    final: dict[str, LoanEvent] = field(default_factory=dict)
    yielded: int = 0
    complete: bool = False
    stopped_by: LoanLedgerError | None = None


def permanent(exc: LoanLedgerError) -> bool:
    """Errors a retry or a resume cannot fix: credentials, a venue ban."""
    return isinstance(exc, AuthError) or (isinstance(exc, RateLimited) and exc.ban_until is not None)


async def walk(
    client: VenueClient, feed_id: str, *, max_runs: int = 400, resume_after_ban: bool = False,
) -> Walk:
    """Walk `feed_id` to completion like a store would: upsert events by id, keep the
    checkpoint of the last page, and after a typed error start again from it.

    Checked on the way: no id twice within one run, and an id comes again in a later run only
    if it was pending (a resumed walk re-reads pending records so their final status arrives).
    A permanent error (auth, ban) stops the walk unless `resume_after_ban` waits the ban out.
    """
    w = Walk(feed_id)
    token: str | None = None
    while w.runs < max_runs:
        w.runs += 1
        feed = client.events(feed_id, resume=token)
        this_run: set[str] = set()
        try:
            async for page in feed.pages():
                for ev in page.events:
                    assert ev.id not in this_run, f"{feed_id}: {ev.id} twice in one walk"
                    this_run.add(ev.id)
                    before = w.final.get(ev.id)
                    assert before is None or before.status is EventStatus.PENDING, (
                        f"{feed_id}: {ev.id} again after a resume, and it was {before.status}")
                    w.final[ev.id] = ev
                    w.yielded += 1
                token = page.checkpoint
            w.complete = True
            return w
        except LoanLedgerError as exc:
            w.errors.append(type(exc).__name__)
            if permanent(exc):
                if not (resume_after_ban and isinstance(exc, RateLimited) and exc.ban_until is not None):
                    w.stopped_by = exc
                    return w
                await asyncio.sleep(max(0.0, (exc.ban_until - _now_ms()) / 1000) + 0.05)
    raise AssertionError(f"{feed_id}: not complete after {max_runs} runs ({Counter(w.errors)})")


def _now_ms() -> int:
    from loanledger._args import now_ms

    return now_ms()


def check_exactly_once(w: Walk, expected: set[str], reference: dict[str, LoanEvent] | None = None) -> int:
    """The walk's upserted events are exactly the dataset (ids), each equal to the fault-free
    walk's event field by field; returns the number of records checked."""
    assert w.complete, f"{w.feed}: stopped by {w.stopped_by!r}"
    got = set(w.final)
    assert got == expected, f"{w.feed}: missing {sorted(expected - got)[:5]}, extra {sorted(got - expected)[:5]}"
    if reference is not None:
        assert set(reference) == expected
        diff = [i for i in expected if w.final[i] != reference[i]]
        assert not diff, f"{w.feed}: {len(diff)} events differ from the fault-free walk, e.g. {diff[:3]}"
    return len(got)


async def reference(clients: Iterable[VenueClient], w: World) -> dict[str, dict[str, LoanEvent]]:
    """A fault-free walk of every feed: the events each cell is compared with."""
    out: dict[str, dict[str, LoanEvent]] = {}

    async def one(c: VenueClient, f: str) -> None:
        r = await walk(c, f, max_runs=1)
        check_exactly_once(r, w.expected(c, f))
        out[f"{c.account}/{f}"] = r.final

    await asyncio.gather(*(one(c, f) for c, f in feed_ids(clients)))
    return out


def scan(text: str | bytes, where: str, secrets: Iterable[str] = SECRETS) -> int:
    """Assert no secret occurs in `text`; returns the bytes scanned."""
    data = text if isinstance(text, bytes) else text.encode()
    for s in secrets:
        assert s.encode() not in data, f"a secret ({s[:6]}...) leaked into {where}"
    return len(data)


# --- real answers, for the decoders -------------------------------------------------------------


async def sample_bodies(*, seed: int = 1, scale: float = 0.3) -> dict[str, list[bytes]]:
    """Every success body the simulator sent during full walks of every feed (one account per
    venue), by feed id: real envelopes with real records to mutate."""
    from loanledger.registry import FEEDS

    bodies: dict[str, list[bytes]] = {}
    async with world(seed=seed, scale=scale) as w:
        clients = w.clients(pages=20)
        for c, f in feed_ids(clients):
            got: list[bytes] = []

            def keep(body: bytes, got: list[bytes] = got) -> bytes:
                got.append(body)
                return body

            w.sim.faults.force_body(keep, path=FEEDS[f].path, count=10_000)
            await c.events(f).collect()
            w.sim.faults._queue.clear()
            bodies[f] = got
        for c in clients:
            await c.close()
    return bodies


#: the money fields of each feed's wire records (a record may hold several)
AMOUNT_FIELDS: dict[str, tuple[str, ...]] = {
    "okx.flexible_loan_history": ("amt",),
    "okx.flexible_loan_interest": ("interest",),
    "okx.one_click_repay_history": ("fillDebtSz", "fillSz", "fillPx"),
    "okx.convert_history": ("fillBaseSz", "fillQuoteSz"),
    "binance.pmloan_history": ("amount",),
    "binance.pm_interest_history": ("interest",),
    "bybit.flexible_borrow_history": ("initialLoanAmount",),
    "bybit.flexible_repayment_history": ("repayAmount",),
    "bybit.fixed_borrow_orders": ("filledQty",),
    "bybit.fixed_borrow_contracts": ("residualPrincipal", "interestPaid", "residualPenaltyInterest"),
    "bybit.fixed_repayment_history": ("repayAmount",),
    "bybit.collateral_adjustment_history": ("amount",),
    "bybit.legacy_borrow_history": ("initialLoanAmount", "initialCollateralAmount", "repaidInterest",
                                    "repaidPenaltyInterest"),
    "bybit.legacy_repayment_history": ("repayAmount", "collateralReturn"),
    "bybit.legacy_adjustment_history": ("amount",),
    "bybit.institutional_loan_orders": ("loanAmount",),
    "bybit.institutional_repayment_history": ("quantity", "interest"),
}


def records_of(doc: Any) -> list[Any]:
    """The record list of a decoded envelope (OKX data, Binance rows / bare array, Bybit result)."""
    if isinstance(doc, list):
        return doc
    if "data" in doc:
        return list(doc["data"])
    if "rows" in doc:
        return list(doc["rows"])
    result = doc["result"]
    for key in ("list", "loanInfo", "repayInfo"):
        if key in result:
            return list(result[key])
    raise KeyError("no record list")


def set_fields(value: Any, names: Iterable[str], new: Any) -> int:
    """Set every field called one of `names`, at any depth of `value`; returns how many."""
    n = 0
    if isinstance(value, dict):
        for k in list(value):
            if k in names:
                value[k] = new
                n += 1
            else:
                n += set_fields(value[k], names, new)
    elif isinstance(value, list):
        for item in value:
            n += set_fields(item, names, new)
    return n


# --- the command line -----------------------------------------------------------------------------

#: environment of a CLI run: the variables the config names hold the credentials
CLI_ENV = {
    "REL_OKX_KEY": f"{OKX_KEY}0", "REL_OKX_SECRET": OKX_SECRET, "REL_OKX_PASS": OKX_PASS,
    "REL_BNB_KEY": f"{BNB_KEY}0", "REL_BYB_KEY": f"{BYB_KEY}0", "REL_BYB_SECRET": BYB_SECRET,
}


def cli_config(tmp: Path, base_url: str, rate_scale: float) -> Path:
    """A loanledger.toml for account 0 of each venue of a `world` (docs/CLI.md)."""
    pem = tmp / "binance-ed25519.pem"
    pem.write_text(BNB_PEM)
    cfg = tmp / "loanledger.toml"
    cfg.write_text(f"""
rate_scale = {rate_scale}

[[account]]
name = "okx-0"
venue = "okx"
api_key_env = "REL_OKX_KEY"
secret_env = "REL_OKX_SECRET"
passphrase_env = "REL_OKX_PASS"
base_url = "{base_url}"

[[account]]
name = "binance-0"
venue = "binance"
api_key_env = "REL_BNB_KEY"
private_key_file = "{pem}"
base_url = "{base_url}"

[[account]]
name = "bybit-0"
venue = "bybit"
api_key_env = "REL_BYB_KEY"
secret_env = "REL_BYB_SECRET"
base_url = "{base_url}"
""")
    return cfg

