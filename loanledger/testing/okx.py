"""OKX inside the simulator: auth (50101-50113, 50102 on skew), 50011 on rate, envelopes.

Signatures are verified over the exact bytes received: the raw request path
with its query string as sent, and the raw body.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hmac
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from ..signing import okx_sign
from ..venues.okx import TIME_LIMIT
from .server import Route, SimCall, SimError, VenueSim

__all__ = ["OkxAccount", "OkxVenue"]

#: the venue rejects timestamps more than 30 s away from its clock
MAX_SKEW_MS = 30_000


@dataclass(eq=False)
class OkxAccount:
    """A simulated OKX account (one User ID)."""

    label: str
    api_key: str
    secret: str
    passphrase: str
    uid: str
    demo: bool = False

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

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.route("GET", "/api/v5/public/time", self._time, limit=TIME_LIMIT, signed=False)

    def add_account(
        self, api_key: str, secret: str, passphrase: str, *, label: str = "default",
        uid: str | None = None, demo: bool = False,
    ) -> OkxAccount:
        acct = OkxAccount(label, api_key, secret, passphrase, uid or f"{len(self.accounts) + 1:08d}", demo)
        self.accounts[api_key] = acct
        return acct

    async def _time(self, call: SimCall) -> Any:
        return [{"ts": str(call.now_ms)}]

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
            self.sim.mono(),
        )
        if not ok:
            raise self.rate_error(route, account)
        return {}

    def rate_error(self, route: Route, account: Any) -> SimError:
        return SimError("50011", "Too Many Requests", self.sim.okx_rate_http)

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
