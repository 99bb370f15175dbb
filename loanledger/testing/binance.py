"""Binance inside the simulator: HMAC / RSA / Ed25519 verification, -1021 / -1022 / -2015,
per-endpoint minute weight with X-SAPI-USED-*-WEIGHT-1M headers, 429 + Retry-After, 418 bans,
and the Portfolio Margin Pro loan endpoints:

- GET /sapi/v1/portfolio/pmloan-history (IP weight 500): `current`/`size` pages
  (size default 10, max 100) over ``[startTime, endTime]``, both inclusive; no
  window -> the last 30 days; only startTime -> [startTime, startTime + 30d];
  only endTime -> [endTime - 30d, endTime]; a window longer than 360 days -> -1127.
- GET /sapi/v1/portfolio/interest-history (IP weight 50): a bare array, newest
  first, the newest `size` rows of the window (no page parameter). Its window rules
  are undocumented for PM Pro; the simulator plays the classic-PM sibling's rules
  (max 30 days, default the last 7 days) and `interest_bounds` picks inclusive or
  exclusive startTime/endTime, so clients can be tested against both.
- GET /sapi/v1/portfolio/pmLoan (UID weight 500): ``{"asset", "amount"}``, read from
  the account's books: the bankruptcy loan outstanding now.

Each account holds its state in an `AccountBooks` (loanledger.testing.books), moved
the way the venue moves it, with the records written the way the venue writes them:

- a bankruptcy loan is opened (+x debt in scope ``binance.pm_bankruptcy_loan``) with
  no record anywhere: an unrecorded move under the residual name the client's scope
  declares, "bankruptcy loan opened". The venue keeps one loan at a time (pmLoan
  answers one asset): a loan in another asset opens only once the last one is repaid;
- a repayment reduces it (-x wallet, -x debt) and writes a pmloan-history row;
- negative-balance interest charges the wallet (-i) and writes an interest-history
  row; it is owed to no loan.

`open_bankruptcy_loan`, `repay_bankruptcy_loan` and `charge_interest` are those
activities; `populate` and `grow` generate a timeline of them.

The signed payload is the raw query string as received, up to ``&signature=``.
Rate answers: a request over the endpoint's minute budget gets 429 with
Retry-After (seconds to the next minute); more than `ban_after` 429s (forced
ones included) in one minute get 418 and an IP ban of `ban_seconds`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, Literal
from urllib.parse import unquote

import msgspec
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from .._money import EXACT
from ..ratelimit import Limit
from ..signing import binance_hmac
from . import binance_data as data
from .binance_data import InterestRow, LoanOpened, PmloanRow
from .books import AccountBooks
from .cursors import newest_first, page_by_number, rows_in_window
from .server import Route, SimCall, SimError, SimServer, VenueSim

__all__ = ["BANKRUPTCY_SCOPE", "LOAN_OPENED", "NEGATIVE_BALANCE", "BinanceAccount", "BinanceVenue"]

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey

PMLOAN_HISTORY = "/sapi/v1/portfolio/pmloan-history"
INTEREST_HISTORY = "/sapi/v1/portfolio/interest-history"
PMLOAN_AMOUNT = "/sapi/v1/portfolio/pmLoan"
PMLOAN_HISTORY_FEED = "binance.pmloan_history"
INTEREST_HISTORY_FEED = "binance.pm_interest_history"

#: the position scope of the bankruptcy loan and the residual name of its unrecorded opening,
#: as the client's `Binance.scopes` declares them (stated again here: no shared code)
BANKRUPTCY_SCOPE = "binance.pm_bankruptcy_loan"
LOAN_OPENED = "bankruptcy loan opened"
#: the books key of negative-balance interest: it moves the wallet only, and no position reports it
NEGATIVE_BALANCE = "binance.pm_negative_balance"

# The documented limits, stated here again (the simulator shares no code with the client's
# endpoint definitions, so a wrong weight on either side shows up as a 429 in tests).
#: GET /api/v3/time: request weight 1 of the IP's 6,000 a minute
TIME_LIMIT = Limit(6_000, 60.0, weight=1, scope="ip", window="fixed")
PMLOAN_HISTORY_LIMIT = Limit(12_000, 60.0, weight=500, scope="ip", window="fixed")
INTEREST_HISTORY_LIMIT = Limit(12_000, 60.0, weight=50, scope="ip", window="fixed")
PMLOAN_AMOUNT_LIMIT = Limit(180_000, 60.0, weight=500, scope="uid", window="fixed")

_DAY_MS = 86_400_000
_LONG = re.compile(r"[0-9]{1,20}")


@dataclass(eq=False)
class BinanceAccount:
    """A simulated Binance account: an API key with an HMAC secret or a public key."""

    label: str
    api_key: str
    uid: str
    secret: str | None = None
    public_key: PublicKey | None = None
    pmloan: list[PmloanRow] = field(default_factory=list)
    interest: list[InterestRow] = field(default_factory=list)
    #: the account's state: free wallet, the bankruptcy loan's debt, what no feed records
    books: AccountBooks = field(default_factory=AccountBooks)
    #: every bankruptcy loan opened, oldest first (recorded by no endpoint)
    loans: list[LoanOpened] = field(default_factory=list)
    #: the asset of the newest loan: the one pmLoan reports
    loan_asset: str = "USDT"
    #: the `end_ms` of the last populate(): the newest row, and the `until` its
    #: 360-day window edges were placed for
    data_end: int | None = None
    _sorted: dict[str, tuple[int, int, list[Any]]] = field(default_factory=dict, repr=False)

    @property
    def owed(self) -> Decimal:
        """The bankruptcy loan outstanding now, in `loan_asset`."""
        return self.books.owed(BANKRUPTCY_SCOPE, self.loan_asset)

    @property
    def loan_amount(self) -> str:
        """`owed` as pmLoan writes it (plain notation)."""
        return format(self.owed, "f")

    def __repr__(self) -> str:
        return f"BinanceAccount({self.label!r}, uid={self.uid!r})"

    def pmloan_newest_first(self) -> list[PmloanRow]:
        return self._newest_first("pmloan", self.pmloan, lambda r: r.repay_time)

    def interest_newest_first(self) -> list[InterestRow]:
        return self._newest_first("interest", self.interest, lambda r: r.accrued_time)

    def _newest_first(self, name: str, rows: list[Any], ts: Any) -> list[Any]:
        """Rows in the venue's order (newest first, then by seq), re-sorted when the list
        is replaced or grows; call `changed()` after editing rows in place."""
        cached = self._sorted.get(name)
        if cached is None or cached[0] != id(rows) or cached[1] != len(rows):
            cached = (id(rows), len(rows), newest_first(rows, ts, lambda r: r.seq))
            self._sorted[name] = cached
        return cached[2]

    def changed(self) -> None:
        """Forget the sorted views (after editing `pmloan` / `interest` rows in place)."""
        self._sorted.clear()


def _positive(name: str, value: Decimal | str) -> Decimal:
    try:
        out = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a decimal amount") from None
    if not out.is_finite() or out <= 0:
        raise ValueError(f"{name}: {value!r} must be above 0")
    return out


@dataclass
class _Counter:
    window: int = -1
    used: int = 0
    violations: int = 0
    banned_until: int = 0  # venue ms


def _load_public(key: str | bytes | PublicKey) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return key
    pem = key.encode() if isinstance(key, str) else key
    loaded = serialization.load_pem_public_key(pem)
    if not isinstance(loaded, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError("RSA or Ed25519 public keys only")
    return loaded


class BinanceVenue(VenueSim):
    """Binance endpoints. `ban_after`: 429s in one minute before a 418 ban of `ban_seconds`."""

    venue = "binance"
    prefixes = ("/sapi/", "/api/v3/")

    def __init__(self, sim: SimServer) -> None:
        super().__init__(sim)
        self.ban_after = 3
        self.ban_seconds = 120
        #: interest-history startTime/endTime semantics (undocumented for PM Pro)
        self.interest_bounds: Literal["inclusive", "exclusive"] = "inclusive"
        self._counters: dict[tuple[str, str], _Counter] = {}
        self._last_counter: tuple[_Counter, str] | None = None
        self.route("GET", "/api/v3/time", self._time, limit=TIME_LIMIT, signed=False)
        self.route("GET", PMLOAN_HISTORY, self._pmloan_history, limit=PMLOAN_HISTORY_LIMIT)
        self.route("GET", INTEREST_HISTORY, self._interest_history, limit=INTEREST_HISTORY_LIMIT)
        self.route("GET", PMLOAN_AMOUNT, self._pmloan_amount, limit=PMLOAN_AMOUNT_LIMIT)

    def logged_query(self, query: str) -> str:
        """The log keeps the query without its `signature` parameter."""
        if "signature=" not in query:
            return query
        return "&".join(p for p in query.split("&") if not p.startswith("signature="))

    def add_account(
        self,
        api_key: str,
        *,
        secret: str | None = None,
        public_key: str | bytes | PublicKey | None = None,
        label: str = "default",
        uid: str | None = None,
    ) -> BinanceAccount:
        if (secret is None) == (public_key is None):
            raise ValueError("give exactly one of secret or public_key")
        acct = BinanceAccount(
            label, api_key, uid or f"{len(self.accounts) + 1:08d}", secret,
            _load_public(public_key) if public_key is not None else None,
        )
        self.accounts[api_key] = acct
        return acct

    def account(self, which: BinanceAccount | str) -> BinanceAccount:
        """An account by object, label or API key."""
        if isinstance(which, BinanceAccount):
            return which
        acct: BinanceAccount | None = self.accounts.get(which)
        if acct is None:
            acct = next((a for a in self.accounts.values() if a.label == which), None)
        if acct is None:
            raise KeyError(f"no Binance account {which!r}")
        return acct

    # --- datasets ---------------------------------------------------------------------

    def populate(
        self, account: BinanceAccount | str, *, seed: int, scale: float = 1.0, end_ms: int | None = None
    ) -> None:
        """Replace the account's state and rows with a deterministic timeline (see binance_data):
        bankruptcy loans opened with no record, the repayments that pay them back (the newest
        loan stays open), and negative-balance interest charged to the wallet.

        `end_ms` (default: the start of the current hour on the venue clock, minus
        one hour) is the newest row and the `until` for which rows sit exactly on
        the 360-day window edges; it is kept as `account.data_end`.
        """
        acct = self.account(account)
        if scale < 0:
            raise ValueError("scale must be >= 0")
        if end_ms is None:
            end_ms = self.sim.now_ms() // 3_600_000 * 3_600_000 - 3_600_000
        rng = random.Random(f"binance:{seed}")
        pmloan = data.make_pmloan(rng, end_ms, scale)
        interest = data.make_interest(rng, end_ms, scale)
        outstanding = Decimal(f"{rng.randrange(10**6)}.{rng.randrange(10**8):08d}")
        pmloan, loans = data.bankruptcy_loans(rng, pmloan, outstanding)
        acct.books, acct.loans, acct.pmloan, acct.interest = AccountBooks(), [], pmloan, interest
        acct.loan_asset = "USDT"
        # the timeline, oldest first (a loan opens before a repayment of the same ms)
        timeline: list[tuple[int, int, int, Any]] = [(x.ts, 0, i, x) for i, x in enumerate(loans)]
        timeline += [(r.repay_time, 1, r.seq, r) for r in pmloan]
        timeline += [(r.accrued_time, 2, r.seq, r) for r in interest]
        for *_, item in sorted(timeline, key=lambda t: t[:3]):
            if isinstance(item, LoanOpened):
                self._book_loan(acct, item)
            elif isinstance(item, PmloanRow):
                self._book_repay(acct, item)
            else:
                self._book_interest(acct, item)
        acct.data_end = end_ms
        acct.changed()

    def grow(self, account: BinanceAccount | str, *, seed: int, n: int = 3) -> None:
        """`n` new repayments of the open bankruptcy loan and `n` new interest charges, newer
        than everything present (no Binance row is ever pending, so there is nothing to
        settle). A repayment never pays more than is owed (a drawn amount above it pays the
        rest, or half of it); once a loan is repaid, the next one opens (recorded nowhere)
        before the next repayment."""
        acct = self.account(account)
        rng = random.Random(f"binance-grow:{seed}")
        now = self.sim.now_ms()
        top = max((r.repay_time for r in acct.pmloan), default=None)
        seq = max((r.seq for r in acct.pmloan), default=0)
        for i, ts in enumerate(data.grow_times(top, now, n)):
            if acct.owed == 0:
                self._book_loan(acct, LoanOpened(ts, rng.choice(data.PMLOAN_ASSETS), Decimal(data.wire_amount(rng))))
            wire = data.wire_amount(rng)
            if Decimal(wire) >= acct.owed:  # more than is owed: the rest in full, or half of it
                if rng.random() < 0.3:
                    wire = acct.loan_amount
                else:
                    with localcontext(EXACT):
                        wire = format(acct.owed / 2, "f")
            row = PmloanRow(seq + i + 1, acct.loan_asset, wire, ts)
            acct.pmloan.append(row)
            self._book_repay(acct, row)
        for irow in data.grow_interest(rng, acct.interest, now, n):
            acct.interest.append(irow)
            self._book_interest(acct, irow)
        acct.changed()

    # --- activities: each moves the books and writes the venue's records --------------------

    def open_bankruptcy_loan(
        self, account: BinanceAccount | str, asset: str, amount: Decimal | str, *, ts: int | None = None
    ) -> LoanOpened:
        """A bankruptcy loan of `amount` `asset` opens: +amount debt, written in no feed (an
        unrecorded move named "bankruptcy loan opened"). Adds to an open loan in the same asset;
        a loan in another asset while one is open is refused (pmLoan reports one asset)."""
        acct = self.account(account)
        loan = LoanOpened(self.sim.now_ms() if ts is None else ts, asset.upper(), _positive("amount", amount))
        self._book_loan(acct, loan)
        return loan

    def repay_bankruptcy_loan(
        self, account: BinanceAccount | str, amount: Decimal | str, *, ts: int | None = None
    ) -> PmloanRow:
        """Repay `amount` of the open loan from the wallet: -amount wallet and debt, and a
        pmloan-history row (in `loan_asset`, at `ts`, default now). More than is owed is refused."""
        acct = self.account(account)
        value = _positive("amount", amount)
        seq = max((r.seq for r in acct.pmloan), default=0) + 1
        # a string is written as given (trailing zeros and all), as the venue writes its amounts
        wire = amount if isinstance(amount, str) and "e" not in amount.lower() else format(value, "f")
        row = PmloanRow(seq, acct.loan_asset, wire.strip(), self.sim.now_ms() if ts is None else ts)
        self._book_repay(acct, row)
        acct.pmloan.append(row)
        acct.changed()
        return row

    def charge_interest(
        self, account: BinanceAccount | str, asset: str, principal: Decimal | str, rate: Decimal | str,
        *, ts: int | None = None,
    ) -> InterestRow:
        """A day's interest on a negative balance of `principal` `asset` at daily `rate`:
        interest = principal x rate (exact), charged to the wallet, and an interest-history row."""
        acct = self.account(account)
        p, r = _positive("principal", principal), _positive("rate", rate)
        with localcontext(EXACT):
            interest = p * r
        seq = max((x.seq for x in acct.interest), default=0) + 1
        row = InterestRow(seq, asset.upper(), format(interest, "f"), self.sim.now_ms() if ts is None else ts,
                          format(r, "f"), format(p, "f"))
        self._book_interest(acct, row)
        acct.interest.append(row)
        acct.changed()
        return row

    @staticmethod
    def _book_loan(acct: BinanceAccount, loan: LoanOpened) -> None:
        if acct.owed != 0 and loan.asset != acct.loan_asset:
            raise ValueError(f"a bankruptcy loan of {acct.loan_amount} {acct.loan_asset} is still open: "
                             f"the venue keeps one loan at a time")
        acct.loan_asset = loan.asset
        acct.loans.append(loan)
        acct.books.move(BANKRUPTCY_SCOPE, loan.asset, debt=loan.amount, unrecorded=LOAN_OPENED)

    @staticmethod
    def _book_repay(acct: BinanceAccount, row: PmloanRow) -> None:
        value = Decimal(row.amount)
        owed = acct.books.owed(BANKRUPTCY_SCOPE, row.asset)
        if value > owed:
            raise ValueError(f"repaying {row.amount} {row.asset}, but {owed} is owed")
        paid = value.copy_negate()
        acct.books.move(BANKRUPTCY_SCOPE, row.asset, wallet=paid, debt=paid)

    @staticmethod
    def _book_interest(acct: BinanceAccount, row: InterestRow) -> None:
        acct.books.move(NEGATIVE_BALANCE, row.asset, wallet=Decimal(row.interest).copy_negate())

    def expected_ids(
        self,
        account: BinanceAccount | str,
        feed_id: str,
        *,
        since: int | None = None,
        until: int | None = None,
        asset: str | None = None,
    ) -> set[str]:
        """The ids a complete walk of `feed_id` must yield (optionally within since..until
        and, for interest, one asset)."""
        acct = self.account(account)
        lo = since if since is not None else -1
        hi = until if until is not None else 1 << 62
        if feed_id == PMLOAN_HISTORY_FEED:
            return data.ids_of(
                data.row_key(r.repay_time, r.asset, r.amount) for r in acct.pmloan if lo <= r.repay_time <= hi
            )
        if feed_id == INTEREST_HISTORY_FEED:
            return data.ids_of(
                data.row_key(r.accrued_time, r.asset, r.interest) for r in acct.interest
                if lo <= r.accrued_time <= hi and (asset is None or r.asset == asset)
            )
        raise ValueError(f"unknown Binance feed {feed_id!r}")

    # --- endpoints --------------------------------------------------------------------

    async def _time(self, call: SimCall) -> Any:
        return {"serverTime": call.now_ms}

    @staticmethod
    def _only(params: dict[str, str], allowed: set[str]) -> None:
        extra = set(params) - allowed - {"recvWindow", "timestamp", "signature"}
        if extra:
            raise SimError(
                -1104, f"Not all sent parameters were read; unread parameter(s): {', '.join(sorted(extra))}.", 400
            )

    @staticmethod
    def _long(params: dict[str, str], name: str) -> int | None:
        value = params.get(name)
        if value is None:
            return None
        if not _LONG.fullmatch(value):
            raise SimError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.", 400)
        return int(value)

    @staticmethod
    def _size(params: dict[str, str]) -> int:
        size = BinanceVenue._long(params, "size")
        if size is None:
            return 10
        if not 1 <= size <= 100:
            raise SimError(-1130, "Data sent for parameter 'size' is not valid.", 400)
        return size

    async def _pmloan_history(self, call: SimCall) -> Any:
        p = call.params
        self._only(p, {"startTime", "endTime", "current", "size"})
        start, end = self._long(p, "startTime"), self._long(p, "endTime")
        current = self._long(p, "current")
        size = self._size(p)
        if current is None:
            current = 1
        elif current < 1:
            raise SimError(-1130, "Data sent for parameter 'current' is not valid.", 400)
        month = 30 * _DAY_MS
        if start is None and end is None:
            start, end = call.now_ms - month, call.now_ms
        elif end is None:
            assert start is not None
            end = start + month
        elif start is None:
            start = end - month
        if start > end:
            raise SimError(-1130, "Data sent for parameter 'startTime' is not valid.", 400)
        if end - start > 360 * _DAY_MS:
            raise SimError(-1127, "More than 8640 hours between startTime and endTime.", 400)
        acct: BinanceAccount = call.account
        total, rows = page_by_number(acct.pmloan_newest_first(), lambda r: r.repay_time, start, end, current, size)
        return {"total": total, "rows": [r.wire() for r in rows]}

    async def _interest_history(self, call: SimCall) -> Any:
        p = call.params
        self._only(p, {"asset", "startTime", "endTime", "size"})
        start, end = self._long(p, "startTime"), self._long(p, "endTime")
        size = self._size(p)
        asset = p.get("asset")
        if start is None and end is None:
            start, end = call.now_ms - 7 * _DAY_MS, call.now_ms
        elif end is None:
            assert start is not None
            end = min(start + 30 * _DAY_MS, call.now_ms)
        elif start is None:
            start = end - 7 * _DAY_MS
        if start > end:
            raise SimError(-1130, "Data sent for parameter 'startTime' is not valid.", 400)
        if end - start > 30 * _DAY_MS:
            raise SimError(-1127, "More than 720 hours between startTime and endTime.", 400)
        if self.interest_bounds == "exclusive":
            start, end = start + 1, end - 1
        acct: BinanceAccount = call.account
        ordered = acct.interest_newest_first()
        if asset is not None:
            ordered = [r for r in ordered if r.asset == asset]
        return [r.wire() for r in rows_in_window(ordered, lambda r: r.accrued_time, start, end, size)]

    async def _pmloan_amount(self, call: SimCall) -> Any:
        self._only(call.params, set())
        acct: BinanceAccount = call.account
        return {"asset": acct.loan_asset, "amount": acct.loan_amount}  # read from the books

    # --- other traffic ------------------------------------------------------------------

    def use_weight(self, path: str, weight: int, *, ip: str = "127.0.0.1") -> int:
        """Count `weight` against `path`'s current minute for `ip` (as if another process on
        that IP had called it); returns the weight used this minute."""
        route = self.find("GET", path)
        if route is None:
            raise KeyError(path)
        c = self._counters.setdefault((ip, path), _Counter())
        window = self.sim.now_ms() // int(route.limit.per * 1000)
        if window != c.window:
            c.window, c.used, c.violations = window, 0, 0
        c.used += weight
        return c.used

    # --- pipeline hooks ---------------------------------------------------------------

    def authenticate(self, request: web.Request, body: bytes) -> BinanceAccount:
        key = request.headers.get("X-MBX-APIKEY", "")
        acct: BinanceAccount | None = self.accounts.get(key)
        if acct is None:
            raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        raw = request.raw_path
        query = raw.split("?", 1)[1] if "?" in raw else ""
        total = query + (body.decode("latin-1") if body else "")
        marker = total.rfind("signature=")
        if marker < 0 or (marker > 0 and total[marker - 1] != "&"):
            raise SimError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.", 400)
        payload = total[: max(0, marker - 1)]
        signature = total[marker + len("signature="):]
        if "&" in signature:
            raise SimError(-1104, "Not all sent parameters were read; signature must be the last parameter.", 400)
        params = dict(p.split("=", 1) for p in payload.split("&") if "=" in p)
        try:
            ts = int(params["timestamp"])
            recv = int(params.get("recvWindow", "5000"))
        except (KeyError, ValueError):
            raise SimError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.", 400) from None
        if recv > 60_000:
            raise SimError(-1131, "recvWindow must be less than 60000", 400)
        now = self.sim.now_ms()
        if ts >= now + 1000 or now - ts > recv:
            raise SimError(-1021, "Timestamp for this request is outside of the recvWindow.", 400)
        if not self._verify(acct, payload.encode("latin-1"), signature):
            raise SimError(-1022, "Signature for this request is not valid.", 400)
        return acct

    @staticmethod
    def _verify(acct: BinanceAccount, payload: bytes, signature: str) -> bool:
        if acct.secret is not None:
            expected = binance_hmac(acct.secret.encode(), payload)
            return hmac.compare_digest(expected, signature.lower())
        try:
            sig = base64.b64decode(unquote(signature), validate=True)
        except (binascii.Error, ValueError):
            return False
        try:
            if isinstance(acct.public_key, rsa.RSAPublicKey):
                acct.public_key.verify(sig, payload, padding.PKCS1v15(), hashes.SHA256())
            else:
                assert isinstance(acct.public_key, ed25519.Ed25519PublicKey)
                acct.public_key.verify(sig, payload)
        except InvalidSignature:
            return False
        return True

    def _weight_header(self, route: Route) -> str:
        if route.path.startswith("/api/"):
            return "X-MBX-USED-WEIGHT-1M"
        return "X-SAPI-USED-IP-WEIGHT-1M" if route.limit.scope == "ip" else "X-SAPI-USED-UID-WEIGHT-1M"

    def check_rate(self, request: web.Request, route: Route, account: Any) -> dict[str, str]:
        scope = (request.remote or "?") if route.limit.scope == "ip" or account is None else account.uid
        key = (scope, route.path)
        c = self._counters.setdefault(key, _Counter())
        now = self.sim.now_ms()
        period = int(route.limit.per * 1000)
        window = now // period
        if window != c.window:
            c.window, c.used, c.violations = window, 0, 0
        header = self._weight_header(route)
        if c.banned_until > now:
            wait = -(-(c.banned_until - now) // 1000)
            raise SimError(-1003, f"Way too much request weight used; IP banned until {c.banned_until}.", 418,
                           {"Retry-After": str(wait), header: str(c.used)})
        budget = route.limit.budget * self.sim.rate_scale
        weight = route.limit.weight
        if c.used + weight > budget:
            c.violations += 1
            if c.violations > self.ban_after:
                c.banned_until = now + self.ban_seconds * 1000
                raise SimError(-1003, f"Way too much request weight used; IP banned until {c.banned_until}.",
                               418, {"Retry-After": str(self.ban_seconds), header: str(c.used)})
            wait = -(-((window + 1) * period - now) // 1000)
            raise SimError(
                -1003, f"Too much request weight used; current limit is {int(budget)} request weight per 1 MINUTE.",
                429, {"Retry-After": str(wait), header: str(c.used)},
            )
        c.used += weight
        self._last_counter = (c, header)
        return {header: str(c.used)}

    def rate_error(self, route: Route, account: Any) -> SimError:
        """A forced rate answer (sim.faults "rate"): a 429 that counts as a violation, so
        continuing past `ban_after` of them in a minute earns the 418 ban."""
        assert self._last_counter is not None  # check_rate ran just before
        c, header = self._last_counter
        c.violations += 1
        if c.violations > self.ban_after:
            now = self.sim.now_ms()
            c.banned_until = now + self.ban_seconds * 1000
            return SimError(-1003, f"Way too much request weight used; IP banned until {c.banned_until}.", 418,
                            {"Retry-After": str(self.ban_seconds), header: str(c.used)})
        return SimError(-1003, "Too many requests.", 429, {"Retry-After": "1", header: str(c.used)})

    def success(self, result: Any) -> web.Response:
        return web.Response(body=msgspec.json.encode(result), content_type="application/json")

    def failure(self, err: SimError) -> web.Response:
        return web.Response(
            status=err.status,
            body=msgspec.json.encode({"code": err.code if isinstance(err.code, int) else str(err.code),
                                      "msg": err.msg}),
            content_type="application/json",
        )
