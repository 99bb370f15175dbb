"""The benchmark pages stay valid venue pages, and the baselines stay honest.

benchmarks/ is not part of the package; these checks keep it working as the decoders
change: every generated page decodes, deterministically, and (when the `bench` extra
is installed) every baseline builds exactly loanledger's events from it.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

import loanledger

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def data() -> Any:
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("data")
    finally:
        sys.path.remove(str(BENCH))


def test_every_feed_has_pages(data: Any) -> None:
    assert set(data.FEEDS) == set(loanledger.FEEDS)


@pytest.mark.parametrize("feed", sorted(loanledger.FEEDS))
def test_pages_decode_deterministically(data: Any, feed: str) -> None:
    bodies = [data.page_body(feed, p) for p in (0, 1, 37)]
    assert bodies == [data.page_body(feed, p) for p in (0, 1, 37)]
    events = [ev for body in bodies for ev in loanledger.decode(feed, body)]
    assert len(events) >= 3 * data.PAGE_SIZE
    assert len({ev.id for ev in events}) == len(events)  # pages follow each other: no id twice


def test_ref_index_inverts_ref_of(data: Any) -> None:
    assert all(data.ref_index(data.ref_of(i)) == i for i in (0, 99, 100, 123_456))


@pytest.mark.parametrize("feed", sorted(loanledger.FEEDS))
def test_baselines_build_the_same_events(data: Any, feed: str) -> None:
    pytest.importorskip("orjson")
    pytest.importorskip("pydantic")
    sys.path.insert(0, str(BENCH))
    try:
        baselines = importlib.import_module("baselines")
    finally:
        sys.path.remove(str(BENCH))
    body = data.page_body(feed, 2)
    want = loanledger.decode(feed, body)
    assert baselines.dict_normalizers[feed](baselines.json_loads(body), "default", feed) == want
    assert baselines.ceiling_decoders[feed].decode(body) is not None
    if feed != "bybit.fixed_repayment_history":  # JSON-number amounts: orjson and pydantic go through float
        assert baselines.dict_normalizers[feed](baselines.orjson_loads(body), "default", feed) == want
        assert baselines.pydantic_decoders[feed](body, "default", feed) == want


@pytest.mark.parametrize("feed", sorted(loanledger.FEEDS))
def test_kept_raw_records_do_not_hold_the_page_body(data: Any, feed: str) -> None:
    """keep_raw copies each record's bytes: the events of a page never keep its whole body alive
    (a consumer keeping a few events of many pages would otherwise hold every page)."""
    body = data.page_body(feed, 3)
    before = sys.getrefcount(body)
    events = loanledger.decode(feed, body, keep_raw=True)
    assert events and all(ev.raw is not None for ev in events)
    assert sys.getrefcount(body) == before
    assert all(bytes(ev.raw) in body for ev in events if ev.raw is not None)
