"""Item 4, second half: malformed venue answers (missing fields, wrong types, huge numbers,
deep nesting, 10 MB bodies) raise DecodeError or the venue's typed error: never KeyError,
TypeError, ValueError or RecursionError, and never hang.

Two levels: the decoders themselves, fed thousands of seeded mutations of real simulator
answers (`loanledger.decode`, both with and without `keep_raw`); and whole walks through the
transport, the simulator answering one malformed body in the middle of a walk.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections import Counter
from typing import Any

import pytest
from rel_support import (
    AMOUNT_FIELDS,
    NO_RETRY,
    Figures,
    check_exactly_once,
    records_of,
    sample_bodies,
    set_fields,
    walk,
    world,
)

from loanledger import DecodeError, VenueError, decode
from loanledger.registry import FEEDS

#: values a field may turn into: other types, specials, huge numbers and strings
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, -0.0, 1e308, "", " ", "x", "NaN", "-Infinity", "1e999999999", "-1E-999999999",
    "0E-1000000", "9" * 5000, "1" * 40 + "." + "1" * 40, 10**30, -(10**30), 2**63, 2**64, -(2**63) - 1, {}, [],
    [[]], {"a": 1}, [None], "\u00b2", "\u0661\u0662\u0663", "1_000", "0x10", "+5", "1e5", "\x00", "\ud7ff" * 3,
    "x" * 100_000,
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            out += _paths(v, prefix + (i,))
    return out


def mutate(doc: Any, rng: random.Random) -> Any:
    """One random edit: drop a field, change a value's type or size, or replace a container."""
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return copy.deepcopy(rng.choice(ODD_VALUES))
    path = rng.choice(paths)
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    roll = rng.random()
    if roll < 0.25 and isinstance(parent, dict):
        del parent[key]
    elif roll < 0.35 and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))  # a duplicated record
    else:
        parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    return doc


@pytest.fixture(scope="module")
def bodies() -> dict[str, list[bytes]]:
    return asyncio.run(sample_bodies(seed=5, scale=0.2))


def fuzz(bodies: dict[str, list[bytes]], per_feed: int, seed: int) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for feed, answers in sorted(bodies.items()):
        rng = random.Random(f"{seed}:{feed}")
        with_records = [b for b in answers if records_of(json.loads(b))] or answers
        for i in range(per_feed):
            doc = json.loads(rng.choice(with_records))
            for _ in range(rng.randint(1, 3)):
                doc = mutate(doc, rng)
            body = json.dumps(doc).encode()
            try:
                decode(feed, body, keep_raw=i % 2 == 1)
                outcomes["decoded"] += 1
            except (DecodeError, VenueError) as exc:
                outcomes[type(exc).__name__] += 1
            except Exception as exc:  # the failure this test exists for
                raise AssertionError(f"{feed}: {type(exc).__name__}: {exc}\nbody: {body[:400]!r}") from exc
    return outcomes


def test_mutated_answers_decode_or_raise_typed_errors(bodies: dict[str, list[bytes]], figures: Figures) -> None:
    outcomes = fuzz(bodies, per_feed=200, seed=1)
    assert outcomes["DecodeError"] > 0 and outcomes["decoded"] > 0
    figures.add(**{"malformed: mutated answers decoded": sum(outcomes.values())})


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(2, 12))
def test_mutated_answers_soak(bodies: dict[str, list[bytes]], seed: int, figures: Figures) -> None:
    outcomes = fuzz(bodies, per_feed=1000, seed=seed)
    figures.add(**{"malformed: mutated answers decoded": sum(outcomes.values())})


SHAPES: dict[str, bytes] = {
    "empty": b"",
    "null": b"null",
    "a string": b'"ok"',
    "not UTF-8": b"\xff\xfe\xfd",
    "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "envelope nested deep": b'{"code":"0","retCode":0,"data":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "10 MB of digits": b"9" * 10_000_000,
    "10 MB string": b'"' + b"x" * 10_000_000 + b'"',
    "huge integer": b"1" + b"0" * 5000,
}


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
def test_odd_whole_bodies(shape: str, figures: Figures) -> None:
    for feed in FEEDS:
        for keep_raw in (False, True):
            with pytest.raises((DecodeError, VenueError)):
                decode(feed, SHAPES[shape], keep_raw=keep_raw)
    figures.add(**{"malformed: whole-body shapes decoded": 2 * len(FEEDS)})


def test_amount_fields_with_huge_or_odd_values(bodies: dict[str, list[bytes]], figures: Figures) -> None:
    """Every money field of every feed set to each odd value: a typed error or a decoded
    event whose amount is a sane finite Decimal (never a float, never 1E+999999999)."""
    from decimal import Decimal

    n = 0
    for feed, names in AMOUNT_FIELDS.items():
        body = next(b for b in bodies[feed] if records_of(json.loads(b)))
        for value in ODD_VALUES:
            doc = json.loads(body)
            set_fields(records_of(doc)[0], names, copy.deepcopy(value))
            n += 1
            try:
                events = decode(feed, json.dumps(doc).encode())
            except (DecodeError, VenueError):
                continue
            for ev in events:
                assert isinstance(ev.amount, Decimal) and ev.amount.is_finite() and abs(ev.amount.adjusted()) <= 400
    figures.add(**{"malformed: odd amounts decoded": n})


# --- through the transport -----------------------------------------------------------------------------

ANSWERS: dict[str, Any] = {
    # deterministic: a well-formed body of the wrong shape is raised at once (asking again cannot help)
    "a record without its fields": lambda body: _first_record(body, lambda r: r.clear()),
    "a record with wrong types": lambda body: _first_record(body, lambda r: r.update({k: [k] for k in r})),
    "a huge amount": lambda body: _first_record(body, lambda r: r.update({k: "1e999999999" for k in r})),
    "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    # transient: not JSON at all (cut short, a proxy's page): retried; without retries raised
    "10 MB of garbage": b"<" * 10_000_000,
    "40 MB (beyond the 32 MB cap)": b" " * 40_000_000,
}


def _first_record(body: bytes, edit: Any) -> bytes:
    doc = json.loads(body)
    records = records_of(doc)
    if records:
        edit(records[0])
    return json.dumps(doc).encode()


@pytest.mark.parametrize("answer", ANSWERS, ids=list(ANSWERS))
async def test_a_malformed_answer_mid_walk_is_a_typed_error_then_resumes(answer: str, figures: Figures) -> None:
    """The second answer of every feed's walk is malformed: the walk raises a typed error (no
    retries), nothing of that page is kept, and resuming from the checkpoint completes the
    dataset exactly once. Bounded in time (never hangs)."""
    async with world(seed=6, scale=0.3) as w:
        clients = w.clients(pages=10, retry=NO_RETRY)
        pairs = [(c, f) for c in clients for f in c.feed_ids()]
        for _, f in pairs:
            path = FEEDS[f].path
            w.sim.faults.force_body(lambda b: b, path=path)  # the first answer passes unchanged
            w.sim.faults.force_body(ANSWERS[answer], path=path)  # the second is replaced
        results = await asyncio.wait_for(asyncio.gather(*(walk(c, f) for c, f in pairs)), 60)
        for c in clients:
            await c.close()
        errors: Counter[str] = Counter()
        for (c, f), r in zip(pairs, results):
            check_exactly_once(r, w.expected(c, f))
            errors.update(r.errors)
            assert set(r.errors) <= {"DecodeError", "VenueUnavailable", "BadRequest", "VenueError"}, (f, r.errors)
        assert errors, "no walk saw the malformed answer"
        figures.add(**{"malformed: answers served mid-walk": len(pairs)})
