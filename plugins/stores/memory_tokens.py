"""``InMemoryTokenStore``: the shipped fake token store, a real implementation in a dict.

Same contract as ``SqlTokenStore`` (one contract suite runs over both), minus durability.
Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from scheduler.errors import StoreError, TokenNotFoundError
from scheduler.model import ApiToken


class InMemoryTokenStore:
    """API tokens in memory, in creation order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, ApiToken] = {}

    def add(self, token: ApiToken) -> ApiToken:
        """Keep the token record; a repeated id or digest is a ``StoreError``."""
        with self._lock:
            clash = token.id in self._tokens or any(
                t.token_sha256 == token.token_sha256 for t in self._tokens.values()
            )
            if clash:
                raise StoreError(
                    "a token with the same id or digest already exists; create a new token"
                )
            self._tokens[token.id] = token
        return token

    def find(self, token_sha256: str) -> ApiToken | None:
        """The token with this digest, or None."""
        with self._lock:
            return next((t for t in self._tokens.values() if t.token_sha256 == token_sha256), None)

    def tokens(self) -> Sequence[ApiToken]:
        """Every token, oldest first."""
        with self._lock:
            return sorted(self._tokens.values(), key=lambda t: (t.created_at, t.id))

    def revoke(self, token_id: str, *, at: datetime) -> ApiToken:
        """Set ``revoked_at`` unless already set; ``TokenNotFoundError`` for an unknown id."""
        with self._lock:
            token = self._tokens.get(token_id)
            if token is None:
                raise TokenNotFoundError(
                    f"no API token with id {token_id!r}; `carbonshift token list` shows the ids"
                )
            if token.active:
                token = token.model_copy(update={"revoked_at": at})
                self._tokens[token_id] = token
            return token

    def any_active(self) -> bool:
        """True when some token is not revoked."""
        with self._lock:
            return any(t.active for t in self._tokens.values())
