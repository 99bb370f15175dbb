"""Binance inside the simulator: HMAC / RSA / Ed25519 verification, -1021 / -1022 / -2015,
per-endpoint minute weight with X-SAPI-USED-*-WEIGHT-1M headers, 429 + Retry-After, 418 bans.

The signed payload is the raw query string as received, up to ``&signature=``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import msgspec
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ..signing import binance_hmac
from ..venues.binance import TIME_LIMIT
from .server import Route, SimCall, SimError, VenueSim

__all__ = ["BinanceAccount", "BinanceVenue"]

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


@dataclass(eq=False)
class BinanceAccount:
    """A simulated Binance account: an API key with an HMAC secret or a public key."""

    label: str
    api_key: str
    uid: str
    secret: str | None = None
    public_key: PublicKey | None = None

    def __repr__(self) -> str:
        return f"BinanceAccount({self.label!r}, uid={self.uid!r})"


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

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.ban_after = 3
        self.ban_seconds = 120
        self._counters: dict[tuple[str, str], _Counter] = {}
        self.route("GET", "/api/v3/time", self._time, limit=TIME_LIMIT, signed=False)

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

    async def _time(self, call: SimCall) -> Any:
        return {"serverTime": call.now_ms}

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
        return {header: str(c.used)}

    def rate_error(self, route: Route, account: Any) -> SimError:
        return SimError(-1003, "Too many requests.", 429, {"Retry-After": "1"})

    def success(self, result: Any) -> web.Response:
        return web.Response(body=msgspec.json.encode(result), content_type="application/json")

    def failure(self, err: SimError) -> web.Response:
        return web.Response(
            status=err.status,
            body=msgspec.json.encode({"code": err.code if isinstance(err.code, int) else str(err.code),
                                      "msg": err.msg}),
            content_type="application/json",
        )
