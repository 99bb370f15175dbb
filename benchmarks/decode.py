"""Decode throughput per feed: loanledger.decode against three baselines and a ceiling.

For each feed, the same pages (benchmarks/data.py) go through every row in one run,
interleaved repetition by repetition so a noisy machine slows all rows alike:

- ``loanledger``: `loanledger.decode(feed, body)`, the product path, to LoanEvents;
- ``A json+dict``: stdlib ``json.loads`` + a hand-written dict normalizer with Decimal;
- ``B orjson+dict``: ``orjson.loads`` + the same normalizer;
- ``C pydantic``: pydantic v2 ``model_validate_json`` into typed models (Decimal), normalized;
- ``limit``: msgspec into Structs whose used money fields are Decimal, no normalization: the
  exact-decimal limit (the least an exact decoder must do; baselines.limit_decoders);
- ``ceiling``: msgspec into Structs with the used fields as wire str/int, no normalization;
- ``floor``: the limit, then the very LoanEvents loanledger returns built from their values
  (positional, precomputed: no checks, no mapping, no ids): the least any decoder that returns
  these events must do in this interpreter, so limit/floor is the best ll/limit reachable;
- ``loanledger keep_raw``: `loanledger.decode(feed, body, keep_raw=True)` (each event holds
  its record's bytes).

Before timing, every baseline's events are compared with loanledger's, page by page
(`verified` column: pages whose events differ; B and C cannot be exact where a venue
sends an amount as a JSON number with more digits than a float holds).

Figures: events/s (the events loanledger produces from those bytes, over the row's
median time), MB/s of response bodies, and time ratios against loanledger.

    python benchmarks/decode.py [--pages 200] [--reps 7] [--feeds okx.convert_history ...]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baselines  # noqa: E402
import data  # noqa: E402

import loanledger  # noqa: E402

__all__ = ["ROWS", "FeedResult", "breakdown", "derived_id_cost", "main", "run", "summary", "table"]

ROWS = ("loanledger", "loanledger keep_raw", "A json+dict", "B orjson+dict", "C pydantic",
        "limit msgspec-Decimal", "ceiling msgspec-str", "floor limit+events")
LIMIT = "limit msgspec-Decimal"
FLOOR = "floor limit+events"
KEEP_RAW = "loanledger keep_raw"
#: also timed, for the breakdown: loanledger's own wire decode (msgspec into its wire Structs,
#: amounts parsed to Decimal, times to int) without normalization
WIRE = "loanledger wire only"
ACCOUNT = "default"


def _wire_decoder(feed: str) -> Callable[[bytes], Any]:
    """loanledger's typed envelope decoder of a feed (msgspec into the wire Structs, no normalization)."""
    from loanledger import FEEDS

    wire = FEEDS[feed].wire
    assert wire is not None
    return wire.decode


def event_cost_ns(n: int = 20_000) -> float:
    """What building one LoanEvent costs (ns): the floor of any decoder producing them."""
    from decimal import Decimal

    from loanledger import EventKind, EventStatus, LoanEvent

    amount, kind, status = Decimal("-12345678901.1234567890"), EventKind.REPAY, EventStatus.DONE
    zero = Decimal(0)
    ids = [str(i) for i in range(n)]
    best = float("inf")
    for _ in range(5):
        start = time.thread_time()
        for i in ids:  # positional, every field: as the normalizers build them
            LoanEvent("okx", "a", "f", i, kind, status, 1, "USDT", amount, amount, zero, None, None, i, None, "repaid",
                      None)
        best = min(best, time.thread_time() - start)
    return best / n * 1e9


def derived_id_cost(pages: int = 100, reps: int = 7, *, seed: int = data.SEED) -> tuple[float, float]:
    """Binance pmloan-history: (ns per record of `derived_ids`, the ids of a page built from its
    decoded rows; ns per record of the whole `loanledger.decode`), medians of interleaved runs."""
    from loanledger import FEEDS
    from loanledger.venues.binance import derived_ids

    feed = "binance.pmloan_history"
    bodies = [data.page_body(feed, p, seed=seed) for p in range(pages)]
    wire = FEEDS[feed].wire
    assert wire is not None
    columns = [([r.repayTime for r in rows], [r.asset.upper() for r in rows], [r.amount for r in rows])
               for rows in (wire.decode(b).rows for b in bodies)]
    records = sum(len(c[0]) for c in columns)

    def ids() -> None:
        for stamps, assets, amounts in columns:
            derived_ids(stamps, assets, amounts, {})

    def full() -> None:
        for body in bodies:
            loanledger.decode(feed, body)

    times: dict[str, list[float]] = {"ids": [], "decode": []}
    for _ in range(reps):
        for name, fn in (("ids", ids), ("decode", full)):
            gc.collect()
            start = time.thread_time()
            fn()
            times[name].append(time.thread_time() - start)
    return (statistics.median(times["ids"]) / records * 1e9, statistics.median(times["decode"]) / records * 1e9)


