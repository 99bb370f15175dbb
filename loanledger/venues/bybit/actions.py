"""Bybit borrow and repay actions: each sent at most once, ambiguous outcomes reconciled from history.

`Actions` is composed into the `Bybit` client (which exposes each action as a method):
it holds the client's transport and its feeds, sends one POST per action (never
re-sent unless the venue proved it did not execute, see loanledger.transport) and,
when the outcome is unknown, raises `AmbiguousOutcome` whose ``reconcile()`` finds
the action's record in the matching history feed.
Sources: the Bybit v5 docs, "Crypto Loan (New) > Flexible Loan > Borrow / Repay",
"Fixed Loan > Repay", "Crypto Loan (legacy) > Repay", "Institutional Loan > Repay".
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from ..._args import check_amount, check_currency
from ..._money import exact_sum
from ...errors import AmbiguousOutcome, DecodeError, InvalidArgument
from ...events import EventKind, EventStatus, LoanEvent
from ...paginate import Feed
from ...transport import Request, Transport
from ._dialect import (
    ACTION_LIMIT,
    DAY_MS,
    LEGACY_LIMIT,
    MAX_COLLATERAL,
    P_FIXED_REPAY,
    P_FLEX_BORROW,
    P_FLEX_REPAY,
    P_INS_REPAY,
    P_LEGACY_ONGOING,
    P_LEGACY_REPAY,
    VENUE,
    Id,
    _Envelope,
    _sid,
    decode_envelope,
)
from .positions import decode_legacy_open_loans, open_fixed_contracts

__all__ = ["RECONCILE_SLACK_MS", "Actions", "action_event", "borrow_flexible_body", "check_collateral"]

K = EventKind


class _OrderIdResult(msgspec.Struct):
    orderId: Id


class _RepayIdResult(msgspec.Struct):
    repayId: Id


class _InsRepayResult(msgspec.Struct):
    repayOrderStatus: str


_borrow_answer = msgspec.json.Decoder(_Envelope[_OrderIdResult], strict=False)
_repay_answer = msgspec.json.Decoder(_Envelope[_RepayIdResult], strict=False)
_ins_repay_answer = msgspec.json.Decoder(_Envelope[_InsRepayResult], strict=False)

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _check_id(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{name}: expected str, got {type(value).__name__}")
    text = str(value)
    if not _ID.fullmatch(text):
        raise InvalidArgument(name, f"{text!r} is not a venue id (letters, digits, - or _)")
    return text


def _opt_id(name: str, value: object) -> str | None:
    return None if value is None else _check_id(name, value)


def _opt_ccy(name: str, value: object) -> str | None:
    return None if value is None else check_currency(name, value)


def _wire_amount(value: Decimal) -> str:
    """A positive Decimal as the plain decimal string the venue expects (no exponent)."""
    return format(value, "f")


def check_collateral(value: object) -> list[tuple[str, Decimal]]:
    """`collateral`: a mapping currency -> amount or a list of (currency, amount) pairs."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, Iterable) and not isinstance(value, str | bytes):
        pairs = []
        for i, item in enumerate(value):
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise TypeError(f"collateral[{i}]: expected a (currency, amount) pair, got {item!r}")
            pairs.append((item[0], item[1]))
    else:
        raise TypeError(f"collateral: expected a mapping or a list of (currency, amount), got {type(value).__name__}")
    if not pairs:
        raise InvalidArgument("collateral", "is empty; pass None to borrow against existing collateral")
    if len(pairs) > MAX_COLLATERAL:
        raise InvalidArgument("collateral", f"{len(pairs)} entries; the venue takes at most {MAX_COLLATERAL}")
    out: list[tuple[str, Decimal]] = []
    seen: set[str] = set()
    for i, (ccy, amount) in enumerate(pairs):
        code = check_currency(f"collateral[{i}].currency", ccy)
        if code in seen:
            raise InvalidArgument("collateral", f"currency {code} appears twice")
        seen.add(code)
        out.append((code, check_amount(f"collateral[{i}].amount", amount)))
    return out


def borrow_flexible_body(currency: str, amount: Decimal, collateral: list[tuple[str, Decimal]] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"loanCurrency": currency, "loanAmount": _wire_amount(amount)}
    if collateral is not None:
        body["collateralList"] = [{"currency": c, "amount": _wire_amount(a)} for c, a in collateral]
    return body


