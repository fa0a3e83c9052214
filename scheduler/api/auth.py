"""Bearer-token authentication: tokens stored as SHA-256 digests, each bound to team and role.

A token is ``cs_`` followed by 43 URL-safe characters (256 random bits), so a plain SHA-256
digest is safe to store: there is nothing to brute-force. The digest is looked up, then
compared in constant time.

Roles: ``viewer`` reads its team's jobs; ``submitter`` also submits, cancels and re-caps them;
``admin`` sees every team and manages tokens. A team never learns that another team's job
exists (its id answers 404, as an unknown id does).

With no token ever created and ``open_access`` allowed (the server listens on loopback
only), every caller is an anonymous admin; once a token exists (even revoked), every
request needs a valid one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime

from scheduler.api.errors import ApiError
from scheduler.model import ApiRole, ApiToken
from scheduler.protocols import TokenStore

TOKEN_PREFIX = "cs_"  # noqa: S105  (a public prefix, not a secret)
_RANK = {ApiRole.VIEWER: 0, ApiRole.SUBMITTER: 1, ApiRole.ADMIN: 2}


def token_digest(secret: str) -> str:
    """SHA-256 (hex) of a token: what the store keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_token(
    tokens: TokenStore, *, team: str, role: ApiRole, now: datetime
) -> tuple[str, ApiToken]:
    """Create, store and return a new token (the secret, shown once) and its record."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        id=f"tok-{secrets.token_hex(6)}",
        token_sha256=token_digest(secret),
        team=team,
        role=role,
        created_at=now,
    )
    return secret, tokens.add(record)


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who is calling: a token's team and role (``team`` None for the anonymous admin)."""

    token_id: str
    team: str | None
    role: ApiRole

    @property
    def admin(self) -> bool:
        """True for admins, who see and change every team's jobs."""
        return self.role is ApiRole.ADMIN

    def may_see(self, team: str) -> bool:
        """True when this caller may see jobs of ``team``."""
        return self.admin or self.team == team

    def require(self, role: ApiRole, action: str) -> None:
        """Raise 403 unless this caller's role is at least ``role``."""
        if _RANK[self.role] < _RANK[role]:
            raise ApiError(
                403,
                "forbidden",
                f"{action} needs a {role.value} or higher token; this token is a "
                f"{self.role.value} of team {self.team!r}; ask an admin for one",
            )


ANONYMOUS = Principal(token_id="anonymous", team=None, role=ApiRole.ADMIN)  # noqa: S106


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class Authenticator:
    """Turns an ``Authorization`` header into a ``Principal`` or a 401."""

    def __init__(self, tokens: TokenStore, *, open_access: bool) -> None:
        self._tokens = tokens
        self._open_access = open_access
        self._tokens_seen = False
        self._lock = threading.Lock()

    def _auth_required(self) -> bool:
        """Latches: once any token existed, the API never falls back to open access."""
        if not self._open_access:
            return True
        with self._lock:
            if not self._tokens_seen:
                # revoked tokens count: revoking every token must not reopen the API
                self._tokens_seen = bool(self._tokens.tokens())
            return self._tokens_seen

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller for this header; ``ApiError`` 401 when missing, malformed or unknown."""
        if not self._auth_required():
            return ANONYMOUS
        if not authorization:
            raise _unauthorized(
                "missing Authorization header; send 'Authorization: Bearer TOKEN' "
                "(create one with `carbonshift token create --team T --role R`)"
            )
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise _unauthorized("Authorization must be 'Bearer TOKEN'")
        digest = token_digest(secret.strip())
        record = self._tokens.find(digest)
        if record is None or not hmac.compare_digest(record.token_sha256, digest):
            raise _unauthorized("unknown token; check CARBONSHIFT_TOKEN or create a new token")
        if not record.active:
            raise _unauthorized(f"token {record.id} was revoked; ask an admin for a new one")
        return Principal(token_id=record.id, team=record.team, role=record.role)
