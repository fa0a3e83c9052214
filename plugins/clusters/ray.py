"""``RayCluster``: one Ray cluster (one region), driven through Ray's Jobs API.

Each attempt is one Ray job with ``submission_id = f"{job_id}-{attempt}"``: Ray refuses a
duplicate id, which makes ``submit`` idempotent (a duplicate means "already submitted"). The
entrypoint is ``shlex.join(argv)`` of the job's own argv, so tenant text is never interpreted
by a shell; no secret is ever put into it (Ray logs entrypoints verbatim). With ``entrypoint``
(``RunnerDispatch.argv``) a capped job's argv is wrapped with the per-job power runner; such an
attempt is marked metered in its metadata, and when it ends its status says whether the runner
stopped it at its energy cap (read from the runner's report, the last line of its logs).

Authentication: Ray 2.60 requires ``Authorization: Bearer <token>``; the token is passed to
this cluster's client only (``headers=``), never through ``RAY_ADDRESS`` or the environment,
so clusters of different regions never see each other's tokens.

Capacity: total GPUs are those of the cluster's alive nodes (state API); free GPUs are the
total minus the GPUs of this region's running carbonshift jobs (recorded in each job's
metadata, so several regions may share one cluster, as the demo does).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import requests
from pydantic import SecretStr
from ray.exceptions import AuthenticationError
from ray.job_submission import JobDetails, JobStatus, JobSubmissionClient

from scheduler.errors import ClusterError, ClusterUnavailable
from scheduler.model import AttemptState, AttemptStatus, ClusterCapacity, Job, MeasuredEnergy

#: Ray's error types that blame the cluster rather than the job's own command.
INFRASTRUCTURE_ERRORS = frozenset(
    {
        "JOB_SUPERVISOR_ACTOR_START_TIMEOUT",
        "JOB_SUPERVISOR_ACTOR_START_FAILURE",
        "JOB_SUPERVISOR_ACTOR_UNSCHEDULABLE",
        "JOB_SUPERVISOR_ACTOR_UNKNOWN_FAILURE",
        "JOB_SUPERVISOR_ACTOR_DIED",
    }
)
ClientFactory = Callable[..., JobSubmissionClient]
#: Metadata key marking an attempt whose argv runs under the per-job power runner.
METERED_KEY = "carbonshift_metered"
ENDED = frozenset({AttemptState.SUCCEEDED, AttemptState.FAILED, AttemptState.STOPPED})
HTTP_TIMEOUT_S = 10.0
#: Seconds the cluster's total GPUs are remembered (nodes rarely come and go).
NODES_TTL_S = 30.0


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def attempt_status(details: JobDetails) -> AttemptStatus:
    """Ray's view of a job as an ``AttemptStatus``."""
    error_type = details.error_type or ""
    return AttemptStatus(
        submission_id=details.submission_id or "",
        state=AttemptState(str(details.status.value)),
        message=(details.message or "")[-2000:],
        started_at=_time(details.start_time),
        ended_at=_time(details.end_time),
        exit_code=details.driver_exit_code,
        infrastructure_failure=error_type in INFRASTRUCTURE_ERRORS,
    )


