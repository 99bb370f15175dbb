"""End to end against the simulator: rate-budget use, rate-limit answers, SDK CPU per page.

The simulator (loanledger.testing) runs in its own process, so this process holds
only the SDK: client, transport (signing, pacing, aiohttp), paginator and decoders.
Both sides scale every documented limit by the same factor (`Simulator(rate_scale=k)`,
`RateLimits(scale=k)`); the simulator enforces 100 % of the scaled limit and logs
every request, the client paces at 90 % of it where the venue reports no count (OKX) and
from the venue's count at up to 100 % where it does (Binance used weight, Bybit remaining;
ratelimit.py).

Per feed, one full walk with a fresh limiter registry:

- achieved req/s: requests over the time from the first to the last, as the simulator
  logged them (n - 1 intervals);
- allowed req/s: what the client's bucket lets through at most (90 % of the scaled limit, or
  100 % for a feedback bucket);
- documented req/s: the scaled venue limit (requests per second at the endpoint's weight);
- rate-limit answers in the simulator log (OKX 50011, Binance -1003 429/418, Bybit
  10006 / 403): must be 0; `max in window` is the most requests any window of the
  venue's period held, against the scaled budget;
- SDK CPU per page: process CPU time of the walk / pages (everything: aiohttp, event
  loop, pacing, paginator), and the median thread CPU time of signing one request
  (Dialect.prepare) and of decoding + normalizing one page (FeedSpec.decode).

Scale: each feed's factor is chosen so its walk lasts about `--seconds` at the allowed
rate (from a first walk against a second simulator over the same accounts, limits x1000,
that only counts requests), between 1x and `--max-scale` (50x). `--scale K` forces
one factor for every feed; `--sweep K1 K2 ...` walks each feed once per factor, which
shows how pacing keeps up as the interval between requests shrinks.

    python benchmarks/sync.py [--seconds 5] [--max-scale 50] [--scale K | --sweep K ...] [--feeds ...]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing as mp
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import loanledger
from loanledger import OKX, Binance, Bybit, RateLimits
from loanledger.client import VenueClient
from loanledger.paginate import DecodeContext, Page

__all__ = ["FeedSync", "main", "run", "table"]

OKX_KEY = ("bench-okx-key", "bench-okx-secret", "bench-okx-pass")
BYBIT_KEY = ("bench-bybit-key", "bench-bybit-secret")
BINANCE_KEY = "bench-binance-key"
#: RFC 8032 section 7.1 TEST 1 (a published test key)
ED25519_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
#: dataset sizes (each venue's `populate(scale=...)`): about 100-160 pages per cursor feed
DATA_SCALE = {"okx": 60.0, "binance": 30.0, "bybit": 300.0}
SEED = 7
RATE_CODES = {"50011", "-1003", "10006", "403"}
DRY_SCALE = 1000.0


def _binance_pem() -> tuple[str, ed25519.Ed25519PublicKey]:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(ED25519_SEED)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


# --- the simulator process ------------------------------------------------------------------------------


def _serve(conn: Connection, data_scale: dict[str, float]) -> None:
    asyncio.run(_serve_async(conn, data_scale))


async def _serve_async(conn: Connection, data_scale: dict[str, float]) -> None:
    from loanledger.testing import Simulator

    sim = Simulator(seed=SEED)
    okx = sim.okx.add_account(*OKX_KEY, label="okx-bench")
    bybit = sim.bybit.add_account(BYBIT_KEY[0], secret=BYBIT_KEY[1], label="bybit-bench")
    binance = sim.binance.add_account(BINANCE_KEY, public_key=_binance_pem()[1], label="binance-bench")
    sim.okx.populate(okx, seed=SEED, scale=data_scale["okx"])
    sim.binance.populate(binance, seed=SEED, scale=data_scale["binance"])
    sim.bybit.populate(bybit, seed=SEED, scale=data_scale["bybit"])
    # a second simulator over the same accounts, for the walks that only count requests:
    # its rate counters are its own, so they never eat into a timed walk's windows
    dry = Simulator(seed=SEED, rate_scale=DRY_SCALE)
    dry.okx.accounts = sim.okx.accounts
    dry.binance.accounts = sim.binance.accounts
    dry.bybit.accounts = sim.bybit.accounts
    loop = asyncio.get_running_loop()
    async with sim, dry:
        conn.send(("ready", sim.base_url, dry.base_url))
        while True:
            msg = await loop.run_in_executor(None, conn.recv)
            op = msg[0]
            if op == "scale":
                sim.rate_scale = float(msg[1])
                conn.send(len(sim.log))
            elif op == "report":
                _, start, path, per = msg
                entries = [r for r in sim.log[start:] if r.path == path]
                conn.send({
                    "requests": len(entries),
                    "first": entries[0].at if entries else 0.0,
                    "last": entries[-1].at if entries else 0.0,
                    "rate_answers": sum(1 for r in entries if r.code in RATE_CODES or r.status in (429, 418, 403)),
                    "errors": sum(1 for r in entries if r.status != 200 or r.code not in (None, "0")),
                    "max_in_window": sim.max_in_window(entries, per),
                })
            elif op == "stop":
                conn.send("bye")
                return


# --- the client side -----------------------------------------------------------------------------------


@dataclass
class FeedSync:
    feed: str
    scale: float
    requests: int
    pages: int
    events: int
    seconds: float
    achieved: float  # req/s, simulator log
    allowed: float  # req/s, the client's bucket
    documented: float  # req/s, the scaled venue limit
    rate_answers: int
    errors: int
    max_in_window: int
    window_budget: float  # requests the scaled limit allows per window
    cpu_ms_per_page: float
    sign_us_per_request: float
    decode_ms_per_page: float

    @property
    def use_of_allowed(self) -> float:
        return self.achieved / self.allowed

    @property
    def use_of_documented(self) -> float:
        return self.achieved / self.documented


class _TimedDialect:
    """The client's Dialect with `prepare` (signing) timed; everything else delegated."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.venue = inner.venue
        self.seconds: list[float] = []

    def prepare(self, req: Any, ts_ms: int) -> Any:
        start = time.thread_time()
        try:
            return self.inner.prepare(req, ts_ms)
        finally:
            self.seconds.append(time.thread_time() - start)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _client(venue: str, base_url: str, limits: RateLimits) -> VenueClient:
    if venue == "okx":
        return OKX(*OKX_KEY, account="okx-bench", base_url=base_url, limits=limits)
    if venue == "binance":
        return Binance(BINANCE_KEY, private_key=_binance_pem()[0], account="binance-bench", base_url=base_url,
                       limits=limits)
    return Bybit(*BYBIT_KEY, account="bybit-bench", base_url=base_url, limits=limits)


