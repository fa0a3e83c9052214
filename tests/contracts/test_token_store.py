"""The ``TokenStore`` contract, run over every implementation: memory, SQLite, PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from plugins.stores.memory_tokens import InMemoryTokenStore
from plugins.stores.sql_tokens import SqlTokenStore
from scheduler.errors import StoreError, TokenNotFoundError
from scheduler.model import ApiRole, ApiToken
from scheduler.protocols import TokenStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TokenStoreFactory = Callable[[], TokenStore]


@pytest.fixture
def make_tokens(database: Engine | None) -> TokenStoreFactory:
    """A factory of token stores over one backend; each call sees the same tokens."""
    if database is None:
        store = InMemoryTokenStore()
        return lambda: store
    return lambda: SqlTokenStore(database)


def token(
    token_id: str, secret: str, *, team: str = "nlp", role: ApiRole = ApiRole.SUBMITTER
) -> ApiToken:
    """A token record for ``secret``."""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return ApiToken(id=token_id, token_sha256=digest, team=team, role=role, created_at=NOW)


def test_added_token_is_found_by_digest_from_another_instance(
    make_tokens: TokenStoreFactory,
) -> None:
    """A token added through one store instance is found by its digest through another."""
    added = make_tokens().add(token("t1", "secret-1", team="vision", role=ApiRole.ADMIN))
    found = make_tokens().find(added.token_sha256)
    assert found == added
    assert make_tokens().find(hashlib.sha256(b"other").hexdigest()) is None


def test_no_tokens_means_none_active(make_tokens: TokenStoreFactory) -> None:
    """An empty store has no active token; adding one makes it so."""
    store = make_tokens()
    assert not store.any_active()
    store.add(token("t1", "s1"))
    assert store.any_active()


def test_revoke_is_recorded_once(make_tokens: TokenStoreFactory) -> None:
    """Revoking sets revoked_at; revoking again keeps the first time; the token stays listed."""
    store = make_tokens()
    store.add(token("t1", "s1"))
    first = store.revoke("t1", at=NOW + timedelta(hours=1))
    again = store.revoke("t1", at=NOW + timedelta(hours=2))
    assert first.revoked_at == NOW + timedelta(hours=1)
    assert again.revoked_at == NOW + timedelta(hours=1)
    assert not store.any_active()
    assert [t.id for t in make_tokens().tokens()] == ["t1"]


def test_revoking_an_unknown_token_names_it(make_tokens: TokenStoreFactory) -> None:
    """An unknown id is a TokenNotFoundError naming the id."""
    with pytest.raises(TokenNotFoundError, match="'nope'"):
        make_tokens().revoke("nope", at=NOW)


def test_duplicate_id_or_digest_is_refused(make_tokens: TokenStoreFactory) -> None:
    """Ids and digests are unique."""
    store = make_tokens()
    store.add(token("t1", "s1"))
    with pytest.raises(StoreError):
        store.add(token("t1", "s2"))
    with pytest.raises(StoreError):
        store.add(token("t2", "s1"))
    assert [t.id for t in store.tokens()] == ["t1"]


def test_tokens_are_listed_oldest_first(make_tokens: TokenStoreFactory) -> None:
    """tokens() returns every token in creation order."""
    store = make_tokens()
    late = token("late", "s1").model_copy(update={"created_at": NOW + timedelta(minutes=1)})
    store.add(late)
    store.add(token("early", "s2"))
    assert [t.id for t in store.tokens()] == ["early", "late"]
