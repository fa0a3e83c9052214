"""The service against the shared real local Ray head (logical GPUs) and real outages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plugins.clusters.ray import RayCluster
from plugins.clusters.scripted import ScriptedCluster
from plugins.stores.database import open_database
from plugins.stores.sql import SqlJobStore
from scheduler.clock import FakeClock
from scheduler.model import AttemptRecord, Job, JobState
from tests.scheduler.service.helpers import drive, service, spec
from tests.scheduler.service.tcp_proxy import TcpProxy


@pytest.fixture
def store(tmp_path: Path) -> SqlJobStore:
    """A real SQLite job store."""
    return SqlJobStore(open_database(f"sqlite:///{tmp_path / 'jobs.db'}"))


@pytest.fixture
def proxy(request: pytest.FixtureRequest) -> Iterator[TcpProxy]:
    """A proxy in front of the shared Ray head's dashboard."""
    head: Any = request.getfixturevalue("ray_head")
    port = int(head.address.rsplit(":", 1)[1])
    forwarder = TcpProxy("127.0.0.1", port)
    yield forwarder
    forwarder.close()


@pytest.mark.ray
@pytest.mark.slow
def test_two_regions_one_real_ray_one_scripted(
    store: SqlJobStore, ray_cluster: RayCluster, clock: FakeClock
) -> None:
    """Jobs run in their zone's region: on real Ray in DE (success and the user's own
    failure), on the scripted cluster in FR."""
    scripted = ScriptedCluster(region="fr", clock=clock)
    svc = service(
        store, {"local": ray_cluster, "fr": scripted}, clock, zones={"local": "DE", "fr": "FR"}
    )
    now = clock.now()
    ok = store.submit(spec(now, "python", "-c", "pass", zones=("DE",)), now=now)
    bad = store.submit(spec(now, "sh", "-c", "exit 3", zones=("DE",)), now=now)
    sim = store.submit(spec(now, zones=("FR",)), now=now)

    states = drive(svc, clock, [ok.id, bad.id, sim.id])

    assert states == {ok.id: "SUCCEEDED", bad.id: "FAILED", sim.id: "SUCCEEDED"}
    assert scripted.submission_ids == [f"{sim.id}-1"]
    failed = ray_cluster.status(f"{bad.id}-1")
    assert failed is not None
    assert failed.exit_code == 3
    assert [a.attempt for a in store.attempts(bad.id)] == [1]


@pytest.mark.ray
@pytest.mark.slow
def test_ray_head_unreachable_for_a_minute(
    store: SqlJobStore, proxy: TcpProxy, ray_head: Any, clock: FakeClock
) -> None:
    """While the dashboard is unreachable (a fake minute of ticks) nothing fails or is
    resubmitted; afterwards the running job finishes and the queued one is dispatched."""
    ray = RayCluster(region="local", address=f"http://127.0.0.1:{proxy.port}", token=ray_head.token)
    svc = service(store, {"local": ray}, clock)
    now = clock.now()
    first = store.submit(spec(now, "sleep", "2"), now=now)
    assert svc.tick().started == [f"{first.id}-1"]

    proxy.down()
    second = store.submit(spec(now, "true"), now=now)
    for _ in range(6):
        clock.advance(10)
        report = svc.tick()
        assert report.faults
        assert report.started == []
    assert store.get(first.id).state == JobState.DISPATCHED
    proxy.up()

    states = drive(svc, clock, [first.id, second.id])
    assert states == {first.id: "SUCCEEDED", second.id: "SUCCEEDED"}
    assert [a.attempt for a in store.attempts(first.id)] == [1]


@pytest.mark.postgres
def test_database_outage_mid_tick_is_survived(postgres_schema_url: str, clock: FakeClock) -> None:
    """The database goes away in the middle of a tick: that tick ends early, later ticks
    finish the work, and no attempt is lost or submitted twice."""
    proxy = TcpProxy("127.0.0.1", 5432)
    engine = open_database(postgres_schema_url.replace(":5432/", f":{proxy.port}/"))
    store = SqlJobStore(engine)
    cluster = ScriptedCluster(region="local", clock=clock)

    def outage(_job: Job, _attempt: AttemptRecord) -> None:
        proxy.down()  # mid-tick: right after the first attempt's end was committed

    svc = service(store, {"local": cluster}, clock)
    now = clock.now()
    jobs = [store.submit(spec(now), now=now) for _ in range(4)]
    assert len(svc.tick().started) == 4
    svc.add_finished_hook(outage)
    clock.advance(120)
    report = svc.tick()
    assert any(fault.startswith("store") for fault in report.faults)
    assert (
        sum(store_state == JobState.SUCCEEDED for store_state in _states_after(proxy, store, jobs))
        >= 1
    )

    svc = service(store, {"local": cluster}, clock)
    states = drive(svc, clock, [job.id for job in jobs], timeout_s=30, poll_s=0)
    assert set(states.values()) == {"SUCCEEDED"}
    assert sorted(cluster.submission_ids) == sorted(f"{job.id}-1" for job in jobs)
    engine.dispose()
    proxy.close()


def _states_after(proxy: TcpProxy, store: SqlJobStore, jobs: list[Job]) -> list[JobState]:
    """Bring the database back and read the jobs' states."""
    proxy.up()
    return [store.get(job.id).state for job in jobs]
