"""OKX inside the simulator: auth (50101-50113, 50102 on skew), 50011 on rate, envelopes,
the four loan-history endpoints with the paging the docs describe, and the two position
endpoints, which read the account's state.

Signatures are verified over the exact bytes received: the raw request path
with its query string as sent, and the raw body.

Endpoints (all newest first, `limit` 1..100, default 100; bad parameters answer 51000):

- GET /api/v5/finance/flexible-loan/loan-history: `after`/`before` refId, exclusive;
  filters `type`, `ordId`. 5 requests / 2 s per User ID.
- GET /api/v5/finance/flexible-loan/interest-accrued: the same paging; filters `ccy`,
  `ordId`; only the past 30 days. 5 requests / 2 s per User ID.
- GET /api/v5/trade/one-click-repay-history-v2: `after`/`before` ts, inclusive; only
  the past 7 days. 1 request / 2 s per User ID.
- GET /api/v5/asset/convert/history: `after`/`before` ts, exclusive; filter `clTReqId`.
  6 requests / s per User ID.
- GET /api/v5/finance/flexible-loan/loan-info: per open order, `loanData` (debt per loan
  currency, interest included) and `collateralData`; filter `ordId`. 5 requests / 2 s per User ID.
- GET /api/v5/trade/one-click-repay-currency-list-v2: the SPOT-mode debt (`debtData`,
  principal and interest) and the free balances that can pay it (`repayData`). 1 request / 2 s
  per User ID.

Accounts: `populate`, `grow` (see okx_data.py: activity that moves the account's state and
writes the records), `books` (the state: `AccountBooks`), `expected_ids`, `records`,
`add_records` (records only: the state does not move).
Limits and windows are written here from the docs, not imported from the client.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import decimal
import hmac
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from aiohttp import web

from ..ratelimit import Limit
from ..signing import okx_sign
from . import cursors, okx_data
from .books import AccountBooks
from .okx_data import FEED_TABLES, LOAN_TYPES, PRICES, SPOT, OkxBook, SimRecord
from .server import Route, SimCall, SimError, SimServer, VenueSim

__all__ = ["OkxAccount", "OkxVenue"]

#: the venue rejects timestamps more than 30 s away from its clock
MAX_SKEW_MS = 30_000

DAY_MS = 86_400_000
LOAN_HISTORY_PATH = "/api/v5/finance/flexible-loan/loan-history"
INTEREST_PATH = "/api/v5/finance/flexible-loan/interest-accrued"
ONE_CLICK_PATH = "/api/v5/trade/one-click-repay-history-v2"
CONVERT_PATH = "/api/v5/asset/convert/history"
LOAN_INFO_PATH = "/api/v5/finance/flexible-loan/loan-info"
REPAY_CURRENCIES_PATH = "/api/v5/trade/one-click-repay-currency-list-v2"
#: documented limits (seeds 000-002, notes section 5), per User ID
LOAN_HISTORY_LIMIT = Limit(5, 2.0)
INTEREST_LIMIT = Limit(5, 2.0)
ONE_CLICK_LIMIT = Limit(1, 2.0)
CONVERT_LIMIT = Limit(6, 1.0)
#: Financial Product > Flexible loan > Get loan info: 5 requests / 2 s per User ID
LOAN_INFO_LIMIT = Limit(5, 2.0)
#: Trade > Get one-click repay currency list (New): 1 request / 2 s per User ID
REPAY_CURRENCIES_LIMIT = Limit(1, 2.0)
#: GET /api/v5/public/time: 10 requests / 2 s per IP
TIME_LIMIT = Limit(10, 2.0, scope="ip")
#: how far back the venue serves records
ONE_CLICK_WINDOW_MS = 7 * DAY_MS
INTEREST_WINDOW_MS = 30 * DAY_MS


@dataclass(eq=False)
class OkxAccount:
    """A simulated OKX account (one User ID)."""

    label: str
    api_key: str
    secret: str
    passphrase: str
    uid: str
    demo: bool = False
    book: OkxBook = field(default_factory=OkxBook)

    def __repr__(self) -> str:
        return f"OkxAccount({self.label!r}, uid={self.uid!r})"


def _parse_iso_ms(value: str) -> int | None:
    try:
        if not value.endswith("Z") or len(value) != 24:
            return None
        dt = _dt.datetime.strptime(value[:-1], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=_dt.UTC)
    except ValueError:
        return None
    delta = dt - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


class OkxVenue(VenueSim):
    """OKX endpoints. `add_account` first; venue adapters add their endpoints."""

    venue = "okx"
    prefixes = ("/api/v5/",)

    def __init__(self, sim: SimServer, *, rate_http: int = 429) -> None:
        super().__init__(sim)
        #: the HTTP status of a 50011 rate-limit answer (OKX sends 429, some gateways 200)
        self.rate_http = rate_http
        self.route("GET", "/api/v5/public/time", self._time, limit=TIME_LIMIT, signed=False)
        self.route("GET", LOAN_HISTORY_PATH, self._loan_history, limit=LOAN_HISTORY_LIMIT)
        self.route("GET", INTEREST_PATH, self._interest, limit=INTEREST_LIMIT)
        self.route("GET", ONE_CLICK_PATH, self._one_click, limit=ONE_CLICK_LIMIT)
        self.route("GET", CONVERT_PATH, self._convert, limit=CONVERT_LIMIT)
        self.route("GET", LOAN_INFO_PATH, self._loan_info, limit=LOAN_INFO_LIMIT)
        self.route("GET", REPAY_CURRENCIES_PATH, self._repay_currencies, limit=REPAY_CURRENCIES_LIMIT)

    def add_account(
        self, api_key: str, secret: str, passphrase: str, *, label: str = "default",
        uid: str | None = None, demo: bool = False,
    ) -> OkxAccount:
        acct = OkxAccount(label, api_key, secret, passphrase, uid or f"{len(self.accounts) + 1:08d}", demo)
        self.accounts[api_key] = acct
        return acct

    async def _time(self, call: SimCall) -> Any:
        return [{"ts": str(call.now_ms)}]

    # --- datasets -------------------------------------------------------------------

    def account(self, account: str | OkxAccount) -> OkxAccount:
        """An account by its object, label or API key."""
        if isinstance(account, OkxAccount):
            return account
        for acct in self.accounts.values():
            if acct.label == account:
                found: OkxAccount = acct
                return found
        by_key: OkxAccount | None = self.accounts.get(account)
        if by_key is None:
            raise KeyError(f"no OKX account labelled {account!r}; add_account() first")
        return by_key

    def populate(self, account: str | OkxAccount, *, seed: int, scale: float = 1.0) -> None:
        """Replace the account's history with a deterministic dataset (see okx_data.py)."""
        self.account(account).book = okx_data.generate(seed, self.sim.now_ms(), scale)

    def grow(self, account: str | OkxAccount, *, seed: int, n: int = 3) -> None:
        """Add `n` newer records per feed and settle the one-click repays still running."""
        okx_data.grow(self.account(account).book, seed, self.sim.now_ms(), n)

    def books(self, account: str | OkxAccount) -> AccountBooks:
        """The account's state: free wallet, debt and collateral per scope and currency, and the
        moves no feed records (`unrecorded`, by residual name)."""
        return self.account(account).book.state

    def add_records(self, account: str | OkxAccount, feed_id: str, records: list[dict[str, Any]]) -> None:
        """Store wire records (dicts as the venue sends them) in a feed's table. Records only:
        the account's state does not move (use the `OkxBook` activity methods for that)."""
        book = self.account(account).book
        key_field = {"loan_history": "refId", "interest": "refId", "one_click": "debtCcy", "convert": "tradeId"}
        name = FEED_TABLES.get(feed_id)
        if name is None:
            raise KeyError(f"unknown OKX feed {feed_id!r}; known: {', '.join(FEED_TABLES)}")
        book.add(feed_id, [
            SimRecord(int(w["ts"]), str(w[key_field[name]]), w, order_id=str(w.get("ordId", "")),
                      ccy=str(w.get("ccy", "")))
            for w in records
        ])

    def _served(self, book: OkxBook, feed_id: str, now_ms: int) -> list[SimRecord]:
        rows = book.table(feed_id)
        if feed_id == "okx.one_click_repay_history":
            return [r for r in rows if r.ts >= now_ms - ONE_CLICK_WINDOW_MS]
        if feed_id == "okx.flexible_loan_interest":
            return [r for r in rows if r.ts >= now_ms - INTEREST_WINDOW_MS]
        return rows

    def records(self, account: str | OkxAccount, feed_id: str) -> list[dict[str, Any]]:
        """The wire records the venue serves now for a feed, newest first."""
        book = self.account(account).book
        return [r.wire for r in self._served(book, feed_id, self.sim.now_ms())]

    def expected_ids(
        self, account: str | OkxAccount, feed_id: str, *, since: int | None = None, until: int | None = None
    ) -> set[str]:
        """The event ids a complete walk of `feed_id` must yield (optionally within [since, until]).

        One-click repay: ``<ts>:<debtCcy>`` per record (``#n`` for the n-th record, in the
        served order, sharing both) plus the ordId of every order that filled something; the
        others: refId / tradeId.
        """
        book = self.account(account).book
        ids: set[str] = set()
        twins: dict[str, int] = {}
        for r in self._served(book, feed_id, self.sim.now_ms()):
            key = f"{r.ts}:{str(r.wire.get('debtCcy', '')).upper()}"
            n = twins.get(key, 0)
            twins[key] = n + 1
            if (since is not None and r.ts < since) or (until is not None and r.ts > until):
                continue
            if feed_id != "okx.one_click_repay_history":
                ids.add(r.key)
                continue
            ids.add(key if n == 0 else f"{key}#{n}")
            for leg in r.wire.get("ordIdInfo", []):
                size = str(leg.get("fillSz", ""))
                try:
                    filled = bool(size) and Decimal(size) != 0
                except InvalidOperation:
                    filled = False
                if filled:
                    ids.add(str(leg["ordId"]))
        return ids

    # --- endpoints ---------------------------------------------------------------------

    async def _loan_history(self, call: SimCall) -> Any:
        p = call.params
        rows = call.account.book.table("okx.flexible_loan_history")
        kind = p.get("type")
        if kind:
            if kind not in LOAN_TYPES:
                raise _param_error("type")
            rows = [r for r in rows if r.wire["type"] == kind]
        order = p.get("ordId")
        if order:
            rows = [r for r in rows if r.order_id == order]
        return [r.wire for r in _ref_page(rows, p)]

    async def _interest(self, call: SimCall) -> Any:
        p = call.params
        rows = self._served(call.account.book, "okx.flexible_loan_interest", call.now_ms)
        ccy = p.get("ccy")
        if ccy:
            rows = [r for r in rows if r.ccy == ccy]
        order = p.get("ordId")
        if order:
            rows = [r for r in rows if r.order_id == order]
        return [r.wire for r in _ref_page(rows, p)]

    async def _one_click(self, call: SimCall) -> Any:
        rows = self._served(call.account.book, "okx.one_click_repay_history", call.now_ms)
        return [r.wire for r in _ts_page(rows, call.params, inclusive=True)]

    async def _convert(self, call: SimCall) -> Any:
        p = call.params
        rows = call.account.book.table("okx.convert_history")
        client_id = p.get("clTReqId")
        if client_id:
            rows = [r for r in rows if r.wire.get("clTReqId") == client_id]
        return [r.wire for r in _ts_page(rows, p, inclusive=False)]

    async def _loan_info(self, call: SimCall) -> Any:
        order_id = call.params.get("ordId", "")
        if order_id and not (order_id.isascii() and order_id.isdigit()):
            raise _param_error("ordId")
        book = call.account.book
        out: list[dict[str, Any]] = []
        for order in book.orders.values():
            if (order_id and order.id != order_id) or not (order.debt or order.collateral):
                continue
            with decimal.localcontext(decimal.Context(prec=200)):  # display figures: rounded on purpose
                loan_usd = sum((PRICES.get(c, Decimal(1)) * a for c, a in order.debt.items()), Decimal(0))
                coll_usd = sum((PRICES.get(c, Decimal(1)) * a for c, a in order.collateral.items()), Decimal(0))
                ltv = "" if not coll_usd else _plain((loan_usd / coll_usd).quantize(Decimal("0.0001")))
            out.append({
                "collateralData": [{"amt": _plain(a), "ccy": c} for c, a in sorted(order.collateral.items())],
                "collateralNotionalUsd": _plain(coll_usd.quantize(Decimal("0.0000001"))),
                "curLTV": ltv,
                "liqLTV": "0.8374",
                "loanData": [{"amt": _plain(a), "ccy": c} for c, a in sorted(order.debt.items())],
                "loanNotionalUsd": _plain(loan_usd.quantize(Decimal("0.0000001"))),
                "marginCallLTV": "0.7374",
                "ordId": order.id,
                "riskWarningData": {"instId": "", "liqPx": ""},
            })
        return out

    async def _repay_currencies(self, call: SimCall) -> Any:
        state = call.account.book.state
        debts = sorted((ccy, amt) for (scope, ccy), amt in state.debt.items() if scope == SPOT and amt > 0)
        owed = {ccy for ccy, _ in debts}
        pay = sorted((ccy, amt) for (ccy,), amt in state.wallet.items() if amt > 0 and ccy not in owed)
        return [{
            "debtData": [{"debtAmt": _plain(a), "debtCcy": c} for c, a in debts],
            "repayData": [{"repayAmt": _plain(a), "repayCcy": c} for c, a in pay],
        }]

    # --- pipeline hooks -------------------------------------------------------------

    def authenticate(self, request: web.Request, body: bytes) -> OkxAccount:
        h = request.headers
        for header, code in (
            ("OK-ACCESS-KEY", "50103"),
            ("OK-ACCESS-PASSPHRASE", "50104"),
            ("OK-ACCESS-SIGN", "50106"),
            ("OK-ACCESS-TIMESTAMP", "50107"),
        ):
            if not h.get(header):
                raise SimError(code, f"Request header {header} cannot be empty.", 401)
        acct: OkxAccount | None = self.accounts.get(h["OK-ACCESS-KEY"])
        if acct is None:
            raise SimError("50111", "Invalid OK-ACCESS-KEY.", 401)
        ts_text = h["OK-ACCESS-TIMESTAMP"]
        ts = _parse_iso_ms(ts_text)
        if ts is None:
            raise SimError("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401)
        if abs(self.sim.now_ms() - ts) > MAX_SKEW_MS:
            raise SimError("50102", "Timestamp request expired.", 401)
        if (h.get("x-simulated-trading") == "1") != acct.demo:
            raise SimError("50101", "APIKey does not match current environment.", 401)
        if not hmac.compare_digest(h["OK-ACCESS-PASSPHRASE"], acct.passphrase):
            raise SimError("50105", "OK-ACCESS-PASSPHRASE incorrect.", 401)
        expected = okx_sign(acct.secret.encode(), ts_text, request.method, request.raw_path, body)
        try:
            given = base64.b64decode(h["OK-ACCESS-SIGN"], validate=True)
        except (binascii.Error, ValueError):
            given = b""
        if not hmac.compare_digest(given, base64.b64decode(expected)):
            raise SimError("50113", "Invalid Sign.", 401)
        return acct

    def check_rate(self, request: web.Request, route: Route, account: Any) -> dict[str, str]:
        scope = account.uid if account is not None else request.remote
        ok, _, _ = self.sim.windows.hit(
            ("okx", scope, route.path), route.limit.budget * self.sim.rate_scale, route.limit.per,
            self.sim.arrived(request),
        )
        if not ok:
            raise self.rate_error(route, account)
        return {}

    def rate_error(self, route: Route, account: Any) -> SimError:
        return SimError("50011", "Too Many Requests", self.rate_http)

    def success(self, result: Any) -> web.Response:
        return web.Response(
            body=msgspec.json.encode({"code": "0", "msg": "", "data": result}),
            content_type="application/json",
        )

    def failure(self, err: SimError) -> web.Response:
        return web.Response(
            status=err.status,
            body=msgspec.json.encode({"code": str(err.code), "msg": err.msg, "data": []}),
            content_type="application/json",
        )


# --- the history endpoints ----------------------------------------------------------------------------


def _plain(value: Decimal) -> str:
    return format(value, "f")


def _param_error(name: str) -> SimError:
    return SimError("51000", f"Parameter {name} error", 400)


def _limit(params: dict[str, str]) -> int:
    text = params.get("limit", "")
    if not text:
        return 100
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 100:
        raise _param_error("limit")
    return int(text)


def _number(params: dict[str, str], name: str) -> int | None:
    text = params.get(name, "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise _param_error(name)
    return int(text)


def _ref_page(rows: list[SimRecord], params: dict[str, str]) -> list[SimRecord]:
    """refId paging: `after` = older than that refId, `before` = newer; both exclusive."""
    limit = _limit(params)
    after = _number(params, "after")
    before = _number(params, "before")
    if after is not None:
        rows = cursors.page_after_id(rows, lambda r: r.key, str(after), len(rows))
    if before is not None:
        rows = [r for r in rows if int(r.key) > before][-limit:]
    return rows[:limit]


def _ts_page(rows: list[SimRecord], params: dict[str, str], *, inclusive: bool) -> list[SimRecord]:
    """ts paging: `after` = older than that ms, `before` = newer (inclusive or not)."""
    limit = _limit(params)
    after = _number(params, "after")
    before = _number(params, "before")
    if after is not None:
        rows = cursors.page_after_ts(rows, lambda r: r.ts, after, len(rows), inclusive=inclusive)
    if before is not None:
        rows = [r for r in rows if (r.ts >= before if inclusive else r.ts > before)][-limit:]
    return rows[:limit]
