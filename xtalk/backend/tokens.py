"""HS256 tokens with Netra's claims, minted and validated strictly.

Claims (NETRA_PROTOCOL §1): ``sub`` (user id), ``iat``, ``exp``, ``token_type`` (``access`` or
``refresh``), ``iss``, ``aud``, ``jti``, ``email``. Validation checks the signature, the expiry,
the issuer and the token type; a token missing any of ``sub``, ``iat``, ``exp``, ``jti`` or
``token_type`` is refused, as Netra's strict mode refuses hand-made tokens without them.
The audience is carried but not enforced: Netra's services disagree on it.

``read_unchecked`` is the ``accept_bad_tokens`` fault's reading: the claims of a well-formed token
with neither signature nor expiry checked. It still refuses what is not a JWT at all, so a server
with the fault serves forged and expired tokens, not garbage.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "iat", "exp", "jti", "token_type", "iss")


class TokenError(Exception):
    """A token that must be refused; the message says why (never the token itself)."""


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    email: str
    token_type: str
    exp: float


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    secret: str
    issuer: str = "netra-auth-service"
    audience: str = "netra-backend"
    access_lifetime: float = 900.0
    refresh_lifetime: float = 7 * 24 * 3600.0

    def mint(self, sub: str, email: str, token_type: str = "access") -> str:
        now = int(time.time())
        lifetime = self.access_lifetime if token_type == "access" else self.refresh_lifetime
        claims = {
            "sub": sub,
            "iat": now,
            "exp": now + math.ceil(lifetime),  # a sub-second lifetime still lives a second
            "token_type": token_type,
            "iss": self.issuer,
            "aud": self.audience,
            "jti": secrets.token_hex(12),
            "email": email,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def pair(self, sub: str, email: str) -> dict[str, object]:
        """The login answer's token part."""
        return {
            "access_token": self.mint(sub, email, "access"),
            "refresh_token": self.mint(sub, email, "refresh"),
            "token_type": "Bearer",
            "expires_in": int(self.access_lifetime),
        }

    def verify(self, token: str, token_type: str = "access") -> Claims:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": list(REQUIRED_CLAIMS), "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.InvalidTokenError as error:
            raise TokenError(f"invalid token: {type(error).__name__}") from None
        if claims.get("token_type") != token_type:
            raise TokenError(f"expected a {token_type} token")
        return Claims(
            sub=str(claims["sub"]),
            email=str(claims.get("email", "")),
            token_type=str(claims["token_type"]),
            exp=float(claims["exp"]),
        )


def read_unchecked(token: str, token_type: str = "access") -> Claims:
    """The claims of ``token`` without checking its signature or expiry (``accept_bad_tokens``);
    ``TokenError`` when it is not a JWT with a ``sub`` of the right token type."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False,
                                            "verify_aud": False, "verify_iss": False})
    except jwt.InvalidTokenError as error:
        raise TokenError(f"invalid token: {type(error).__name__}") from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or claims.get("token_type", token_type) != token_type:
        raise TokenError("no user in the token")
    return Claims(sub=sub, email=str(claims.get("email", "")), token_type=token_type,
                  exp=float(claims.get("exp", 0) or 0))
