"""The reworked normalizers (issue 16) build byte-identical events to the ones before them.

tests/data/decode_golden.json holds, per feed and `keep_raw`, the sha256 of the JSON of every
event decoded from 12 benchmark pages (two seeds: thousands of records with 18-20 digit
amounts, trailing zeros, dust, unknown fields, same-ms ties, liquidation episodes), written by
the decoders before the rework (tests/golden_events.py). JSON keeps what `==` on Decimals would
not: the sign of a zero, trailing zeros, the exponent, and `raw` byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

import loanledger

HERE = Path(__file__).resolve().parent.parent


def _golden_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("golden_events", HERE / "golden_events.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fingerprints() -> dict[str, str]:
    return _golden_module().fingerprints()  # type: ignore[no-any-return]


def test_every_feed_is_pinned() -> None:
    golden = json.loads((HERE / "data" / "decode_golden.json").read_text())
    assert {key.split(" ")[0] for key in golden} == set(loanledger.FEEDS)


@pytest.mark.parametrize("keep_raw", [False, True])
@pytest.mark.parametrize("feed", sorted(loanledger.FEEDS))
def test_events_are_byte_identical_to_the_pinned_ones(fingerprints: dict[str, str], feed: str, keep_raw: bool) -> None:
    golden = json.loads((HERE / "data" / "decode_golden.json").read_text())
    key = f"{feed} keep_raw={keep_raw}"
    assert fingerprints[key] == golden[key]
