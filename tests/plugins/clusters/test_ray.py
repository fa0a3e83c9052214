"""``RayCluster`` against Ray 2.60's recorded Jobs API responses (no Ray needed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import responses
from pydantic import SecretStr

from plugins.clusters.ray import RayCluster
from scheduler.errors import ClusterError, ClusterUnavailable
from scheduler.model import AttemptState, Job, JobSpec

pytestmark = pytest.mark.shared

ADDRESS = "http://ray-eu.example:8265"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def recorded(fixtures_dir: Path) -> Path:
    """The recorded Ray Jobs API responses."""
    return fixtures_dir / "ray_jobs_api"


@pytest.fixture
def api(recorded: Path) -> Iterator[responses.RequestsMock]:
    """A fake Ray dashboard that answers the version check with the recorded response."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{ADDRESS}/api/version", json=json.loads((recorded / "version.json").read_text()))
        yield mock


def reply(api: responses.RequestsMock, recorded: Path, method: str, path: str, name: str) -> None:
    """Answer ``method path`` with the recorded file ``name`` (status and type as recorded)."""
    index = {entry["name"]: entry for entry in json.loads((recorded / "_index.json").read_text())}
    entry = index[name.rsplit(".", 1)[0]]
    api.add(
        method,
        f"{ADDRESS}{path}",
        body=(recorded / name).read_text(),
        status=entry["status"],
        content_type=entry["content_type"],
    )


def cluster() -> RayCluster:
    """The cluster under test, with a token."""
    return RayCluster(region="eu", address=ADDRESS, token=SecretStr("s3cr3t"))


def job(**changes: object) -> Job:
    """A two-GPU job whose argv holds characters a shell would interpret."""
    spec = JobSpec(
        name="train",
        entrypoint=("python", "train.py", "--name", "a b; rm -rf /"),
        gpus=2,
        estimated_duration_s=60,
        deadline=NOW + timedelta(hours=2),
        team="vision",
        project="resnet",
    )
    return Job(id="job-1", spec=spec, submitted_at=NOW, updated_at=NOW, **changes)


def test_submit_sends_the_job_with_its_token(api: responses.RequestsMock, recorded: Path) -> None:
    """submit() posts the quoted argv, the id, the GPUs and metadata, with the bearer token."""
    reply(api, recorded, "POST", "/api/jobs/", "submit_job_gpu.json")
    assert cluster().submit(job(), 3) == "job-1-3"
    call = next(c for c in api.calls if c.request.method == "POST")
    body = json.loads(call.request.body or b"{}")
    assert body["entrypoint"] == "python train.py --name 'a b; rm -rf /'"
    assert body["submission_id"] == "job-1-3"
    assert body["entrypoint_num_gpus"] == 2
    assert body["metadata"]["carbonshift_job_id"] == "job-1"
    assert (body["metadata"]["team"], body["metadata"]["project"]) == ("vision", "resnet")
    assert body["runtime_env"]["env_vars"]["CARBONSHIFT_ATTEMPT"] == "3"
    assert call.request.headers["Authorization"] == "Bearer s3cr3t"
    assert "s3cr3t" not in body["entrypoint"]


def test_duplicate_submission_counts_as_submitted(
    api: responses.RequestsMock, recorded: Path
) -> None:
    """Ray's 500 'already exists' for a reused id means the attempt is already there."""
    reply(api, recorded, "POST", "/api/jobs/", "submit_job_duplicate_id.txt")
    assert cluster().submit(job(), 1) == "job-1-1"


@pytest.mark.parametrize(
    ("name", "submission_id", "state"),
    [
        ("get_job_running.json", "carbon-demo-sleep-002", AttemptState.RUNNING),
        ("get_job_succeeded.json", "carbon-demo-gpu-001", AttemptState.SUCCEEDED),
        ("get_job_stopped.json", "carbon-demo-sleep-002", AttemptState.STOPPED),
        ("get_job_unschedulable.json", "carbon-demo-pending-004", AttemptState.PENDING),
    ],
)
def test_status_maps_ray_states(
    api: responses.RequestsMock, recorded: Path, name: str, submission_id: str, state: AttemptState
) -> None:
    """Each of Ray's job states maps to the attempt state of the same name."""
    reply(api, recorded, "GET", f"/api/jobs/{submission_id}", name)
    status = cluster().status(submission_id)
    assert status is not None
    assert (status.submission_id, status.state) == (submission_id, state)


def test_users_non_zero_exit_is_not_an_infrastructure_failure(
    api: responses.RequestsMock, recorded: Path
) -> None:
    """A FAILED entrypoint keeps its exit code and times, and blames the job, not Ray."""
    reply(api, recorded, "GET", "/api/jobs/carbon-demo-fail-003", "get_job_failed.json")
    status = cluster().status("carbon-demo-fail-003")
    assert status is not None
    assert (status.state, status.exit_code, status.infrastructure_failure) == (
        AttemptState.FAILED,
        3,
        False,
    )
    assert status.started_at is not None
    assert status.ended_at is not None
    assert status.started_at < status.ended_at


def test_unknown_submission_is_none(api: responses.RequestsMock, recorded: Path) -> None:
    """A submission id Ray never saw reads as None (so the service may submit it)."""
    reply(api, recorded, "GET", "/api/jobs/does-not-exist", "get_job_not_found.txt")
    assert cluster().status("does-not-exist") is None


def test_stop_and_logs(api: responses.RequestsMock, recorded: Path) -> None:
    """stop() posts to the job's stop endpoint; logs() returns Ray's text."""
    reply(api, recorded, "POST", "/api/jobs/carbon-demo-sleep-002/stop", "stop_job.json")
    reply(api, recorded, "GET", "/api/jobs/carbon-demo-gpu-001/logs", "get_job_logs_succeeded.json")
    ray = cluster()
    ray.stop("carbon-demo-sleep-002")
    assert "CUDA_VISIBLE_DEVICES=0" in ray.logs("carbon-demo-gpu-001")


def test_capacity_counts_alive_gpus_minus_carbonshift_jobs(
    api: responses.RequestsMock, recorded: Path
) -> None:
    """Total GPUs come from the nodes; carbonshift's unfinished jobs hold some of them."""
    reply(api, recorded, "GET", "/api/v0/nodes", "state_api_nodes_detail.json")
    jobs = json.loads((recorded / "list_jobs.json").read_text())
    running = {**jobs[0], "status": "RUNNING", "metadata": {"carbonshift_gpus": "1"}}
    api.get(f"{ADDRESS}/api/jobs/", json=[*jobs, running])
    capacity = cluster().capacity()
    assert (capacity.total_gpus, capacity.free_gpus) == (2, 1)


def test_bad_token_is_a_permanent_error(api: responses.RequestsMock, recorded: Path) -> None:
    """A 401 names the region and says to set the token."""
    api.replace(
        responses.GET,
        f"{ADDRESS}/api/version",
        body=(recorded / "unauthorized_401.txt").read_text(),
        status=401,
    )
    with pytest.raises(ClusterError, match=r"region eu.*token") as caught:
        cluster().status("x")
    assert not isinstance(caught.value, ClusterUnavailable)


def test_unreachable_cluster_is_transient(api: responses.RequestsMock) -> None:
    """A refused connection is ClusterUnavailable naming the address."""
    api.replace(responses.GET, f"{ADDRESS}/api/version", body=requests.ConnectionError("refused"))
    with pytest.raises(ClusterUnavailable, match=r"ray-eu\.example"):
        cluster().submit(job(), 1)
