"""``RunnerDispatch``: how a capped job's argv is wrapped with the per-job runner on a node.

A job with a power cap or an energy cap runs as::

    <program> agent wrap --job J --attempt N --backend B --state-dir D --sample-s S
        --caps-file D/caps/J-N.json [--power-cap-w W] [--energy-cap-kwh E --policy P
        --estimated-duration-s T] -- ARGV...

built as an argv list (``RayCluster`` joins it with ``shlex.join``: tenant text is never
interpreted by a shell, and nothing secret is in it). The runner takes its lease from the
node agent whose socket lives in ``state_dir`` (the same path on every node), meters the GPUs
Ray gave the job and prints ``CARBONSHIFT_ENERGY {json}`` as its last line.

A cap changed while the job runs is written to the caps file (``write_caps``); the runner
re-reads it every ``sample_s`` seconds, so the change applies within one sampling period.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from plugins.durable_file import write_durably
from scheduler.model import Job, JobSpec

CAPS_DIR_NAME = "caps"


@dataclass(frozen=True, kw_only=True)
class RunnerDispatch:
    """Wraps capped jobs' argv with ``carbonshift agent wrap`` (see the module docstring)."""

    program: tuple[str, ...]
    state_dir: Path
    backend: str = "simulated"
    sample_s: float = 5.0

    @staticmethod
    def wraps(spec: JobSpec) -> bool:
        """Whether ``spec`` runs under the runner: it has a power or an energy cap."""
        return spec.power_cap_w is not None or spec.energy_cap_kwh is not None

    def caps_file(self, job_id: str, attempt: int) -> Path:
        """Where the runner of attempt ``attempt`` of ``job_id`` reads its current caps."""
        return self.state_dir / CAPS_DIR_NAME / f"{job_id}-{attempt}.json"

    def argv(self, job: Job, attempt: int) -> Sequence[str]:
        """The argv to run for ``attempt`` of ``job``: its own, wrapped when it is capped."""
        spec = job.spec
        if not self.wraps(spec):
            return spec.entrypoint
        wrap = [*self.program, "agent", "wrap", "--job", job.id, "--attempt", str(attempt)]
        wrap += ["--backend", self.backend, "--state-dir", str(self.state_dir)]
        wrap += ["--sample-s", f"{self.sample_s:g}"]
        wrap += ["--caps-file", str(self.caps_file(job.id, attempt))]
        if spec.power_cap_w is not None:
            wrap += ["--power-cap-w", f"{spec.power_cap_w:g}"]
        if spec.energy_cap_kwh is not None:
            wrap += ["--energy-cap-kwh", f"{spec.energy_cap_kwh:g}"]
            wrap += ["--policy", spec.energy_cap_policy]
            wrap += ["--estimated-duration-s", str(spec.estimated_duration_s)]
        return [*wrap, "--", *spec.entrypoint]

    def write_caps(self, job: Job) -> Path:
        """Publish ``job``'s current caps to its running attempt's runner; the file's path."""
        spec = job.spec
        caps = {
            "power_cap_w": spec.power_cap_w,
            "energy_cap_kwh": spec.energy_cap_kwh,
            "policy": spec.energy_cap_policy,
        }
        path = self.caps_file(job.id, job.attempt)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_durably(path, json.dumps(caps))
        return path
