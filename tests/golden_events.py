"""Fingerprints of the events every feed decodes from the benchmark pages (tests/data/decode_golden.json).

`python tests/golden_events.py` writes them from the code it imports; the file in the
repository was written by the decoders before the throughput rework (issue 16), so
tests/core/test_decode_golden.py proves the reworked normalizers build byte-identical
events (ids, signs of zero, Decimal exponents, raw bytes) on thousands of records.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from pathlib import Path

import loanledger
from loanledger.events import encode_json

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
GOLDEN = Path(__file__).resolve().parent / "data" / "decode_golden.json"
#: (seed, pages) of benchmarks/data.py per feed: the default seed and another one
PAGES = ((20_260_101, range(0, 8)), (7, range(0, 4)))


def fingerprints() -> dict[str, str]:
    sys.path.insert(0, str(BENCH))
    try:
        data = importlib.import_module("data")
    finally:
        sys.path.remove(str(BENCH))
    out: dict[str, str] = {}
    for feed in sorted(loanledger.FEEDS):
        for keep_raw in (False, True):
            digest = hashlib.sha256()
            for seed, pages in PAGES:
                for page in pages:
                    body = data.page_body(feed, page, seed=seed)
                    digest.update(encode_json(loanledger.decode(feed, body, account="golden", keep_raw=keep_raw)))
            out[f"{feed} keep_raw={keep_raw}"] = digest.hexdigest()
    return out


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(fingerprints(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