class RayCluster:
    """One region's Ray cluster, reached at its dashboard address with its own token."""

    def __init__(
        self,
        *,
        region: str,
        address: str,
        token: SecretStr | None = None,
        runtime_env: Mapping[str, Any] | None = None,
        client_factory: ClientFactory = JobSubmissionClient,
        entrypoint: Callable[[Job, int], Sequence[str]] | None = None,
    ) -> None:
        self.region = region
        self._entrypoint = entrypoint
        self._address = address.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        self._runtime_env = dict(runtime_env or {})
        self._client_factory = client_factory
        self._client: JobSubmissionClient | None = None
        self._nodes: tuple[float | None, int] = (None, 0)

    def __repr__(self) -> str:
        return f"RayCluster(region={self.region!r}, address={self._address!r})"

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        where = f"Ray cluster of region {self.region} at {self._address}"
        try:
            yield
        except AuthenticationError as exc:
            raise ClusterError(
                f"{where} refused the token while trying to {action}: {exc}; set the region's "
                "cluster token to the cluster's Ray auth token"
            ) from exc
        except (OSError, requests.RequestException) as exc:
            self._client = None  # reconnect (and re-check the version) next time
            raise ClusterUnavailable(f"{where} is unreachable ({action}): {exc}") from exc
        except RuntimeError as exc:
            if "status code 5" in str(exc):
                raise ClusterUnavailable(f"{where} failed to {action}: {exc}") from exc
            raise ClusterError(f"{where} refused to {action}: {exc}") from exc

    def _jobs(self) -> JobSubmissionClient:
        if self._client is None:
            self._client = self._client_factory(self._address, headers=dict(self._headers))
        return self._client

    def submit(self, job: Job, attempt: int) -> str:
        """Submit attempt ``attempt`` of ``job``; a duplicate submission id is not an error."""
        submission_id = f"{job.id}-{attempt}"
        env_vars = {"CARBONSHIFT_JOB_ID": job.id, "CARBONSHIFT_ATTEMPT": str(attempt)}
        runtime_env = {**self._runtime_env}
        runtime_env["env_vars"] = {**runtime_env.get("env_vars", {}), **env_vars}
        metadata = {
            "carbonshift_job_id": job.id,
            "carbonshift_attempt": str(attempt),
            "carbonshift_gpus": str(job.spec.gpus),
            "carbonshift_region": self.region,
            "team": job.spec.team,
            "project": job.spec.project,
        }
        argv = job.spec.entrypoint if self._entrypoint is None else self._entrypoint(job, attempt)
        if tuple(argv) != job.spec.entrypoint:
            metadata[METERED_KEY] = "1"  # its last line is the runner's energy report
        try:
            with self._translated(f"submit {submission_id}"):
                self._jobs().submit_job(
                    entrypoint=shlex.join(argv),
                    submission_id=submission_id,
                    entrypoint_num_gpus=job.spec.gpus,
                    runtime_env=runtime_env,
                    metadata=metadata,
                )
        except ClusterUnavailable as exc:
            if "already exists" not in str(exc):
                raise
        return submission_id

    def status(self, submission_id: str) -> AttemptStatus | None:
        """Ray's state of the attempt, or None if Ray never saw ``submission_id``."""
        try:
            with self._translated(f"read job {submission_id}"):
                details = self._jobs().get_job_info(submission_id)
                status = attempt_status(details)
                if (details.metadata or {}).get(METERED_KEY) and status.state in ENDED:
                    measured = MeasuredEnergy.from_logs(self.logs(submission_id))
                    capped = measured is not None and measured.final_state == "CAPPED"
                    status = status.model_copy(update={"energy_capped": capped})
                return status
        except ClusterError as exc:
            if "status code 404" in str(exc):
                return None
            raise

    def stop(self, submission_id: str) -> None:
        """Ask Ray to stop the attempt (a no-op for a finished or unknown one)."""
        try:
            with self._translated(f"stop job {submission_id}"):
                self._jobs().stop_job(submission_id)
        except ClusterError as exc:
            if "status code 404" not in str(exc):
                raise

    def logs(self, submission_id: str) -> str:
        """The attempt's output as Ray keeps it."""
        with self._translated(f"read logs of {submission_id}"):
            return str(self._jobs().get_job_logs(submission_id))

    def _total_gpus(self) -> int:
        """GPUs of the alive nodes, read again at most every ``NODES_TTL_S`` seconds."""
        cached_at, total = self._nodes
        if cached_at is not None and time.monotonic() - cached_at < NODES_TTL_S:
            return total
        response = requests.get(
            f"{self._address}/api/v0/nodes",
            params={"detail": "true"},
            headers=self._headers,
            timeout=HTTP_TIMEOUT_S,
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"Request failed with status code {response.status_code}: {response.text}"
            )
        nodes = response.json()["data"]["result"]["result"]
        total = sum(
            int(node["resources_total"].get("GPU", 0)) for node in nodes if node["state"] == "ALIVE"
        )
        self._nodes = (time.monotonic(), total)
        return total

    def capacity(self) -> ClusterCapacity:
        """GPUs of the alive nodes, and those not held by this region's unfinished jobs."""
        with self._translated("read capacity"):
            total = self._total_gpus()
            held = sum(
                int(meta.get("carbonshift_gpus", 0))
                for details in self._jobs().list_jobs()
                if details.status == JobStatus.RUNNING  # a PENDING job holds no GPUs yet
                and (meta := details.metadata or {}).get("carbonshift_region", self.region)
                == self.region
            )
        return ClusterCapacity(total_gpus=total, free_gpus=max(0, total - held))