@dataclass
class FeedResult:
    feed: str
    pages: int
    events: int
    records: int
    mbytes: float
    seconds: dict[str, float] = field(default_factory=dict)  # median per row
    mismatched: dict[str, int] = field(default_factory=dict)  # pages whose events differ from loanledger's

    def events_per_s(self, row: str) -> float:
        return self.events / self.seconds[row]

    def mb_per_s(self, row: str) -> float:
        return self.mbytes / self.seconds[row]

    def ratio(self, row: str, of: str = "loanledger") -> float:
        """`of`'s throughput / `row`'s (same bytes, same events)."""
        return self.seconds[row] / self.seconds[of]


def _floor(feed: str, bodies: Sequence[bytes], product: Sequence[list[Any]]) -> Callable[[bytes], Any]:
    """The floor row: the limit decode of a body, then its events built again from their field
    values (positional, through `starmap`, so no bytecode runs per event)."""
    from itertools import starmap

    from loanledger import LoanEvent
    from loanledger.events import FIELDS

    limit = baselines.limit_decoders[feed]
    values = {body: [tuple(getattr(ev, f) for f in FIELDS) for ev in events] for body, events in zip(bodies, product)}

    def floor(body: bytes) -> Any:
        limit(body)
        return list(starmap(LoanEvent, values[body]))

    return floor


def _callables(feed: str) -> dict[str, Callable[[bytes], Any]]:
    norm = baselines.dict_normalizers[feed]
    pyd = baselines.pydantic_decoders[feed]
    ceil = baselines.ceiling_decoders[feed].decode
    jl, ol = baselines.json_loads, baselines.orjson_loads
    decode = loanledger.decode
    return {
        "loanledger": lambda b: decode(feed, b),
        KEEP_RAW: lambda b: decode(feed, b, keep_raw=True),
        LIMIT: baselines.limit_decoders[feed],
        "A json+dict": lambda b: norm(jl(b), ACCOUNT, feed),
        "B orjson+dict": lambda b: norm(ol(b), ACCOUNT, feed),
        "C pydantic": lambda b: pyd(b, ACCOUNT, feed),
        "ceiling msgspec-str": ceil,
        WIRE: _wire_decoder(feed),
    }


def _timed(fn: Callable[[bytes], Any], bodies: Sequence[bytes]) -> float:
    """CPU seconds of this thread: other processes on the shared machine do not count (they
    still share caches and cores, so ratios, measured interleaved, are what to quote)."""
    start = time.thread_time()
    for body in bodies:
        fn(body)
    return time.thread_time() - start


def run_feed(feed: str, bodies: Sequence[bytes], reps: int) -> FeedResult:
    fns = _callables(feed)
    product = [loanledger.decode(feed, b) for b in bodies]
    res = FeedResult(
        feed=feed, pages=len(bodies), events=sum(map(len, product)),
        records=len(bodies) * data.PAGE_SIZE,
        mbytes=sum(map(len, bodies)) / 1e6,
    )
    for row in ("A json+dict", "B orjson+dict", "C pydantic"):
        fn = fns[row]
        res.mismatched[row] = sum(1 for body, want in zip(bodies, product) if fn(body) != want)
    fns[FLOOR] = _floor(feed, bodies, product)
    if any(fns[FLOOR](body) != want for body, want in zip(bodies, product)):
        raise AssertionError(f"{feed}: the floor row does not rebuild loanledger's events")
    del product
    rows = (*ROWS, WIRE)
    times: dict[str, list[float]] = {row: [] for row in rows}
    for rep in range(reps):
        order = rows[rep % len(rows):] + rows[:rep % len(rows)]  # rotate: no row always runs first
        for row in order:
            gc.collect()
            times[row].append(_timed(fns[row], bodies))
    res.seconds = {row: statistics.median(ts) for row, ts in times.items()}
    return res


def run(pages: int = 200, reps: int = 7, feeds: Sequence[str] | None = None, *, seed: int = data.SEED,
        progress: Callable[[str], None] | None = None) -> list[FeedResult]:
    out = []
    for feed in feeds or list(data.FEEDS):
        bodies = [data.page_body(feed, p, seed=seed) for p in range(pages)]
        out.append(run_feed(feed, bodies, reps))
        if progress is not None:
            progress(feed)
    return out


