"""Shared test fixtures, and the rule for tests that need real services or ../shared.

Tests marked ``postgres``, ``ray`` or ``shared`` skip with a clear reason on a laptop that
lacks the service or the folder, and fail instead of skipping in CI (``CI=true``), so a
missing service can never turn CI green by skipping.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.clock import FakeClock

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
POSTGRES_URL = os.environ.get(
    "CARBONSHIFT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip the calling test when ``condition`` is false, or fail it in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must not be skipped in CI)")
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _requirements(request: pytest.FixtureRequest) -> None:
    """Apply the skip-or-fail rule of the ``postgres`` and ``shared`` markers."""
    if request.node.get_closest_marker("postgres"):
        require(_port_open("127.0.0.1", 5432), "PostgreSQL is not listening on 127.0.0.1:5432")
    if request.node.get_closest_marker("shared"):
        require(SHARED.is_dir(), f"{SHARED} is absent: it holds the real data and fixtures")


@pytest.fixture
def shared_dir() -> Path:
    """The ``../shared`` folder (data, fixtures, scenarios); skips or fails when absent."""
    require(SHARED.is_dir(), f"{SHARED} is absent: it holds the real data and fixtures")
    return SHARED


@pytest.fixture
def fixtures_dir(shared_dir: Path) -> Path:
    """Recorded provider and Ray API responses."""
    return shared_dir / "fixtures"


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at a fixed instant; advance it instead of sleeping."""
    return FakeClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of the real PostgreSQL test database; skips or fails when it is not running."""
    require(_port_open("127.0.0.1", 5432), "PostgreSQL is not listening on 127.0.0.1:5432")
    yield POSTGRES_URL