def action_event(
    account: str, feed: str, *, id: str, kind: EventKind, status: EventStatus, ts: int, currency: str,
    amount: Decimal, venue_type: str, ref_id: str | None = None,
) -> LoanEvent:
    """The event an action returns: the same feed and id the history later yields. Every action
    borrows into or repays from the wallet, so the debt moves with it (`debt` = `amount`)."""
    return LoanEvent(venue=VENUE, account=account, feed=feed, id=id, kind=kind, status=status, ts=ts,
                     currency=currency, amount=amount, debt=amount, ref_id=ref_id, venue_type=venue_type)


def _answer(decoder: msgspec.json.Decoder[Any], body: bytes, path: str) -> Any:
    env = decode_envelope(decoder, body, path, path)
    if env.result is None:
        raise DecodeError(VENUE, path, "success envelope without result", body)
    return env


#: how far before the client's request time a venue record of it may be stamped: the venue
#: accepts a request signed up to 1000 ms ahead of its clock (section 2.3)
RECONCILE_SLACK_MS = 1000


Match = Callable[[LoanEvent], bool]


class Actions:
    """The Bybit actions of one client (its transport, account label and feeds)."""

    def __init__(self, transport: Transport, account: str, events: Callable[..., Feed], feed_ids: Iterable[str],
                 recv_window: int) -> None:
        self.transport = transport
        self.account = account
        self._events = events
        self._feed_ids = frozenset(feed_ids)
        self._recv_window = recv_window
        #: (feed, id) of the events this client's actions returned: reconciliation skips them
        self._returned: set[tuple[str, str]] = set()
        #: derived id of an INS repay event -> the repaid-history record reconcile() matched to it
        self._claims: dict[str, str] = {}


    async def borrow_flexible(
        self, currency: str, amount: Decimal | str | int, *,
        collateral: Mapping[str, Decimal | str | int] | Iterable[tuple[str, Decimal | str | int]] | None = None,
    ) -> LoanEvent:
        """Borrow on a flexible loan (POST /v5/crypto-loan-flexible/borrow). The funds go to the
        Funding wallet; `collateral` (currency -> amount, at most 100) is taken from it.

        Returns the pending BORROW event of ``bybit.flexible_borrow_history`` (id = orderId).
        """
        ccy = check_currency("currency", currency)
        qty = check_amount("amount", amount)
        pledge = None if collateral is None else check_collateral(collateral)
        body = borrow_flexible_body(ccy, qty, pledge)
        feed = "bybit.flexible_borrow_history"
        t0 = self.transport.clock.now_ms()

        def match(ev: LoanEvent) -> bool:
            return ev.currency == ccy and ev.amount == qty

        env = await self._act(P_FLEX_BORROW, body, _borrow_answer,
                              lambda: self._find(feed, t0, match, currency=ccy))
        oid = _sid(env.result.orderId)
        return self._returning(action_event(
            self.account, feed, id=oid, kind=K.BORROW, status=EventStatus.PENDING, ts=self._ts(env),
            currency=ccy, amount=qty, venue_type="", ref_id=oid))

    async def repay_flexible(self, currency: str, amount: Decimal | str | int) -> LoanEvent:
        """Repay a flexible loan (POST /v5/crypto-loan-flexible/repay): interest first, then principal.

        Returns the pending REPAY event of ``bybit.flexible_repayment_history`` (id = repayId).
        """
        ccy = check_currency("currency", currency)
        qty = check_amount("amount", amount)
        # the wire field is `amount` (the pybit example's `loanAmount` is wrong)
        body = {"loanCurrency": ccy, "amount": _wire_amount(qty)}
        feed = "bybit.flexible_repayment_history"
        t0 = self.transport.clock.now_ms()

        def match(ev: LoanEvent) -> bool:
            return ev.currency == ccy and ev.amount == qty.copy_negate() and ev.venue_type == "1"

        env = await self._act(P_FLEX_REPAY, body, _repay_answer,
                              lambda: self._find(feed, t0, match, currency=ccy))
        return self._returning(action_event(
            self.account, feed, id=_sid(env.result.repayId), kind=K.REPAY, status=EventStatus.PENDING,
            ts=self._ts(env), currency=ccy, amount=qty.copy_negate(), venue_type="1"))

    async def repay_fixed(self, *, loan_id: str | None = None, currency: str | None = None) -> LoanEvent:
        """Fully repay fixed-term loans (POST /v5/crypto-loan-fixed/fully-repay): one contract
        (`loan_id`) or every contract in `currency` (exactly one of them).

        The venue does not say the amount: before sending, the open contracts are read (the
        position call `open_fixed_contracts`: status 1 or 3, `residualPrincipal`) to learn the
        currency and the principal due; none open
        raises InvalidArgument. Returns the pending REPAY event of ``bybit.fixed_repayment_history``
        whose id is the repayId (the history's first leg carries the same id), amount = minus
        the open principal (the history's legs carry the final amounts).
        """
        if (loan_id is None) == (currency is None):
            raise InvalidArgument("loan_id", "pass exactly one of loan_id or currency")
        lid = _opt_id("loan_id", loan_id)
        ccy = _opt_ccy("currency", currency)
        contracts = await open_fixed_contracts(self.transport, lid, ccy)
        open_legs = [c for c in contracts if c.residual_principal > 0]
        if not open_legs:
            arg, what = ("loan_id", f"loan {lid}") if lid is not None else ("currency", f"currency {ccy}")
            raise InvalidArgument(arg, f"no open fixed loan contract for {what}")
        ccy = open_legs[0].currency
        due = exact_sum(c.residual_principal for c in open_legs)
        # with a loanId, the loan's currency goes along, as in the venue's request example
        body: dict[str, Any] = {"loanId": lid, "loanCurrency": ccy} if lid is not None else {"loanCurrency": ccy}
        feed = "bybit.fixed_repayment_history"
        t0 = self.transport.clock.now_ms()
        loans = {c.loan_id for c in open_legs}

        def match(ev: LoanEvent) -> bool:
            return ev.currency == ccy and ev.venue_type == "1" and ev.ref_id in loans and (
                ev.ref_id == lid if lid is not None else ev.parent_id is None)

        env = await self._act(P_FIXED_REPAY, body, _repay_answer,
                              lambda: self._find(feed, t0, match, currency=ccy))
        return self._returning(action_event(
            self.account, feed, id=_sid(env.result.repayId), kind=K.REPAY, status=EventStatus.PENDING,
            ts=self._ts(env), currency=ccy, amount=due.copy_negate(), venue_type="1", ref_id=lid))

    async def repay_legacy(self, order_id: str, amount: Decimal | str | int) -> LoanEvent:
        """Repay a legacy crypto loan (POST /v5/crypto-loan/repay), fully or partly.

        The order is read first (GET /v5/crypto-loan/ongoing-orders) for its currency; an
        order that is not open raises InvalidArgument. Returns the pending REPAY event of
        ``bybit.legacy_repayment_history`` (id = repayId, ref_id = the order id).
        """
        oid = _check_id("order_id", order_id)
        qty = check_amount("amount", amount)
        req = Request("GET", P_LEGACY_ONGOING, LEGACY_LIMIT, params=(("orderId", oid),))
        loans, _ = await self.transport.request(req, decode_legacy_open_loans)
        rows = [loan for loan in loans if loan.order_id == oid]
        if not rows:
            raise InvalidArgument("order_id", f"no open legacy loan order {oid}")
        ccy = rows[0].currency
        body = {"orderId": oid, "amount": _wire_amount(qty)}
        feed = "bybit.legacy_repayment_history"
        t0 = self.transport.clock.now_ms()

        def match(ev: LoanEvent) -> bool:
            return ev.ref_id == oid and ev.amount == qty.copy_negate() and ev.venue_type == "1" and ev.parent_id is None

        answer = await self._act(P_LEGACY_REPAY, body, _repay_answer,
                                 lambda: self._find(feed, t0, match, order_id=oid))
        return self._returning(action_event(
            self.account, feed, id=_sid(answer.result.repayId), kind=K.REPAY, status=EventStatus.PENDING,
            ts=self._ts(answer), currency=ccy, amount=qty.copy_negate(), venue_type="1", ref_id=oid))

    async def repay_institutional(self, token: str, quantity: Decimal | str | int) -> LoanEvent:
        """Repay an institutional loan (POST /v5/ins-loan/repay-loan). Asynchronous at the venue:
        the answer is only ``repayOrderStatus: "P"`` and no id; the repayment appears in
        ``institutional_repayment_history`` 2-3 minutes later.

        Returns a pending REPAY event with a derived id ``repay-loan:<ts>:<token>:<quantity>``
        (it cannot merge with the history record, which has the venue's repayOrderId);
        ``await bybit.reconcile(event)`` finds that record once it is listed.
        """
        ccy = check_currency("token", token)
        qty = check_amount("quantity", quantity)
        body = {"token": ccy, "quantity": _wire_amount(qty)}
        feed = "bybit.institutional_repayment_history"
        t0 = self.transport.clock.now_ms()
        env = await self._act(P_INS_REPAY, body, _ins_repay_answer,
                              lambda: self._find(feed, t0, _ins_match(ccy, qty)))
        ts = self._ts(env)
        status = env.result.repayOrderStatus
        return action_event(
            self.account, feed, id=f"repay-loan:{ts}:{ccy}:{_wire_amount(qty)}", kind=K.REPAY,
            status=EventStatus.FAILED if status == "F" else EventStatus.PENDING, ts=ts, currency=ccy, amount=qty.copy_negate(),
            venue_type=status)

    async def reconcile(self, event: LoanEvent) -> LoanEvent | None:
        """The history record of an event an action returned, or None while the venue does not list it.

        By id where the venue gave one (flexible borrow: orderId; repays: repayId); for an INS
        repayment (no id) the earliest ``institutional_repayment_history`` record of the same
        token and quantity stamped at or after the event's time minus 1 s that no earlier
        reconciliation claimed.
        """
        if not isinstance(event, LoanEvent):
            raise TypeError(f"event: expected LoanEvent, got {type(event).__name__}")
        if event.venue != VENUE or event.feed not in self._feed_ids:
            raise InvalidArgument("event", f"not a Bybit action event (feed {event.feed!r})")
        since = event.ts - 7 * DAY_MS

        def same_id(ev: LoanEvent) -> bool:
            return ev.id == event.id

        if event.feed == "bybit.flexible_borrow_history":
            return await self._find(event.feed, since, same_id, claim=False, order_id=event.id)
        if event.feed == "bybit.institutional_repayment_history" and event.id.startswith("repay-loan:"):
            claimed = self._claims.get(event.id)
            if claimed is not None:
                return await self._find(event.feed, event.ts, lambda ev: ev.id == claimed, claim=False)
            found = await self._find(event.feed, event.ts, _ins_match(event.currency, event.amount.copy_negate()))
            if found is not None:
                self._claims[event.id] = found.id
            return found
        if event.feed in ("bybit.flexible_repayment_history", "bybit.fixed_repayment_history",
                          "bybit.legacy_repayment_history"):
            return await self._find(event.feed, since, same_id, claim=False, repay_id=event.id.split(":", 1)[0])
        return await self._find(event.feed, since, same_id, claim=False)

    # --- action plumbing ---------------------------------------------------------------------

    async def _act(
        self, path: str, body: Mapping[str, Any], decoder: msgspec.json.Decoder[Any],
        reconcile: Callable[[], Awaitable[LoanEvent | None]],
    ) -> Any:
        """Send one action; an unknown outcome raises AmbiguousOutcome with `reconcile` attached.

        The venue executes a request until its timestamp is `recv_window` old: a request still
        in flight when the client gave up (a timeout) may execute after the error. So the
        attached lookup answers None only once that window has passed, searching again then.
        """
        req = Request("POST", path, ACTION_LIMIT, body=body)
        try:
            return await self.transport.request(req, lambda b: _answer(decoder, b, path))
        except AmbiguousOutcome as exc:
            clock = self.transport.clock
            # the last attempt was signed before now; allow our clock offset a second of error
            settled_at = clock.now_ms() + self._recv_window + RECONCILE_SLACK_MS

            async def settled() -> LoanEvent | None:
                found = await reconcile()
                wait = settled_at - clock.now_ms()
                if found is None and wait > 0:
                    await asyncio.sleep(wait / 1000)
                    found = await reconcile()
                return found

            exc.set_reconciler(settled)
            raise

    def _ts(self, env: Any) -> int:
        return env.time if isinstance(env.time, int) else self.transport.clock.now_ms()

    def _returning(self, ev: LoanEvent) -> LoanEvent:
        self._returned.add((ev.feed, ev.id))
        return ev

    async def _find(
        self, feed_id: str, t0: int, match: Match, *, claim: bool = True, **filters: Any
    ) -> LoanEvent | None:
        """The earliest record of `feed_id` stamped at or after ``t0 - 1 s`` that `match`es.

        With `claim` (matching by content, not by id), records an action of this client
        returned or an earlier reconciliation claimed are skipped, and the result is claimed.
        """
        lo = t0 - RECONCILE_SLACK_MS
        best: LoanEvent | None = None
        async for ev in self._events(feed_id, since=lo, **filters):
            if ev.ts < lo or (claim and (ev.feed, ev.id) in self._returned) or not match(ev):
                continue
            if best is None or (ev.ts, ev.id) < (best.ts, best.id):
                best = ev
        if best is not None and claim:
            self._returned.add((best.feed, best.id))
        return best


def _ins_match(token: str, quantity: Decimal) -> Match:
    def match(ev: LoanEvent) -> bool:
        return ev.parent_id is None and ev.currency == token and ev.amount == quantity.copy_negate() and ev.venue_type == "1"

    return match