async def _walk(feed_id: str, base_url: str, scale: float) -> tuple[int, int, int, float, float, float, Any]:
    """One full walk: (requests, pages, events, cpu s, median sign s per request, median decode s per
    page, bucket). Medians: the first calls pay one-time costs (imports, caches) that a mean spreads."""
    spec = loanledger.FEEDS[feed_id]
    limits = RateLimits(scale=scale)
    client = _client(spec.venue, base_url, limits)
    timed = _TimedDialect(client.transport.dialect)
    client.transport.dialect = timed  # type: ignore[assignment]
    decode_s: list[float] = []
    inner = spec.decode

    def decode(body: bytes, ctx: DecodeContext) -> Page:
        start = time.thread_time()
        try:
            return inner(body, ctx)
        finally:
            decode_s.append(time.thread_time() - start)

    client.feed_specs = {**client.feed_specs, feed_id: dataclasses.replace(spec, decode=decode)}  # type: ignore[misc]
    async with client:
        feed = client.events(feed_id)
        cpu = time.process_time()
        events = 0
        async for _ in feed:
            events += 1
        cpu = time.process_time() - cpu
    bucket = limits.bucket(spec.venue, "", spec.path, spec.limit,  # a fresh one: same settings
                           feedback=client.transport.dialect.reports_usage)
    return (feed.stats.requests, feed.stats.pages, events, cpu, statistics.median(timed.seconds or [0.0]),
            statistics.median(decode_s or [0.0]), bucket)


def _pick_scale(requests: int, doc_rate_per_scale: float, seconds: float, max_scale: float,
                requests_per_window: float) -> float:
    """The factor at which `requests` at the scaled limit take `seconds`, rounded so that a
    window holds a whole number of requests (x2.3 of 5 a second would be 11.5: a window
    admits 11, and 11.5 a second could not be reached by anyone)."""
    want = requests / seconds / doc_rate_per_scale
    step = 1.0 / requests_per_window
    k = max(1.0, round(want / step) * step)
    return float(min(max_scale, round(k, 6)))