_SHORT = {"loanledger": "loanledger", KEEP_RAW: "keep_raw", "A json+dict": "A json", "B orjson+dict": "B orjson",
          "C pydantic": "C pydantic", LIMIT: "limit", "ceiling msgspec-str": "ceiling", FLOOR: "floor"}


def table(results: Sequence[FeedResult]) -> str:
    """The decode table (markdown): throughput per row, then the ratios."""
    short = _SHORT
    head = ["feed", "ev/page"] + [f"{short[r]} kev/s" for r in ROWS] + [
        "ll MB/s", "ll/limit", "floor/limit", "keep_raw/limit", "ll/A", "ll/B", "ll/C", "ll/ceiling", "verified"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        bad = [f"{short[k]}: {v} pages differ" for k, v in r.mismatched.items() if v]
        cells = [r.feed, f"{r.events / r.pages:.0f}"]
        cells += [f"{r.events_per_s(row) / 1e3:,.0f}" for row in ROWS]
        cells += [f"{r.mb_per_s('loanledger'):.0f}", f"{r.ratio(LIMIT):.2f}", f"{r.ratio(LIMIT, FLOOR):.2f}",
                  f"{r.ratio(LIMIT, KEEP_RAW):.2f}"]
        cells += [f"{r.ratio(row):.2f}" for row in ("A json+dict", "B orjson+dict", "C pydantic")]
        cells += [f"{r.ratio('ceiling msgspec-str'):.2f}", "; ".join(bad) or "all equal"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(summary(results))
    return "\n".join(lines)


def summary(results: Sequence[FeedResult]) -> str:
    """Minimum and geometric mean of the headline ratios."""
    def stats(values: list[float]) -> str:
        return f"min {min(values):.2f}, geometric mean {statistics.geometric_mean(values):.2f}"

    return (
        f"loanledger / limit: {stats([r.ratio(LIMIT) for r in results])}; "
        f"floor / limit: {stats([r.ratio(LIMIT, FLOOR) for r in results])}; "
        f"keep_raw / limit: {stats([r.ratio(LIMIT, KEEP_RAW) for r in results])}; "
        f"loanledger / A: {stats([r.ratio('A json+dict') for r in results])}; "
        f"/ C: {stats([r.ratio('C pydantic') for r in results])}; "
        f"/ ceiling: {stats([r.ratio('ceiling msgspec-str') for r in results])}"
    )


def breakdown(results: Sequence[FeedResult], event_ns: float) -> str:
    """Where loanledger's decode time goes, per record in ns (markdown), from the timed rows:
    JSON scanning into Structs (the ceiling), parsing the used amounts into Decimal (the limit
    minus the ceiling), then loanledger's own work (its decode minus the limit: typed wire
    rows, the checks, normalization, ids and the LoanEvents, of which building the LoanEvents
    themselves is estimated from `event_ns`)."""
    head = ["feed", "loanledger ns/record", "JSON scan (ceiling)", "+ Decimal (limit)",
            "loanledger's own work", "of which LoanEvent construction", "ev/record", "ll/limit"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        per = 1e9 / r.records
        full = r.seconds["loanledger"] * per
        ceil = r.seconds["ceiling msgspec-str"] * per
        lim = r.seconds[LIMIT] * per
        ev = event_ns * r.events / r.records

        def pct(x: float) -> str:
            return f"{x:,.0f} ({x / full:.0%})"

        lines.append("| " + " | ".join([
            r.feed, f"{full:,.0f}", pct(ceil), pct(max(0.0, lim - ceil)), pct(full - lim), pct(ev),
            f"{r.events / r.records:.2f}", f"{r.ratio(LIMIT):.2f}",
        ]) + " |")
    lines.append("")
    lines.append(f"LoanEvent construction measured at {event_ns:.0f} ns per event.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="decode throughput: loanledger vs baselines and the msgspec ceiling")
    ap.add_argument("--pages", type=int, default=200, help="pages of 100 records per feed (default 200)")
    ap.add_argument("--reps", type=int, default=7, help="repetitions; the median counts (default 7)")
    ap.add_argument("--feeds", nargs="*", choices=sorted(data.FEEDS), help="default: every feed")
    args = ap.parse_args(argv)
    results = run(args.pages, args.reps, args.feeds, progress=lambda f: print(f"  decoded {f}", file=sys.stderr))
    print(table(results))
    print()
    print(breakdown(results, event_cost_ns()))
    ids_ns, decode_ns = derived_id_cost(args.pages, args.reps)
    print(f"\nbinance.pmloan_history derived ids: {ids_ns:.0f} ns of {decode_ns:.0f} ns a record ({ids_ns / decode_ns:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
