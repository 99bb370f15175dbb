"""Request signing for OKX, Binance and Bybit.

Pure functions over the exact bytes that go on the wire, plus one signer
object per venue that holds the credentials. Signers never show a secret in
`repr`/`str`; PEM keys are parsed once into `cryptography` key objects and
the PEM text is not kept. `cryptography` is imported only for a PEM key: HMAC
signing (and `import loanledger`) never loads it.

Rules (https://www.okx.com/docs-v5/en/#overview-rest-authentication,
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security,
https://bybit-exchange.github.io/docs/v5/guide#authentication):

- OKX: ``Base64(HMAC_SHA256(secret, ts + METHOD + requestPath(+?query) + body))``,
  ts as ISO-8601 UTC with milliseconds; headers OK-ACCESS-KEY/SIGN/TIMESTAMP/
  PASSPHRASE; ``x-simulated-trading: 1`` only in demo.
- Binance: the payload is the query string (+ form body) exactly as sent;
  HMAC-SHA256 lowercase hex, or RSA PKCS#1 v1.5 SHA-256 / Ed25519, base64 then
  percent-encoded; header X-MBX-APIKEY; ``timestamp`` + ``recvWindow`` params.
- Bybit: ``ts + apiKey + recvWindow + (queryString | jsonBody)``; HMAC-SHA256
  lowercase hex or RSA PKCS#1 v1.5 SHA-256 base64; X-BAPI-* headers.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
from typing import TYPE_CHECKING, Literal, TypeAlias, cast
from urllib.parse import quote

from ._args import check_credential, check_recv_window
from .errors import InvalidArgument

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

__all__ = [
    "BinanceSigner",
    "BybitSigner",
    "OkxSigner",
    "binance_ed25519",
    "binance_hmac",
    "binance_rsa",
    "bybit_hmac",
    "bybit_rsa",
    "key_fingerprint",
    "load_private_key",
    "okx_sign",
    "okx_timestamp",
]


# --- primitives -----------------------------------------------------------------


def okx_timestamp(ms: int) -> str:
    """ISO-8601 UTC with milliseconds: ``2020-12-08T09:08:57.715Z``."""
    dt = _dt.datetime.fromtimestamp(ms // 1000, tz=_dt.UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def okx_sign(secret: bytes, timestamp: str, method: str, request_path: str, body: bytes = b"") -> str:
    """OK-ACCESS-SIGN: base64 HMAC-SHA256 of ts + METHOD + requestPath + body."""
    prehash = timestamp.encode() + method.upper().encode() + request_path.encode() + body
    return base64.b64encode(hmac.new(secret, prehash, hashlib.sha256).digest()).decode()


def binance_hmac(secret: bytes, payload: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the exact query(+body) payload."""
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def binance_rsa(key: rsa.RSAPrivateKey, payload: bytes) -> str:
    """Base64 RSASSA-PKCS1-v1_5 / SHA-256 signature (percent-encode before sending)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return base64.b64encode(key.sign(payload, padding.PKCS1v15(), hashes.SHA256())).decode()


def binance_ed25519(key: ed25519.Ed25519PrivateKey, payload: bytes) -> str:
    """Base64 Ed25519 (RFC 8032) signature (percent-encode before sending)."""
    return base64.b64encode(key.sign(payload)).decode()


def bybit_hmac(secret: bytes, timestamp: int, api_key: str, recv_window: int, param_str: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ts + apiKey + recvWindow + queryString|body."""
    msg = f"{timestamp}{api_key}{recv_window}".encode() + param_str
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def bybit_rsa(key: rsa.RSAPrivateKey, timestamp: int, api_key: str, recv_window: int, param_str: bytes) -> str:
    """Base64 RSA PKCS#1 v1.5 / SHA-256 of ts + apiKey + recvWindow + queryString|body."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    msg = f"{timestamp}{api_key}{recv_window}".encode() + param_str
    return base64.b64encode(key.sign(msg, padding.PKCS1v15(), hashes.SHA256())).decode()


def load_private_key(pem: str | bytes, password: str | bytes | None = None) -> PrivateKey:
    """Parse a PEM private key (RSA or Ed25519). The PEM never appears in errors."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    if isinstance(pem, str):
        pem = pem.encode()
    if not isinstance(pem, bytes):
        raise TypeError(f"private_key: expected PEM str or bytes, got {type(pem).__name__}")
    if isinstance(password, str):
        password = password.encode()
    if password is not None and not isinstance(password, bytes):
        raise TypeError(f"private_key_password: expected str or bytes, got {type(password).__name__}")
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidArgument(
            "private_key", "not a loadable PEM private key (or wrong/missing password)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise InvalidArgument("private_key", f"unsupported key type {type(key).__name__}; use RSA or Ed25519")
    return key


def _secret_or_key(
    secret: str | None, private_key: str | bytes | None, password: str | bytes | None, kinds: str
) -> tuple[bytes | None, PrivateKey | None]:
    """Exactly one of an HMAC `secret` or a PEM `private_key` (`kinds` names the key types),
    checked and loaded: (secret bytes, None) or (None, key)."""
    if (secret is None) == (private_key is None):
        raise InvalidArgument("secret", f"pass exactly one of secret (HMAC) or private_key ({kinds} PEM)")
    if secret is not None:
        return check_credential("secret", secret).encode(), None
    assert private_key is not None
    return None, load_private_key(private_key, password)


def key_fingerprint(api_key: str) -> str:
    """A short non-reversible tag of an API key, to key rate-limit buckets by account."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def _percent(sig: str) -> str:
    return quote(sig, safe="")


# --- signer objects -------------------------------------------------------------


class OkxSigner:
    """Holds OKX credentials and builds the auth headers for one request."""

    __slots__ = ("_api_key", "_passphrase", "_secret", "demo")

    def __init__(self, api_key: str, secret: str, passphrase: str, *, demo: bool = False) -> None:
        self._api_key = check_credential("api_key", api_key)
        self._secret = check_credential("secret", secret).encode()
        self._passphrase = check_credential("passphrase", passphrase)
        self.demo = demo

    @property
    def api_key(self) -> str:
        return self._api_key

    def headers(self, ts_ms: int, method: str, request_path: str, body: bytes) -> dict[str, str]:
        ts = okx_timestamp(ts_ms)
        out = {
            "OK-ACCESS-KEY": self._api_key,
            "OK-ACCESS-SIGN": okx_sign(self._secret, ts, method, request_path, body),
            "OK-ACCESS-TIMESTAMP": ts,
            "OK-ACCESS-PASSPHRASE": self._passphrase,
        }
        if self.demo:
            out["x-simulated-trading"] = "1"
        return out

    def __repr__(self) -> str:
        return f"OkxSigner(demo={self.demo})"


class BinanceSigner:
    """Holds a Binance API key with an HMAC secret or an RSA/Ed25519 private key."""

    __slots__ = ("_api_key", "_key", "_secret", "method")

    method: Literal["hmac", "rsa", "ed25519"]

    def __init__(
        self,
        api_key: str,
        secret: str | None = None,
        *,
        private_key: str | bytes | None = None,
        private_key_password: str | bytes | None = None,
    ) -> None:
        self._api_key = check_credential("api_key", api_key)
        self._secret, self._key = _secret_or_key(secret, private_key, private_key_password, "RSA/Ed25519")
        if self._key is None:
            self.method = "hmac"
        else:
            from cryptography.hazmat.primitives.asymmetric import rsa

            self.method = "rsa" if isinstance(self._key, rsa.RSAPrivateKey) else "ed25519"

    @property
    def api_key(self) -> str:
        return self._api_key

    def signature(self, payload: bytes) -> str:
        """The value of the `signature` parameter, already URL-safe."""
        if self._secret is not None:
            return binance_hmac(self._secret, payload)
        if self.method == "rsa":
            return _percent(binance_rsa(cast("rsa.RSAPrivateKey", self._key), payload))
        return _percent(binance_ed25519(cast("ed25519.Ed25519PrivateKey", self._key), payload))

    def headers(self) -> dict[str, str]:
        return {"X-MBX-APIKEY": self._api_key}

    def __repr__(self) -> str:
        return f"BinanceSigner(method={self.method!r})"


class BybitSigner:
    """Holds a Bybit API key with an HMAC secret or an RSA private key."""

    __slots__ = ("_api_key", "_key", "_secret", "method", "recv_window")

    method: Literal["hmac", "rsa"]

    def __init__(
        self,
        api_key: str,
        secret: str | None = None,
        *,
        private_key: str | bytes | None = None,
        private_key_password: str | bytes | None = None,
        recv_window: int = 5000,
    ) -> None:
        self._api_key = check_credential("api_key", api_key)
        self.recv_window = check_recv_window(recv_window)
        self._secret, key = _secret_or_key(secret, private_key, private_key_password, "RSA")
        if key is not None:
            from cryptography.hazmat.primitives.asymmetric import rsa

            if not isinstance(key, rsa.RSAPrivateKey):
                raise InvalidArgument("private_key", "Bybit signs with RSA keys only (not Ed25519)")
        self._key: rsa.RSAPrivateKey | None = key
        self.method = "hmac" if key is None else "rsa"

    @property
    def api_key(self) -> str:
        return self._api_key

    def headers(self, ts_ms: int, param_str: bytes) -> dict[str, str]:
        if self._secret is not None:
            sign = bybit_hmac(self._secret, ts_ms, self._api_key, self.recv_window, param_str)
        else:
            assert self._key is not None
            sign = bybit_rsa(self._key, ts_ms, self._api_key, self.recv_window, param_str)
        return {
            "X-BAPI-API-KEY": self._api_key,
            "X-BAPI-TIMESTAMP": str(ts_ms),
            "X-BAPI-RECV-WINDOW": str(self.recv_window),
            "X-BAPI-SIGN": sign,
            "X-BAPI-SIGN-TYPE": "2",
        }

    def __repr__(self) -> str:
        return f"BybitSigner(method={self.method!r}, recv_window={self.recv_window})"
