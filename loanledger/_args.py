"""Argument checks shared by every public method.

Each raises before any request is built: `InvalidArgument` (a ValueError) for a
bad value, TypeError for a wrong type, and the message always names the argument.
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from ._money import MAX_ADJUSTED, plausible
from .errors import InvalidArgument

__all__ = [
    "TimeArg",
    "check_amount",
    "check_credential",
    "check_currency",
    "check_label",
    "check_params",
    "check_positive_number",
    "check_recv_window",
    "check_window",
    "now_ms",
    "to_ms",
]

TimeArg = int | _dt.datetime | None

# 2000-01-01 .. 2100-01-01: anything outside is a unit mistake (seconds, µs).
_MIN_MS = 946_684_800_000
_MAX_MS = 4_102_444_800_000
_CURRENCY = re.compile(r"[A-Z0-9]{1,20}")


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch, UTC."""
    return time.time_ns() // 1_000_000


def to_ms(name: str, value: TimeArg) -> int | None:
    """int ms or an aware datetime -> int ms; None passes through."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected int milliseconds or an aware datetime, got bool")
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise InvalidArgument(name, "naive datetime; pass an aware datetime (e.g. tzinfo=UTC)")
        # exact integer arithmetic (datetime.timestamp() goes through float)
        delta = value - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
        ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    elif isinstance(value, int):
        ms = value
    else:
        raise TypeError(
            f"{name}: expected int milliseconds or an aware datetime, got {type(value).__name__}"
        )
    if not _MIN_MS <= ms < _MAX_MS:
        raise InvalidArgument(
            name, f"{ms} is not a millisecond timestamp between 2000 and 2100 (seconds or µs?)"
        )
    return ms


def check_window(since: TimeArg, until: TimeArg, *, allow_future: bool = True) -> tuple[int | None, int | None]:
    """Validate a since/until pair; returns them as int ms."""
    lo = to_ms("since", since)
    hi = to_ms("until", until)
    if lo is not None and hi is not None and lo > hi:
        raise InvalidArgument("since", f"since ({lo}) is after until ({hi})")
    if not allow_future and lo is not None and lo > now_ms():
        raise InvalidArgument("since", f"since ({lo}) is in the future")
    return lo, hi


def check_currency(name: str, value: object) -> str:
    """An upper-case alphanumeric asset code such as 'USDT'."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected str, got {type(value).__name__}")
    if not _CURRENCY.fullmatch(value):
        raise InvalidArgument(name, f"{value!r} is not an upper-case alphanumeric currency code")
    return value


def check_amount(name: str, value: object) -> Decimal:
    """A positive, finite amount as Decimal. Floats are refused (TypeError)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{name}: floats are not accepted for money; pass Decimal or str")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidArgument(name, f"{value!r} is not a decimal number") from None
    else:
        raise TypeError(f"{name}: expected Decimal, str or int, got {type(value).__name__}")
    if not amount.is_finite():
        raise InvalidArgument(name, f"{value!r} is not finite")
    if amount <= 0:
        raise InvalidArgument(name, f"{value!r} must be positive")
    if not plausible(amount):
        # 1E+999999999 is finite, but sent in plain notation it is a gigabyte of zeros
        raise InvalidArgument(name, f"{amount:.3e} is beyond any amount a venue takes (10**±{MAX_ADJUSTED})")
    return amount


def check_label(name: str, value: object) -> str:
    """A non-empty printable label (account names)."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected str, got {type(value).__name__}")
    if not value or not value.isprintable() or value != value.strip():
        raise InvalidArgument(name, f"{value!r} must be a non-empty printable string without surrounding spaces")
    return value


def check_credential(name: str, value: object) -> str:
    """A non-empty credential string. The value itself never appears in the message."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected str, got {type(value).__name__}")
    if not value or value != value.strip() or any(c.isspace() for c in value):
        raise InvalidArgument(name, "must be a non-empty string without whitespace")
    return value


def check_recv_window(value: object) -> int:
    """A request's validity window in ms: an int in 1..60000 (Binance's and Bybit's maximum)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"recv_window: expected int milliseconds, got {type(value).__name__}")
    if not 0 < value <= 60_000:
        raise InvalidArgument("recv_window", f"{value} must be in 1..60000 ms")
    return value


def check_positive_number(name: str, value: object) -> float:
    """A positive int/float (intervals, timeouts)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not value > 0 or value != value or value == float("inf"):
        raise InvalidArgument(name, f"{value!r} must be a positive finite number")
    return float(value)


def check_params(name: str, value: Mapping[str, object] | None) -> dict[str, str]:
    """Optional string filters (venue query parameters): None values dropped."""
    if value is None:
        return {}
    out: dict[str, str] = {}
    for key, v in value.items():
        if v is None:
            continue
        if not isinstance(v, str):
            raise TypeError(f"{name}[{key!r}]: expected str, got {type(v).__name__}")
        out[key] = v
    return out
