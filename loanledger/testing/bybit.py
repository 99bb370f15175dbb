"""Bybit inside the simulator: HMAC / RSA verification (10003 / 10004), 10002 on skew,
rolling per-UID windows with X-Bapi-Limit* headers and 10006, the 600 / 5 s IP limit (403),
and the crypto-loan endpoints: borrow / repay actions that move the account's books and write
its history the way the venue does (every executed action is appended to `mutations`), the
position endpoints (read from the books), loanable data, and every loan history table with its
documented paging (nextPageCursor; ins-loan time windows). The account's state and activity
live in `bybit_data` (`BybitBook`, `Activity`).

The signed string is ts + apiKey + recvWindow + the raw query (GET) or raw body (POST).
"""

from __future__ import annotations

import base64
import binascii
import decimal
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .._money import EXACT
from ..ratelimit import Limit
from ..signing import bybit_hmac
from .bybit_data import (
    CRYPTO_LOAN,
    FLEX_HOURLY_RATE,
    Activity,
    BybitBook,
    expected_ids_of,
    grow_book,
    populate_book,
)
from .cursors import newest_first, page_by_cursor, rows_in_window
from .server import Route, SimCall, SimError, SimServer, VenueSim

__all__ = ["BybitAccount", "BybitVenue", "Mutation"]

IP_BUDGET = 600
IP_PER = 5.0

# The documented limits, written here from the docs (v5 "Rate Limit" pages), not imported from the
# client: a wrong client limit must show up as the venue's rate-limit answer in a test.
#: GET /v5/market/time: only the IP limit (600 requests / 5 s)
TIME_LIMIT = Limit(IP_BUDGET, IP_PER, scope="ip")
#: loanable-data (public): only the IP limit
PUBLIC_LIMIT = Limit(IP_BUDGET, IP_PER, scope="ip")
#: borrow / repay: "UID rate limit: 1 req / second"
ACTION_LIMIT = Limit(1, 1.0)
#: new crypto loan history and position reads: 5 req / s per UID
HISTORY_LIMIT = Limit(5, 1.0)
#: legacy crypto loan reads: undocumented; the simulator enforces the new API's 5 req / s
LEGACY_LIMIT = Limit(5, 1.0)
#: ins-loan loan-order, repaid-history and ltv-convert: 20 req / s per UID
INS_HISTORY_LIMIT = Limit(20, 1.0)


@dataclass(eq=False)
class BybitAccount:
    """A simulated Bybit account: an API key with an HMAC secret or an RSA public key."""

    label: str
    api_key: str
    uid: str
    secret: str | None = None
    public_key: rsa.RSAPublicKey | None = None
    book: BybitBook = field(default_factory=BybitBook)

    def __repr__(self) -> str:
        return f"BybitAccount({self.label!r}, uid={self.uid!r})"


@dataclass(frozen=True, slots=True)
class Mutation:
    """One executed borrow / repay: who, which endpoint, the JSON body, the id it created, when."""

    account: str
    path: str
    body: dict[str, Any]
    id: str
    ts: int


#: (history path, feed id, {query parameter: wire field it filters on})
CURSOR_TABLES: tuple[tuple[str, str, Mapping[str, str], Limit], ...] = (
    ("/v5/crypto-loan-flexible/borrow-history", "bybit.flexible_borrow_history",
     {"orderId": "orderId", "loanCurrency": "loanCurrency"}, HISTORY_LIMIT),
    ("/v5/crypto-loan-flexible/repayment-history", "bybit.flexible_repayment_history",
     {"repayId": "repayId", "loanCurrency": "loanCurrency"}, HISTORY_LIMIT),
    ("/v5/crypto-loan-fixed/borrow-order-info", "bybit.fixed_borrow_orders",
     {"orderId": "orderId", "orderCurrency": "orderCurrency", "state": "state", "term": "term"}, HISTORY_LIMIT),
    ("/v5/crypto-loan-fixed/borrow-contract-info", "bybit.fixed_borrow_contracts",
     {"orderId": "orderId", "loanId": "loanId", "orderCurrency": "borrowCurrency", "term": "term"}, HISTORY_LIMIT),
    ("/v5/crypto-loan-fixed/repayment-history", "bybit.fixed_repayment_history",
     {"repayId": "repayId", "loanCurrency": "loanCurrency"}, HISTORY_LIMIT),
    ("/v5/crypto-loan-common/adjustment-history", "bybit.collateral_adjustment_history",
     {"adjustId": "adjustId", "collateralCurrency": "collateralCurrency"}, HISTORY_LIMIT),
    ("/v5/crypto-loan/borrow-history", "bybit.legacy_borrow_history",
     {"orderId": "orderId", "loanCurrency": "loanCurrency", "collateralCurrency": "collateralCurrency"},
     LEGACY_LIMIT),
    ("/v5/crypto-loan/repayment-history", "bybit.legacy_repayment_history",
     {"orderId": "orderId", "repayId": "repayId", "loanCurrency": "loanCurrency"}, LEGACY_LIMIT),
    ("/v5/crypto-loan/adjustment-history", "bybit.legacy_adjustment_history",
     {"orderId": "orderId", "adjustId": "adjustId", "collateralCurrency": "collateralCurrency"}, LEGACY_LIMIT),
)

