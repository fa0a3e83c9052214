"""Shared test fixtures, and the rule for tests that need real services or ../shared.

Tests marked ``postgres``, ``ray`` or ``shared`` skip with a clear reason on a laptop that
lacks the service or the folder, and fail instead of skipping in CI (``CI=true``), so a
missing service can never turn CI green by skipping.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    """Apply the skip-or-fail rule of the ``postgres``, ``shared`` and ``ray`` markers."""
    if request.node.get_closest_marker("postgres"):
        require(_port_open("127.0.0.1", 5432), "PostgreSQL is not listening on 127.0.0.1:5432")
    if request.node.get_closest_marker("shared"):
        require(SHARED.is_dir(), f"{SHARED} is absent: it holds the real data and fixtures")
    if request.node.get_closest_marker("ray"):
        request.getfixturevalue("ray_head")  # starts the one shared head, or skips/fails


@pytest.fixture(scope="session")
def ray_head() -> Iterator[Any]:
    """ONE local Ray head (8 logical GPUs, free ports, token auth) shared by the whole run.

    Tests that use it submit jobs under random ids, so they never collide. Skips when Ray
    cannot start here; fails in CI. Yields a ``plugins.clusters.local_ray.LocalRayHead``.
    """
    from plugins.clusters.local_ray import LocalRayHead  # noqa: PLC0415  (heavy import)
    from scheduler.errors import ClusterUnavailable  # noqa: PLC0415

    head = LocalRayHead(num_gpus=8)
    try:
        head.start()
    except (ClusterUnavailable, OSError) as exc:
        require(False, f"a local Ray head could not start: {exc}")
    try:
        yield head
    finally:
        head.stop()


@pytest.fixture(scope="session")
def ray_cluster(ray_head: Any) -> Any:
    """A ``RayCluster`` (region ``local``) on the shared head."""
    from plugins.clusters.ray import RayCluster  # noqa: PLC0415  (heavy import)

    return RayCluster(region="local", address=ray_head.address, token=ray_head.token)


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
def postgres_url() -> str:
    """URL of the real PostgreSQL test database; skips or fails when it is not running."""
    require(_port_open("127.0.0.1", 5432), "PostgreSQL is not listening on 127.0.0.1:5432")
    return POSTGRES_URL


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """``postgres_url`` confined to a fresh schema of its own, dropped after the test.

    Tests running at the same time (other workers, other engineers) never see each other's
    tables: the URL sets ``search_path`` to a schema named after a random token.
    """
    import sqlalchemy  # noqa: PLC0415  (only tests that use PostgreSQL pay for the import)

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
