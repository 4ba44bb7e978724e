"""Bearer-token verification and minting.

The trading app's identity provider signs JWTs; we verify them. Locally (and in tests)
`support-api token` mints HS256 tokens with the configured or generated secret.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

import jwt

from support_api.config import Settings
from support_api.lib.errors import Unauthorized

ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
MAX_CLAIM_LENGTH = 128
# Clock skew allowed between the identity provider and us; REST and sockets apply the same.
LEEWAY_SECONDS = 30


class Role(str, enum.Enum):
    USER = "user"
    OPERATOR = "operator"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the token says."""

    id: str
    role: Role
    name: str | None
    locale: str | None
    departments: tuple[str, ...]
    expires_at: int

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.OPERATOR, Role.ADMIN)

    @property
    def participant_type(self) -> str:
        """How this caller appears as a message sender or reader: `user` or `operator`."""
        return "user" if self.role is Role.USER else "operator"

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at + LEEWAY_SECONDS


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._keys: list[tuple[str, list[str]]] = []
        if settings.jwt_public_key:
            self._keys.append((settings.jwt_public_key, ASYMMETRIC_ALGORITHMS))
        # With an identity provider's public key configured, HS256 is accepted only when a
        # shared secret is configured explicitly too; never with the generated local one.
        if settings.jwt_secret or not settings.jwt_public_key:
            self._keys.append((settings.resolved_jwt_secret(), ["HS256"]))

    def verify(self, token: str) -> Principal:
        if not token or len(token) > 8192:
            raise Unauthorized("A bearer token is required", {"reason": "missing"})
        claims = None
        for key, algorithms in self._keys:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=algorithms,
                    issuer=self._issuer,
                    audience=self._audience,
                    options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
                    leeway=LEEWAY_SECONDS,
                )
                break
            except jwt.ExpiredSignatureError as exc:
                raise Unauthorized("The token has expired", {"reason": "expired"}) from exc
            except (jwt.InvalidAlgorithmError, jwt.InvalidSignatureError):
                continue
            except jwt.InvalidTokenError as exc:
                raise Unauthorized("The token is not valid", {"reason": "invalid"}) from exc
        if claims is None:
            raise Unauthorized("The token is not valid", {"reason": "invalid"})
        return _principal_from_claims(claims)


def _principal_from_claims(claims: dict[str, object]) -> Principal:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_CLAIM_LENGTH or "\x00" in sub:
        raise Unauthorized("The token's subject is not valid", {"reason": "invalid"})
    try:
        role = Role(claims.get("role", "user"))
    except ValueError as exc:
        raise Unauthorized("The token's role is not valid", {"reason": "invalid"}) from exc
    departments = claims.get("departments") or []
    if isinstance(departments, str):
        departments = [d for d in departments.split(",") if d]
    if not isinstance(departments, list) or not all(isinstance(d, str) for d in departments):
        raise Unauthorized("The token's departments are not valid", {"reason": "invalid"})
    name = claims.get("name")
    locale = claims.get("locale")
    return Principal(
        id=sub,
        role=role,
        name=name[:200] if isinstance(name, str) and name else None,
        locale=locale[:35] if isinstance(locale, str) and locale else None,
        departments=tuple(departments),
        expires_at=int(claims["exp"]),  # type: ignore[call-overload]
    )


def mint_token(settings: Settings, sub: str, role: Role, *, name: str | None = None,
               locale: str | None = None, departments: list[str] | None = None,
               ttl_seconds: int = 3600) -> str:
    """An HS256 token signed with the configured (or generated) secret, for local use."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": sub, "role": role.value, "iat": now, "exp": now + ttl_seconds}
    if name:
        claims["name"] = name
    if locale:
        claims["locale"] = locale
    if departments:
        claims["departments"] = departments
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.resolved_jwt_secret(), algorithm="HS256")
