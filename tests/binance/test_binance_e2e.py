"""The Binance client against the simulator over loopback: every feed, every key type."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization

from loanledger import AuthError, Binance, InvalidArgument, RateLimits
from loanledger.testing import BinanceAccount, Simulator

from binance_helpers import (
    AMOUNT,
    DAY,
    DEFAULT_SINCE,
    INTEREST,
    INTEREST_FEED,
    PMLOAN,
    PMLOAN_FEED,
    SCALE,
    WINDOW,
    minimum_requests,
    public_pem,
)


def q(entry: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(entry.query).items()}


def windows(sim: Simulator, path: str = PMLOAN) -> list[tuple[int, int]]:
    """The distinct (startTime, endTime) windows asked, in order."""
    out: list[tuple[int, int]] = []
    for e in sim.requests(path=path):
        w = (int(q(e)["startTime"]), int(q(e)["endTime"]))
        if not out or out[-1] != w:
            out.append(w)
    return out


def statuses(sim: Simulator) -> Counter[int]:
    return Counter(e.status for e in sim.log)


# --- pmloan-history: the 3-year backfill ---------------------------------------------------------------


async def test_three_year_backfill_returns_every_row_once_with_the_minimum_requests(
    bsim: Simulator, acct: BinanceAccount, client: Binance
) -> None:
    assert acct.data_end is not None
    stamps = [r.repay_time for r in acct.pmloan]
    assert acct.data_end - min(stamps) > 3 * 365 * DAY  # at least three years of rows

    feed = client.pmloan_history(until=acct.data_end)
    events = await feed.collect()
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids)) == len(acct.pmloan)
    assert set(ids) == bsim.binance.expected_ids(acct, PMLOAN_FEED)
    assert any(i.endswith("#2") for i in ids)  # the exact triple stayed three events
    assert all(e.kind == "repay" and e.amount < 0 and e.account == "main" for e in events)

    reqs = bsim.requests(path=PMLOAN)
    assert len(reqs) == minimum_requests(stamps, DEFAULT_SINCE, acct.data_end)
    assert feed.stats.requests == len(reqs) and feed.stats.retries == 0
    assert statuses(bsim) == {200: len(reqs)}  # never a 429
    # consecutive non-overlapping windows from `until` down to the default since
    ws = windows(bsim)
    assert ws[0][1] == acct.data_end and ws[-1][0] == DEFAULT_SINCE
    for (s1, _), (s2, e2) in zip(ws, ws[1:]):
        assert e2 == s1 - 1
    assert all(e - s < 360 * DAY for s, e in ws)
    # each window paged current=1..n with size=100
    for s, e in ws:
        pages = [q(r)["current"] for r in reqs if q(r)["startTime"] == str(s)]
        assert pages == [str(i) for i in range(1, len(pages) + 1)]
    assert {q(r)["size"] for r in reqs} == {"100"}

    # a second run over the same range: identical ids in identical order
    again = [e.id for e in await client.pmloan_history(until=acct.data_end).collect()]
    assert again == ids


async def test_rows_on_window_edges_and_twins_across_a_page_boundary(
    bsim: Simulator, acct: BinanceAccount, client: Binance
) -> None:
    assert acct.data_end is not None
    end = acct.data_end
    got = Counter(e.ts for e in await client.pmloan_history(until=end).collect())
    for k in (1, 2, 3):
        assert got[end - k * WINDOW] >= 1  # the last ms of a window
        assert got[end - k * WINDOW + 1] >= 1  # the first ms of the next newer one
    assert got[end] >= 1
    # the window edge at end - 360d + 1 carries a twin: both arrive
    edge = [r for r in acct.pmloan if r.repay_time == end - WINDOW + 1]
    assert len(edge) >= 2 and got[end - WINDOW + 1] == len(edge)
    # the newest window's rows 100 and 101 are twins, split over pages 1 and 2
    newest = sorted((r for r in acct.pmloan if r.repay_time > end - WINDOW), key=lambda r: (r.repay_time, r.seq),
                    reverse=True)
    r99, r100 = newest[99], newest[100]
    assert (r99.repay_time, r99.asset, r99.amount) == (r100.repay_time, r100.asset, r100.amount)
    assert got[r99.repay_time] == sum(1 for r in acct.pmloan if r.repay_time == r99.repay_time)


async def test_since_until_bound_the_walk(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    assert acct.data_end is not None
    lo, hi = acct.data_end - 800 * DAY, acct.data_end - WINDOW  # hi is a row's exact ms
    ids = [e.id for e in await client.pmloan_history(since=lo, until=hi).collect()]
    assert len(ids) == len(set(ids))
    assert set(ids) == bsim.binance.expected_ids(acct, PMLOAN_FEED, since=lo, until=hi)
    assert any(i.startswith(f"{hi}:") for i in ids)
    assert windows(bsim) == [(hi - WINDOW + 1, hi), (lo, hi - WINDOW)]
    # datetimes work as well as ms
    lo_dt = dt.datetime.fromtimestamp(lo / 1000, dt.UTC)
    hi_dt = dt.datetime.fromtimestamp(hi / 1000, dt.UTC)
    again = [e.id for e in await client.pmloan_history(since=lo_dt, until=hi_dt).collect()]
    assert again == ids


async def test_incremental_resume_fetches_only_the_new_window(
    bsim: Simulator, acct: BinanceAccount, client: Binance
) -> None:
    assert acct.data_end is not None
    first = client.pmloan_history(until=acct.data_end)
    await first.collect()
    before = {r.seq for r in acct.pmloan}
    bsim.binance.grow(acct, seed=5, n=3)
    new_rows = [r for r in acct.pmloan if r.seq not in before]
    assert len(new_rows) == 3 and all(r.repay_time > acct.data_end for r in new_rows)
    n = len(bsim.requests(path=PMLOAN))
    second = client.pmloan_history(resume=first.checkpoint)
    got = await second.collect()
    assert {e.id for e in got} == (
        bsim.binance.expected_ids(acct, PMLOAN_FEED) - bsim.binance.expected_ids(acct, PMLOAN_FEED, until=acct.data_end)
    )
    assert len(got) == 3
    assert len(bsim.requests(path=PMLOAN)) - n == 1  # one window: the last edge .. now
    # and nothing new: nothing yielded
    third = await client.pmloan_history(resume=second.checkpoint).collect()
    assert third == []


async def test_interrupted_walk_resumes_exactly_once(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    assert acct.data_end is not None
    feed = client.pmloan_history(until=acct.data_end)
    seen: list[str] = []
    token = None
    pages = feed.pages()
    async for page in pages:
        seen += [e.id for e in page.events]
        token = page.checkpoint
        if page.number == 3:
            break
    await pages.aclose()
    assert token is not None
    rest = await client.pmloan_history(resume=token).collect()
    seen += [e.id for e in rest]
    assert len(seen) == len(set(seen))
    assert set(seen) == bsim.binance.expected_ids(acct, PMLOAN_FEED)


async def test_keep_raw_carries_the_wire_rows(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    assert acct.data_end is not None
    events = await client.pmloan_history(since=acct.data_end - 200 * DAY, until=acct.data_end, keep_raw=True).collect()
    raws = [msgspec.json.decode(bytes(e.raw)) for e in events if e.raw is not None]
    assert len(raws) == len(events) > 0
    wire = {(r.repay_time, r.asset, r.amount) for r in acct.pmloan}
    assert {(r["repayTime"], r["asset"], r["amount"]) for r in raws} <= wire
    assert any(set(r) - {"asset", "amount", "repayTime"} for r in raws)  # unknown fields kept verbatim


# --- interest-history ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bounds", ["inclusive", "exclusive"])
async def test_interest_walk_is_exact_under_either_bound_semantics(
    bsim: Simulator, acct: BinanceAccount, client: Binance, bounds: str
) -> None:
    bsim.binance.interest_bounds = bounds  # type: ignore[assignment]
    feed = client.pm_interest_history()
    events = await feed.collect()
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids))
    assert set(ids) == bsim.binance.expected_ids(acct, INTEREST_FEED)
    assert all(e.kind == "interest" and e.amount <= 0 for e in events)
    reqs = bsim.requests(path=INTEREST)
    spans = [int(q(r)["endTime"]) - int(q(r)["startTime"]) for r in reqs]
    assert max(spans) <= 30 * DAY
    assert min(spans) < 15 * DAY  # the 40-day five-asset episode forced splits
    assert statuses(bsim) == {200: len(reqs)}


async def test_interest_asset_filter_and_bounds(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    assert acct.data_end is not None
    lo, hi = acct.data_end - 420 * DAY, acct.data_end - 300 * DAY
    got = await client.pm_interest_history(since=lo, until=hi, asset="BTC").collect()
    assert {e.id for e in got} == bsim.binance.expected_ids(acct, INTEREST_FEED, since=lo, until=hi, asset="BTC")
    assert got and {e.currency for e in got} == {"BTC"}
    assert all(q(r)["asset"] == "BTC" for r in bsim.requests(path=INTEREST))


async def test_interest_incremental_resume_yields_only_new_rows(
    bsim: Simulator, acct: BinanceAccount, client: Binance
) -> None:
    first = client.pm_interest_history()
    before = {e.id for e in await first.collect()}
    top = max(r.accrued_time for r in acct.interest)
    bsim.binance.grow(acct, seed=8, n=3)
    n = len(bsim.requests(path=INTEREST))
    got = await client.pm_interest_history(resume=first.checkpoint).collect()
    assert {e.id for e in got} == bsim.binance.expected_ids(acct, INTEREST_FEED) - before
    assert len(got) == 3
    # only the span from the previous walk's newest row to now is asked again
    again = bsim.requests(path=INTEREST)[n:]
    assert again and all(int(q(r)["startTime"]) >= top - 1 for r in again)
    hi = int(q(again[0])["endTime"]) - 1  # the frozen top of the walk (requests are padded by 1 ms)
    assert len(again) == -(-(hi - top + 1) // (30 * DAY - 2))


async def test_pmloan_amount(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    from decimal import Decimal

    out = await client.pmloan_amount()
    assert out.asset == acct.loan_asset and out.amount == Decimal(acct.loan_amount)
    assert [e.status for e in bsim.requests(path=AMOUNT)] == [200]


# --- every key type, with the real feeds ----------------------------------------------------------------


def _encrypted(private_pem: str, password: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(password)
    )


@pytest.mark.parametrize("key_type", ["hmac", "rsa", "rsa-bytes-encrypted", "ed25519", "ed25519-bytes"])
async def test_every_key_type_signs_requests_the_simulator_accepts(
    bsim: Simulator, limits: RateLimits, key_type: str, rsa_private_pem: str, ed25519_private_pem: str
) -> None:
    kw: dict[str, Any]
    if key_type == "hmac":
        acct = bsim.binance.add_account("k-" + key_type, secret="s3cr3t", label=key_type)
        kw = {"secret": "s3cr3t"}
    else:
        pem = rsa_private_pem if key_type.startswith("rsa") else ed25519_private_pem
        acct = bsim.binance.add_account("k-" + key_type, public_key=public_pem(pem), label=key_type)
        if key_type == "rsa-bytes-encrypted":
            kw = {"private_key": _encrypted(pem, b"pw"), "private_key_password": "pw"}
        elif key_type == "ed25519-bytes":
            kw = {"private_key": pem.encode()}
        else:
            kw = {"private_key": pem}
    bsim.binance.populate(acct, seed=9, scale=0.3)
    assert acct.data_end is not None
    async with Binance("k-" + key_type, base_url=bsim.base_url, limits=limits, **kw) as c:
        assert c.key_type == key_type.split("-")[0]
        pm_ids = {e.id for e in await c.pmloan_history(since=acct.data_end - 700 * DAY, until=acct.data_end).collect()}
        it_ids = {e.id for e in await c.pm_interest_history(since=acct.data_end - 90 * DAY).collect()}
        amount = await c.pmloan_amount()
    assert pm_ids == bsim.binance.expected_ids(acct, PMLOAN_FEED, since=acct.data_end - 700 * DAY, until=acct.data_end)
    assert it_ids == bsim.binance.expected_ids(acct, INTEREST_FEED, since=acct.data_end - 90 * DAY)
    assert str(amount.amount) == acct.loan_amount
    assert all(e.status == 200 and e.account == key_type for e in bsim.log)


async def test_a_wrong_secret_is_an_auth_error_after_one_resign(bsim: Simulator, acct: BinanceAccount,
                                                                make_client: Callable[..., Binance]) -> None:
    async with make_client(secret="not-the-secret") as c:
        with pytest.raises(AuthError) as info:
            await c.pmloan_history().collect()
    assert info.value.code == "-1022" and info.value.signature
    assert [e.code for e in bsim.log] == ["-1022", "-1022"]  # re-signed once, then gave up


async def test_an_unknown_key_is_an_auth_error_without_retry(bsim: Simulator, acct: BinanceAccount,
                                                             make_client: Callable[..., Binance]) -> None:
    async with make_client(api_key="nobody") as c:
        with pytest.raises(AuthError) as info:
            await c.pmloan_amount()
    assert info.value.code == "-2015" and info.value.status == 401
    assert [e.code for e in bsim.log] == ["-2015"]


async def test_clock_skew_triggers_one_server_time_sync(limits: RateLimits) -> None:
    async with Simulator(rate_scale=SCALE, skew_ms=-45_000) as sim:  # the venue's clock is 45 s behind
        acct = sim.binance.add_account("k", secret="s")
        sim.binance.populate(acct, seed=1, scale=0.2)
        async with Binance("k", "s", base_url=sim.base_url, limits=limits) as c:
            feed = c.pmloan_history(since=sim.now_ms() - 100 * DAY)
            events = await feed.collect()
            assert abs(c.transport.clock.offset_ms + 45_000) < 2_000
        assert [(e.path, e.code) for e in sim.log[:3]] == [(PMLOAN, "-1021"), ("/api/v3/time", None), (PMLOAN, None)]
        assert feed.stats.clock_syncs == 1
        assert {e.id for e in events} == sim.binance.expected_ids(acct, PMLOAN_FEED, since=sim.now_ms() - 100 * DAY)
        assert sum(1 for e in sim.log if e.code == "-1021") == 1  # later requests use the offset


# --- bad input fails before any request -------------------------------------------------------------------


async def test_bad_input_fails_before_any_request(
    bsim: Simulator, acct: BinanceAccount, client: Binance, rsa_private_pem: str
) -> None:
    now = bsim.now_ms()
    with pytest.raises(InvalidArgument, match="since") as i1:
        client.pmloan_history(since=now - DAY, until=now - 2 * DAY)
    assert i1.value.argument == "since"
    with pytest.raises(InvalidArgument, match="since.*future"):
        client.pmloan_history(since=now + DAY)
    with pytest.raises(InvalidArgument, match="since.*future"):
        client.pm_interest_history(since=now + DAY, until=now + 2 * DAY)
    with pytest.raises(InvalidArgument, match="until.*default since"):
        client.pmloan_history(until=DEFAULT_SINCE - DAY)
    with pytest.raises(InvalidArgument, match="since"):
        client.pmloan_history(since=now // 1000)  # seconds, not ms
    with pytest.raises(TypeError, match="since"):
        client.pmloan_history(since=1.7e12)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="since"):
        client.pmloan_history(since=dt.datetime(2024, 1, 1))  # naive
    with pytest.raises(InvalidArgument, match="asset"):
        client.pm_interest_history(asset="usdt")
    with pytest.raises(TypeError, match="asset"):
        client.pm_interest_history(asset=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="resume"):
        client.pmloan_history(resume="garbage")
    token = client.pm_interest_history()  # a valid feed of the other kind, never iterated
    assert token.checkpoint is None
    with pytest.raises(InvalidArgument, match="secret"):
        Binance("k", "s", private_key=rsa_private_pem)
    with pytest.raises(InvalidArgument, match="secret"):
        Binance("k")
    with pytest.raises(InvalidArgument, match="recv_window"):
        Binance("k", "s", recv_window=0)
    with pytest.raises(InvalidArgument, match="api_key"):
        Binance("", "s")
    assert bsim.log == []


async def test_resume_token_of_another_feed_is_refused(bsim: Simulator, acct: BinanceAccount, client: Binance) -> None:
    assert acct.data_end is not None
    feed = client.pm_interest_history(since=acct.data_end - 10 * DAY, until=acct.data_end)
    await feed.collect()
    n = len(bsim.log)
    with pytest.raises(InvalidArgument, match="resume"):
        client.pmloan_history(resume=feed.checkpoint)
    assert len(bsim.log) == n


async def test_rows_arriving_in_the_window_being_paged_shift_nothing(
    bsim: Simulator, acct: BinanceAccount, client: Binance,
) -> None:
    """Page numbers count from the newest row of a window: rows arriving in it between two of
    its pages push rows already read onto the next page. The window's total changes, so it is
    read again from its first page with its id counters restarted: no row gets a second id
    (`#1`), none is skipped, whether the walk goes on in one run or resumes from a checkpoint."""
    for resume in (False, True):
        before = len(bsim.requests(path=PMLOAN))
        feed = client.pmloan_history()
        pages = feed.pages()
        first = await anext(pages)
        assert not first.complete and len(first.events) == 100  # the newest window has more pages
        seen = {e.id for e in first.events}
        bsim.binance.grow(acct, seed=7 if resume else 8, n=3)  # stamped now: inside that window
        if resume:
            await pages.aclose()
            pages = client.pmloan_history(resume=first.checkpoint).pages()
        async for page in pages:
            seen |= {e.id for e in page.events}
        assert seen == bsim.binance.expected_ids(acct, PMLOAN_FEED)
        asked = [q(e) for e in bsim.requests(path=PMLOAN)[before:]]
        newest = asked[0]["endTime"]
        assert [a["current"] for a in asked if a["endTime"] == newest][:3] == ["1", "2", "1"]  # read again