#: GET /v5/crypto-loan-common/loanable-data rows (the doc example's ETH row among them)
LOANABLE: tuple[dict[str, Any], ...] = tuple(
    {"currency": c, "fixedBorrowable": fb, "fixedBorrowingAccuracy": 6, "flexibleBorrowable": True,
     "flexibleBorrowingAccuracy": 4, "maxBorrowingAmount": mx, "minFixedBorrowingAmount": "0.1",
     "minFlexibleBorrowingAmount": "0.001", "vipLevel": vip, "annualizedInterestRate14D": r14,
     "annualizedInterestRate180D": "", "annualizedInterestRate30D": "", "annualizedInterestRate60D": "",
     "annualizedInterestRate7D": "", "annualizedInterestRate90D": "", "flexibleAnnualizedInterestRate": flex}
    for c, fb, mx, r14, flex in (
        ("ETH", True, "1100", "0.08", "0.001429799316"),
        ("USDT", True, "8000000", "0.0561", "0.061234500012345678"),
        ("BTC", False, "250", "", "0.0009"),
    )
    for vip in ("VIP0", "VIP5")
)
#: GET /v5/crypto-loan/loanable-data rows (legacy; per VIP level)
LEGACY_LOANABLE: tuple[dict[str, Any], ...] = (
    {"borrowingAccuracy": 4, "currency": "USDT", "flexibleHourlyInterestRate": "0.0000090346",
     "hourlyInterestRate14D": "0.0000207796", "hourlyInterestRate180D": "", "hourlyInterestRate30D": "0.00002349",
     "hourlyInterestRate7D": "0.0000180692", "hourlyInterestRate90D": "", "maxBorrowingAmount": "8000000",
     "minBorrowingAmount": "20"},
    {"borrowingAccuracy": 6, "currency": "ETH", "flexibleHourlyInterestRate": "",
     "hourlyInterestRate14D": "0.0000011", "hourlyInterestRate180D": "0.0000019", "hourlyInterestRate30D": "",
     "hourlyInterestRate7D": "0.000001", "hourlyInterestRate90D": "", "maxBorrowingAmount": "1100",
     "minBorrowingAmount": "0.1"},
)
VIP_LEVELS = ("VIP0", "VIP1", "VIP2", "VIP3", "VIP4", "VIP5", "VIP99", "PRO1", "PRO2", "PRO3", "PRO4", "PRO5",
              "PRO6")
INS_WINDOW_DEFAULT_MS = 730 * 86_400_000
ZERO = Decimal(0)


def _plain(value: Decimal) -> str:
    """Money as the venue writes it: plain notation."""
    return format(value, "f")


def _sub(a: Decimal, b: Decimal) -> Decimal:
    with decimal.localcontext(EXACT):
        return a - b


