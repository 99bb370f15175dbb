"""`make bench`: decode throughput, end-to-end budget use, flat memory and export costs, as tables.

    python benchmarks/run.py                 # the full run (about 4-5 minutes on 2 cores)
    python benchmarks/run.py --quick         # smaller parameters (about a minute)
    python benchmarks/run.py --only decode   # one part (decode, sync, memory, export, scale)
    python benchmarks/run.py --only scale    # the scale-out run (not in the default run: `make bench-scale`)
    python benchmarks/run.py --markdown FILE # also write the tables and the machine note to FILE

Headline figures are ratios (loanledger against the baselines and the ceiling, achieved
against allowed request rates, large against small peak RSS): on a shared machine the
absolute numbers move from run to run, the ratios far less. Exit status 1 if a hard
requirement fails (a rate-limit answer from the simulator, or memory not flat).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import decode  # noqa: E402
import export  # noqa: E402
import memory  # noqa: E402
import sync  # noqa: E402

# scale.py needs PostgreSQL server binaries and the `postgres` extra: imported when asked for


def machine_note() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for dist in ("loanledger", "msgspec", "aiohttp", "aiolimiter", "orjson", "pydantic", "pydantic-core", "psutil",
                 "pyarrow"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} (not installed)")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{cpu}, {os.cpu_count()} cores (shared), {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()} ({platform.python_implementation()}); load average {load}; "
        + "; ".join(versions)
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="loanledger benchmarks: decode, sync, memory (and scale on request)")
    ap.add_argument("--quick", action="store_true", help="smaller parameters (a smoke run)")
    ap.add_argument("--only", choices=("decode", "sync", "memory", "export", "scale"), action="append",
                    help="run only these parts (scale runs only when named)")
    ap.add_argument("--markdown", help="also write the tables and the machine note to this file")
    args = ap.parse_args(argv)
    parts = args.only or ["decode", "sync", "memory", "export"]

    def note(msg: str) -> None:
        print(f"  {msg}", file=sys.stderr, flush=True)

    out: list[str] = [f"Machine: {machine_note()}", ""]
    print(out[0], flush=True)
    ok = True
    started = time.perf_counter()
    if "decode" in parts:
        pages, reps = (40, 3) if args.quick else (200, 7)
        print(f"\n## 1. Decode throughput ({pages} pages x 100 records per feed, median of {reps})\n", flush=True)
        results = decode.run(pages, reps, progress=lambda f: note(f"decoded {f}"))
        ids_ns, decode_ns = decode.derived_id_cost(min(pages, 100), reps)
        text = (decode.table(results) + "\n\nWhere loanledger's decode time goes (per record):\n\n"
                + decode.breakdown(results, decode.event_cost_ns())
                + f"\n\nbinance.pmloan_history derived ids (`derived_ids` over the decoded rows): {ids_ns:.0f} ns of "
                  f"{decode_ns:.0f} ns a record of `loanledger.decode` ({ids_ns / decode_ns:.0%})")
        print(text, flush=True)
        out += [f"## 1. Decode throughput ({pages} pages x 100 records per feed, median of {reps})", "", text, ""]
    if "sync" in parts:
        seconds = 2.0 if args.quick else 5.0
        print(f"\n## 2. End to end against the simulator (walks of about {seconds:g} s per feed)\n", flush=True)
        results = sync.run(seconds=seconds, progress=note)
        text = sync.table(results)
        ok &= all(r.rate_answers == 0 for r in results)
        print(text, flush=True)
        out += [f"## 2. End to end against the simulator (walks of about {seconds:g} s per feed)", "", text, ""]
    if "memory" in parts:
        sizes = (10_000, 100_000) if args.quick else (10_000, 1_000_000)
        print(f"\n## 3. Memory: peak RSS streaming {sizes[0]:,} vs {sizes[1]:,} events\n", flush=True)
        runs = memory.run(sizes, progress=note)
        text = memory.table(runs)
        ok &= max(r.peak_rss for r in runs) <= 1.10 * runs[0].peak_rss
        print(text, flush=True)
        out += [f"## 3. Memory: peak RSS streaming {sizes[0]:,} vs {sizes[1]:,} events", "", text, ""]
    if "export" in parts:
        n = 100_000 if args.quick else 1_000_000
        print(f"\n## 4. Export: {n:,} events per format (the real command, a fresh process each)\n", flush=True)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            runs4 = export.run(n, Path(tmp), progress=note)
        text = export.table(runs4)
        print(text, flush=True)
        out += [f"## 4. Export: {n:,} events per format", "", text, ""]

    if "scale" in parts:
        import scale

        workers = (1, 2) if args.quick else (1, 2, 4)
        title = f"## 5. Scale-out: feeds per minute with {', '.join(map(str, workers))} workers, one simulator"
        print(f"\n{title}\n", flush=True)
        kw = {"accounts": 6, "binance_accounts": 4} if args.quick else {}
        runs = scale.run(workers, progress=note, **kw)
        text = scale.table(runs) + "\n\n" + scale.analysis(runs)
        ok &= all(r.rate_answers == 0 and r.failed == 0 for r in runs)
        print(text, flush=True)
        out += [title, "", text, ""]
    print(f"\n(benchmarks took {time.perf_counter() - started:.0f} s)")
    if args.markdown:
        Path(args.markdown).write_text("\n".join(out))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
