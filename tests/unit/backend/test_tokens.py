"""Tokens: Netra's claims, strict validation."""

from __future__ import annotations

import time

import jwt
import pytest

from xtalk.backend.tokens import TokenError, TokenIssuer

SECRET = "unit-test-secret-0123456789abcdef0123"


def issuer(**kw: float) -> TokenIssuer:
    return TokenIssuer(SECRET, **kw)  # type: ignore[arg-type]


def test_minted_token_carries_every_netra_claim() -> None:
    token = issuer().mint("user-1", "a@x.io")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert {"sub", "iat", "exp", "token_type", "iss", "aud", "jti", "email"} <= set(claims)
    assert claims["sub"] == "user-1"
    assert claims["token_type"] == "access"
    assert claims["iss"] == "netra-auth-service"
    assert claims["exp"] - claims["iat"] == 900


def test_each_token_has_its_own_jti() -> None:
    a, b = issuer().mint("u", "a@x.io"), issuer().mint("u", "a@x.io")
    decode = lambda t: jwt.decode(t, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert decode(a)["jti"] != decode(b)["jti"]


def test_verify_returns_the_subject() -> None:
    assert issuer().verify(issuer().mint("user-9", "z@x.io")).sub == "user-9"


def test_token_signed_with_another_secret_is_refused() -> None:
    other = TokenIssuer("another-secret-0123456789abcdef012345").mint("u", "a@x.io")
    with pytest.raises(TokenError):
        issuer().verify(other)


def test_expired_token_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "u", "iat": now - 100, "exp": now - 10, "token_type": "access",
                        "iss": "netra-auth-service", "jti": "j"}, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match="expired"):
        issuer().verify(token)


@pytest.mark.parametrize("missing", ["jti", "token_type", "iss", "exp", "sub"])
def test_hand_made_token_without_a_required_claim_is_refused(missing: str) -> None:
    now = int(time.time())
    claims = {"sub": "u", "iat": now, "exp": now + 60, "token_type": "access",
              "iss": "netra-auth-service", "jti": "j"}
    del claims[missing]
    with pytest.raises(TokenError):
        issuer().verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_wrong_issuer_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "u", "iat": now, "exp": now + 60, "token_type": "access",
                        "iss": "someone-else", "jti": "j"}, SECRET, algorithm="HS256")
    with pytest.raises(TokenError):
        issuer().verify(token)


def test_refresh_token_is_not_an_access_token() -> None:
    refresh = issuer().mint("u", "a@x.io", "refresh")
    with pytest.raises(TokenError):
        issuer().verify(refresh)
    assert issuer().verify(refresh, "refresh").sub == "u"
