"""Fixtures of the API tests: an app over each store backend, tokens, a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI

from plugins.stores.database import open_database
from plugins.stores.memory import InMemoryJobStore
from plugins.stores.memory_tokens import InMemoryTokenStore
from plugins.stores.sql import SqlJobStore
from plugins.stores.sql_tokens import SqlTokenStore
from scheduler.api.app import create_app
from scheduler.api.auth import issue_token
from scheduler.api.server import ApiServer
from scheduler.clock import FakeClock
from scheduler.model import ApiRole
from scheduler.protocols import JobStore, TokenStore
from scheduler.settings import RegionConfig, Settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class Stores:
    """A job store and a token store over the same backend."""

    jobs: JobStore
    tokens: TokenStore


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    """Job and token stores of one backend, fresh per test."""
    if request.param == "memory":
        yield Stores(jobs=InMemoryJobStore(), tokens=InMemoryTokenStore())
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'api.db'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    engine = open_database(url)
    yield Stores(jobs=SqlJobStore(engine), tokens=SqlTokenStore(engine))
    engine.dispose()


@pytest.fixture
def memory_stores() -> Stores:
    """In-memory stores, for tests about HTTP behaviour rather than persistence."""
    return Stores(jobs=InMemoryJobStore(), tokens=InMemoryTokenStore())


def api_settings(tmp_path: Path, **api: Any) -> Settings:
    """Settings with three regions (DE, FR, GB) and API options ``api``."""
    return Settings(
        data_dir=tmp_path,
        regions=[
            RegionConfig(name="de-1", zone="DE"),
            RegionConfig(name="fr-1", zone="FR"),
            RegionConfig(name="gb-1", zone="GB"),
        ],
        api={"host": "127.0.0.1", **api},
    )


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(tmp_path: Path, clock: FakeClock) -> AppFactory:
    """Builds an app over ``stores``; keyword arguments go to ``create_app`` or settings."""

    def build(stores: Stores, *, api: dict[str, Any] | None = None, **kwargs: Any) -> FastAPI:
        return create_app(
            store=stores.jobs,
            tokens=stores.tokens,
            clock=clock,
            settings=api_settings(tmp_path, **(api or {})),
            **kwargs,
        )

    return build


def bearer(stores: Stores, team: str, role: ApiRole) -> dict[str, str]:
    """Authorization headers of a new token for ``team`` and ``role``."""
    secret, _ = issue_token(stores.tokens, team=team, role=role, now=NOW)
    return {"Authorization": f"Bearer {secret}"}


def job_body(**changes: Any) -> dict[str, Any]:
    """A valid JobSpec body; ``changes`` override fields."""
    body: dict[str, Any] = {
        "name": "train",
        "entrypoint": ["python", "train.py", "--lr", "3e-4"],
        "gpus": 4,
        "estimated_duration_s": 6 * 3600,
        "deadline": (NOW + timedelta(hours=36)).isoformat(),
        "zones": ["DE", "FR", "GB"],
        "power_cap_w": 250,
        "energy_cap_kwh": 40,
        "project": "llm",
        "model_version": "v3",
    }
    body.update(changes)
    return body


class HttpClient:
    """``requests`` against a live server, with paths relative to its base URL."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request."""
        return self.session.request(method, self.base_url + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST ``path``."""
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        """PATCH ``path``."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """DELETE ``path``."""
        return self.request("DELETE", path, **kwargs)


ClientFor = Callable[[FastAPI], HttpClient]


@pytest.fixture
def client_for() -> Iterator[ClientFor]:
    """Serves apps on free loopback ports (stopped after the test) and returns clients."""
    servers: list[ApiServer] = []
    clients: list[HttpClient] = []

    def open_client(app: FastAPI) -> HttpClient:
        server = ApiServer(app).start()
        servers.append(server)
        clients.append(HttpClient(server.url))
        return clients[-1]

    yield open_client
    for client in clients:
        client.session.close()
    for server in servers:
        server.stop()