def run(feeds: Sequence[str] | None = None, *, seconds: float = 5.0, max_scale: float = 50.0,
        scale: float | None = None, sweep: Sequence[float] = (), data_scale: dict[str, float] | None = None,
        progress: Callable[[str], None] | None = None) -> list[FeedSync]:
    """One walk per feed (or, with `sweep`, one walk per feed and factor)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, data_scale or DATA_SCALE), daemon=True)
    proc.start()
    try:
        tag, base_url, dry_url = parent.recv()
        assert tag == "ready"
        out: list[FeedSync] = []
        jobs = [(f, k) for f in feeds or list(loanledger.FEEDS) for k in (sweep or [scale])]
        for feed_id, k in jobs:
            spec = loanledger.FEEDS[feed_id]
            doc_rate = spec.limit.budget / spec.limit.per / spec.limit.weight  # req/s at scale 1
            if k is None:  # count the walk's requests first (limits x1000: unpaced in practice)
                requests = asyncio.run(_walk(feed_id, dry_url, DRY_SCALE))[0]
                k = _pick_scale(requests, doc_rate, seconds, max_scale, spec.limit.budget / spec.limit.weight)
            parent.send(("scale", k))
            start = parent.recv()
            requests, pages, events, cpu, sign_s, decode_s, bucket = asyncio.run(_walk(feed_id, base_url, k))
            parent.send(("report", start, spec.path, spec.limit.per))
            rep = parent.recv()
            span = rep["last"] - rep["first"]
            out.append(FeedSync(
                feed=feed_id, scale=k, requests=rep["requests"], pages=pages, events=events, seconds=span,
                achieved=(rep["requests"] - 1) / span if span > 0 else float("nan"),
                allowed=bucket.allowed_rate, documented=doc_rate * k,
                rate_answers=rep["rate_answers"], errors=rep["errors"], max_in_window=rep["max_in_window"],
                window_budget=spec.limit.budget * k / spec.limit.weight,
                cpu_ms_per_page=cpu / max(pages, 1) * 1e3, sign_us_per_request=sign_s * 1e6,
                decode_ms_per_page=decode_s * 1e3,
            ))
            if progress is not None:
                progress(f"{feed_id}: {rep['requests']} requests in {span:.1f}s at x{k:g}")
        parent.send(("stop",))
        parent.recv()
        return out
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()


def table(results: Sequence[FeedSync]) -> str:
    head = ["feed", "scale", "requests", "walk s", "interval ms", "achieved req/s", "allowed req/s",
            "documented req/s",
            "achieved/allowed", "achieved/documented", "rate-limit answers", "max in window / budget",
            "SDK CPU ms/page", "sign us/req", "decode ms/page"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        lines.append("| " + " | ".join([
            r.feed, f"x{r.scale:g}", str(r.requests), f"{r.seconds:.1f}", f"{1000 / r.allowed:.1f}",
            f"{r.achieved:.1f}", f"{r.allowed:.1f}",
            f"{r.documented:.1f}", f"{r.use_of_allowed:.1%}", f"{r.use_of_documented:.1%}", str(r.rate_answers),
            f"{r.max_in_window} / {r.window_budget:g}", f"{r.cpu_ms_per_page:.2f}", f"{r.sign_us_per_request:.0f}",
            f"{r.decode_ms_per_page:.2f}",
        ]) + " |")
    lines.append("")
    lines.append(
        f"achieved/allowed: min {min(r.use_of_allowed for r in results):.1%}, "
        f"median {statistics.median(r.use_of_allowed for r in results):.1%}; "
        f"rate-limit answers: {sum(r.rate_answers for r in results)}; "
        f"other error answers: {sum(r.errors - r.rate_answers for r in results)}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="end-to-end rate-budget use against the simulator")
    ap.add_argument("--seconds", type=float, default=5.0, help="target walk length per feed (default 5)")
    ap.add_argument("--max-scale", type=float, default=50.0, help="largest limit factor (default 50)")
    ap.add_argument("--scale", type=float, help="one limit factor for every feed (no per-feed choice)")
    ap.add_argument("--sweep", nargs="*", type=float, default=(),
                    help="walk each feed once per factor given (pacing against request interval)")
    ap.add_argument("--feeds", nargs="*", choices=sorted(loanledger.FEEDS))
    args = ap.parse_args(argv)
    results = run(args.feeds, seconds=args.seconds, max_scale=args.max_scale, scale=args.scale, sweep=args.sweep,
                  progress=lambda m: print("  " + m, file=sys.stderr))
    print(table(results))
    return 0 if all(r.rate_answers == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
