"""Bybit inside the simulator: HMAC / RSA verification (10003 / 10004), 10002 on skew,
rolling per-UID windows with X-Bapi-Limit* headers and 10006, the 600 / 5 s IP limit (403).

The signed string is ts + apiKey + recvWindow + the raw query (GET) or raw body (POST).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..signing import bybit_hmac
from ..venues.bybit import TIME_LIMIT
from .server import Route, SimCall, SimError, VenueSim

__all__ = ["BybitAccount", "BybitVenue"]

IP_BUDGET = 600
IP_PER = 5.0


@dataclass(eq=False)
class BybitAccount:
    """A simulated Bybit account: an API key with an HMAC secret or an RSA public key."""

    label: str
    api_key: str
    uid: str
    secret: str | None = None
    public_key: rsa.RSAPublicKey | None = None

    def __repr__(self) -> str:
        return f"BybitAccount({self.label!r}, uid={self.uid!r})"


class BybitVenue(VenueSim):
    """Bybit endpoints. `send_reset_header=False` drops X-Bapi-Limit-Reset-Timestamp on 10006."""

    venue = "bybit"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.send_reset_header = True
        self.route("GET", "/v5/market/time", self._time, limit=TIME_LIMIT, signed=False)

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
        now = self.sim.mono()
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
