"""Deterministic, realistic response pages for every feed, in the venues' exact wire format.

Each page is a pure function of (feed, page number, seed): `page_records` builds
its records and `page_body` wraps them in the venue's success envelope, so a
benchmark can build a few thousand pages up front (`build`) or a server can
generate page k on the fly without holding the dataset (benchmarks/memory.py).

What the pages hold, per the venue docs (../shared/reference/exchange-api-notes.md
and the seed pages): every documented field of a row (not only the ones the
decoders read), fields the docs do not list (nested objects, nulls) on a share of
the rows, amounts from dust to 18-20 significant digits, integer amounts, trailing
zeros, signed and unsigned OKX `amt`, one-click repay records with nested orders
(some never filled: ``fillPx: ""``, ``fillSz: "0"``), rejected converts with ``""``
sizes, Bybit's int/str drift (ids as numbers, times as strings, a fixed
`repayAmount` as a JSON number), and timestamps that descend page after page with
ties between neighbouring records.

    python benchmarks/data.py --feed okx.one_click_repay_history --page 3   # print one page
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

__all__ = ["FEEDS", "PAGE_SIZE", "SEED", "build", "page_body", "page_records", "ref_index", "ref_of"]

SEED = 20_260_101
PAGE_SIZE = 100
#: the newest record of every dataset (2026-01-01T00:00:00Z); pages go back from here
T0 = 1_767_225_600_000
#: mean ms between neighbouring records (about 9 minutes)
GAP_MS = 547_000
#: OKX refIds: 17 digits, decreasing with the record index (see `ref_of`)
REF_BASE = 17_672_256_000_000_000

Record = dict[str, Any]

_MAJORS = ("BTC", "ETH", "USDT", "USDC", "SOL", "XRP", "DOGE", "ADA", "TRX", "TON", "LINK", "AVAX")
_ALTS = ("DOT", "LTC", "ATOM", "UNI", "FIL", "ETC", "BCH", "NEAR", "APT", "ARB", "OP", "SUI", "PEPE", "SHIB",
         "OKB", "AAVE", "COMP", "MKR", "CRV", "SAND", "MANA", "MNT")
_OKX_LOAN_TYPES = (
    "borrowed", "repaid", "collateral_locked", "collateral_released", "forced_repayment_buy",
    "forced_repayment_sell", "forced_liquidation", "partial_liquidation", "sell_collateral",
    "buy_transition_coin", "sell_transition_coin", "buy_borrowed_coin",
)
_OKX_OUTFLOW = frozenset({"repaid", "collateral_locked", "forced_repayment_sell", "forced_liquidation",
                          "partial_liquidation", "sell_collateral", "sell_transition_coin"})


# --- building blocks --------------------------------------------------------------------------


def _amount(rng: random.Random) -> str:
    """A positive decimal string as venues send them."""
    pick = rng.random()
    if pick < 0.20:  # 20 significant digits
        return f"{rng.randrange(10**9, 10**10)}.{rng.randrange(10**10):010d}"
    if pick < 0.35:  # 18 decimals
        return f"0.{rng.randrange(10**17, 10**18)}"
    if pick < 0.45:  # dust
        return f"0.{rng.randrange(1, 10**6):08d}"
    if pick < 0.55:  # trailing zeros on the wire
        return f"{rng.randrange(1, 10**4)}.{rng.randrange(10)}0000000"
    if pick < 0.65:  # integers
        return str(rng.randrange(1, 50_000))
    return f"{rng.randrange(1, 10**5)}.{rng.randrange(10**8):08d}"


def _small(rng: random.Random) -> str:
    return f"0.{rng.randrange(10**9, 10**18):018d}"


def _price(rng: random.Random) -> str:
    return f"{rng.randrange(1, 90_000)}.{rng.randrange(10**4):04d}"


def _ccy(rng: random.Random) -> str:
    return rng.choice(_MAJORS) if rng.random() < 0.8 else rng.choice(_ALTS)


def _okx_extras(rng: random.Random, ts: int) -> Record:
    """Fields the docs do not list (the client must skip them)."""
    return {"uTime": str(ts + rng.randrange(1000)), "tag": None,
            "extInfo": {"src": rng.choice(("app", "api", "web")), "seq": [rng.randrange(10), None]}}


def _ts(index: int) -> int:
    """The ms timestamp of record `index` (0 = newest): descending, a tie every 7 records."""
    i = index - 1 if index % 7 == 1 else index
    return T0 - i * GAP_MS - (i * 7919) % (GAP_MS // 2)


def ref_of(index: int) -> str:
    """The OKX refId of record `index` (descending with the index, 17 digits)."""
    return str(REF_BASE - index)


def ref_index(ref: str) -> int:
    """Inverse of `ref_of`."""
    return REF_BASE - int(ref)


def _bybit_id(index: int, digits: int = 0) -> str:
    base = 2_000_000_000 - index
    return str(base) if not digits else str(10 ** (digits - 1) + base)


# --- OKX ------------------------------------------------------------------------------------------


def _okx_loan(rng: random.Random, i: int) -> Record:
    ts = _ts(i)
    kind = rng.choice(_OKX_LOAN_TYPES)
    amt = _amount(rng)
    rec: Record = {
        "amt": f"-{amt}" if kind in _OKX_OUTFLOW and rng.random() < 0.5 else amt,
        "ccy": _ccy(rng), "refId": ref_of(i), "ts": str(ts), "type": kind,
    }
    if rng.random() < 0.2:
        rec["ordId"] = str(680_234_819_012_345_678 + rng.randrange(1000))
        rec.update(_okx_extras(rng, ts))
    return rec


def _okx_interest(rng: random.Random, i: int) -> Record:
    ts = _ts(i)
    rec: Record = {"ccy": rng.choice(("USDT", "USDC", "BTC", "ETH")), "interest": _small(rng),
                   "interestRate": f"0.{rng.randrange(1, 99):02d}", "loan": _amount(rng), "refId": ref_of(i),
                   "ts": str(ts)}
    if rng.random() < 0.1:
        rec.update(_okx_extras(rng, ts))
    return rec


def _okx_leg(rng: random.Random, inst: str, side: str, c_time: int, filled: bool) -> Record:
    size = _amount(rng)
    px = _price(rng)
    leg: Record = {
        "cTime": str(c_time), "fillPx": px if filled else "", "fillSz": size if filled else "0",
        "instId": inst, "ordId": str(2_338_478_000_000_000_000 + rng.randrange(10**15)), "ordType": "ioc",
        "px": px, "side": side, "state": "filled" if filled else "canceled", "sz": size,
    }
    if rng.random() < 0.2:
        leg["fee"] = f"-{_small(rng)}"
    return leg


def _okx_one_click(rng: random.Random, i: int) -> Record:
    ts = _ts(i)
    debt = ("USDT", "USDC", "BTC", "ETH")[i % 4]  # neighbours (ties included) differ: (ts, debtCcy) is unique
    status = "failed" if rng.random() < 0.05 else ("running" if rng.random() < 0.03 else "filled")
    repay = [debt] + rng.sample([c for c in _MAJORS if c not in (debt, "USDT")], rng.randint(1, 3))
    legs: list[Record] = []
    c_time = ts + rng.randrange(1, 500)
    for ccy in repay[1:]:
        legs.append(_okx_leg(rng, f"{ccy}-USDT", "sell", c_time, status != "failed" and rng.random() < 0.85))
        c_time += rng.randrange(1, 3000)
    if debt != "USDT" and status != "running":
        legs.append(_okx_leg(rng, f"{debt}-USDT", "buy", c_time, status == "filled"))
    fill = {"failed": "0", "running": rng.choice(("", "0"))}.get(status) or _amount(rng)
    rec: Record = {"debtCcy": debt, "fillDebtSz": fill, "ordIdInfo": legs, "repayCcyList": repay,
                   "status": status, "ts": str(ts)}
    if rng.random() < 0.1:
        rec.update(_okx_extras(rng, ts))
    return rec


def _okx_convert(rng: random.Random, i: int) -> Record:
    ts = _ts(i)
    base = rng.choice(_ALTS + _MAJORS[:3])
    quote = rng.choice(("USDT", "USDT", "USDC", "BTC"))
    state = "rejected" if rng.random() < 0.05 else "fullyFilled"
    base_sz, quote_sz = (_amount(rng), _amount(rng)) if state == "fullyFilled" else (rng.choice(("", "0")),) * 2
    rec: Record = {
        "baseCcy": base, "clTReqId": f"cl{rng.randrange(10**6, 10**7)}" if rng.random() < 0.3 else "",
        "fillBaseSz": base_sz, "fillPx": _price(rng), "fillQuoteSz": quote_sz, "instId": f"{base}-{quote}",
        "quoteCcy": quote, "side": rng.choice(("buy", "sell")), "state": state,
        "tradeId": f"trader{ts}{i % 10_000:04d}", "ts": str(ts),
    }
    if rng.random() < 0.1:
        rec.update(_okx_extras(rng, ts))
    return rec


# --- Binance --------------------------------------------------------------------------------------


def _bn_extra(rng: random.Random, rec: Record) -> Record:
    roll = rng.random()
    if roll < 0.08:
        rec["detail"] = {"from": "SPOT", "note": None}
    elif roll < 0.14:
        rec["bizType"] = "PMLOAN_REPAY"
        rec["updateTime"] = rng.randrange(10**12, 2 * 10**12)
    return rec


def _bn_pmloan(rng: random.Random, i: int) -> Record:
    return _bn_extra(rng, {"asset": rng.choice(("USDT",) * 6 + ("USDC", "BUSD", "FDUSD", "BTC")),
                           "amount": _amount(rng), "repayTime": _ts(i)})


def _bn_interest(rng: random.Random, i: int) -> Record:
    return _bn_extra(rng, {"asset": rng.choice(("USDT", "USDC", "BTC", "ETH", "BNB", "FDUSD")),
                           "interest": _amount(rng), "interestAccruedTime": _ts(i),
                           "interestRate": f"0.{rng.randrange(300, 2500):07d}", "principal": _amount(rng)})


# --- Bybit ----------------------------------------------------------------------------------------


def _by_extra(rng: random.Random, rec: Record) -> Record:
    if rng.random() < 0.25:
        rec["someNewField"] = {"x": rng.randrange(100), "tags": ["a", None]}
    return rec


def _by_flex_borrow(rng: random.Random, i: int) -> Record:
    return _by_extra(rng, {"borrowTime": _ts(i), "initialLoanAmount": _amount(rng), "loanCurrency": _ccy(rng),
                           "orderId": _bybit_id(i), "status": 2 if rng.random() < 0.05 else 1})


def _by_flex_repay(rng: random.Random, i: int) -> Record:
    return _by_extra(rng, {"loanCurrency": _ccy(rng), "repayAmount": _amount(rng), "repayId": _bybit_id(i),
                           "repayStatus": 2 if rng.random() < 0.05 else 1, "repayTime": _ts(i),
                           "repayType": rng.choice((1, 1, 1, 2, 5, 6, 7))})


def _by_fixed_contract(rng: random.Random, i: int) -> Record:
    ts = _ts(i)
    status = rng.choice((1, 1, 2, 3))
    return _by_extra(rng, {
        "annualRate": "0.022", "autoRepay": "true", "borrowCurrency": _ccy(rng), "borrowTime": str(ts),
        "interestPaid": _small(rng), "loanId": _bybit_id(i), "orderId": str(13_000 + i // 3),
        "repayType": "1", "repaymentTime": str(ts + 30 * 86_400_000), "residualPenaltyInterest": "0",
        "residualPrincipal": "0" if status == 2 else _amount(rng), "status": status, "term": "30"})


def _by_fixed_order(rng: random.Random, i: int) -> Record:
    qty = _amount(rng)
    state = rng.choice((1, 2, 3, 3, 3, 4, 5))
    filled = qty if state == 3 else "0" if state in (1, 4, 5) else _small(rng)
    return _by_extra(rng, {"annualRate": "0.022", "filledQty": filled, "orderCurrency": _ccy(rng),
                           "orderId": int(_bybit_id(i)), "orderQty": qty, "orderTime": str(_ts(i)),
                           "repayType": rng.choice(("0", "1", "2")), "state": state,
                           "term": rng.choice((7, 14, 30, 90, 180))})


def _by_fixed_repay(rng: random.Random, i: int) -> Record:
    ccy = _ccy(rng)
    legs = [{"loanCurrency": ccy, "loanId": str(500 + rng.randrange(10**6)), "repayAmount": _amount(rng)}
            for _ in range(rng.choice((0, 1, 1, 2, 3)))]
    total = _amount(rng)
    wire_total: Any = msgspec.Raw(total.encode()) if i % 3 == 0 else total  # a JSON number sometimes
    return _by_extra(rng, {"details": legs, "loanCurrency": ccy, "repayAmount": wire_total,
                           "repayId": _bybit_id(i), "repayStatus": 2 if rng.random() < 0.05 else 1,
                           "repayTime": _ts(i), "repayType": rng.randint(1, 8)})


def _by_adjust(rng: random.Random, i: int) -> Record:
    return _by_extra(rng, {"adjustId": int(_bybit_id(i)), "adjustTime": _ts(i), "afterLTV": "0.813743",
                           "amount": _amount(rng), "collateralCurrency": rng.choice(("BTC", "ETH", "USDT", "XRP")),
                           "direction": rng.randrange(2), "preLTV": "0.524602",
                           "status": 2 if rng.random() < 0.05 else 1})


def _by_legacy_borrow(rng: random.Random, i: int) -> Record:
    return _by_extra(rng, {
        "borrowTime": str(_ts(i)), "collateralCurrency": rng.choice(("BTC", "ETH", "USDT", "XRP")),
        "expirationTime": "", "hourlyInterestRate": "0.0000010241", "initialCollateralAmount": _amount(rng),
        "initialLoanAmount": _amount(rng), "loanCurrency": _ccy(rng), "loanTerm": "", "orderId": _bybit_id(i, 19),
        "repaidInterest": _small(rng), "repaidPenaltyInterest": "0", "status": rng.choice((1, 2))})


def _by_legacy_adjust(rng: random.Random, i: int) -> Record:
    return _by_extra(rng, {"adjustId": _bybit_id(i, 19), "adjustTime": str(_ts(i)), "afterLTV": "0.7164",
                           "amount": _amount(rng), "collateralCurrency": rng.choice(("BTC", "ETH", "USDT", "XRP")),
                           "direction": rng.randrange(2), "orderId": _bybit_id(i + 7, 19), "preLTV": "0.6546"})


def _by_legacy_repay(rng: random.Random, i: int) -> Record:
    return _by_extra(rng, {
        "collateralCurrency": rng.choice(("BTC", "ETH", "USDT", "XRP")),
        "collateralReturn": _amount(rng) if i % 4 == 0 else "0", "loanCurrency": _ccy(rng), "loanTerm": "",
        "orderId": _bybit_id(i + 7, 19), "repayAmount": _amount(rng), "repayId": _bybit_id(i, 19),
        "repayStatus": 2 if rng.random() < 0.05 else 1, "repayTime": str(_ts(i)),
        "repayType": rng.choice(("1", "1", "2"))})


_INS_LINES = ("withdrawLine", "transferLine", "spotBuyLine", "spotSellLine", "contractOpenLine",
              "deferredLiquidationLine", "liquidationLine", "stopLiquidationLine")


def _by_ins_loan(rng: random.Random, i: int) -> Record:
    rec: Record = {
        "orderId": _bybit_id(i, 19), "orderProductId": "96", "parentUid": "1631521", "loanTime": str(_ts(i)),
        "loanCoin": rng.choice(("USDT", "USDC", "BTC")), "loanAmount": _amount(rng), "unpaidAmount": _amount(rng),
        "unpaidInterest": "0", "repaidAmount": _amount(rng), "repaidInterest": "0", "interestRate": "0.00019178",
        "status": rng.choice(("1", "2")), "leverage": "4", "supportSpot": "1", "supportContract": "1",
        "deferredLiquidationTime": "3600", "reserveToken": "", "reserveQuantity": "0", "contractLeverage": "7",
        "transferRatio": "0.3", "spotSymbols": [], "contractSymbols": ["BTCUSDT", "ETHUSDT"],
        "supportUSDCContract": "0", "supportUSDCOptions": "0", "supportMarginTrading": "1",
        "USDTPerpetualOpenLine": "0.7", "USDCContractOpenLine": "", "USDCOptionsOpenLine": "",
        "USDTPerpetualCloseLine": "0.8", "USDCContractCloseLine": "", "USDCOptionsCloseLine": "",
        "USDCContractSymbols": [], "USDCOptionsSymbols": [], "marginLeverage": "4",
        "USDTPerpetualLeverage": [{"symbol": "BTCUSDT", "leverage": "7"}], "USDCContractLeverage": [],
    }
    for name in _INS_LINES:
        rec[name] = f"0.{rng.randrange(50, 99)}"
    return _by_extra(rng, rec)


def _by_ins_repaid(rng: random.Random, i: int) -> Record:
    return _by_extra(rng, {"repayOrderId": _bybit_id(i), "repaidTime": str(_ts(i)),
                           "token": rng.choice(("USDT", "USDC", "BTC")), "quantity": _amount(rng),
                           "interest": _amount(rng) if i % 3 == 0 else "0",
                           "businessType": "2" if i % 5 == 4 else "1", "status": "2" if i % 11 == 10 else "1"})


# --- envelopes ------------------------------------------------------------------------------------

Gen = Callable[[random.Random, int], Record]
Wrap = Callable[[list[Record], int, bool], Any]


def _okx(rows: list[Record], page: int, last: bool) -> Any:
    return {"code": "0", "data": rows, "msg": ""}


def _bybit_cursor(rows: list[Record], page: int, last: bool) -> Any:
    return {"retCode": 0, "retMsg": "OK",
            "result": {"list": rows, "nextPageCursor": "" if last else str(1_000_000 - page)},
            "retExtInfo": {}, "time": T0 + 3_600_000}


def _bybit_list(name: str) -> Wrap:
    def wrap(rows: list[Record], page: int, last: bool) -> Any:
        return {"retCode": 0, "retMsg": "", "result": {name: rows}, "retExtInfo": {}, "time": T0 + 3_600_000}
    return wrap


def _pmloan(rows: list[Record], page: int, last: bool) -> Any:
    return {"total": 100_000, "rows": rows}


def _bare(rows: list[Record], page: int, last: bool) -> Any:
    return rows


#: feed id -> (record generator, envelope)
FEEDS: dict[str, tuple[Gen, Wrap]] = {
    "okx.flexible_loan_history": (_okx_loan, _okx),
    "okx.flexible_loan_interest": (_okx_interest, _okx),
    "okx.one_click_repay_history": (_okx_one_click, _okx),
    "okx.convert_history": (_okx_convert, _okx),
    "binance.pmloan_history": (_bn_pmloan, _pmloan),
    "binance.pm_interest_history": (_bn_interest, _bare),
    "bybit.flexible_borrow_history": (_by_flex_borrow, _bybit_cursor),
    "bybit.flexible_repayment_history": (_by_flex_repay, _bybit_cursor),
    "bybit.fixed_borrow_contracts": (_by_fixed_contract, _bybit_cursor),
    "bybit.fixed_repayment_history": (_by_fixed_repay, _bybit_cursor),
    "bybit.collateral_adjustment_history": (_by_adjust, _bybit_cursor),
    "bybit.legacy_borrow_history": (_by_legacy_borrow, _bybit_cursor),
    "bybit.legacy_repayment_history": (_by_legacy_repay, _bybit_cursor),
    "bybit.institutional_loan_orders": (_by_ins_loan, _bybit_list("loanInfo")),
    "bybit.institutional_repayment_history": (_by_ins_repaid, _bybit_list("repayInfo")),
    "bybit.fixed_borrow_orders": (_by_fixed_order, _bybit_cursor),
    "bybit.legacy_adjustment_history": (_by_legacy_adjust, _bybit_cursor),
}

_encoder = msgspec.json.Encoder()


def page_records(feed: str, page: int, *, seed: int = SEED, size: int = PAGE_SIZE) -> list[Record]:
    """The wire records of page `page` (0 = newest) of `feed`: records page*size .. +size-1."""
    gen, _ = FEEDS[feed]
    rng = random.Random(f"{seed}:{feed}:{page}:{size}")
    first = page * size
    return [gen(rng, first + j) for j in range(size)]


def page_body(feed: str, page: int, *, seed: int = SEED, size: int = PAGE_SIZE, last: bool = False) -> bytes:
    """The response body the venue sends for that page (its success envelope, compact JSON)."""
    _, wrap = FEEDS[feed]
    return _encoder.encode(wrap(page_records(feed, page, seed=seed, size=size), page, last))


def build(feeds: Iterable[str] | None = None, pages: int = 200, *, seed: int = SEED) -> dict[str, list[bytes]]:
    """`pages` bodies for each feed (all feeds by default)."""
    return {f: [page_body(f, p, seed=seed) for p in range(pages)] for f in (feeds or FEEDS)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feed", choices=sorted(FEEDS), required=True)
    ap.add_argument("--page", type=int, default=0)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    sys.stdout.write(msgspec.json.format(page_body(args.feed, args.page, seed=args.seed)).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
