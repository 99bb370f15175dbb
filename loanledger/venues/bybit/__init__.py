"""Bybit v5 crypto loans: every loan-history feed, the positions, loanable coins, and the borrow / repay actions.

The package, read in order: `_dialect` (hosts, limits, errors, signing, envelopes),
`feeds` (one block per history endpoint), `positions` (what the venue says is owed and
pledged now, and the reconcile scopes), `reference` (loanable coins), `actions` (borrow and
repay, sent at most once). `Bybit` composes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from ..._args import check_recv_window  # noqa: F401  (re-exported for the signer's checks)
from ..._args import check_currency
from ...client import VenueClient
from ...errors import BadRequest, VenueError, VenueUnavailable
from ...events import LoanEvent
from ...feeds import FeedOptions
from ...paginate import Feed
from ...ratelimit import RateLimits
from ...reconcile import Position, Scope
from ...signing import BybitSigner, key_fingerprint
from ...transport import RetryPolicy, Sender
from . import positions as _positions
from . import reference
from ._dialect import ERRORS, HOSTS, VENUE, BybitDialect, envelope_error, response_error
from .actions import Actions, _check_id, action_event, check_collateral
from .feeds import (
    ADJUSTMENTS,
    FEEDS,
    FIXED_CONTRACTS,
    FIXED_ORDERS,
    FIXED_REPAY,
    FLEX_BORROW,
    FLEX_REPAY,
    INS_LOAN_ORDERS,
    INS_REPAYMENTS,
    LEGACY_ADJUSTMENTS,
    LEGACY_BORROW,
    LEGACY_REPAY,
    fixed_leg_ids,
)
from .positions import (
    SCOPES,
    CryptoLoanCollateral,
    CryptoLoanDebt,
    CryptoLoanPosition,
    FixedContract,
    FlexibleLoan,
    InsDebt,
    InsRiskUnit,
    LegacyOpenLoan,
    positions_of,
)
from .reference import LegacyLoanableCoin, LoanableCoin, decode_legacy_loanable, decode_loanable

if TYPE_CHECKING:
    import aiohttp
    from typing_extensions import Unpack

__all__ = [
    "ERRORS",
    "FEEDS",
    "HOSTS",
    "SCOPES",
    "Bybit",
    "BybitDialect",
    "CryptoLoanCollateral",
    "CryptoLoanDebt",
    "CryptoLoanPosition",
    "FixedContract",
    "FlexibleLoan",
    "InsDebt",
    "InsRiskUnit",
    "LegacyLoanableCoin",
    "LegacyOpenLoan",
    "LoanableCoin",
    "action_event",
    "check_collateral",
    "decode_legacy_loanable",
    "decode_loanable",
    "envelope_error",
    "fixed_leg_ids",
    "response_error",
]


class Bybit(VenueClient):
    """Bybit client: HMAC `secret` or an RSA PEM `private_key` (exactly one).

    History feeds are methods returning a `Feed` (``async for ev in bybit.flexible_borrow_history()``);
    the borrow / repay actions return the `LoanEvent` the matching history feed will later yield
    (same feed and id, status pending until the venue settles it). An action whose outcome is
    unknown raises `AmbiguousOutcome`; ``await exc.reconcile()`` finds it in the history.
    """

    venue = VENUE
    default_base_url = HOSTS["mainnet"]
    feed_specs = {spec.id: spec for spec in FEEDS}
    #: "bybit.crypto_loan" (flexible + fixed + adjustments: one collateral pool), "bybit.legacy",
    #: "bybit.institutional": see loanledger/venues/bybit/positions.py and docs/venues/bybit.md
    scopes: ClassVar[Mapping[str, Scope]] = SCOPES

    def __init__(
        self,
        api_key: str,
        secret: str | None = None,
        *,
        private_key: str | bytes | None = None,
        private_key_password: str | bytes | None = None,
        account: str = "default",
        base_url: str | None = None,
        testnet: bool = False,
        recv_window: int = 5000,
        session: aiohttp.ClientSession | None = None,
        sender: Sender | None = None,
        timeout: float = 10.0,
        limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(testnet, bool):
            raise TypeError(f"testnet: expected bool, got {type(testnet).__name__}")
        signer = BybitSigner(
            api_key, secret, private_key=private_key, private_key_password=private_key_password,
            recv_window=recv_window,
        )
        self.key_type = signer.method
        self.testnet = testnet
        self._recv_window = signer.recv_window
        dialect = BybitDialect(signer)
        super().__init__(
            dialect,
            account=account,
            base_url=base_url or (HOSTS["testnet"] if testnet else None),
            scope_id=key_fingerprint(api_key),
            session=session,
            sender=sender,
            timeout=timeout,
            limits=limits,
            retry=retry,
        )
        dialect.clock = self.transport.clock
        self._actions = Actions(self.transport, self.account, self.events, self.feed_specs, self._recv_window)

    def __repr__(self) -> str:
        return (
            f"Bybit(account={self.account!r}, base_url={self.base_url!r}, "
            f"key_type={self.key_type!r}, testnet={self.testnet})"
        )

    # --- history feeds: one thin method per feed block -----------------------------------------

    def flexible_borrow_history(
        self, *, order_id: str | None = None, currency: str | None = None, **options: Unpack[FeedOptions]
    ) -> Feed:
        """Flexible loan borrow orders (GET /v5/crypto-loan-flexible/borrow-history), newest first."""
        return self.events(FLEX_BORROW.id, order_id=order_id, currency=currency, **options)

    def flexible_repayment_history(
        self, *, repay_id: str | None = None, currency: str | None = None, **options: Unpack[FeedOptions]
    ) -> Feed:
        """Flexible loan repayments (GET /v5/crypto-loan-flexible/repayment-history)."""
        return self.events(FLEX_REPAY.id, repay_id=repay_id, currency=currency, **options)

    def fixed_borrow_orders(
        self, *, order_id: str | None = None, currency: str | None = None, state: int | str | None = None,
        term: int | str | None = None, **options: Unpack[FeedOptions],
    ) -> Feed:
        """Fixed-term borrow orders, one BORROW of the filled principal per orderId
        (GET /v5/crypto-loan-fixed/borrow-order-info); `state` 1-4, `term` in days."""
        return self.events(FIXED_ORDERS.id, order_id=order_id, currency=currency, state=state, term=term, **options)

    def fixed_borrow_contracts(
        self, *, order_id: str | None = None, loan_id: str | None = None, currency: str | None = None,
        term: int | str | None = None, **options: Unpack[FeedOptions],
    ) -> Feed:
        """Fixed-term loan contracts: the prepaid interest per loanId, and an overdue contract's
        penalty (GET /v5/crypto-loan-fixed/borrow-contract-info); `term` in days (7, 14, 30, 60, 90 or 180)."""
        return self.events(FIXED_CONTRACTS.id, order_id=order_id, loan_id=loan_id, currency=currency, term=term,
                           **options)

    def fixed_repayment_history(
        self, *, repay_id: str | None = None, currency: str | None = None, **options: Unpack[FeedOptions]
    ) -> Feed:
        """Fixed-term repayments, one event per contract leg (GET /v5/crypto-loan-fixed/repayment-history)."""
        return self.events(FIXED_REPAY.id, repay_id=repay_id, currency=currency, **options)

    def collateral_adjustment_history(
        self, *, adjust_id: str | None = None, currency: str | None = None, **options: Unpack[FeedOptions]
    ) -> Feed:
        """Collateral added / removed (GET /v5/crypto-loan-common/adjustment-history)."""
        return self.events(ADJUSTMENTS.id, adjust_id=adjust_id, currency=currency, **options)

    def legacy_borrow_history(
        self, *, order_id: str | None = None, currency: str | None = None, collateral_currency: str | None = None,
        **options: Unpack[FeedOptions],
    ) -> Feed:
        """Legacy completed loans, last 6 months (GET /v5/crypto-loan/borrow-history)."""
        return self.events(LEGACY_BORROW.id, order_id=order_id, currency=currency,
                           collateral_currency=collateral_currency, **options)

    def legacy_repayment_history(
        self, *, order_id: str | None = None, repay_id: str | None = None, currency: str | None = None,
        **options: Unpack[FeedOptions],
    ) -> Feed:
        """Legacy repayments, last 6 months (GET /v5/crypto-loan/repayment-history)."""
        return self.events(LEGACY_REPAY.id, order_id=order_id, repay_id=repay_id, currency=currency, **options)

    def legacy_adjustment_history(
        self, *, order_id: str | None = None, adjust_id: str | None = None, currency: str | None = None,
        **options: Unpack[FeedOptions],
    ) -> Feed:
        """Legacy collateral adjustments by the user, last 6 months (GET /v5/crypto-loan/adjustment-history)."""
        return self.events(LEGACY_ADJUSTMENTS.id, order_id=order_id, adjust_id=adjust_id, currency=currency,
                           **options)

    def institutional_loan_orders(self, *, order_id: str | None = None, **options: Unpack[FeedOptions]) -> Feed:
        """INS loans (GET /v5/ins-loan/loan-order), walked in time windows (default: the last 2 years)."""
        return self.events(INS_LOAN_ORDERS.id, order_id=order_id, **options)

    def institutional_repayment_history(self, **options: Unpack[FeedOptions]) -> Feed:
        """INS repayments (GET /v5/ins-loan/repaid-history), walked in time windows (default: 2 years)."""
        return self.events(INS_REPAYMENTS.id, **options)

    # --- positions (see positions.py) ----------------------------------------------------------

    async def crypto_loan_position(self) -> CryptoLoanPosition:
        """The new crypto loan's debt per coin (fixed and flexible) and its collateral pool
        (GET /v5/crypto-loan-common/position)."""
        return await _positions.crypto_loan_position(self.transport)

    async def flexible_loans(self, *, currency: str | None = None) -> list[FlexibleLoan]:
        """Open flexible loans per coin: debt, unpaid principal and interest
        (GET /v5/crypto-loan-flexible/ongoing-coin)."""
        ccy = None if currency is None else check_currency("currency", currency)
        return await _positions.flexible_loans(self.transport, ccy)

    async def open_fixed_contracts(
        self, *, loan_id: str | None = None, currency: str | None = None
    ) -> list[FixedContract]:
        """Open fixed contracts (status 1 unrepaid or 3 overdue) with their residual principal and
        penalty (GET /v5/crypto-loan-fixed/borrow-contract-info, every page)."""
        lid = None if loan_id is None else _check_id("loan_id", loan_id)
        ccy = None if currency is None else check_currency("currency", currency)
        return await _positions.open_fixed_contracts(self.transport, lid, ccy)

    async def legacy_open_loans(
        self, *, order_id: str | None = None, currency: str | None = None, collateral_currency: str | None = None
    ) -> list[LegacyOpenLoan]:
        """Open legacy loans (GET /v5/crypto-loan/ongoing-orders, every page)."""
        oid = None if order_id is None else _check_id("order_id", order_id)
        ccy = None if currency is None else check_currency("currency", currency)
        cc = None if collateral_currency is None else check_currency("collateral_currency", collateral_currency)
        return await _positions.legacy_open_loans(self.transport, oid, ccy, cc)

    async def institutional_ltv(self) -> list[InsRiskUnit]:
        """INS risk units: unpaid principal per coin and the liquidation status (GET /v5/ins-loan/ltv-convert)."""
        return await _positions.institutional_ltv(self.transport)

    async def positions(self) -> list[Position]:
        """The venue's positions of the three scopes (`scopes`), for `Ledger.reconcile()`.

        An account the INS endpoint refuses with a business error holds no INS loan (what the
        venue answers then is UNVERIFIED): no INS rows. A risk unit whose `liqStatus` is not 0
        has no figures now (the venue empties them): VenueUnavailable, the account is not
        reconciled until it is readable.
        """
        crypto = await self.crypto_loan_position()
        legacy = await self.legacy_open_loans()
        try:
            ins = await self.institutional_ltv()
        except VenueError as exc:
            if type(exc) not in (BadRequest, VenueError):  # auth, rate limit, unavailable: raised
                raise
            ins = []
        busy = [u for u in ins if u.liq_status != 0]
        if busy:
            raise VenueUnavailable(VENUE, 200, None, f"INS position unavailable while liqStatus is "
                                   f"{busy[0].liq_status} (liquidation, repayment or transfer in progress)",
                                   _positions.P_INS_LTV)
        return positions_of(self.account, self.transport.clock.now_ms(), crypto, legacy, ins)

    # --- reference data ------------------------------------------------------------------------

    async def loanable_coins(self, *, currency: str | None = None, vip_level: str | None = None) -> list[LoanableCoin]:
        """Borrowable coins of the new crypto loan (unauthenticated)."""
        return await reference.loanable_coins(self.transport, currency, vip_level)

    async def legacy_loanable_coins(
        self, *, currency: str | None = None, vip_level: str | None = None
    ) -> list[LegacyLoanableCoin]:
        """Borrowable coins of the legacy crypto loan, per VIP level (unauthenticated)."""
        return await reference.legacy_loanable_coins(self.transport, currency, vip_level)

    # --- actions (see actions.py) ---------------------------------------------------------------

    async def borrow_flexible(
        self, currency: str, amount: Decimal | str | int, *,
        collateral: Mapping[str, Decimal | str | int] | Iterable[tuple[str, Decimal | str | int]] | None = None,
    ) -> LoanEvent:
        """Borrow on a flexible loan (POST /v5/crypto-loan-flexible/borrow). The funds go to the
        Funding wallet; `collateral` (currency -> amount, at most 100) is taken from it.

        Returns the pending BORROW event of ``bybit.flexible_borrow_history`` (id = orderId).
        """
        return await self._actions.borrow_flexible(currency, amount, collateral=collateral)

    async def repay_flexible(self, currency: str, amount: Decimal | str | int) -> LoanEvent:
        """Repay a flexible loan (POST /v5/crypto-loan-flexible/repay): interest first, then principal.

        Returns the pending REPAY event of ``bybit.flexible_repayment_history`` (id = repayId).
        """
        return await self._actions.repay_flexible(currency, amount)

    async def repay_fixed(self, *, loan_id: str | None = None, currency: str | None = None) -> LoanEvent:
        """Fully repay fixed-term loans (POST /v5/crypto-loan-fixed/fully-repay): one contract
        (`loan_id`) or every contract in `currency` (exactly one of them).

        The venue does not say the amount: before sending, the open contracts are read
        (``fixed_borrow_contracts``) to learn the currency and the principal due; none open
        raises InvalidArgument. Returns the pending REPAY event of ``bybit.fixed_repayment_history``
        whose id is the repayId (the history's first leg carries the same id), amount = minus
        the open principal (the history's legs carry the final amounts).
        """
        return await self._actions.repay_fixed(loan_id=loan_id, currency=currency)

    async def repay_legacy(self, order_id: str, amount: Decimal | str | int) -> LoanEvent:
        """Repay a legacy crypto loan (POST /v5/crypto-loan/repay), fully or partly.

        The order is read first (GET /v5/crypto-loan/ongoing-orders) for its currency; an
        order that is not open raises InvalidArgument. Returns the pending REPAY event of
        ``bybit.legacy_repayment_history`` (id = repayId, ref_id = the order id).
        """
        return await self._actions.repay_legacy(order_id, amount)

    async def repay_institutional(self, token: str, quantity: Decimal | str | int) -> LoanEvent:
        """Repay an institutional loan (POST /v5/ins-loan/repay-loan). Asynchronous at the venue:
        the answer is only ``repayOrderStatus: "P"`` and no id; the repayment appears in
        ``institutional_repayment_history`` 2-3 minutes later.

        Returns a pending REPAY event with a derived id ``repay-loan:<ts>:<token>:<quantity>``
        (it cannot merge with the history record, which has the venue's repayOrderId);
        ``await bybit.reconcile(event)`` finds that record once it is listed.
        """
        return await self._actions.repay_institutional(token, quantity)

    async def reconcile(self, event: LoanEvent) -> LoanEvent | None:
        """The history record of an event an action returned, or None while the venue does not list it.

        By id where the venue gave one (flexible borrow: orderId; repays: repayId); for an INS
        repayment (no id) the earliest ``institutional_repayment_history`` record of the same
        token and quantity stamped at or after the event's time minus 1 s that no earlier
        reconciliation claimed.
        """
        return await self._actions.reconcile(event)
