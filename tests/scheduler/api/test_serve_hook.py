"""``start_api_beside``: the API that ``carbonshift serve`` runs next to the scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from scheduler.clock import FakeClock
from scheduler.settings import PluginConfig, RegionConfig, Settings
from scheduler.wiring import ServiceGraph, build_service, start_api_beside
from tests.scheduler.api.conftest import job_body


@pytest.fixture
def graph(tmp_path: Path, clock: FakeClock) -> Iterator[ServiceGraph]:
    """A scheduler over SQLite with two scripted clusters and the built-in signal."""
    scripted = PluginConfig(kind="scripted", total_gpus=8)
    settings = Settings(
        data_dir=tmp_path,
        regions=[
            RegionConfig(name="de-1", zone="DE", cluster=scripted),
            RegionConfig(name="fr-1", zone="FR", cluster=scripted),
        ],
    )
    built = build_service(settings, clock, lock=False)
    yield built
    built.close()


def test_serve_answers_submissions_with_the_planners_decision(graph: ServiceGraph) -> None:
    """A submission is answered with a real planner decision for an allowed region."""
    said: list[str] = []
    server = start_api_beside(graph, say=said.append, port=0)
    try:
        answer = requests.post(
            f"{server.url}/v1/jobs", json=job_body(zones=["DE", "FR"]), timeout=30
        )
        assert answer.status_code == 202, answer.text
        decision = answer.json()["decision"]
        assert decision["kind"] in {"start", "wait"}
        assert decision["region"] in {"de-1", "fr-1"}
        assert answer.json()["explanation"] == decision["explanation"]
        assert graph.store.get(answer.json()["id"]).spec.zones == ("DE", "FR")
        assert requests.get(f"{server.url}/", timeout=30).status_code == 200
    finally:
        server.stop()
    assert said[0].startswith("no API tokens exist")
    assert said[1].startswith(f"REST API on {server.url}")


def test_without_tokens_a_public_host_falls_back_to_loopback(graph: ServiceGraph) -> None:
    """Asked to listen on all interfaces with no token, the API binds 127.0.0.1 and says so."""
    said: list[str] = []
    server = start_api_beside(graph, say=said.append, host="0.0.0.0", port=0)  # noqa: S104
    try:
        assert server.host == "127.0.0.1"
        assert "listening on 127.0.0.1 only instead of 0.0.0.0" in said[0]
    finally:
        server.stop()
