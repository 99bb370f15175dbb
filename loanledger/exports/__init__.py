"""Where the ledger goes next: Parquet/Arrow for pipelines, Beancount for plain-text books,
Koinly and CoinTracking CSV for tax tools (`loanledger export --format ...`, docs/CLI.md).

pyarrow (the `arrow` extra) is imported only when a Parquet/Arrow function runs.
"""

from __future__ import annotations

from .arrow import arrow_schema, fits_decimal128, to_arrow, write_parquet
from .beancount import ExportError, check_command, write_beancount
from .taxcsv import tax_rows, write_cointracking, write_koinly

__all__ = [
    "ExportError",
    "arrow_schema",
    "check_command",
    "fits_decimal128",
    "tax_rows",
    "to_arrow",
    "write_beancount",
    "write_cointracking",
    "write_koinly",
    "write_parquet",
]
