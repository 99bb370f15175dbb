"""The simulated OKX endpoints and datasets on their own (raw signed requests, no client):
the paging semantics the docs describe, parameter errors, the special cases the
datasets must hold, populate / grow determinism."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from okx_support import KEY, LABEL, PASSPHRASE, SECRET, SEED

from loanledger.signing import okx_sign
from loanledger.testing import Simulator
from loanledger.testing import okx_data

LOAN = "/api/v5/finance/flexible-loan/loan-history"
INTEREST = "/api/v5/finance/flexible-loan/interest-accrued"
REPAY = "/api/v5/trade/one-click-repay-history-v2"
CONVERT = "/api/v5/asset/convert/history"
DAY_MS = 86_400_000


async def _get(sim: Simulator, path: str, query: str = "") -> tuple[int, dict[str, Any]]:
    """A signed GET with exactly this query string."""
    now = dt.datetime.now(dt.UTC)
    ts = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    path_qs = f"{path}?{query}" if query else path
    headers = {
        "OK-ACCESS-KEY": KEY, "OK-ACCESS-PASSPHRASE": PASSPHRASE, "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-SIGN": okx_sign(SECRET.encode(), ts, "GET", path_qs, b""),
    }
    async with aiohttp.ClientSession() as session, session.get(sim.base_url + path_qs, headers=headers) as resp:
        return resp.status, json.loads(await resp.read())


def _ts(rows: list[dict[str, Any]]) -> list[int]:
    return [int(r["ts"]) for r in rows]


# --- paging semantics -----------------------------------------------------------------------------------


async def test_ref_id_paging_is_exclusive_and_newest_first(okx_sim: Simulator) -> None:
    _, first = await _get(okx_sim, LOAN, "limit=100")
    rows = first["data"]
    assert len(rows) == 100 and _ts(rows) == sorted(_ts(rows), reverse=True)
    last = rows[-1]["refId"]
    _, second = await _get(okx_sim, LOAN, f"limit=100&after={last}")
    assert all(int(r["refId"]) < int(last) for r in second["data"])
    assert second["data"][0]["refId"] == okx_sim.okx.records(LABEL, "okx.flexible_loan_history")[100]["refId"]
    _, newer = await _get(okx_sim, LOAN, f"limit=5&before={last}")
    assert [r["refId"] for r in newer["data"]] == [r["refId"] for r in rows[94:99]]


async def test_one_click_after_is_inclusive_and_convert_after_is_exclusive(okx_sim: Simulator) -> None:
    for path, feed, inclusive in ((REPAY, "okx.one_click_repay_history", True), (CONVERT, "okx.convert_history", False)):
        records = okx_sim.okx.records(LABEL, feed)
        tie_ts, n = Counter(_ts(records)).most_common(1)[0]
        _, body = await _get(okx_sim, path, f"after={tie_ts}&limit=100")
        at_tie = sum(1 for t in _ts(body["data"]) if t == tie_ts)
        assert at_tie == (n if inclusive else 0), path
        assert all(t <= tie_ts for t in _ts(body["data"]))


async def test_one_click_serves_only_seven_days_and_interest_thirty(okx_sim: Simulator) -> None:
    now = okx_sim.now_ms()
    book = okx_sim.okx.account(LABEL).book
    assert any(r.ts < now - 7 * DAY_MS for r in book.one_click)
    assert any(r.ts < now - 30 * DAY_MS for r in book.interest)
    _, repay = await _get(okx_sim, REPAY, f"after={now - 7 * DAY_MS + 1}")
    assert repay["data"] == []
    _, interest = await _get(okx_sim, INTEREST, "after=1")
    assert interest["data"] == []
    served = okx_sim.okx.records(LABEL, "okx.flexible_loan_interest")
    assert all(int(r["ts"]) >= now - 30 * DAY_MS for r in served)


@pytest.mark.parametrize(
    ("path", "query", "param"),
    [
        (LOAN, "limit=101", "limit"),
        (LOAN, "limit=0", "limit"),
        (LOAN, "limit=ten", "limit"),
        (LOAN, "after=abc", "after"),
        (LOAN, "type=borrow", "type"),
        (REPAY, "after=-5", "after"),
        (CONVERT, "before=1.5", "before"),
        (INTEREST, "before=x", "before"),
    ],
)
async def test_bad_parameters_answer_51000(okx_sim: Simulator, path: str, query: str, param: str) -> None:
    status, body = await _get(okx_sim, path, query)
    assert status == 400
    assert body == {"code": "51000", "msg": f"Parameter {param} error", "data": []}


async def test_filters(okx_sim: Simulator) -> None:
    _, loans = await _get(okx_sim, LOAN, "type=repaid")
    assert loans["data"] and {r["type"] for r in loans["data"]} == {"repaid"}
    _, interest = await _get(okx_sim, INTEREST, "ccy=USDC")
    assert interest["data"] and {r["ccy"] for r in interest["data"]} == {"USDC"}
    order = okx_data.LOAN_ORDERS[0]
    _, by_order = await _get(okx_sim, LOAN, f"ordId={order}")
    book = okx_sim.okx.account(LABEL).book
    of_order = [r.key for r in book.loan_history if r.order_id == order]
    assert [r["refId"] for r in by_order["data"]] == of_order[:100]


# --- datasets --------------------------------------------------------------------------------------------


def test_dataset_holds_the_special_cases() -> None:
    book = okx_data.generate(SEED, 1_790_000_000_000)
    loans = [r.wire for r in book.loan_history]
    assert max(Counter(r["ts"] for r in loans).values()) > 100
    assert {r["type"] for r in loans} == set(okx_data.LOAN_TYPES)
    assert any(r["amt"].startswith("-") for r in loans) and any(
        not r["amt"].startswith("-") and r["type"] in okx_data.OUTFLOW_LOAN_TYPES for r in loans)
    assert any("extInfo" in r for r in loans)

    trades = [r.wire for r in book.convert]
    tie_ts, n = Counter(r["ts"] for r in trades).most_common(1)[0]
    assert n == 50
    positions = [i for i, r in enumerate(trades) if r["ts"] == tie_ts]
    assert positions[0] < 100 <= positions[-1]  # across the first page boundary
    assert any(r["state"] == "rejected" and r["fillBaseSz"] == "" for r in trades)
    assert any(r["state"] == "rejected" and r["fillBaseSz"] == "0" for r in trades)

    repays = [r.wire for r in book.one_click]
    assert [r["status"] for r in repays[:2]] == ["running", "running"]  # the newest are still running
    assert any(r["status"] == "failed" for r in repays)
    legs = [leg for r in repays for leg in r["ordIdInfo"]]
    assert any(leg["fillPx"] == "" and leg["state"] == "canceled" for leg in legs)
    tie_ts, n = Counter(r["ts"] for r in repays).most_common(1)[0]
    positions = [i for i, r in enumerate(repays) if r["ts"] == tie_ts]
    assert n > 1 and positions[0] < 100 <= positions[-1]
    ids = [f"{r['ts']}:{r['debtCcy']}" for r in repays]
    assert len(ids) == len(set(ids))

    amounts = [r["amt"] for r in loans] + [r["fillBaseSz"] for r in trades]
    assert any(len(a.lstrip("-").replace(".", "")) >= 20 for a in amounts)
    assert all(Decimal(a.lstrip("-") or "0").is_finite() for a in amounts)


def test_generation_is_deterministic_and_scales() -> None:
    a = okx_data.generate(3, 1_790_000_000_000)
    b = okx_data.generate(3, 1_790_000_000_000)
    c = okx_data.generate(4, 1_790_000_000_000)
    for feed in okx_data.FEED_TABLES:
        assert [r.wire for r in a.table(feed)] == [r.wire for r in b.table(feed)]
        assert [r.wire for r in a.table(feed)] != [r.wire for r in c.table(feed)]
    small = okx_data.generate(3, 1_790_000_000_000, scale=0.1)
    big = okx_data.generate(3, 1_790_000_000_000, scale=3)
    for feed in okx_data.FEED_TABLES:
        assert len(small.table(feed)) < len(a.table(feed)) < len(big.table(feed))
    with pytest.raises(ValueError, match="scale"):
        okx_data.generate(3, 1_790_000_000_000, scale=0)


async def test_grow_adds_newer_records_and_settles_running_repays(okx_sim: Simulator) -> None:
    feeds = list(okx_data.FEED_TABLES)
    before = {f: okx_sim.okx.expected_ids(LABEL, f) for f in feeds}
    newest = {f: int(okx_sim.okx.records(LABEL, f)[0]["ts"]) for f in feeds}
    running = [r for r in okx_sim.okx.records(LABEL, "okx.one_click_repay_history") if r["status"] == "running"]
    okx_sim.okx.grow(LABEL, seed=1, n=4)
    for f in feeds:
        records = okx_sim.okx.records(LABEL, f)
        fresh = [r for r in records if int(r["ts"]) > newest[f]]
        assert len(fresh) == 4
        assert all(int(r["ts"]) <= okx_sim.now_ms() for r in fresh)
        assert before[f] < okx_sim.okx.expected_ids(LABEL, f)
    assert running and all(r["status"] == "filled" for r in running)  # settled in place
    assert all(any(leg["side"] == "buy" and leg["state"] == "filled" for leg in r["ordIdInfo"])
               for r in running if r["debtCcy"] != "USDT")


def test_unknown_account_and_feed() -> None:
    sim = Simulator()
    with pytest.raises(KeyError, match="no OKX account"):
        sim.okx.populate("nobody", seed=1)
    sim.okx.add_account(KEY, SECRET, PASSPHRASE, label=LABEL)
    assert sim.okx.account(KEY) is sim.okx.account(LABEL)
    with pytest.raises(KeyError, match="unknown OKX feed"):
        sim.okx.expected_ids(LABEL, "okx.nope")


# --- the account's state --------------------------------------------------------------------------------


LOAN_INFO = "/api/v5/finance/flexible-loan/loan-info"
CURRENCIES = "/api/v5/trade/one-click-repay-currency-list-v2"


def _sum(values: Any) -> Decimal:
    total = Decimal(0)
    for v in values:
        total = okx_data._WIDE.add(total, v)
    return total


def test_orders_add_up_to_the_account_books() -> None:
    book = okx_data.generate(SEED, 1_790_000_000_000)
    state = book.state
    for table, attr in ((state.debt, "debt"), (state.collateral, "collateral")):
        flexible = {c: v for (s, c), v in table.items() if s == okx_data.FLEXIBLE}
        per_order: dict[str, Decimal] = {}
        for order in book.orders.values():
            for c, v in getattr(order, attr).items():
                per_order[c] = okx_data._WIDE.add(per_order.get(c, Decimal(0)), v)
        assert per_order == flexible
    assert all(v > 0 for v in state.debt.values()) and all(v > 0 for v in state.collateral.values())
    # three orders stay open (interest every hour), the rest were closed
    assert [o.id for o in book.orders.values() if o.owed] == list(okx_data.LOAN_ORDERS)


def test_interest_rows_compound_onto_the_debt_as_the_docs_example() -> None:
    book = okx_data.OkxBook(now_ms=1_790_000_000_000)
    order = book.open_order("USDC", Decimal("0.41"))
    order.debt["USDC"] = Decimal("0.86599309")  # the docs' example: loan 0.86599309 at 41 % APY
    book.accrue(1_731_913_200_000)
    (row,) = book.interest
    assert (row.wire["loan"], row.wire["interest"], row.wire["interestRate"]) == ("0.86599309", "0.00004054", "0.41")
    assert order.owed == Decimal("0.86603363")  # the next hour's `loan`
    assert book.state.unrecorded == {
        ("okx.flexible_loan", "debt", "USDC", okx_data.PRE_WINDOW): Decimal("0.00004054")}  # 30 days gone by


def test_every_liquidation_path_and_the_old_interest_are_in_the_dataset() -> None:
    now = 1_790_000_000_000
    for scale in (0.1, 1.0):
        book = okx_data.generate(SEED, now, scale)
        assert {r.wire["type"] for r in book.loan_history} == set(okx_data.LOAN_TYPES)
        old = [r for r in book.interest if r.ts < now - 30 * DAY_MS]
        assert old and all(r.ts < now - 30 * DAY_MS - 6 * 3_600_000 for r in old)  # far from the edge
        served = [r for r in book.interest if r.ts >= now - 30 * DAY_MS]
        assert max(Counter(r.ts for r in served).values()) == 3  # the three open orders, every hour
        assert sum(v for (_, b, _, n), v in book.state.unrecorded.items()
                   if b == "debt" and n == okx_data.PRE_WINDOW) == _sum(Decimal(r.wire["interest"]) for r in old)


async def test_loan_info_and_currency_list_read_the_state(okx_sim: Simulator) -> None:
    book = okx_sim.okx.account(LABEL).book
    _, info = await _get(okx_sim, LOAN_INFO)
    assert info["code"] == "0"
    got = {o["ordId"]: o for o in info["data"]}
    assert set(got) == {o.id for o in book.orders.values() if o.debt or o.collateral}
    for oid, o in got.items():
        order = book.orders[oid]
        assert {d["ccy"]: Decimal(d["amt"]) for d in o["loanData"]} == order.debt
        assert {c["ccy"]: Decimal(c["amt"]) for c in o["collateralData"]} == order.collateral
        assert all(isinstance(o[k], str) for k in ("curLTV", "marginCallLTV", "liqLTV", "loanNotionalUsd"))
    _, one = await _get(okx_sim, LOAN_INFO, f"ordId={okx_data.LOAN_ORDERS[2]}")
    assert [o["ordId"] for o in one["data"]] == [okx_data.LOAN_ORDERS[2]]
    status, bad = await _get(okx_sim, LOAN_INFO, "ordId=x1")
    assert (status, bad["code"]) == (400, "51000")
    _, lists = await _get(okx_sim, CURRENCIES)
    (row,) = lists["data"]
    state = okx_sim.okx.books(LABEL)
    assert {d["debtCcy"]: Decimal(d["debtAmt"]) for d in row["debtData"]} == {
        c: v for (s, c), v in state.debt.items() if s == okx_data.SPOT}
    assert all(Decimal(r["repayAmt"]) > 0 for r in row["repayData"])


def test_running_repays_move_the_debt_when_they_settle() -> None:
    book = okx_data.generate(SEED, 1_790_000_000_000)
    running = [r for r in book.one_click if r.wire["status"] == "running"]
    before = dict(book.state.debt)
    okx_data.grow(book, 5, 1_790_000_100_000, n=0)
    for rec in running:
        debt = rec.wire["debtCcy"]
        paid = Decimal(rec.wire["fillDebtSz"])
        assert paid > 0
        assert okx_data._WIDE.subtract(before[("okx.spot_debt", debt)], book.state.owed("okx.spot_debt", debt)) == paid
