"""Reading msgpack back: `decode_msgpack(data, many=True)` and `iter_msgpack` read exactly what
`loanledger export --format msgpack` writes (events back to back), in linear time."""

from __future__ import annotations

import asyncio
import importlib
import mmap
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loanledger
from loanledger import FeedKey, LoanEvent, SQLiteStore
from loanledger.events import _object_ends, decode_msgpack, encode_msgpack, iter_msgpack

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def realistic_events(per_feed: int) -> dict[str, list[LoanEvent]]:
    """Events of every feed decoded (raw kept) from generated pages in the venues' wire format
    (benchmarks/data.py: every documented field, 18-20 digit amounts, nested one-click orders,
    Bybit's int/str drift)."""
    sys.path.insert(0, str(BENCH))
    try:
        data: Any = importlib.import_module("data")
    finally:
        sys.path.remove(str(BENCH))
    out: dict[str, list[LoanEvent]] = {}
    for feed in loanledger.FEEDS:
        by_id: dict[str, LoanEvent] = {}
        page = 0
        while len(by_id) < per_feed:
            for ev in loanledger.decode(feed, data.page_body(feed, page), account="main", keep_raw=True):
                by_id[ev.id] = ev
            page += 1
        out[feed] = list(by_id.values())[:per_feed]
    return out


async def test_export_msgpack_of_100_000_events_reads_back_exactly(tmp_path: Path) -> None:
    per_feed = -(-100_000 // len(loanledger.FEEDS))
    events = realistic_events(per_feed)
    db = tmp_path / "big.db"
    async with SQLiteStore(db) as store:
        for feed, evs in events.items():
            key = FeedKey(loanledger.FEEDS[feed].venue, "main", feed)
            token = None
            for i in range(0, len(evs), 2500):
                new = f"t{i}"
                await store.commit_page(key, evs[i : i + 2500], new, expected=token)
                token = new
        stored = [ev async for ev in store.events()]
    assert len(stored) >= 100_000 and all(ev.raw is not None for ev in stored)
    out = tmp_path / "events.msgpack"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loanledger", "export", "--db", str(db), "--format", "msgpack", "--output", str(out),
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0 and f"exported {len(stored)} events".encode() in err
    data = out.read_bytes()
    assert decode_msgpack(data, many=True) == stored
    # the streaming reader over a memory map of the file: the same events, one at a time
    with out.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        n = 0
        for got, want in zip(iter_msgpack(mm), stored, strict=True):
            assert got == want and got.raw == want.raw
            n += 1
        assert n == len(stored)


def test_many_reads_a_stream_an_array_and_nothing() -> None:
    events = [ev for evs in realistic_events(20).values() for ev in evs]
    stream = b"".join(encode_msgpack(ev) for ev in events)
    assert decode_msgpack(stream, many=True) == events
    assert decode_msgpack(encode_msgpack(events), many=True) == events
    assert decode_msgpack(b"", many=True) == [] == list(iter_msgpack(b""))
    assert decode_msgpack(encode_msgpack(events[0])) == events[0]
    # each event is also plain msgpack for any other reader: a map of the contract's fields
    first = msgspec.msgpack.decode(encode_msgpack(events[0]))
    assert list(first) == list(loanledger.events.FIELDS) and first["raw"] == bytes(events[0].raw)  # type: ignore[arg-type]


def test_a_truncated_or_malformed_stream_is_an_error() -> None:
    events = [ev for evs in realistic_events(3).values() for ev in evs]
    stream = b"".join(encode_msgpack(ev) for ev in events)
    for cut in (1, 17, len(stream) // 2, len(stream) - 1):
        with pytest.raises(msgspec.DecodeError):
            decode_msgpack(stream[:cut], many=True)
    with pytest.raises(msgspec.DecodeError, match="invalid byte 0xc1"):
        decode_msgpack(stream + b"\xc1", many=True)
    with pytest.raises(msgspec.DecodeError):  # a msgpack object that is not an event
        decode_msgpack(stream + msgspec.msgpack.encode({"venue": "okx"}), many=True)


_leaf = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
         | st.text(max_size=300) | st.binary(max_size=70_000)
         | st.builds(msgspec.msgpack.Ext, st.integers(0, 127), st.binary(max_size=300)))
_values = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=20)
                       | st.dictionaries(st.text(max_size=10), inner, max_size=20), max_leaves=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(_values, max_size=8))
def test_object_boundaries_of_any_msgpack_stream(values: list[Any]) -> None:
    """The header walk that splits a stream handles every msgpack type and size class."""
    parts = [msgspec.msgpack.encode(v) for v in values]
    ends = list(_object_ends(memoryview(b"".join(parts))))
    assert ends == [sum(len(p) for p in parts[: i + 1]) for i in range(len(parts))]

