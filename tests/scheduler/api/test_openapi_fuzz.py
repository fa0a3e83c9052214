"""Schemathesis against ``/openapi.json`` of a live server: no input yields a 5xx.

Bounded (a dozen derandomized examples per operation and mode) so CI stays fast and
repeatable; every request carries an admin token, so generated requests reach the handlers
rather than stopping at 401.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import product
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error

from forecasts.static import StaticProvider
from plugins.stores.memory import InMemoryJobStore
from plugins.stores.memory_tokens import InMemoryTokenStore
from scheduler.api.app import create_app
from scheduler.api.auth import issue_token
from scheduler.api.server import ApiServer
from scheduler.clock import FakeClock
from scheduler.model import ApiRole
from tests.scheduler.api.conftest import api_settings

ADMIN: dict[str, str] = {}


@pytest.fixture
def api_schema(tmp_path: Path, clock: FakeClock) -> Iterator[schemathesis.BaseSchema]:
    """The live server's OpenAPI schema; ``ADMIN`` holds an admin token's header."""
    tokens = InMemoryTokenStore()
    secret, _ = issue_token(tokens, team="ops", role=ApiRole.ADMIN, now=clock.now())
    ADMIN["Authorization"] = f"Bearer {secret}"
    app = create_app(
        store=InMemoryJobStore(),
        tokens=tokens,
        clock=clock,
        settings=api_settings(tmp_path),
        forecasts=StaticProvider({"DE": 300.0, "FR": 50.0, "GB": 200.0}, clock=clock),
    )
    with ApiServer(app) as server:
        yield schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def test_no_input_causes_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    """Every operation answers generated requests (valid and invalid) without a 5xx."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10

    statuses: Counter[int] = Counter()
    for operation, mode in product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=12,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Case) -> None:
            response = case.call_and_validate(headers=ADMIN, checks=[not_a_server_error])
            statuses[response.status_code] += 1

        try:
            no_server_error()
        except Unsatisfiable:
            # an operation without inputs (GET /healthz) has nothing to make invalid
            assert mode is GenerationMode.NEGATIVE
    assert statuses[200] > 0, f"no generated request succeeded: {statuses}"
    assert statuses[422] > 0, f"no generated request was invalid: {statuses}"
