"""``build_service`` + ``attach_accounting`` + ``start_api_beside``: what ``carbonshift serve``
runs, over the in-memory store and a scripted cluster, driven by ticks on a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from scheduler.api.server import ApiServer
from scheduler.clock import FakeClock
from scheduler.model import JobState
from scheduler.settings import PluginConfig, RegionConfig, Settings
from scheduler.wiring import ServiceGraph, attach_accounting, build_service, start_api_beside
from tests.scheduler.service.helpers import spec


@pytest.fixture
def graph(tmp_path: Path, clock: FakeClock) -> Iterator[ServiceGraph]:
    """A memory-store scheduler over one scripted region, on the built-in signal."""
    settings = Settings(
        data_dir=tmp_path,
        store=PluginConfig(kind="memory"),
        regions=[
            RegionConfig(
                name="de-1", zone="DE", cluster=PluginConfig(kind="scripted", total_gpus=8)
            )
        ],
    )
    built = build_service(settings, clock, lock=False)
    yield built
    built.close()


@pytest.fixture
def api(graph: ServiceGraph) -> Iterator[ApiServer]:
    """The REST API beside ``graph`` (accounting attached first, as ``serve`` does)."""
    attach_accounting(graph)
    server = start_api_beside(graph, say=lambda _: None, port=0)
    yield server
    server.stop()


def get(api: ApiServer, path: str) -> requests.Response:
    """GET ``path`` on the open-access loopback API."""
    answer = requests.get(f"{api.url}{path}", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer


def test_each_ticks_decision_is_shown_by_the_api(
    graph: ServiceGraph, api: ApiServer, clock: FakeClock
) -> None:
    """A job stored without the API has no decision until a tick decides: then
    ``GET /v1/jobs/{id}`` shows the tick's wait (not before the job's earliest start) and why."""
    later = clock.now() + timedelta(hours=3)
    job = graph.store.submit(spec(clock.now(), earliest_start=later), now=clock.now())
    assert get(api, f"/v1/jobs/{job.id}").json()["decision"] is None
    graph.service.tick()
    shown = get(api, f"/v1/jobs/{job.id}").json()
    assert shown["state"] == JobState.DEFERRED.value
    assert shown["decision"]["kind"] == "wait"
    assert datetime.fromisoformat(shown["decision"]["until"]) >= later
    assert shown["explanation"] == shown["decision"]["explanation"]


def test_planner_time_reaches_metrics(
    graph: ServiceGraph, api: ApiServer, clock: FakeClock
) -> None:
    """Every tick that plans is timed into ``/metrics``' planner histogram."""
    graph.store.submit(spec(clock.now()), now=clock.now())
    graph.service.tick()
    text = get(api, "/metrics").text
    (count,) = [
        line
        for line in text.splitlines()
        if line.startswith("carbonshift_planner_duration_seconds_count")
    ]
    assert float(count.split()[-1]) >= 1


def test_accounting_and_the_api_share_one_memory_ledger(
    graph: ServiceGraph, api: ApiServer, clock: FakeClock
) -> None:
    """With ``store: memory`` the entry accounting appends is the one ``/v1/ledger`` lists."""
    job = graph.store.submit(spec(clock.now(), hours=0.25), now=clock.now())  # starts at once
    for _ in range(5):
        graph.service.tick()
        clock.advance(60)
    assert graph.store.get(job.id).state == JobState.SUCCEEDED
    listed = get(api, "/v1/ledger").json()
    assert [e["job_id"] for e in listed["items"]] == [job.id]
    assert [e.job_id for e in graph.ledger.entries()] == [job.id]


def test_serve_schedules_forecast_refreshes_beside_the_tick(graph: ServiceGraph) -> None:
    """The runner's APScheduler holds the tick and one refresh per zone (cached forecasts)."""
    runner = graph.runner()
    runner.start()
    try:
        names = runner.scheduled()
    finally:
        runner.stop()
    assert "carbonshift tick" in names
    assert "refresh carbon forecast of DE" in names
