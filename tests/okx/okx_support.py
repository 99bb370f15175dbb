"""Constants shared by the OKX tests (importable as a plain module: tests/okx is on sys.path)."""

from __future__ import annotations

from collections.abc import Callable

from loanledger import OKX

KEY = "okx-test-key-1"
SECRET = "okx-test-secret-1"
PASSPHRASE = "okx-test-passphrase-1"
LABEL = "main"
#: every documented limit x SCALE, on both sides (simulator and client)
SCALE = 20.0
SEED = 11

FEED_IDS = (
    "okx.flexible_loan_history",
    "okx.flexible_loan_interest",
    "okx.one_click_repay_history",
    "okx.convert_history",
)
#: the documented limits (seeds 000-002, notes section 5): path -> (requests, seconds)
DOCUMENTED = {
    "/api/v5/finance/flexible-loan/loan-history": (5, 2.0),
    "/api/v5/finance/flexible-loan/interest-accrued": (5, 2.0),
    "/api/v5/trade/one-click-repay-history-v2": (1, 2.0),
    "/api/v5/asset/convert/history": (6, 1.0),
}
PATHS = {
    "okx.flexible_loan_history": "/api/v5/finance/flexible-loan/loan-history",
    "okx.flexible_loan_interest": "/api/v5/finance/flexible-loan/interest-accrued",
    "okx.one_click_repay_history": "/api/v5/trade/one-click-repay-history-v2",
    "okx.convert_history": "/api/v5/asset/convert/history",
}

ClientFactory = Callable[..., OKX]
