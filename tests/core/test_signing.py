"""Signing vectors for the three venues (O1-O5, B1-B6, Y1-Y4) and the signer objects.

The inputs and expected signatures follow the venues' authentication docs:
https://www.okx.com/docs-v5/en/#overview-rest-authentication-signature,
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/endpoint-security-type and
https://bybit-exchange.github.io/docs/v5/guide#authentication.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from loanledger import InvalidArgument
from loanledger.signing import (
    BinanceSigner,
    BybitSigner,
    OkxSigner,
    binance_ed25519,
    binance_hmac,
    binance_rsa,
    bybit_hmac,
    bybit_rsa,
    load_private_key,
    okx_sign,
    okx_timestamp,
)

OKX_SECRET = b"22582BD0CFF14C41EDBF1AB98506286D"
OKX_TS = "2020-12-08T09:08:57.715Z"


@pytest.mark.parametrize(
    ("vector", "ts", "method", "path", "body", "expected"),
    [
        ("O1", OKX_TS, "GET", "/api/v5/account/balance?ccy=BTC", b"", "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="),
        ("O2", OKX_TS, "GET",
         "/api/v5/finance/flexible-loan/loan-history?type=borrowed&after=17316594851045086&limit=100", b"",
         "76pEM3N5Rr5HO+3mk7G4s4oCXb3OLhFWmZlzmKbU1hg="),
        ("O3", OKX_TS, "POST", "/api/v5/account/set-leverage",
         b'{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}', "eCnnCgWLjlQ9XnpUkrcny3qNq3WW/81KNrDr/XR6Xv8="),
        ("O4", OKX_TS, "POST", "/api/v5/finance/flexible-loan/repay",
         b'{"ordId": "680234819012345678", "ccy": "USDT", "amt": "1000", "clOrdId": "my-repay-001"}',
         "kRHQNHp0n6w0/eK5QgnsFkew3KF2NCXIqBlJaWxZWW8="),
        ("O5", "1538054050", "GET", "/users/self/verify", b"", "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="),
    ],
)
def test_okx_vectors(vector: str, ts: str, method: str, path: str, body: bytes, expected: str) -> None:
    assert okx_sign(OKX_SECRET, ts, method, path, body) == expected


def test_okx_timestamp_format_and_headers() -> None:
    assert okx_timestamp(1607418537715) == OKX_TS
    assert okx_timestamp(1607418537005) == "2020-12-08T09:08:57.005Z"
    signer = OkxSigner("key-1", OKX_SECRET.decode(), "pass-1")
    h = signer.headers(1607418537715, "GET", "/api/v5/account/balance?ccy=BTC", b"")
    assert h == {
        "OK-ACCESS-KEY": "key-1",
        "OK-ACCESS-SIGN": "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY=",
        "OK-ACCESS-TIMESTAMP": OKX_TS,
        "OK-ACCESS-PASSPHRASE": "pass-1",
    }
    demo = OkxSigner("key-1", OKX_SECRET.decode(), "pass-1", demo=True)
    assert demo.headers(1607418537715, "GET", "/x", b"")["x-simulated-trading"] == "1"


BN_SECRET = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
B_PAYLOAD = b"startTime=1735689600000&endTime=1738368000000&current=1&size=100&recvWindow=5000&timestamp=1738368000123"


def test_binance_hmac_vectors() -> None:
    b1 = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    assert binance_hmac(BN_SECRET, b1) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    b2 = (b"symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC"
          b"&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
    assert binance_hmac(BN_SECRET, b2) == "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
    assert binance_hmac(BN_SECRET, B_PAYLOAD) == "7fa65ddbe79eab20e6eb1a105f321c9e2d99dd1e9836607ad7d52809055929e7"


def test_binance_non_ascii_is_percent_encoded_before_signing() -> None:
    from loanledger.transport import encode_query

    qs = encode_query([("symbol", "１２３４５６"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                       ("quantity", "1"), ("price", "0.1"), ("recvWindow", "5000"), ("timestamp", "1499827319559")])
    assert binance_hmac(BN_SECRET, qs.encode()) == "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


def test_binance_ed25519_vectors(ed25519_private_pem: str) -> None:
    key = load_private_key(ed25519_private_pem)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert binance_ed25519(key, B_PAYLOAD) == (
        "aCShMnDMAq7t/QE4LHlwJCL0NEDrO5MLjnLJ6+wntdVB2prVb4bkW9hi01ndcL1vWWDEPNloflfGZ7gHGYXvDA==")
    b5 = b"symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2&timestamp=1668481559918&recvWindow=5000"
    assert binance_ed25519(key, b5) == (
        "XtZirsmmi0noRzUfkqktvkVfxpkq/WtbLg2UOL3QGYdUBZVlqOBEMuEVw8zioY93N54NcKj9UuAXQEa9zgTDBg==")
    assert key.public_key().public_bytes_raw().hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


B6 = ("ghneDYneCZeYL4nNS30CPDkisA2XwGVMVVvzmNQAjbgWoT000WQYusviQvnf1XptihnK+45dUNV3Tlhx8ncxky+5qDRKiN6Pk8IWUOhPavkWw3"
      "vvZnUGZQ8WcUdg/ufznHxaxcKHtOeSjItEqIICXIcg70zj7NyvdQX8SsoPvSc/FlTdcIxcw8UYgu8Nd1VjaiOhLrER8+ptZpbC9xO22m3DK0V"
      "MBm9qh9F/IQQs8gzfajuigZaq7YXCfnD2sc5r09445TcQJzQQB0ApDkZX1refy2ap1JFxG2L9m5Pr5APt4kC1vHZydn7yKt8Y6wTyIFlBCukcu"
      "y+gN7CORA/T5w==")


def test_binance_rsa_vector_and_percent_encoding(rsa_private_pem: str) -> None:
    key = load_private_key(rsa_private_pem)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert binance_rsa(key, B_PAYLOAD) == B6
    signer = BinanceSigner("k", private_key=rsa_private_pem)
    sent = signer.signature(B_PAYLOAD)
    assert "+" not in sent and "/" not in sent and "=" not in sent
    assert sent.startswith("ghneDYneCZeYL4nNS30CPDkisA2XwGVMVVvzmNQAjbgWoT000WQYusviQvnf1XptihnK%2B45dUNV3Tlhx8ncxky%2B5")
    assert sent.endswith("%2FT5w%3D%3D")


BY_SECRET = b"Y" * 36


def test_bybit_vectors(rsa_private_pem: str) -> None:
    assert bybit_hmac(BY_SECRET, 1752570519918, "XXXXXXXXXX", 5000, b"limit=2&loanCurrency=BTC") == (
        "4eff5cd7ee812ecfc1cd70a8ba69c865fca2e8f19d860423b0a005b3e87896b8")
    assert bybit_hmac(BY_SECRET, 1658384314791, "XXXXXXXXXX", 5000,
                      b"category=option&symbol=BTC-29JUL22-25000-C") == (
        "49c26b0f76e0bec6b926f119814d66c4bdf59de44adf2a1864b1ea0bfd9c710c")
    assert bybit_hmac(BY_SECRET, 1752570746227, "XXXXXXXXXX", 5000,
                      b'{"loanCurrency": "BTC", "amount": "0.005"}') == (
        "8db89daa728d6fabe342e4c4e6ea3e472e32a8a3ae0e6643052d0755be90e18d")
    key = load_private_key(rsa_private_pem)
    assert isinstance(key, rsa.RSAPrivateKey)
    y4 = bybit_rsa(key, 1752570519918, "XXXXXXXXXX", 5000, b"limit=2&loanCurrency=BTC")
    assert y4 == (
        "KeFLJwoK6YqyxuraC1QHu62LGabAM8NwtMuKa+Ri2YrR6kumiFd5ahXhjFbCZhCprv5YdzSjz57NMNb2yRVJu9zfN6XT0Xd9MyMZ+zneVdL"
        "lOqDauD7PiOXeoEHDJYmW3cnr5t9c+ig6wz5IVi6rj9KX/p6emwiUI+PRCPzj6PxaAFAEtG8lkxmf1RdEcS6Zwni3tAH2zJX9hAYNpvE3Z6e"
        "lQprwXI8SRvIDREG8op57EBbypMvgszMrpvtWDzSTd4cbncFJdL54h6F2kZD8IbqXRdblcAoEScjEjzKV+a8nFIgA8rRkJ80rMAx9KFpBscv"
        "iz5fdnYldtDAZUHBBbQ==")


def test_bybit_signer_headers() -> None:
    h = BybitSigner("XXXXXXXXXX", "Y" * 36).headers(1752570519918, b"limit=2&loanCurrency=BTC")
    assert h["X-BAPI-SIGN"] == "4eff5cd7ee812ecfc1cd70a8ba69c865fca2e8f19d860423b0a005b3e87896b8"
    assert h["X-BAPI-API-KEY"] == "XXXXXXXXXX" and h["X-BAPI-TIMESTAMP"] == "1752570519918"
    assert h["X-BAPI-RECV-WINDOW"] == "5000"


def test_signers_never_show_secrets(rsa_private_pem: str) -> None:
    signers = [
        OkxSigner("okx-key-123", "okx-secret-456", "okx-pass-789"),
        BinanceSigner("bn-key-123", "bn-secret-456"),
        BinanceSigner("bn-key-123", private_key=rsa_private_pem),
        BybitSigner("by-key-123", "by-secret-456"),
    ]
    pem_body = rsa_private_pem.splitlines()[3]
    for s in signers:
        text = repr(s) + str(s)
        for secret in ("okx-key-123", "okx-secret-456", "okx-pass-789", "bn-key-123", "bn-secret-456",
                       "by-key-123", "by-secret-456", pem_body):
            assert secret not in text


def test_key_choice_errors(rsa_private_pem: str, ed25519_private_pem: str) -> None:
    with pytest.raises(InvalidArgument, match="exactly one of secret"):
        BinanceSigner("k", "s", private_key=rsa_private_pem)
    with pytest.raises(InvalidArgument, match="exactly one of secret"):
        BinanceSigner("k")
    with pytest.raises(InvalidArgument, match="private_key: not a loadable PEM"):
        BinanceSigner("k", private_key="-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    with pytest.raises(InvalidArgument, match="private_key: Bybit signs with RSA keys only"):
        BybitSigner("k", private_key=ed25519_private_pem)
    with pytest.raises(InvalidArgument, match="api_key"):
        OkxSigner("", "s", "p")
    with pytest.raises(InvalidArgument, match="passphrase"):
        OkxSigner("k", "s", " ")
    with pytest.raises(TypeError, match="private_key"):
        load_private_key(12345)  # type: ignore[arg-type]


def test_malformed_pem_message_does_not_echo_the_key() -> None:
    bogus = "-----BEGIN PRIVATE KEY-----\nSECRETMATERIALxyz=\n-----END PRIVATE KEY-----\n"
    with pytest.raises(InvalidArgument) as info:
        load_private_key(bogus)
    assert "SECRETMATERIAL" not in str(info.value)
    assert base64.b64encode(b"x")  # keeps the import honest