class BybitVenue(VenueSim):
    """Bybit endpoints. `send_reset_header=False` drops X-Bapi-Limit-Reset-Timestamp on 10006.

    `ins_repay_delay_ms`: how long an INS repayment stays invisible in repaid-history
    (the venue documents 2-3 minutes; tests shorten it). `mutations` lists every executed
    borrow / repay in order.
    """

    venue = "bybit"
    prefixes = ("/v5/",)

    def __init__(self, sim: SimServer) -> None:
        super().__init__(sim)
        self.send_reset_header = True
        self.ins_repay_delay_ms = 150_000
        self.mutations: list[Mutation] = []
        self.route("GET", "/v5/market/time", self._time, limit=TIME_LIMIT, signed=False)
        for path, feed, filters, limit in CURSOR_TABLES:
            self.route("GET", path, self._cursor_endpoint(feed, filters), limit=limit)
        self.route("GET", "/v5/crypto-loan/ongoing-orders", self._legacy_ongoing, limit=LEGACY_LIMIT)
        self.route("GET", "/v5/crypto-loan-common/position", self._position, limit=HISTORY_LIMIT)
        self.route("GET", "/v5/crypto-loan-flexible/ongoing-coin", self._ongoing_coin, limit=HISTORY_LIMIT)
        self.route("GET", "/v5/ins-loan/ltv-convert", self._ins_ltv, limit=INS_HISTORY_LIMIT)
        self.route("GET", "/v5/ins-loan/loan-order", self._ins_endpoint("bybit.institutional_loan_orders", "loanInfo"),
                   limit=INS_HISTORY_LIMIT)
        self.route("GET", "/v5/ins-loan/repaid-history",
                   self._ins_endpoint("bybit.institutional_repayment_history", "repayInfo"), limit=INS_HISTORY_LIMIT)
        self.route("GET", "/v5/crypto-loan-common/loanable-data", self._loanable, limit=PUBLIC_LIMIT, signed=False)
        self.route("GET", "/v5/crypto-loan/loanable-data", self._legacy_loanable, limit=PUBLIC_LIMIT, signed=False)
        self.route("POST", "/v5/crypto-loan-flexible/borrow", self._flex_borrow, limit=ACTION_LIMIT)
        self.route("POST", "/v5/crypto-loan-flexible/repay", self._flex_repay, limit=ACTION_LIMIT)
        self.route("POST", "/v5/crypto-loan-fixed/fully-repay", self._fixed_repay, limit=ACTION_LIMIT)
        self.route("POST", "/v5/crypto-loan/repay", self._legacy_repay, limit=ACTION_LIMIT)
        self.route("POST", "/v5/ins-loan/repay-loan", self._ins_repay, limit=ACTION_LIMIT)

    def add_account(
        self,
        api_key: str,
        *,
        secret: str | None = None,
        public_key: str | bytes | rsa.RSAPublicKey | None = None,
        label: str = "default",
        uid: str | None = None,
    ) -> BybitAccount:
        if (secret is None) == (public_key is None):
            raise ValueError("give exactly one of secret or public_key")
        pub: rsa.RSAPublicKey | None = None
        if public_key is not None:
            if isinstance(public_key, rsa.RSAPublicKey):
                pub = public_key
            else:
                loaded = serialization.load_pem_public_key(
                    public_key.encode() if isinstance(public_key, str) else public_key
                )
                if not isinstance(loaded, rsa.RSAPublicKey):
                    raise ValueError("Bybit verifies RSA public keys only")
                pub = loaded
        acct = BybitAccount(label, api_key, uid or f"{len(self.accounts) + 1:08d}", secret, pub)
        self.accounts[api_key] = acct
        return acct

    async def _time(self, call: SimCall) -> Any:
        now = call.now_ms
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    # --- datasets ------------------------------------------------------------------------------

    def account(self, account: BybitAccount | str) -> BybitAccount:
        """An account by object, label or API key."""
        if isinstance(account, BybitAccount):
            return account
        found: BybitAccount | None = self.accounts.get(account)
        if found is None:
            for acct in self.accounts.values():
                if acct.label == account:
                    return acct  # type: ignore[no-any-return]
            raise KeyError(f"no Bybit account {account!r}")
        return found

    def populate(self, account: BybitAccount | str, *, seed: int, scale: float = 1.0) -> None:
        """A deterministic dataset for every Bybit feed (ties, 18-20 digit amounts, type drift,
        pending rows, multi-leg fixed repayments, unknown fields) plus open debt."""
        populate_book(self.account(account).book, seed=seed, scale=scale, now=self.sim.now_ms())

    def grow(self, account: BybitAccount | str, *, seed: int, n: int = 3) -> None:
        """`n` new records per feed, newer than everything present; processing rows settle."""
        grow_book(self.account(account).book, seed=seed, n=n, now=self.sim.now_ms())

    def expected_ids(
        self, account: BybitAccount | str, feed_id: str, *, since: int | None = None, until: int | None = None
    ) -> set[str]:
        """The event ids a complete walk of `feed_id` must yield now (optionally within [since, until])."""
        return expected_ids_of(self.account(account).book, feed_id, self.sim.now_ms(), since=since, until=until)

    # --- history endpoints ------------------------------------------------------------------------

    @staticmethod
    def _limit(call: SimCall, default: int) -> int:
        text = call.params.get("limit", str(default))
        if not text.isdigit() or not 1 <= int(text) <= 100:
            raise SimError(10001, f"limit: {text!r} is out of range [1, 100]")
        return int(text)

    def _cursor_endpoint(self, feed: str, filters: Mapping[str, str]) -> Callable[[SimCall], Any]:
        async def handler(call: SimCall) -> Any:
            limit = self._limit(call, 10)
            unknown = set(call.params) - set(filters) - {"limit", "cursor"}
            if unknown:
                raise SimError(10001, f"unknown parameter(s) {sorted(unknown)}")
            rows = call.account.book.rows(feed)
            for param, wire_field in filters.items():
                if param in call.params:
                    want = call.params[param]
                    rows = [r for r in rows if str(r.wire.get(wire_field)) == want]
            ordered = newest_first(rows, lambda r: r.ts, lambda r: int(r.key))
            page, nxt = page_by_cursor(ordered, lambda r: r.key, call.params.get("cursor") or None, limit)
            return {"list": [r.wire for r in page], "nextPageCursor": nxt}

        return handler

    def _ins_endpoint(self, feed: str, list_name: str) -> Callable[[SimCall], Any]:
        async def handler(call: SimCall) -> Any:
            limit = self._limit(call, 100 if feed.endswith("repayment_history") else 10)
            bounds: dict[str, int] = {}
            for name in ("startTime", "endTime"):
                text = call.params.get(name)
                if text is not None:
                    if not text.lstrip("-").isdigit():
                        raise SimError(10001, f"{name} must be an integer")
                    bounds[name] = int(text)
            end = bounds.get("endTime", call.now_ms)
            start = bounds.get("startTime", end - INS_WINDOW_DEFAULT_MS)
            rows = call.account.book.rows(feed, call.now_ms)
            if "orderId" in call.params:
                rows = [r for r in rows if r.key == call.params["orderId"]]
            ordered = newest_first(rows, lambda r: r.ts, lambda r: int(r.key))
            return {list_name: [r.wire for r in rows_in_window(ordered, lambda r: r.ts, start, end, limit)]}

        return handler

    async def _legacy_ongoing(self, call: SimCall) -> Any:
        limit = self._limit(call, 10)
        rows = list(call.account.book.legacy_open.values())
        for param in ("orderId", "loanCurrency", "collateralCurrency"):
            if param in call.params:
                rows = [r for r in rows if r[param] == call.params[param]]
        kind = call.params.get("loanTermType")
        if kind == "1":  # fixed term: `loanTerm` must be given
            if "loanTerm" not in call.params:
                raise SimError(10001, "loanTerm is required when loanTermType is 1")
            rows = [r for r in rows if r["loanTerm"] == call.params["loanTerm"]]
        elif kind == "2":
            rows = [r for r in rows if r["loanTerm"] == ""]
        rows.sort(key=lambda r: int(r["orderId"]), reverse=True)
        page, nxt = page_by_cursor(rows, lambda r: str(r["orderId"]), call.params.get("cursor") or None, limit)
        return {"list": page, "nextPageCursor": nxt}

    # --- positions (read from the account's books) ----------------------------------------------

    @staticmethod
    def _no_params(call: SimCall) -> None:
        if call.params:
            raise SimError(10001, f"unknown parameter(s) {sorted(call.params)}")

    async def _position(self, call: SimCall) -> Any:
        """GET /v5/crypto-loan-common/position: fixed (open contracts' principal and penalty) and
        flexible debt per coin; the shared collateral pool from the books."""
        self._no_params(call)
        book: BybitBook = call.account.book
        fixed = book.fixed_debt()
        flexible = {c: v for c, v in book.flex_debt.items() if v}
        borrows = [{"fixedTotalDebt": _plain(fixed.get(c, ZERO)), "fixedTotalDebtUSD": "0",
                    "flexibleHourlyInterestRate": _plain(FLEX_HOURLY_RATE),
                    "flexibleTotalDebt": _plain(flexible.get(c, ZERO)), "flexibleTotalDebtUSD": "0",
                    "loanCurrency": c} for c in sorted(set(fixed) | set(flexible))]
        pool = sorted((c, v) for (scope, c), v in book.books.collateral.items() if scope == CRYPTO_LOAN and v)
        return {"borrowList": borrows,
                "collateralList": [{"amount": _plain(v), "amountUSD": "0", "currency": c} for c, v in pool],
                "ltv": "0.524344", "supplyList": [], "totalCollateral": "0", "totalDebt": "0", "totalSupply": "0"}

    async def _ongoing_coin(self, call: SimCall) -> Any:
        """GET /v5/crypto-loan-flexible/ongoing-coin: flexible debt, its unpaid principal and interest."""
        unknown = set(call.params) - {"loanCurrency"}
        if unknown:
            raise SimError(10001, f"unknown parameter(s) {sorted(unknown)}")
        book: BybitBook = call.account.book
        want = call.params.get("loanCurrency")
        rows = []
        for c, debt in sorted(book.flex_debt.items()):
            if debt and (want is None or c == want):
                interest = book.flex_interest.get(c, ZERO)
                rows.append({"hourlyInterestRate": _plain(FLEX_HOURLY_RATE), "loanCurrency": c,
                             "totalDebt": _plain(debt), "unpaidAmount": _plain(_sub(debt, interest)),
                             "unpaidInterest": _plain(interest)})
        return {"list": rows}

    async def _ins_ltv(self, call: SimCall) -> Any:
        """GET /v5/ins-loan/ltv-convert: one risk unit with the unpaid principal per coin; while a
        repayment is processing (not listed yet) `liqStatus` 2 and the figures are emptied."""
        self._no_params(call)
        book: BybitBook = call.account.book
        if not book.feeds["bybit.institutional_loan_orders"]:
            return {"ltvInfo": []}
        busy = any(r.visible_at > call.now_ms for r in book.feeds["bybit.institutional_repayment_history"])
        unpaid = book.ins_unpaid()
        unit: dict[str, Any] = {
            "ltv": "" if busy else "0.75", "rst": "", "parentUid": "1631521", "subAccountUids": [call.account.uid],
            "unpaidAmount": "" if busy else "0", "balance": "" if busy else "0", "liqStatus": 2 if busy else 0,
            "unpaidInfo": [] if busy else [{"token": c, "unpaidQty": _plain(v), "unpaidInterest": "0"}
                                           for c, v in sorted(unpaid.items())],
            "balanceInfo": [],
        }
        return {"ltvInfo": [unit]}

    @staticmethod
    def _vip(call: SimCall) -> str | None:
        vip = call.params.get("vipLevel")
        if vip is not None and vip not in VIP_LEVELS:
            raise SimError(10001, f"vipLevel {vip!r} is invalid")
        return vip

    async def _loanable(self, call: SimCall) -> Any:
        vip, ccy = self._vip(call), call.params.get("currency")
        return {"list": [r for r in LOANABLE if (vip is None or r["vipLevel"] == vip)
                         and (ccy is None or r["currency"] == ccy)]}

    async def _legacy_loanable(self, call: SimCall) -> Any:
        vip, ccy = self._vip(call), call.params.get("currency")
        return {"vipCoinList": [{"list": [r for r in LEGACY_LOANABLE if ccy is None or r["currency"] == ccy],
                                 "vipLevel": level} for level in (vip or "VIP0", )]}

    # --- actions ---------------------------------------------------------------------------------

    @staticmethod
    def _field(body: Any, name: str) -> str:
        if not isinstance(body, dict):
            raise SimError(10001, "request body must be a JSON object")
        value = body.get(name)
        if not isinstance(value, str) or not value:
            raise SimError(10001, f"{name} is required and must be a string")
        return value

    @classmethod
    def _positive(cls, body: Any, name: str) -> Decimal:
        text = cls._field(body, name)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise SimError(10001, f"{name}: {text!r} is not a number") from None
        if not value.is_finite() or value <= 0 or "e" in text.lower():
            raise SimError(10001, f"{name}: {text!r} must be a positive decimal string")
        return value

    def _executed(self, call: SimCall, path: str, id_: str) -> None:
        self.mutations.append(Mutation(call.account.label, path, dict(call.body), id_, call.now_ms))

    async def _flex_borrow(self, call: SimCall) -> Any:
        ccy = self._field(call.body, "loanCurrency")
        amount = self._positive(call.body, "loanAmount")
        pledge = call.body.get("collateralList", [])
        if not isinstance(pledge, list) or len(pledge) > 100:
            raise SimError(10001, "collateralList must be a list of at most 100 entries")
        collateral = [(self._field(item, "currency"), self._positive(item, "amount")) for item in pledge]
        book: BybitBook = call.account.book
        oid = Activity(book).flex_borrow(call.now_ms, ccy, amount, collateral=collateral)
        self._executed(call, "/v5/crypto-loan-flexible/borrow", oid)
        return {"orderId": oid}

    async def _flex_repay(self, call: SimCall) -> Any:
        ccy = self._field(call.body, "loanCurrency")
        amount = self._positive(call.body, "amount")  # `loanAmount` (one doc example) is refused
        book: BybitBook = call.account.book
        debt = _sub(book.flex_debt.get(ccy, ZERO), book.flex_reserved.get(ccy, ZERO))
        if debt <= 0:
            raise SimError(148032, "no outstanding debt")
        rid = Activity(book).flex_repay(call.now_ms, ccy, min(amount, debt))  # at most what is owed
        self._executed(call, "/v5/crypto-loan-flexible/repay", rid)
        return {"repayId": rid}

    async def _fixed_repay(self, call: SimCall) -> Any:
        body = call.body if isinstance(call.body, dict) else {}
        loan_id, ccy = body.get("loanId"), body.get("loanCurrency")
        if loan_id is None and ccy is None:
            raise SimError(10001, "either loanId or loanCurrency needs to be passed")
        book: BybitBook = call.account.book
        contracts = [r for r in book.open_contracts() if (loan_id is None or r.key == loan_id)
                     and (ccy is None or r.wire["borrowCurrency"] == ccy)]
        if not contracts:
            raise SimError(148032, "no outstanding debt")
        if any(r.key in book.locked for r in contracts):
            raise SimError(148041, "a repay order exists")
        rid = Activity(book).fixed_repay(call.now_ms, contracts, rtype=1)
        self._executed(call, "/v5/crypto-loan-fixed/fully-repay", rid)
        return {"repayId": rid}

    async def _legacy_repay(self, call: SimCall) -> Any:
        oid = self._field(call.body, "orderId")
        amount = self._positive(call.body, "amount")
        book: BybitBook = call.account.book
        if oid not in book.legacy_open:
            raise SimError(177021, "repayment failed: loan order not found")
        if book.legacy_processing(oid):
            raise SimError(177021, "repayment failed: a repayment of this order is processing")
        rid = Activity(book).legacy_repay(call.now_ms, oid, amount)
        self._executed(call, "/v5/crypto-loan/repay", rid)
        return {"repayId": rid}

    async def _ins_repay(self, call: SimCall) -> Any:
        token = self._field(call.body, "token")
        quantity = self._positive(call.body, "quantity")
        book: BybitBook = call.account.book
        if any(r.visible_at > call.now_ms for r in book.feeds["bybit.institutional_repayment_history"]):
            raise SimError(3777043, "a repayment is already processing")
        if quantity > book.ins_unpaid().get(token, ZERO):
            raise SimError(3777039, "the repayment exceeds the debt")
        done = call.now_ms + self.ins_repay_delay_ms
        rid = Activity(book).ins_repay(done, token, quantity, visible_at=done)
        self._executed(call, "/v5/ins-loan/repay-loan", rid)
        return {"repayOrderStatus": "P"}

    # --- pipeline hooks --------------------------------------------------------------------

    def authenticate(self, request: web.Request, body: bytes) -> BybitAccount:
        h = request.headers
        key, ts_text, sign = h.get("X-BAPI-API-KEY"), h.get("X-BAPI-TIMESTAMP"), h.get("X-BAPI-SIGN")
        recv_text = h.get("X-BAPI-RECV-WINDOW", "5000")
        if not key or not ts_text or not sign:
            raise SimError(10003, "Invalid request: missing X-BAPI-* authentication headers", 401)
        acct: BybitAccount | None = self.accounts.get(key)
        if acct is None:
            raise SimError(10003, "API key is invalid.")
        try:
            ts, recv = int(ts_text), int(recv_text)
        except ValueError:
            raise SimError(10001, "invalid X-BAPI-TIMESTAMP or X-BAPI-RECV-WINDOW") from None
        now = self.sim.now_ms()
        if not (now - recv <= ts < now + 1000):
            raise SimError(
                10002,
                f"invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{recv}]",
            )
        raw = request.raw_path
        signed = (raw.split("?", 1)[1] if "?" in raw else "").encode() if request.method == "GET" else body
        if not self._verify(acct, ts, recv, signed, sign):
            raise SimError(10004, "error sign! please check your signature generation algorithm.")
        return acct

    @staticmethod
    def _verify(acct: BybitAccount, ts: int, recv: int, signed: bytes, sign: str) -> bool:
        if acct.secret is not None:
            expected = bybit_hmac(acct.secret.encode(), ts, acct.api_key, recv, signed)
            return hmac.compare_digest(expected, sign.lower())
        assert acct.public_key is not None
        try:
            raw = base64.b64decode(sign, validate=True)
            acct.public_key.verify(
                raw, f"{ts}{acct.api_key}{recv}".encode() + signed, padding.PKCS1v15(), hashes.SHA256()
            )
        except (binascii.Error, ValueError, InvalidSignature):
            return False
        return True

    def check_rate(self, request: web.Request, route: Route, account: Any) -> dict[str, str]:
        now = self.sim.arrived(request)
        ok, _, _ = self.sim.windows.hit(("bybit-ip", request.remote), IP_BUDGET * self.sim.rate_scale, IP_PER, now)
        if not ok:
            raise SimError(403, "access too frequent", 403)
        if account is None:
            return {}
        budget = route.limit.budget * self.sim.rate_scale
        ok, remaining, free_in = self.sim.windows.hit(("bybit", account.uid, route.path), budget, route.limit.per, now)
        reset = self.sim.now_ms() + (int(free_in * 1000) + 1 if not ok else 0)
        headers = {
            "X-Bapi-Limit": str(int(budget)),
            "X-Bapi-Limit-Status": str(remaining),
            "X-Bapi-Limit-Reset-Timestamp": str(reset),
        }
        if not ok:
            if not self.send_reset_header:
                del headers["X-Bapi-Limit-Reset-Timestamp"]
            raise SimError(10006, "Too many visits!", 200, headers)
        return headers

    def rate_error(self, route: Route, account: Any) -> SimError:
        headers = {"X-Bapi-Limit-Status": "0"}
        if self.send_reset_header:
            headers["X-Bapi-Limit-Reset-Timestamp"] = str(self.sim.now_ms() + 200)
        return SimError(10006, "Too many visits!", 200, headers)

    def success(self, result: Any) -> web.Response:
        return web.Response(
            body=msgspec.json.encode(
                {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": self.sim.now_ms()}
            ),
            content_type="application/json",
        )

    def failure(self, err: SimError) -> web.Response:
        if err.status == 403:
            return web.Response(status=403, text="403 Forbidden: access too frequent")
        return web.Response(
            status=err.status,
            body=msgspec.json.encode(
                {"retCode": int(err.code), "retMsg": err.msg, "result": {}, "retExtInfo": {}, "time": self.sim.now_ms()}
            ),
            content_type="application/json",
        )
